r"""The best eligible pool: the subset of eligible assets with the largest balance within the concentration limits.

Problem
-------
Assets :math:`i = 1..n` with balance :math:`b_i > 0`, an obligor :math:`o(i)` and group labels in further
*partition families* (industry, county). Choose :math:`x_i \in \{0, 1\}` to maximise :math:`T = \sum_i b_i x_i`
subject to, for every family :math:`f` with cap :math:`c_f` and every group :math:`g` of it,

.. math:: S_g = \sum_{i \in g} b_i x_i \le c_f T,

and the top-:math:`k` limit :math:`\sum_{\text{k largest obligors}} S_o \le y T`. The limits are ratios of the
chosen total, so this is a small integer program (the empty pool is feasible, with value 0).

Method (see docs/decisions/050-best-pool-selection.md)
------------------------------------------------------
*Exact best-first branch-and-bound over removals.* A node fixes some assets out (removed) and some in (kept for
good); the rest are free. Its *relaxed pool* keeps every non-removed asset, with total :math:`T`.

- If the relaxed pool meets every limit, it is the best completion of the node (removing more only lowers
  :math:`T`): a feasible leaf.
- If a group :math:`g` breaches its cap, every feasible completion removes at least one free asset of :math:`g`
  (removing assets outside :math:`g` only raises its share). For the top-:math:`k` limit the same holds for the
  assets of the current top :math:`k` obligors. The node branches on the breached constraint with the fewest free
  assets :math:`j_1..j_m`: child :math:`r` removes :math:`j_r` and keeps :math:`j_1..j_{r-1}` for good, so the
  children partition the completions.
- Bound. If the groups :math:`g_1..g_k` of one family breach, with removal :math:`R` in total and :math:`R_g`
  from group :math:`g`, feasibility needs :math:`S_g - R_g \le c (T - R)`, i.e. :math:`R_g \ge S_g - cT + cR`;
  summing over the disjoint groups, :math:`R \ge \sum_g (S_g - cT) / (1 - kc)` (and no non-empty pool if
  :math:`kc \ge 1`). For the top-:math:`k` limit, :math:`R \ge (S_{top} - yT)/(1 - y)`. The node's upper bound
  is :math:`T - \max R`; a breached group whose free assets cannot cover :math:`(S_g - cT)/(1-c)` is infeasible.

Nodes are expanded best bound first; the search starts from the greedy incumbent below and stops when no open
node's bound exceeds the incumbent (proven optimal) or when the node or time budget runs out (then the best
open bound is reported as the upper bound, with the gap).

*Heuristic (the incumbent, and the answer for large pools when the budget runs out)*, the better of two
constructions, then an add-back pass:

1. removal greedy: while a limit is breached, take the breach needing the largest removal
   :math:`\Delta = (S - cT)/(1 - c)` and remove the smallest asset of it with balance :math:`\ge \Delta` (or
   its largest asset if none is that large);
2. capped fill: for a trial pool size :math:`L`, add assets largest first while every group stays within
   :math:`c L` and the top :math:`k` within :math:`y L`. Spiral: from :math:`L` = the total, a fill reaching
   :math:`T \ge L` is feasible, otherwise :math:`L` is lowered to the size reached (at least 0.5% a step) and the
   fill repeated. Grid: for :math:`L` = 100%, 95%, ..., 30% of the total, the fill is repaired with the removal
   greedy (its shares count against the total it reached, not :math:`L`);
3. add-back: try the left-out assets, largest first, keeping each one that leaves the pool within the limits.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

#: Relative tolerance of the limit tests (a share equal to its cap passes).
REL_TOL = 1e-9


@dataclass(frozen=True)
class PoolLimitSpec:
    """Concentration limits on arrays: caps per partition family and the top-k obligor limit.

    Parameters
    ----------
    obligor : array of int
        Obligor code per asset (0..n_obligors-1).
    families : sequence of (codes, cap)
        Partition families with their cap as a share of the pool: e.g. ``(obligor, 0.15)``,
        ``(industry_codes, 0.5)``, ``(county_codes, 0.6)``.
    top_count, top_share : int, float, optional
        The ``top_count`` largest obligors together at most ``top_share`` of the pool (``None`` = no limit).
    """

    obligor: np.ndarray
    families: tuple[tuple[np.ndarray, float], ...] = ()
    top_count: int | None = None
    top_share: float | None = None


@dataclass(frozen=True)
class Selection:
    """The chosen pool.

    ``status`` is ``"optimal"`` when the branch-and-bound proved it (``upper_bound == balance``) and
    ``"feasible"`` when a budget ran out; ``gap = (upper_bound - balance) / upper_bound``.
    """

    selected: np.ndarray  # bool per asset
    balance: float
    upper_bound: float
    status: str
    nodes: int
    seconds: float
    method: str

    @property
    def gap(self) -> float:
        return 0.0 if self.upper_bound <= 0 else max(0.0, (self.upper_bound - self.balance) / self.upper_bound)


@dataclass
class _Eval:
    total: float
    bound: float
    feasible: bool
    infeasible: bool = False
    branch: list[int] = field(default_factory=list)


class _Problem:
    def __init__(self, balance: np.ndarray, spec: PoolLimitSpec):
        self.b = np.asarray(balance, dtype=float)
        self.n = len(self.b)
        self.spec = spec
        self.fams = [(np.asarray(codes, dtype=np.int64), float(cap)) for codes, cap in spec.families]
        self.fam_sizes = [int(c.max()) + 1 if len(c) else 0 for c, _ in self.fams]
        self.obl = np.asarray(spec.obligor, dtype=np.int64)
        self.n_obl = int(self.obl.max()) + 1 if self.n else 0
        self.members = [
            [np.flatnonzero(codes == g) for g in range(size)] for (codes, _), size in zip(self.fams, self.fam_sizes,
                                                                                         strict=True)
        ]
        self.obl_members = [np.flatnonzero(self.obl == o) for o in range(self.n_obl)]

    def evaluate(self, kept: np.ndarray, free: np.ndarray | None) -> _Eval:
        """Limits of the pool ``kept``; with ``free`` (assets still removable) also a bound and a branch set."""
        w = self.b * kept
        total = float(w.sum())
        if total <= 0:
            return _Eval(0.0, 0.0, True)
        tol = REL_TOL * total
        need = 0.0
        best_branch: list[int] | None = None
        feasible = True
        for (codes, cap), size, members in zip(self.fams, self.fam_sizes, self.members, strict=True):
            if cap >= 1:
                continue
            s = np.bincount(codes, weights=w, minlength=size)
            over = np.flatnonzero(s > cap * total + tol)
            if over.size == 0:
                continue
            feasible = False
            if free is None:
                continue
            excess = s[over] - cap * total
            k = over.size
            need = max(need, total if k * cap >= 1 else float(excess.sum()) / (1 - k * cap))
            for g, e in zip(over, excess, strict=True):
                cand = [int(i) for i in members[g] if free[i]]
                if sum(self.b[i] for i in cand) < e / (1 - cap) - tol:
                    return _Eval(total, -1.0, False, infeasible=True)
                if best_branch is None or len(cand) < len(best_branch):
                    best_branch = cand
        k, y = self.spec.top_count, self.spec.top_share
        if k is not None and y is not None and y < 1:
            s = np.bincount(self.obl, weights=w, minlength=self.n_obl)
            order = np.argsort(-s, kind="stable")[:k]
            top = float(s[order].sum())
            if top > y * total + tol:
                feasible = False
                if free is not None:
                    need = max(need, (top - y * total) / (1 - y))
                    cand = [int(i) for o in order for i in self.obl_members[o] if free[i]]
                    if sum(self.b[i] for i in cand) < (top - y * total) / (1 - y) - tol:
                        return _Eval(total, -1.0, False, infeasible=True)
                    if best_branch is None or len(cand) < len(best_branch):
                        best_branch = cand
        if feasible:
            return _Eval(total, total, True)
        return _Eval(total, max(0.0, total - need), False, branch=best_branch or [])

    def feasible(self, kept: np.ndarray) -> bool:
        return self.evaluate(kept, None).feasible


def greedy_pool(balance: np.ndarray, spec: PoolLimitSpec) -> np.ndarray:
    """The heuristic (module docstring): the better of removal-greedy and capped fill, then add-back.

    Returns a feasible selection as a bool mask.
    """
    prob = _Problem(balance, spec)
    candidates = [_removal_greedy(prob), _capped_fill(prob), _dive(prob, np.ones(prob.n, dtype=bool))]
    return max((_add_back(prob, m) for m in candidates), key=lambda m: float(prob.b[m].sum()))


def _removal_greedy(prob: _Problem, start: np.ndarray | None = None) -> np.ndarray:
    kept = np.ones(prob.n, dtype=bool) if start is None else start.copy()
    while True:
        worst = _worst_breach(prob, kept)
        if worst is None:
            return kept
        delta, members = worst
        cands = [int(i) for i in members if kept[i]]
        big = [i for i in cands if prob.b[i] >= delta * (1 - REL_TOL)]
        j = min(big, key=lambda i: (prob.b[i], i)) if big else max(cands, key=lambda i: (prob.b[i], -i))
        kept[j] = False


def _dive(prob: _Problem, kept: np.ndarray, forced: np.ndarray | None = None) -> np.ndarray:
    """Bound-guided dive: from ``kept``, repeatedly remove the branch asset whose removal leaves the best bound."""
    kept = kept.copy()
    fixed = np.zeros(prob.n, dtype=bool) if forced is None else forced
    while True:
        ev = prob.evaluate(kept, kept & ~fixed)
        if ev.feasible:
            return kept
        if ev.infeasible or not ev.branch:
            return np.zeros(prob.n, dtype=bool)
        best_j, best_key = ev.branch[0], None
        for j in ev.branch:
            kept[j] = False
            child = prob.evaluate(kept, kept & ~fixed)
            kept[j] = True
            key = (child.feasible, -1.0 if child.infeasible else child.bound, -prob.b[j])
            if best_key is None or key > best_key:
                best_j, best_key = j, key
        kept[best_j] = False


def _fill(prob: _Problem, level: float) -> np.ndarray:
    """Largest-first fill under absolute caps ``cap * level`` (and top-k at most ``y * level``)."""
    kept = np.zeros(prob.n, dtype=bool)
    sums = [np.zeros(size) for size in prob.fam_sizes]
    obl_sums = np.zeros(prob.n_obl)
    k, y = prob.spec.top_count, prob.spec.top_share
    use_top = k is not None and y is not None and y < 1
    tol = REL_TOL * level
    for i in np.argsort(-prob.b, kind="stable"):
        bi = prob.b[i]
        if any(cap < 1 and s[codes[i]] + bi > cap * level + tol
               for (codes, cap), s in zip(prob.fams, sums, strict=True)):
            continue
        if use_top:
            trial = obl_sums.copy()
            trial[prob.obl[i]] += bi
            top = float(np.sort(trial)[::-1][:k].sum())
            if top > y * level + tol:
                continue
        kept[i] = True
        for (codes, _), s in zip(prob.fams, sums, strict=True):
            s[codes[i]] += bi
        obl_sums[prob.obl[i]] += bi
    return kept


#: Trial pool sizes of the capped fill, as fractions of the total balance.
FILL_LEVELS = (1.0, 0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3)


def _capped_fill(prob: _Problem) -> np.ndarray:
    """Capped fills (module docstring): the spiral of trial sizes, and a grid of sizes each repaired."""
    best = np.zeros(prob.n, dtype=bool)
    best_value = 0.0
    total = float(prob.b.sum())

    def consider(kept: np.ndarray) -> None:
        nonlocal best, best_value
        value = float(prob.b[kept].sum())
        if value > best_value and prob.feasible(kept):
            best, best_value = kept, value

    level = total
    for _ in range(60):  # spiral: lower the trial size to what the fill reached until a fill is feasible
        kept = _fill(prob, level)
        consider(kept)
        nxt = min(float(prob.b[kept].sum()), level * 0.995)
        if nxt <= best_value or nxt <= 0:
            break
        level = nxt
    for frac in FILL_LEVELS:  # grid: repair each fill with the removal greedy
        kept = _fill(prob, frac * total)
        consider(_add_back(prob, kept if prob.feasible(kept) else _removal_greedy(prob, kept)))
    return best


def _add_back(prob: _Problem, kept: np.ndarray) -> np.ndarray:
    """Add left-out assets, largest first, while the pool stays within the limits (repeat until stable)."""
    kept = kept.copy()
    changed = True
    while changed:
        changed = False
        for j in sorted(np.flatnonzero(~kept), key=lambda i: (-prob.b[i], i)):
            kept[j] = True
            if prob.feasible(kept):
                changed = True
            else:
                kept[j] = False
    return kept


def _worst_breach(prob: _Problem, kept: np.ndarray) -> tuple[float, np.ndarray] | None:
    """The breached constraint needing the largest removal, as (removal needed, its asset indices)."""
    w = prob.b * kept
    total = float(w.sum())
    if total <= 0:
        return None
    tol = REL_TOL * total
    worst: tuple[float, np.ndarray] | None = None
    for (codes, cap), size, members in zip(prob.fams, prob.fam_sizes, prob.members, strict=True):
        if cap >= 1:
            continue
        s = np.bincount(codes, weights=w, minlength=size)
        for g in np.flatnonzero(s > cap * total + tol):
            d = (s[g] - cap * total) / (1 - cap)
            if worst is None or d > worst[0]:
                worst = (float(d), members[g])
    k, y = prob.spec.top_count, prob.spec.top_share
    if k is not None and y is not None and y < 1:
        s = np.bincount(prob.obl, weights=w, minlength=prob.n_obl)
        order = np.argsort(-s, kind="stable")[:k]
        top = float(s[order].sum())
        if top > y * total + tol:
            d = (top - y * total) / (1 - y)
            if worst is None or d > worst[0]:
                worst = (d, np.concatenate([prob.obl_members[o] for o in order]))
    return worst


def select_pool(
    balance: Sequence[float] | np.ndarray,
    spec: PoolLimitSpec,
    *,
    max_nodes: int = 200_000,
    time_limit: float = 10.0,
) -> Selection:
    """The largest-balance selection within the limits: exact best-first branch-and-bound within the budget.

    Parameters
    ----------
    balance : array of float
        Balance per asset (> 0).
    spec : PoolLimitSpec
        The limits.
    max_nodes, time_limit : int, float
        Budget of the branch-and-bound; when it runs out the greedy/best-found pool is returned with
        ``status="feasible"`` and the best open bound as ``upper_bound``.

    Returns
    -------
    Selection
    """
    t0 = time.perf_counter()
    b = np.asarray(balance, dtype=float)
    if b.ndim != 1 or np.any(~np.isfinite(b)) or np.any(b <= 0):
        raise ValueError("balances must be a 1-d array of positive finite amounts")
    prob = _Problem(b, spec)
    n = prob.n
    if n == 0:
        return Selection(np.zeros(0, bool), 0.0, 0.0, "optimal", 0, 0.0, "trivial")

    incumbent = greedy_pool(b, spec)
    best_value = float(b[incumbent].sum())
    tol = REL_TOL * float(b.sum())

    # node: (-bound, seq, removed tuple, forced tuple, branch list)
    root_kept = np.ones(n, dtype=bool)
    root = prob.evaluate(root_kept, np.ones(n, dtype=bool))
    nodes = 1
    if root.feasible:
        return Selection(root_kept, root.total, root.total, "optimal", 1, time.perf_counter() - t0, "exact")
    counter = itertools.count()
    heap: list[tuple[float, int, tuple[int, ...], tuple[int, ...], list[int]]] = []
    if not root.infeasible and root.bound > best_value + tol:
        heap.append((-root.bound, next(counter), (), (), root.branch))
    exhausted = False
    pops, dive_every = 0, 256
    while heap:
        neg_bound, _, removed, forced, branch = heap[0]
        if -neg_bound <= best_value + tol:
            heap = []
            break
        if nodes >= max_nodes or time.perf_counter() - t0 > time_limit:
            exhausted = True
            break
        heapq.heappop(heap)
        pops += 1
        if pops % dive_every == 0:  # dive from the most promising open node to improve the incumbent
            kept = np.ones(n, dtype=bool)
            kept[list(removed)] = False
            fixed = np.zeros(n, dtype=bool)
            fixed[list(forced)] = True
            dived = _add_back(prob, _dive(prob, kept, fixed))
            if float(b[dived].sum()) > best_value + tol:
                best_value, incumbent = float(b[dived].sum()), dived
        new_forced = list(forced)
        for j in branch:
            child_removed = (*removed, j)
            kept = np.ones(n, dtype=bool)
            kept[list(child_removed)] = False
            free = kept.copy()
            free[new_forced] = False
            ev = prob.evaluate(kept, free)
            nodes += 1
            if ev.feasible:
                if ev.total > best_value + tol:
                    best_value, incumbent = ev.total, kept
            elif not ev.infeasible and ev.bound > best_value + tol and ev.branch:
                heapq.heappush(heap, (-ev.bound, next(counter), child_removed, tuple(new_forced), ev.branch))
            new_forced.append(j)
    upper = max(best_value, -heap[0][0]) if (exhausted and heap) else best_value
    status = "feasible" if exhausted and upper > best_value + tol else "optimal"
    if status == "optimal":
        upper = best_value
    return Selection(incumbent.copy(), best_value, upper, status, nodes, time.perf_counter() - t0,
                     "exact" if status == "optimal" else "greedy+truncated-branch-and-bound")


def brute_force_pool(balance: Sequence[float] | np.ndarray, spec: PoolLimitSpec) -> tuple[np.ndarray, float]:
    """Exhaustive search over all subsets (test oracle; ``n <= 16``)."""
    b = np.asarray(balance, dtype=float)
    n = len(b)
    if n > 16:
        raise ValueError("brute force is for n <= 16")
    prob = _Problem(b, spec)
    best_mask, best = np.zeros(n, dtype=bool), 0.0
    for m in range(1, 1 << n):
        kept = np.array([(m >> i) & 1 for i in range(n)], dtype=bool)
        v = float(b[kept].sum())
        if v > best and prob.feasible(kept):
            best_mask, best = kept, v
    return best_mask, best


def is_within_limits(balance: Sequence[float] | np.ndarray, selected: np.ndarray, spec: PoolLimitSpec) -> bool:
    """Whether the selection meets every limit (the empty pool does)."""
    return _Problem(np.asarray(balance, dtype=float), spec).feasible(np.asarray(selected, dtype=bool))
