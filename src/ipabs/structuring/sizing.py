"""Tranche sizing: the largest balance of a tranche (senior first, then mezzanine) that meets a target implied
rating, a minimum cash-flow coverage ratio in the deterministic base case, the named stresses and the
largest-obligor test; and the highest coupon a tranche can carry and still be repaid.

Convention (docs/decisions/017-tranche-sizing.md): the total issuance is fixed — the sized tranche grows at the
expense of an *absorbing* tranche (default: the last, most junior tranche), so the sum of the tranche balances never
changes; each tranche keeps its amortisation, expected maturity and coupon (a scheduled tranche's target balances
are scaled with its balance). Every constraint is taken to be monotone in the balance (a larger tranche never
passes a test that a smaller one fails); the answer is found by bisection on the balance to ``tol`` yuan.

Common random numbers and reuse (the performance design): the Monte Carlo's default times, recoveries and pool
flows do not depend on the tranche sizes, so :class:`PathStore` simulates them once per path — for the paths on
which something defaults; every other path is the no-default base path — and each trial only runs the trial
structure's waterfall over the stored flows (:func:`ipabs.kernels.sizing.run_trial`). The per-path losses are the
Monte Carlo's own, bit for bit (tests/oracle/test_sizing.py). With ``prune`` the trials also skip paths whose
outcome a previous trial already decided: a path with no loss at balance B has none at any smaller balance, and
(for the default probability) a path with a loss at B has one at any larger balance.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numba
import numpy as np
import pandas as pd

from ipabs.compile.codegen import pack_parameters, specialised_waterfall
from ipabs.compile.lower import CompiledDeal, compile_waterfall
from ipabs.defaults import BLOCK_SIZE
from ipabs.errors import Issue, ScenarioError
from ipabs.prepare.montecarlo import PreparedMC, prepare
from ipabs.scenario.schema import Assumptions, Scenario
from ipabs.structuring.batch import BatchResult, ScenarioTable, run_batch

__all__ = ["RatingTarget", "rating_target", "PathStore", "Trial", "SizingResult", "CouponResult", "size_tranche",
           "size_tranches", "max_coupon", "with_tranche_balance", "with_tranche_coupon", "largest_obligor_table",
           "CONSTRAINTS"]

#: Constraint names, in the order a binding constraint is reported when several fail at once.
CONSTRAINTS = ("base_case", "coverage", "stress", "largest_obligor", "rating")

#: A path's tranche loss counts as a default above this (the Monte Carlo's own definition).
PD_EPS = 1e-12

#: Default memory budget for the stored pool flows (bytes); above it each trial re-simulates them (same seed).
MEMORY_BUDGET = 1 << 30


# ---- the rating target ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RatingTarget:
    """``threshold(wal_years)``: the largest tranche default probability (``basis="pd"``) or expected loss
    (``"el"``) the target rating allows at that WAL."""

    threshold: Callable[[float], float]
    basis: str = "pd"
    label: str = "threshold"


def rating_target(target: RatingTarget | Callable[[float], float] | tuple[str, Mapping[str, Any]] | str, *,
                  basis: str | None = None) -> RatingTarget:
    """A :class:`RatingTarget` from a callable ``threshold(wal_years)``, a ``(rating, kwargs)`` pair or a rating name.

    A rating (e.g. ``"AAAsf"``, ``"Aaa"``) is resolved lazily through
    ``ipabs.structuring.ratings.rating_threshold(rating, wal_years, **kwargs)`` (``kwargs`` may hold ``basis``,
    ``table``, ``mapping``, ``allow_unconfirmed``, ``interpolation``), at the WAL of each trial.
    """
    if isinstance(target, RatingTarget):
        return target if basis is None else dataclasses.replace(target, basis=basis)
    if callable(target):
        return RatingTarget(target, basis or "pd", getattr(target, "__name__", "threshold"))
    if isinstance(target, str):
        target = (target, {})
    rating, kwargs = target
    kw = dict(kwargs)
    b = basis or kw.get("basis", "pd")
    kw["basis"] = b

    def threshold(wal_years: float) -> float:
        # another module of issue 13, resolved when a threshold is first needed
        from ipabs.structuring.ratings import rating_threshold

        return float(rating_threshold(rating, wal_years, **kw))

    return RatingTarget(threshold, b, str(rating))


# ---- re-sized deals ---------------------------------------------------------------------------------------------


def _recompiled(deal: CompiledDeal, scenario: Scenario) -> CompiledDeal:
    """``deal`` with ``scenario``'s liabilities (the pool, schedule and credit model are kept)."""
    wa, names = compile_waterfall(scenario, deal.schedule, deal.pool_balance)
    return dataclasses.replace(deal, scenario=scenario, waterfall=wa, names=names)


def _scaled_tranche(tr, balance: float):
    upd: dict[str, Any] = {"balance": float(balance)}
    if tr.schedule:
        f = balance / tr.balance if tr.balance > 0 else 0.0
        upd["schedule"] = [s.model_copy(update={"balance": s.balance * f}) for s in tr.schedule]
    return tr.model_copy(update=upd)


def with_tranche_balance(deal: CompiledDeal, tranche: int | str, balance: float,
                         absorb: int | str | None = None) -> CompiledDeal:
    """The deal with tranche ``tranche`` at ``balance`` and tranche ``absorb`` (default: the last) changed by the
    opposite amount, so the total issuance is unchanged (``absorb=None`` with a one-tranche deal, or ``absorb`` equal
    to ``tranche``, changes the total). Scheduled target balances scale with the balance."""
    s = deal.scenario
    k = _index(deal, tranche)
    trs = list(s.tranches)
    delta = float(balance) - trs[k].balance
    trs[k] = _scaled_tranche(trs[k], balance)
    j = _absorbing(deal, k, absorb)
    if j is not None:
        nb = trs[j].balance - delta
        if nb < -1e-6:
            raise ValueError(f"tranche {trs[j].name} cannot absorb {delta:,.2f} yuan (balance {trs[j].balance:,.2f})")
        trs[j] = _scaled_tranche(trs[j], max(0.0, nb))
    return _recompiled(deal, s.model_copy(update={"tranches": trs}))


