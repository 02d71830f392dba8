"""Fast batch engine (being written): for now the reference path, so that callers can be built on the API."""

from __future__ import annotations


def run_batch_kernel(deal, table, *, progress=None, threads=None):
    from ipabs.structuring.batch import _run_reference

    return _run_reference(deal, table, progress)
