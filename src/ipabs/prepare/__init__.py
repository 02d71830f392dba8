"""Preparation stages between :mod:`ipabs.compile` and the engines: compiled deal → an engine's inputs.

:mod:`ipabs.prepare.montecarlo` turns a :class:`~ipabs.compile.lower.CompiledDeal` (and stressed assumptions)
into :class:`~ipabs.prepare.montecarlo.PreparedMC`, which :func:`ipabs.engine.montecarlo.simulate` only runs
(decision 021).
"""