def with_tranche_coupon(deal: CompiledDeal, tranche: int | str, coupon: float) -> CompiledDeal:
    s = deal.scenario
    k = _index(deal, tranche)
    trs = list(s.tranches)
    trs[k] = trs[k].model_copy(update={"coupon": float(coupon)})
    return _recompiled(deal, s.model_copy(update={"tranches": trs}))


def _index(deal: CompiledDeal, tranche: int | str) -> int:
    names = deal.names.tranches
    if isinstance(tranche, str):
        if tranche not in names:
            raise ScenarioError([Issue(f"no tranche named {tranche!r} (tranches: {', '.join(names)})",
                                       table="tranches", field="name")])
        return names.index(tranche)
    if not 0 <= int(tranche) < len(names):
        raise ValueError(f"tranche index {tranche} out of range")
    return int(tranche)


def _absorbing(deal: CompiledDeal, k: int, absorb: int | str | None) -> int | None:
    if absorb is None:
        j = len(deal.names.tranches) - 1
        return None if j == k else j
    j = _index(deal, absorb)
    return None if j == k else j


# ---- deterministic constraints ------------------------------------------------------------------------------------


def largest_obligor_table(deal: CompiledDeal, k: int, *, base: Assumptions | None = None, recovery: float = 0.0,
                          support: bool = True) -> ScenarioTable:
    """The largest-obligor test scenario: the ``k`` obligors with the largest cut-off exposure (sum of their assets'
    balances at the cut-off; ties by tape order) default in period 0, recovery rate ``recovery``, the rest of the
    base-case assumptions kept; support providers never default (``support=True``) or are off from period 0."""
    a = base or deal.scenario.assumptions
    a = a.model_copy(update={"recovery_rate": float(recovery), "recovery_multiplier": 1.0})
    expo = np.bincount(deal.info.asset_obligor, weights=deal.pool.sched_bal_start[:, 0],
                       minlength=len(deal.info.obligor_ids))
    order = np.argsort(-expo, kind="stable")[:k]
    n_t, n_s = deal.n_periods, len(deal.names.supports)
    t = ScenarioTable.from_assumptions(deal, [a], support_default_period=np.full((1, n_s), n_t if support else 0),
                                       labels=[f"largest {k} obligors default"])
    obl = t.obligor_default_period.copy()
    obl[0, order] = 0
    return t.with_columns(obligor_default_period=obl)


def _stress_list(stresses: Sequence[Assumptions] | Mapping[str, Assumptions] | None) -> list[tuple[str, Assumptions]]:
    if not stresses:
        return []
    if isinstance(stresses, Mapping):
        return [(str(n), a) for n, a in stresses.items()]
    return [(f"stress {i + 1}", a) for i, a in enumerate(stresses)]


@dataclass(frozen=True)
class _DetSet:
    """The deterministic scenarios of a sizing run: row 0 the base case, then the stresses, then the
    largest-obligor test (one table, one :func:`run_batch` per trial)."""

    table: ScenarioTable
    kinds: tuple[str, ...]  # per row: base_case / stress / largest_obligor
    labels: tuple[str, ...]


def _det_set(deal: CompiledDeal, base: Assumptions, stresses, largest_obligors: int | None) -> _DetSet:
    st = _stress_list(stresses)
    tabs = [ScenarioTable.from_assumptions(deal, [base] + [a for _, a in st],
                                           labels=["base case"] + [n for n, _ in st])]
    kinds = ["base_case"] + ["stress"] * len(st)
    if largest_obligors:
        tabs.append(largest_obligor_table(deal, int(largest_obligors), base=base))
        kinds.append("largest_obligor")
    t = ScenarioTable.concat(tabs)
    t.validate(deal)
    return _DetSet(t, tuple(kinds), t.labels)


def _structure_key(d) -> bytes:
    """Every field of the waterfall arrays except the amounts a generated waterfall reads from its parameter vector
    (:func:`ipabs.compile.codegen.pack_parameters`) or from the carried state (faces, initial accounts): two deals
    with the same key have the same generated source."""
    amounts = {"yf", "pool_bal0", "tr_bal0", "tr_coupon", "tr_target", "fee_rate", "fee_amount", "fee_tr_mask",
               "acct_init", "acct_target_amt", "acct_target_rate", "acct_target_mask", "trg_thr"}
    h = hashlib.sha256()
    for name in d._fields:
        if name in amounts:
            continue
        v = np.asarray(getattr(d, name))
        h.update(f"{name}{v.dtype.str}{v.shape}".encode())
        h.update(v.tobytes())
    return h.digest()


# ---- the stored Monte Carlo paths ---------------------------------------------------------------------------------


class PathStore:
    """The Monte Carlo's pool flows and support default periods of paths ``[path0, path0 + n_paths)`` under
    ``seed`` for one deal's pool and credit model, stored once and reused by every trial structure.

    Only paths on which an obligor or support provider defaults within the deal (every path under sales-linked
    royalties) are stored: 7 × n_periods doubles of pool flows, the support default periods and the path index,
    ``bytes_per_path`` each; every other path is the no-default base path. Each block of paths writes its stored
    paths at the start of its own rows of arrays allocated for every path but never touched beyond what is stored
    (resident memory = the stored paths; nothing is copied). If the stored paths would take more than
    ``memory_budget`` bytes, nothing is kept and every trial re-simulates the flows block by block with the same seed
    (the same numbers, slower).
    """

    def __init__(self, deal: CompiledDeal, n_paths: int | None = None, seed: int | None = None, *, path0: int = 0,
                 assumptions: Assumptions | None = None, prepared: PreparedMC | None = None,
                 threads: int | None = None, memory_budget: int = MEMORY_BUDGET,
                 waterfall_kernel: str = "specialised") -> None:
        from ipabs.kernels.sizing import N_FLOW_COLUMNS

        sim = deal.scenario.simulation
        self.n = sim.n_paths if n_paths is None else int(n_paths)
        self.seed = sim.seed if seed is None else int(seed)
        self.path0 = int(path0)
        self.prep = prepared or prepare(deal, assumptions)
        _refuse_simulated_rates(self.prep, deal)
        self.deal = deal
        self.n_t = deal.n_periods
        self.n_s = len(deal.names.supports)
        self.threads = max(1, int(threads)) if threads else max(1, numba.config.NUMBA_NUM_THREADS)
        self.waterfall_kernel = waterfall_kernel
        self.bytes_per_path = (N_FLOW_COLUMNS * self.n_t + self.n_s + 1) * 8
        self.memory_budget = int(memory_budget)
        self._wf_cache: dict[bytes, int] = {}
        self._local = threading.local()
        self._executor: ThreadPoolExecutor | None = None
        t0 = time.perf_counter()
        # the no-default base path (every path not stored)
        bpf = self.prep.base_pf
        self.base_flows = tuple(np.ascontiguousarray(getattr(bpf, name)[None, :]) for name in bpf._fields)
        assert len(self.base_flows) == N_FLOW_COLUMNS
        self.base_sup = np.full((1, self.n_s), self.n_t, dtype=np.int64)
        self.first_default = np.empty(self.n, dtype=np.int64)
        # rows [0, n): block [lo, hi) writes its stored paths to rows lo, lo + 1, …; row n is the base path
        self.stored = True
        self.flows: tuple[np.ndarray, ...] | None = tuple(np.empty((self.n + 1, self.n_t))
                                                          for _ in range(N_FLOW_COLUMNS))
        self.sup: np.ndarray | None = np.empty((self.n + 1, self.n_s), dtype=np.int64)
        self._pidx: np.ndarray | None = np.empty(self.n + 1, dtype=np.int64)
        for c in range(N_FLOW_COLUMNS):
            self.flows[c][self.n] = self.base_flows[c][0]
        self.sup[self.n] = self.n_t
        self.blocks = self._blocks()
        counts = []
        for cnt in self._map(self._collect, self.blocks):
            counts.append(cnt)
            if self.stored and sum(counts) * self.bytes_per_path > self.memory_budget:
                self.stored = False  # blocks still running write to their own buffers (see _collect)
        self.block_counts = np.array(counts, dtype=np.int64)
        self.n_defaulted = int(self.block_counts.sum())
        if self.stored:
            rows = [np.arange(lo, lo + c, dtype=np.int64) for (lo, _), c in zip(self.blocks, counts, strict=True)]
            self.rows = np.concatenate([np.array([self.n], dtype=np.int64)] + rows)  # row 0 of a trial: the base
            self.idx = self._pidx[self.rows[1:]] - self.path0
        else:
            self.flows = self.sup = self._pidx = None
            self.rows = self.idx = None
        self.seconds = time.perf_counter() - t0

    def stored_rows(self) -> tuple[tuple[np.ndarray, ...], np.ndarray, np.ndarray, np.ndarray]:
        """This store's stored paths as compact arrays in store order: the pool-flow columns (f8[m, T] each), the
        support default periods (i8[m, S]), the path indices (i8[m]) and every path's first default period (i8[n])
        — what :meth:`from_parts` joins."""
        if not self.stored:
            raise ValueError("the store keeps no paths (over its memory budget)")
        r = self.rows[1:]
        return tuple(f[r] for f in self.flows), self.sup[r], self._pidx[r], self.first_default

    @classmethod
    def from_parts(cls, deal: CompiledDeal, parts: Sequence[tuple], n_paths: int, seed: int, *, path0: int = 0,
                   prepared: PreparedMC | None = None, assumptions: Assumptions | None = None,
                   threads: int | None = None, waterfall_kernel: str = "specialised",
                   seconds: float = 0.0) -> PathStore:
        """A store from the :meth:`stored_rows` of stores of consecutive path ranges (e.g. built on the workers of
        a cluster, :func:`ipabs.structuring.distributed.build_store_distributed`), in path order: the same store,
        and so the same trials bit for bit, as one built here over the whole range."""
        from ipabs.kernels.sizing import N_FLOW_COLUMNS

        self = cls.__new__(cls)
        self.n, self.seed, self.path0 = int(n_paths), int(seed), int(path0)
        self.prep = prepared or prepare(deal, assumptions)
        _refuse_simulated_rates(self.prep, deal)
        self.deal = deal
        self.n_t, self.n_s = deal.n_periods, len(deal.names.supports)
        self.threads = max(1, int(threads)) if threads else max(1, numba.config.NUMBA_NUM_THREADS)
        self.waterfall_kernel = waterfall_kernel
        self.bytes_per_path = (N_FLOW_COLUMNS * self.n_t + self.n_s + 1) * 8
        self.memory_budget = MEMORY_BUDGET
        self._wf_cache, self._local, self._executor = {}, threading.local(), None
        bpf = self.prep.base_pf
        self.base_flows = tuple(np.ascontiguousarray(getattr(bpf, name)[None, :]) for name in bpf._fields)
        self.base_sup = np.full((1, self.n_s), self.n_t, dtype=np.int64)
        m = sum(int(p[2].shape[0]) for p in parts)
        self.flows = tuple(np.concatenate([p[0][c] for p in parts] + [self.base_flows[c]])
                           for c in range(N_FLOW_COLUMNS))
        self.sup = np.concatenate([p[1] for p in parts] + [self.base_sup])
        self._pidx = np.concatenate([p[2] for p in parts] + [np.array([-1], dtype=np.int64)])
        self.first_default = np.concatenate([p[3] for p in parts])
        if self.first_default.shape[0] != self.n:
            raise ValueError(f"the parts cover {self.first_default.shape[0]} paths, not {self.n}")
        self.stored = True
        self.blocks = self._blocks()
        self.block_counts = np.array([m], dtype=np.int64)
        self.n_defaulted = m
        self.rows = np.concatenate([np.array([m], dtype=np.int64), np.arange(m, dtype=np.int64)])
        self.idx = self._pidx[:m] - self.path0
        self.seconds = float(seconds)
        return self

    # -- generation
    def _blocks(self) -> list[tuple[int, int]]:
        return [(lo, min(self.n, lo + BLOCK_SIZE)) for lo in range(0, self.n, BLOCK_SIZE)]

    def _map(self, fn, items):
        """``map`` on this store's threads (kept for its lifetime: their block buffers are reused)."""
        if self.threads == 1 or len(items) <= 1:
            yield from map(fn, items)
            return
        if self._executor is None:
            self._executor = ThreadPoolExecutor(self.threads, thread_name_prefix="ipabs-size")
        yield from self._executor.map(fn, items)

    def _buffer(self):
        """This thread's block-sized buffers (allocated once per thread and store)."""
        from ipabs.kernels.sizing import N_FLOW_COLUMNS

        buf = getattr(self._local, "buf", None)
        if buf is None:
            m = BLOCK_SIZE
            buf = (tuple(np.empty((m, self.n_t)) for _ in range(N_FLOW_COLUMNS)),
                   np.empty((m, self.n_s), dtype=np.int64), np.empty(m, dtype=np.int64))
            self._local.buf = buf
        return buf

    def _collect(self, block: tuple[int, int], *, own: bool = False) -> int:
        """Simulate block [lo, hi): its stored paths into its rows of the store (or, with ``own`` or once the store
        is over its budget, into this thread's buffer); returns how many."""
        from ipabs.kernels.sizing import collect_block

        lo, hi = block
        p = self.prep
        if own or not self.stored:
            f, sup, pidx = self._buffer()
        else:
            f = tuple(x[lo:hi] for x in self.flows)
            sup, pidx = self.sup[lo:hi], self._pidx[lo:hi]
        return int(collect_block(np.uint64(self.seed), np.int64(self.path0 + lo), np.int64(self.path0 + hi),
                                 np.int64(lo), p.d, p.pa, p.credit, p.stats, *f, sup, pidx, self.first_default))

    @property
    def nbytes(self) -> int:
        """Bytes of the stored paths (0 when re-simulating)."""
        return (self.n_defaulted + 1) * self.bytes_per_path if self.stored else 0

    # -- trials
    def _waterfall(self, d) -> tuple[np.int64, np.ndarray]:
        """The generated waterfall for ``d``'s structure (decision 013) and ``d``'s packed parameters; (0, …) = the
        general kernel. A re-sized deal has the same structure: its compiled function is looked up by the arrays
        the generated source is written from, not generated again."""
        if self.waterfall_kernel != "specialised":
            return np.int64(0), np.zeros(1)
        key = _structure_key(d)
        addr = self._wf_cache.get(key)
        if addr is None:
            try:
                addr = specialised_waterfall(d).address
            except Exception:  # noqa: BLE001 — the general kernel gives the same numbers
                addr = 0
            self._wf_cache[key] = addr
        return np.int64(addr), (pack_parameters(d) if addr else np.zeros(1))

    def _run(self, d, flows, sup, sel, wf, threads: int = 1) -> tuple[np.ndarray, np.ndarray]:
        from ipabs.kernels.sizing import run_trial

        n_k = d.tr_bal0.shape[0]
        loss = np.zeros((sel.shape[0], n_k))
        short = np.zeros((sel.shape[0], n_k), dtype=np.int8)
        if sel.shape[0] == 0:
            return loss, short
        parts = threads if sel.shape[0] >= BLOCK_SIZE else 1
        cuts = np.linspace(0, sel.shape[0], parts + 1).astype(np.int64)

        def one(c: int) -> None:
            a, b = cuts[c], cuts[c + 1]
            run_trial(d, *flows, sup, sel[a:b], wf[0], wf[1], loss[a:b], short[a:b])

        if parts == 1:
            one(0)
        else:
            with ThreadPoolExecutor(parts, thread_name_prefix="ipabs-size") as pool:
                list(pool.map(one, range(parts)))
        return loss, short

    def _evaluate(self, deal: CompiledDeal, need: Callable[[int, int], np.ndarray] | None):
        """Every tranche's loss and shortfall flag on the base path and on the stored paths (store order; NaN
        and 0 where ``need`` says not to run), which stored paths ran, and their path indices (-1 in a block not
        re-simulated because none of its paths needed to run)."""
        d = deal.waterfall
        wf = self._waterfall(d)
        m, n_k = self.n_defaulted, d.tr_bal0.shape[0]
        if self.stored:
            run = np.ones(m + 1, dtype=bool)
            if need is not None and m:
                run[1:] = need(0, m)
            sel = self.rows[run]
            lo, sh = self._run(d, self.flows, self.sup, sel, wf, self.threads)
            loss = np.full((m + 1, n_k), np.nan)
            short = np.zeros((m + 1, n_k), dtype=np.int8)
            loss[run], short[run] = lo, sh
            return loss[0], short[0], loss[1:], short[1:], run[1:], self.idx
        b_lo, b_sh = self._run(d, self.base_flows, self.base_sup, np.zeros(1, dtype=np.int64), wf)
        offs = np.concatenate([[0], np.cumsum(self.block_counts)])

        def block(i: int):
            cnt = int(self.block_counts[i])
            run = np.ones(cnt, dtype=bool) if need is None else need(int(offs[i]), int(offs[i]) + cnt)
            if not run.any():  # every stored path of the block is decided: nothing to re-simulate
                return (np.full((cnt, n_k), np.nan), np.zeros((cnt, n_k), dtype=np.int8), run,
                        np.full(cnt, -1, dtype=np.int64))
            assert self._collect(self.blocks[i], own=True) == cnt
            f, sup, pidx = self._buffer()
            sel = np.flatnonzero(run).astype(np.int64)
            lo, sh = self._run(d, f, sup, sel, wf)
            loss = np.full((cnt, n_k), np.nan)
            short = np.zeros((cnt, n_k), dtype=np.int8)
            loss[run], short[run] = lo, sh
            return loss, short, run, pidx[:cnt] - self.path0

        parts = list(self._map(block, list(range(len(self.blocks)))))
        cat = [np.concatenate([p[j] for p in parts]) if parts else None for j in range(4)]
        if not parts:
            cat = [np.zeros((0, n_k)), np.zeros((0, n_k), dtype=np.int8), np.zeros(0, dtype=bool),
                   np.zeros(0, dtype=np.int64)]
        return b_lo[0], b_sh[0], cat[0], cat[1], cat[2], cat[3]

    def losses(self, deal: CompiledDeal) -> tuple[np.ndarray, np.ndarray]:
        """Per-path loss (fraction of face, f8[n, K]) and interest-shortfall flag (i1[n, K]) of every tranche of
        ``deal`` (the store's deal or a re-sized copy of it): what ``simulate(deal, n, seed, statistics="losses")``
        reports in ``loss`` and ``short``, bit for bit."""
        b_lo, b_sh, lo, sh, _, idx = self._evaluate(deal, None)
        loss = np.tile(b_lo, (self.n, 1))
        short = np.tile(b_sh, (self.n, 1))
        loss[idx] = lo
        short[idx] = sh
        return loss, short

    def tranche_losses(self, deal: CompiledDeal, k: int, need: Callable[[int, int], np.ndarray] | None = None,
                       ) -> tuple[float, np.ndarray, np.ndarray]:
        """Tranche ``k``'s loss on the base path (every path not stored) and on each stored path (f8[m], in store
        order; NaN where not run), and which stored paths were run (bool[m]). ``need(a, b)``: a mask over the
        stored paths ``a .. b − 1`` of those to run (default all)."""
        b_lo, _, lo, _, ran, _ = self._evaluate(deal, need)
        return float(b_lo[k]), lo[:, k].copy(), ran


# ---- results ------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Trial:
    """One evaluated structure: the tranche's balance (or coupon), the rating metric (PD or EL, None when the Monte
    Carlo was not run because a deterministic constraint had already failed), its standard error, the threshold at
    the trial's WAL, the base-case WAL and minimum coverage ratio, and pass/fail per constraint (None = not
    evaluated)."""

    balance: float
    metric: float | None
    se: float | None
    threshold: float | None
    wal_years: float
    min_coverage: float
    passed: dict[str, bool | None]
    failed_scenarios: tuple[str, ...] = ()
    paths_run: int = 0

    @property
    def ok(self) -> bool:
        return all(v is not False for v in self.passed.values())

    def failing(self) -> list[str]:
        return [c for c in CONSTRAINTS if self.passed.get(c) is False]


@dataclass(frozen=True)
class SizingResult:
    """The sized tranche.

    ``balance``: the largest balance passing every constraint (to ``tol``); ``band``: the balances over which the
    rating test's outcome is within ``band_sigmas`` standard errors of its threshold (the answer's Monte Carlo error
    band, see :func:`size_tranche`); ``binding``: the constraint that fails just above the answer (``"bounds"`` when
    the upper bound passes, ``"infeasible"`` when even the lower bound fails); ``trials`` every evaluation in the
    order run; ``deal`` the sized deal.
    """

    tranche: str
    absorbing: str | None
    balance: float
    subordination: float
    band: tuple[float, float]
    binding: str
    also_failing: tuple[str, ...]
    metric: float | None
    se: float | None
    threshold: float | None
    wal_years: float
    min_coverage: float
    trials: tuple[Trial, ...]
    deal: CompiledDeal
    feasible: bool = True
    meta: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame:
        """The trials as a table (one row per trial; ``pass_<constraint>`` columns, None = not evaluated)."""
        rows = []
        for i, t in enumerate(self.trials):
            r = {"trial": i + 1, "balance": t.balance, "metric": t.metric, "se": t.se, "threshold": t.threshold,
                 "wal_years": t.wal_years, "min_coverage": t.min_coverage, "ok": t.ok, "paths_run": t.paths_run,
                 "failed_scenarios": "; ".join(t.failed_scenarios)}
            r.update({f"pass_{c}": t.passed.get(c) for c in CONSTRAINTS})
            rows.append(r)
        return pd.DataFrame(rows)


# ---- the solver ---------------------------------------------------------------------------------------------------


class _Evaluator:
    """Evaluates a tranche balance against every constraint (memoised; keeps the pruning state)."""

    def __init__(self, deal, k, absorb, target, min_coverage, det, store, prune, n_det_constraints):
        self.deal, self.k, self.absorb = deal, k, absorb
        self.target, self.min_coverage, self.det, self.store = target, min_coverage, det, store
        self.prune = prune
        self.memo: dict[float, tuple[Trial, Any]] = {}
        self.trials: list[Trial] = []
        self.mc_trials = 0
        self.det_seconds = 0.0  # re-sizing the deal and the deterministic batch runs
        self.mc_seconds = 0.0  # the trial waterfalls over the stored paths
        if store is not None:
            # per stored path: the largest balance at which it had no loss, the smallest at which it had one
            self.zero_upto = np.full(store.n_defaulted, -math.inf)
            self.pos_from = np.full(store.n_defaulted, math.inf)
        # WAL for the threshold when the base case pays the tranche no principal (e.g. a zero balance): years to
        # its expected maturity
        s = deal.scenario
        tr = s.tranches[k]
        self.wal_fallback = ((tr.expected_maturity or s.deal.legal_maturity) - s.deal.closing_date).days / 365.0

    def deal_at(self, b: float) -> CompiledDeal:
        return with_tranche_balance(self.deal, self.k, b, self.absorb)

    def det_eval(self, dl: CompiledDeal) -> tuple[dict, float, float, tuple[str, ...]]:
        res: BatchResult = run_batch(dl, self.det.table)
        ok = res.repaid_in_full(self.k)
        kinds = np.array(self.det.kinds)
        passed: dict[str, bool | None] = {"base_case": bool(ok[0])}
        cov = float(res.min_coverage[0])
        if self.min_coverage is not None:  # NaN: no period with senior amounts due, nothing to cover
            passed["coverage"] = bool(math.isnan(cov) or cov >= self.min_coverage)
        for kind in ("stress", "largest_obligor"):
            m = kinds == kind
            if m.any():
                passed[kind] = bool(ok[m].all())
        failed = tuple(self.det.labels[i] for i in np.flatnonzero(~ok))
        return passed, float(res.wal_years[0, self.k]), cov, failed

    def mc_eval(self, dl: CompiledDeal, b: float) -> tuple[float, float, int]:
        """The tranche's Monte Carlo default probability or expected loss at balance ``b`` and its standard error
        (the estimators of :meth:`MCResult.tranche_stats`), and the number of stored paths run."""
        st = self.store
        pd_basis = self.target.basis == "pd"
        need = None
        if self.prune:
            zu, pf = self.zero_upto, self.pos_from
            if pd_basis:
                def need(a: int, c: int) -> np.ndarray:
                    return ~((b <= zu[a:c]) | (b >= pf[a:c]))
            else:
                def need(a: int, c: int) -> np.ndarray:
                    return ~(b <= zu[a:c])
        base, loss, ran = st.tranche_losses(dl, self.k, need)
        if self.prune:
            skipped = ~ran
            zero = skipped & (b <= self.zero_upto)
            loss[zero] = 0.0
            loss[skipped & ~zero] = 1.0  # a loss known from a smaller balance (default probability only)
            r = ran & (loss <= PD_EPS)
            self.zero_upto[r] = np.maximum(self.zero_upto[r], b)
            r = ran & (loss > PD_EPS)
            self.pos_from[r] = np.minimum(self.pos_from[r], b)
        n = st.n
        n_base = n - loss.shape[0]  # paths on which nothing defaults: the base path's loss
        if n == 0:
            return 0.0, 0.0, int(ran.sum())
        if pd_basis:
            m = (n_base * (base > PD_EPS) + int(np.count_nonzero(loss > PD_EPS))) / n
            se = math.sqrt(m * (1 - m) / n)
        else:
            s1 = n_base * base + float(loss.sum())
            m = s1 / n
            ss = n_base * (base - m) ** 2 + float(((loss - m) ** 2).sum())
            se = math.sqrt(ss / (n - 1)) / math.sqrt(n) if n > 1 else 0.0
        return float(m), float(se), int(ran.sum())

    def __call__(self, b: float, *, force_mc: bool = False) -> tuple[Trial, Any]:
        """Evaluate balance ``b``: the deterministic constraints, then the rating where they pass (or with
        ``force_mc``: the top of the range is run first, so that its per-path outcomes prune every later trial)."""
        b = float(b)
        hit = self.memo.get(b)
        if hit is not None and (not force_mc or hit[0].metric is not None or self.target is None):
            return hit
        t0 = time.perf_counter()
        dl = self.deal_at(b)
        passed, wal, cov, failed = self.det_eval(dl)
        t1 = time.perf_counter()
        self.det_seconds += t1 - t0
        metric = se = thr = None
        ran = 0
        if self.target is not None:
            passed["rating"] = None
            if force_mc or all(v is not False for v in passed.values()):  # the Monte Carlo where the rest passes
                metric, se, ran = self.mc_eval(dl, b)
                self.mc_trials += 1
                self.mc_seconds += time.perf_counter() - t1
                thr = float(self.target.threshold(wal if math.isfinite(wal) else self.wal_fallback))
                passed["rating"] = bool(metric <= thr)
        t = Trial(b, metric, se, thr, wal, cov, passed, failed, ran)
        self.trials.append(t)
        self.memo[b] = (t, dl)
        return t, dl


def _check_store(store: PathStore, deal: CompiledDeal) -> None:
    """A store serves any re-sizing of the deal it was built for: the same pool, schedule and simulation settings."""
    a, b = store.deal, deal
    same = (a is b or (a.pool is b.pool or (np.array_equal(a.pool.sched_int, b.pool.sched_int)
                                             and np.array_equal(a.pool.sched_prin, b.pool.sched_prin)
                                             and np.array_equal(a.pool.sched_bal_start, b.pool.sched_bal_start)))
            and a.schedule.payment_dates == b.schedule.payment_dates
            and a.scenario.simulation == b.scenario.simulation and a.names.supports == b.names.supports
            and [x.model_dump() for x in a.scenario.support] == [x.model_dump() for x in b.scenario.support])
    if not same:
        raise ValueError("the PathStore was built for another pool, schedule, simulation or support: build one for "
                         "this deal")


def _pruning_held(ev: _Evaluator, trials: list[Trial]) -> bool:
    """Whether the pruned metrics of ``trials`` (those with a Monte Carlo metric) equal the metrics with every stored
    path run — the check that each path's loss was monotone in the balance where the answer was decided."""
    for t in trials:
        if t.metric is None:
            continue
        dl = ev.memo[t.balance][1]
        base, loss, _ = ev.store.tranche_losses(dl, ev.k)
        n = ev.store.n
        n_base = n - loss.shape[0]
        if ev.target.basis == "pd":
            m = (n_base * (base > PD_EPS) + int(np.count_nonzero(loss > PD_EPS))) / n if n else 0.0
        else:
            m = (n_base * base + float(loss.sum())) / n if n else 0.0
        if abs(m - t.metric) > 1e-12 * max(1.0, abs(m)):
            return False
    return True


def _bisect(pred: Callable[[float], bool], lo: float, hi: float, tol: float, tick: Callable[[], None]
            ) -> tuple[float, float]:
    """Largest x in [lo, hi] with pred(x) (pred(lo) true, pred(hi) false), to ``tol``: returns (pass, fail)."""
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if pred(mid):
            lo = mid
        else:
            hi = mid
        tick()
    return lo, hi


def _refuse_simulated_rates(prep: PreparedMC, deal: CompiledDeal) -> None:
    """Sizing stores each path's pool flows once and re-runs only the waterfall of each trial structure; with
    simulated index paths (``simulation.rates``) every path also has its own coupons, which it does not store."""
    if prep.credit.rt.out_g.shape[1] > 0:
        raise ScenarioError([Issue(
            "tranche sizing runs on the forward paths of [indices]; it does not take simulated index paths: remove "
            "[simulation.rates] to size the tranches (then run the Monte Carlo with it on the sized deal)",
            file=deal.source, table="simulation.rates", field="model")])


def size_tranche(
    deal: CompiledDeal,
    tranche: int | str = 0,
    target: RatingTarget | Callable[[float], float] | tuple[str, Mapping[str, Any]] | str | None = None,
    *,
    basis: str | None = None,
    min_coverage: float | None = 1.2,
    stresses: Sequence[Assumptions] | Mapping[str, Assumptions] | None = None,
    largest_obligors: int | None = None,
    absorb: int | str | None = None,
    bounds: tuple[float, float] | None = None,
    tol: float = 10_000.0,
    band_sigmas: float = 2.0,
    n_paths: int | None = None,
    seed: int | None = None,
    assumptions: Assumptions | None = None,
    store: PathStore | None = None,
    prune: bool = True,
    threads: int | None = None,
    memory_budget: int = MEMORY_BUDGET,
    progress: Callable[[int, int], None] | None = None,
) -> SizingResult:
    """The largest balance of ``tranche`` meeting every selected constraint.

    Constraints (each monotone in the balance):

    * ``base_case``: the tranche is repaid in full (principal and interest, no shortfall carried) in the
      deterministic base case (``assumptions``, default the scenario's) — batch engine;
    * ``coverage``: the base case's minimum cash-flow coverage ratio (:attr:`BatchResult.min_coverage`: cash
      available over fees and senior interest and principal due) ≥ ``min_coverage`` (None = not tested);
    * ``stress``: repaid in full under each of ``stresses`` (a list or a name → :class:`Assumptions` mapping);
    * ``largest_obligor``: repaid in full when the ``largest_obligors`` largest obligors by cut-off exposure
      default in period 0 at zero recovery, support on (:func:`largest_obligor_table`);
    * ``rating``: the Monte Carlo default probability (``basis="pd"``) or expected loss (``"el"``) of the tranche
      ≤ ``target``'s threshold at the tranche's base-case WAL (``target``: a callable ``threshold(wal_years)``, a
      ``(rating, kwargs)`` pair or a rating name resolved through ``ipabs.structuring.ratings.rating_threshold``;
      None = not tested). ``n_paths`` and ``seed`` default to the scenario's simulation settings.

    The balance is searched on ``bounds`` (default from 0 to the tranche's balance plus the absorbing tranche's:
    the total issuance is fixed, :func:`with_tranche_balance`) by bisection to ``tol`` yuan. The deterministic
    tests run first at each trial; the Monte Carlo only where they pass. The error band solves the rating test again
    with the threshold ∓ ``band_sigmas`` standard errors (the larger of the answer's and the first failing trial's
    standard error, and for a PD basis at least the binomial error √(thr(1 − thr)/n) at the threshold), clipped
    by the deterministic constraints, which have no Monte Carlo error.

    ``progress(done, total)`` is called after each trial (the total is an estimate) and may raise
    :class:`ipabs.errors.Cancelled`.
    """
    t_start = time.perf_counter()
    k = _index(deal, tranche)
    j = _absorbing(deal, k, absorb)
    trs = deal.scenario.tranches
    tgt = None if target is None else rating_target(target, basis=basis)
    if tgt is not None and tgt.basis not in ("pd", "el"):
        raise ValueError(f"basis must be 'pd' or 'el', not {tgt.basis!r}")
    lo, hi = bounds if bounds is not None else (0.0, trs[k].balance + (trs[j].balance if j is not None else 0.0))
    lo, hi = float(lo), float(hi)
    if not (0.0 <= lo <= hi):
        raise ValueError(f"bounds must satisfy 0 <= lo <= hi, got ({lo}, {hi})")
    base = assumptions or deal.scenario.assumptions
    det = _det_set(deal, base, stresses, largest_obligors)
    if tgt is not None and store is None:
        store = PathStore(deal, n_paths, seed, assumptions=assumptions, threads=threads, memory_budget=memory_budget)
    elif tgt is not None:
        _check_store(store, deal)
    ev = _Evaluator(deal, k, j, tgt, min_coverage, det, store, prune, len(det.kinds))
    steps = max(1, math.ceil(math.log2(max(hi - lo, tol) / tol)))
    total = [steps * (3 if tgt is not None else 1) + 2]
    done = [0]

    def tick() -> None:
        done[0] += 1
        total[0] = max(total[0], done[0] + 1)
        if progress is not None:
            progress(done[0], total[0])

    def ok(b: float) -> bool:
        return ev(b)[0].ok

    feasible = True
    t_hi, _ = ev(hi, force_mc=prune)  # with pruning, every later trial re-runs only the paths that lose here
    tick()
    if t_hi.ok:
        ans, fail = hi, None
    else:
        t_lo, _ = ev(lo)
        tick()
        if not t_lo.ok:
            ans, fail, feasible = lo, lo, False
        else:
            ans, fail = _bisect(ok, lo, hi, tol, tick)
    t_ans, d_ans = ev(ans)
    t_fail = ev(fail)[0] if fail is not None else None
    if prune and tgt is not None and not _pruning_held(ev, [t for t in (t_ans, t_fail) if t is not None]):
        # a path's loss was not monotone in the balance: pruning may have decided a path wrongly; solve again
        # running every stored path in every trial
        warnings.warn("a path's loss is not monotone in the tranche balance: sizing again without pruning",
                      RuntimeWarning, stacklevel=2)
        res = size_tranche(deal, tranche, tgt, min_coverage=min_coverage, stresses=stresses,
                           largest_obligors=largest_obligors, absorb=absorb, bounds=bounds, tol=tol,
                           band_sigmas=band_sigmas, assumptions=assumptions, store=store, prune=False,
                           progress=progress)
        res.meta["prune_fallback"] = True
        return res
    if not feasible:
        binding, also = "infeasible", tuple(t_ans.failing())
    elif t_fail is None:
        binding, also = "bounds", ()
    else:
        f = t_fail.failing()
        binding, also = f[0], tuple(f[1:])
    # the Monte Carlo error band of the rating test
    band = (ans, ans)
    se_star = None
    if tgt is not None and feasible and t_ans.metric is not None:
        ses = [t_ans.se or 0.0]
        if t_fail is not None and t_fail.se is not None:
            ses.append(t_fail.se)
        if tgt.basis == "pd" and t_ans.threshold is not None:
            th = min(max(t_ans.threshold, 0.0), 1.0)
            ses.append(math.sqrt(th * (1 - th) / store.n) if store.n else 0.0)
        se_star = max(ses)

        def shifted(sign: float) -> Callable[[float], bool]:
            def pred(b: float) -> bool:
                t = ev(b)[0]
                det_ok = all(v is not False for c, v in t.passed.items() if c != "rating")
                return det_ok and t.metric is not None and t.metric <= t.threshold + sign * band_sigmas * se_star
            return pred

        strict, lenient = shifted(-1.0), shifted(+1.0)

        def bracket(pred: Callable[[float], bool], a: float, c: float) -> tuple[float, float]:
            """The tightest [pass, fail] inside [a, c] among the trials already run (pred(a) true, pred(c) false)."""
            for b, (t, _) in sorted(ev.memo.items()):
                if a < b < c and t.metric is not None:
                    if pred(b):
                        a = b
                    else:
                        c = b
                        break
            return a, c

        # strict (threshold − z·se): passes only where the original passes, so at or below the answer
        if strict(ans):
            b_lo = ans
        elif strict(lo):
            b_lo = _bisect(strict, *bracket(strict, lo, ans), tol, tick)[0]
        else:
            b_lo = lo
        # lenient (threshold + z·se): at or above the answer
        if fail is None:
            b_hi = ans
        elif lenient(fail):
            b_hi = hi if lenient(hi) else _bisect(lenient, *bracket(lenient, fail, hi), tol, tick)[0]
        else:
            b_hi = ans
        band = (b_lo, b_hi)
    if progress is not None:
        progress(done[0], done[0])
    pool0 = deal.pool_balance
    sized = d_ans.scenario.tranches
    above = sum(t.balance for t in sized[: k + 1])
    meta: dict[str, Any] = {
        "tol": tol, "bounds": (lo, hi), "band_sigmas": band_sigmas, "band_se": se_star,
        "basis": None if tgt is None else tgt.basis, "target": None if tgt is None else tgt.label,
        "min_coverage": min_coverage, "deterministic_scenarios": list(det.labels),
        "trials": len(ev.trials), "monte_carlo_trials": ev.mc_trials, "prune": prune,
        "seconds": time.perf_counter() - t_start, "deterministic_seconds": ev.det_seconds,
        "monte_carlo_seconds": ev.mc_seconds,
        "convention": "total issuance fixed: the sized tranche grows at the expense of the absorbing tranche",
    }
    if store is not None:
        meta.update(n_paths=store.n, seed=store.seed, paths_stored=store.n_defaulted, flows_stored=store.stored,
                    store_bytes=store.nbytes, store_seconds=store.seconds,
                    paths_run=int(sum(t.paths_run for t in ev.trials)))
    return SizingResult(
        tranche=deal.names.tranches[k], absorbing=None if j is None else deal.names.tranches[j], balance=ans,
        subordination=1.0 - above / pool0 if pool0 > 0 else math.nan, band=band, binding=binding, also_failing=also,
        metric=t_ans.metric, se=t_ans.se, threshold=t_ans.threshold, wal_years=t_ans.wal_years,
        min_coverage=t_ans.min_coverage, trials=tuple(ev.trials), deal=d_ans, feasible=feasible, meta=meta)


def size_tranches(deal: CompiledDeal, specs: Sequence[Mapping[str, Any]], *, store: PathStore | None = None,
                  **common: Any) -> list[SizingResult]:
    """Size several tranches in turn (senior first, then mezzanine …): each spec is keyword arguments of
    :func:`size_tranche` (``tranche``, ``target``, …, over ``common``), run on the deal the previous one sized. The
    Monte Carlo paths are stored once and shared (the pool does not change)."""
    out = []
    d = deal
    for spec in specs:
        kw = {**common, **spec}
        if store is None and kw.get("target") is not None:
            store = PathStore(deal, kw.get("n_paths"), kw.get("seed"), assumptions=kw.get("assumptions"),
                              threads=kw.get("threads"), memory_budget=kw.get("memory_budget", MEMORY_BUDGET))
        r = size_tranche(d, store=store, **kw)
        out.append(r)
        d = r.deal
    return out


# ---- the highest coupon -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CouponResult:
    """The highest coupon (decimal, to ``tol``) at which the tranche is repaid in full in the base case and every
    selected stress; ``binding`` the scenario that fails just above it (``"bounds"`` if the upper bound passes,
    ``"infeasible"`` if even the lower bound fails); ``trials`` as (coupon, passed, failing scenarios)."""

    tranche: str
    coupon: float
    binding: str
    trials: tuple[tuple[float, bool, tuple[str, ...]], ...]
    deal: CompiledDeal
    feasible: bool = True


def max_coupon(deal: CompiledDeal, tranche: int | str = 0, *,
               stresses: Sequence[Assumptions] | Mapping[str, Assumptions] | None = None,
               largest_obligors: int | None = None, assumptions: Assumptions | None = None,
               bounds: tuple[float, float] = (0.0, 1.0), tol: float = 1e-6,
               progress: Callable[[int, int], None] | None = None) -> CouponResult:
    """The highest coupon ``tranche`` can carry and still be repaid in full (no principal loss, no interest shortfall
    ever carried) in the deterministic base case, under ``stresses`` and the largest-obligor test, by bisection on the
    coupon in ``bounds`` to ``tol`` (batch deterministic engine). Other tranches are unchanged."""
    k = _index(deal, tranche)
    if deal.scenario.tranches[k].floating is not None:  # its coupon is index + spread: a fixed coupon is unused
        raise ScenarioError([Issue(
            f"tranche '{deal.names.tranches[k]}' floats (index + spread): the highest-coupon search varies a fixed "
            "coupon, which a floating tranche does not use", file=deal.source, table=f"tranches[{k}]",
            field="floating")])
    det = _det_set(deal, assumptions or deal.scenario.assumptions, stresses, largest_obligors)
    trials: list[tuple[float, bool, tuple[str, ...]]] = []
    memo: dict[float, tuple[bool, tuple[str, ...], CompiledDeal]] = {}
    lo, hi = map(float, bounds)
    total = [max(1, math.ceil(math.log2(max(hi - lo, tol) / tol))) + 2]

    def ev(c: float) -> tuple[bool, tuple[str, ...], CompiledDeal]:
        if c in memo:
            return memo[c]
        dl = with_tranche_coupon(deal, k, c)
        ok = run_batch(dl, det.table).repaid_in_full(k)
        failed = tuple(det.labels[i] for i in np.flatnonzero(~ok))
        memo[c] = (bool(ok.all()), failed, dl)
        trials.append((c, bool(ok.all()), failed))
        if progress is not None:
            progress(len(trials), max(total[0], len(trials) + 1))
        return memo[c]

    feasible = True
    if ev(hi)[0]:
        ans, binding = hi, "bounds"
    elif not ev(lo)[0]:
        ans, binding, feasible = lo, "infeasible", False
    else:
        ans, fail = _bisect(lambda c: ev(c)[0], lo, hi, tol, lambda: None)
        binding = ev(fail)[1][0]
    if progress is not None:
        progress(len(trials), len(trials))
    return CouponResult(deal.names.tranches[k], ans, binding, tuple(trials), ev(ans)[2], feasible)
