"""The Monte Carlo path kernel: default times → recoveries → pool flows → the deal's waterfall, for many paths.

Every path runs :func:`ipabs.kernels.pool.apply_defaults_into` and
:func:`ipabs.kernels.waterfall.waterfall_periods` — the kernels of the deterministic engine. The engine runs
fixed-size blocks of paths (:func:`simulate_block`, which releases the GIL) on a pool of threads; each path writes
only its own rows of the per-path outputs, and each block its own histogram and sum arrays, which the caller
reduces afterwards with exact integer arithmetic (docs/methodology/random-numbers.md).

Work saved without changing any bit (docs/performance.md):

* **No-default prefix.** Before a path's first default period τ₀ (the first default of any obligor or support
  provider), its pool flows and waterfall are those of the *base path* (nobody defaults). The base path is run once
  per deal with its state saved at the start of every period; a path restarts the waterfall from the saved state at
  τ₀, and its statistics for periods before τ₀ are the base path's, added per block as counts. This is exact
  because the kernels are deterministic functions of the per-period inputs, which agree before τ₀; it is switched
  off when the base pool flows hold dust that :func:`ipabs.kernels.pool.apply_defaults_into` would clean (then a
  defaulted path differs from the base path everywhere, and is run from period 0).
* **Unchanged tranches.** A tranche whose cash flows equal the base path's has the base path's yield.
* **Yield root-finding** evaluates the discount factors (1 + y/f)^(−f τ_t) as running products of the few
  distinct per-period factors (one ``exp`` per distinct period length per iteration, not one ``pow`` per period),
  starting from the base path's yield.
* No allocation per path; per-path kernels are compiled without reference counting (:data:`jit_inner`).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ipabs.kernels._jit import jit, jit_inline, jit_inner, jit_nogil
from ipabs.kernels.callptr import call_waterfall, call_waterfall_stats
from ipabs.kernels.containers import PoolFlows, WaterfallOut
from ipabs.kernels.defaults import default_periods_one_path
from ipabs.kernels.normal import norm_ppf
from ipabs.kernels.pool import DUST, apply_defaults_into
from ipabs.kernels.rates import RateArrays, floating_asset_interest, path_coupons, rate_path, record_indices
from ipabs.kernels.rng import (
    MAX_GAMMA_TRIES,
    STREAM_LAG,
    STREAM_RECOVERY,
    STREAM_REVENUE,
    gamma_draw,
    uniform,
)
from ipabs.kernels.waterfall import (
    EPS,
    REC_ALL,
    REC_NONE,
    REC_TRANCHES,
    waterfall_periods,
    waterfall_start,
    waterfall_work,
)
from ipabs.kernels.yields import (  # noqa: F401  (_cf_sums, path_yield_sums: re-exported for the benchmarks)
    LANES,
    YieldLanes,
    _cf_sums,
    lanes_commit,
    lanes_flush,
    lanes_push,
    path_yield,
    path_yield2,
    path_yield_sums,
    yield_lanes,
)

__all__ = ["gamma_draw", "beta_draw", "path_yield", "ip_recoveries", "revenue_flows", "simulate_block", "base_path",
           "trace_path"]

#: Pool statistics summed per period: interest, principal, defaults, recoveries, performing balance at the end.
N_POOL_SUMS = 5

#: Statistics levels of :func:`simulate_path` (its ``lean`` argument): full; losses only (decision 012); losses only
#: with a waterfall that reads neither pool balance, so the pool kernel computes only interest, principal, defaults
#: and recoveries (decision 014; the same bits).
STATS_FULL = 0
STATS_LOSSES = 1
STATS_LOSSES_NO_BALANCES = 2


class CreditInputs(NamedTuple):
    """The credit model of a deal: copula, recoveries and the pool kernel's work bounds (kernel input)."""

    asset_obligor: np.ndarray  # i8[N]
    thresholds: np.ndarray  # f8[R, T] distinct threshold rows
    th_row: np.ndarray  # i8[O] row of each obligor
    group: np.ndarray  # i8[O]
    g_a: np.ndarray  # f8[G]
    g_s: np.ndarray  # f8[G]
    g_b: np.ndarray  # f8[G]
    g_sector: np.ndarray  # i8[G]
    g_cmax: np.ndarray  # f8[G]
    n_sectors: int
    dof: float  # Student-t degrees of freedom, 0 = Gaussian
    sup_obligor: np.ndarray  # i8[S] obligor index of each support provider (-1 = never defaults)
    appraisal: np.ndarray  # f8[N]
    hc_mean: np.ndarray  # f8[N]
    hc_std: np.ndarray  # f8[N]
    cost_rate: float
    fixed_rate: float
    lag: int
    use_ip: bool
    a_end: np.ndarray  # i8[N] pool kernel work bounds (asset_activity)
    packed: np.ndarray  # f8[N·T·width] interleaved per-asset flows (pack_performing)
    width: int  # 3 or 4 values per asset and period
    packed2: np.ndarray  # f8[N·T·2] interest and principal only (pack_performing width 2; STATS_LOSSES_NO_BALANCES)
    has_prepay: int
    has_frac_def: int
    downturn: float  # haircut sensitivity to the global factor (0 = none)
    lag_extra: int  # recovery lag drawn uniformly from lag .. lag + lag_extra periods (0 = fixed lag)
    rev_asset: np.ndarray  # i8[NR] assets with sales-linked payments (empty = no revenue risk)
    rev_mu: np.ndarray  # f8[NR, T] (μ − σ²/2)·Δ_t of the asset's sector
    rev_sig: np.ndarray  # f8[NR, T] σ·√Δ_t
    rev_floor: float  # minimum of the sales index applied to the scheduled payment
    rev_cap: float  # maximum (inf = none)
    ob_ptr: np.ndarray  # i8[O+1] assets of obligor o: ob_assets[ob_ptr[o]:ob_ptr[o+1]] (support providers: none)
    ob_assets: np.ndarray  # i8[N] asset indices grouped by obligor, increasing within an obligor
    # sales shocks on the copula's factors (simulation.revenue_risk.factor_loading; all zero = independent shocks)
    rev_cm: np.ndarray  # f8[NR] loading of the sales shock on the global factor M
    rev_cs: np.ndarray  # f8[NR] loading on the obligor's sector factor
    rev_ce: np.ndarray  # f8[NR] loading on the firm's own normal, sqrt(1 − w²)
    rev_sec: np.ndarray  # i8[NR] sector factor index of the asset's obligor
    rt: RateArrays  # simulated index paths (simulation.rates; empty arrays = every path on the forward paths)


class StatInputs(NamedTuple):
    """What the per-path statistics need besides the waterfall output."""

    tau_years: np.ndarray  # f8[T] years from closing to each payment date
    price: np.ndarray  # f8[K] dirty price, % of par
    freq: float  # compounding frequency of the yield
    inc_idx: np.ndarray  # i8[T] index of period t's length in inc_val
    inc_val: np.ndarray  # f8[J] distinct values of freq × year fraction
    inc_units: np.ndarray  # i8[J] inc_val / unit when every period is a whole number of units (day counts)
    unit: float  # freq/365 (or /360, /366) when inc_units applies, else 0
    bal_hi: np.ndarray  # f8[K] upper edge of the balance histogram
    cash_hi: np.ndarray  # f8[K] upper edge of the payment histogram
    #: address of the yield lanes specialised to this period grid (codegen.specialised_yield_lanes; 0: the general
    #: ``lanes_solve``)
    yl_addr: int = 0
    #: 1 when the full statistics' generated waterfall reads no pool balance: the pool kernel then leaves the
    #: prepayments and the balances at the start unwritten (apply_defaults_into's ``end_only``)
    bal_end_only: int = 0


class BasePath(NamedTuple):
    """The no-default path: its waterfall state at the start of every period and its statistics (its pool flows and
    waterfall output travel beside it as ``bpf`` and ``bout``: numba's parallel loops take no nested tuples)."""

    restart_ok: int  # 1 when paths may restart from the saved states
    wound_up: int  # clean-up call period of the base path (n_periods when none)
    s_acct: np.ndarray  # f8[T+1, A] state at the start of period t
    s_bal: np.ndarray  # f8[T+1, K]
    s_short: np.ndarray  # f8[T+1, K]
    s_fee_carry: np.ndarray  # f8[T+1, F]
    s_sup_left: np.ndarray  # f8[T+1, S]
    s_scal: np.ndarray  # f8[T+1, 3 + K] (see WaterfallWork.scal)
    cf: np.ndarray  # f8[T, K] cash flow per 100 of face
    short_pre: np.ndarray  # i8[T+1, K] 1 if an interest shortfall occurred before t
    num_pre: np.ndarray  # f8[T+1, K] Σ_{u<t} τ_u · principal_u, accumulated in order
    den_pre: np.ndarray  # f8[T+1, K] Σ_{u<t} principal_u
    draw_pre: np.ndarray  # f8[T+1] Σ_{u<t} Σ_s support draw
    def_pre: np.ndarray  # f8[T+1] Σ_{u<t} pool defaults
    rec_pre: np.ndarray  # f8[T+1] Σ_{u<t} pool recoveries
    wal: np.ndarray  # f8[K]
    yld: np.ndarray  # f8[K]
    bin_bal: np.ndarray  # i8[T, K]
    bin_cash: np.ndarray  # i8[T, K]
    fen_int: np.ndarray  # i8[T, K]
    fen_prin: np.ndarray  # i8[T, K]
    fen_bal: np.ndarray  # i8[T, K]
    fen_pool: np.ndarray  # i8[T, 5]
    tot_pre: np.ndarray  # f8[T+1, K] Σ_{u<t} cf_u, accumulated in order (the yield's start, _cf_sums)
    mom_pre: np.ndarray  # f8[T+1, K] Σ_{u<t} cf_u · τ_u
    last_pre: np.ndarray  # i8[T+1, K] one past the last u < t with cf_u ≠ 0


class PathOutputs(NamedTuple):
    """Per-path results (rows indexed from the chunk's first path)."""

    loss: np.ndarray  # f8[n, K] principal loss / face
    short: np.ndarray  # i1[n, K] any interest shortfall
    wal: np.ndarray  # f8[n, K]
    yld: np.ndarray  # f8[n, K]
    pool_def: np.ndarray  # f8[n] defaulted balance / pool_bal0
    pool_loss: np.ndarray  # f8[n] (defaults − recoveries) / pool_bal0
    sup_draw: np.ndarray  # f8[n] total support drawn
    sup_def: np.ndarray  # i1[n] some support provider defaulted
    first_default: np.ndarray  # i2[n] τ₀, the first default period (n_periods = none)
    rev_short: np.ndarray  # f8[n] sales-linked payments short of schedule (surplus negative) / pool_bal0
    index_lv: np.ndarray  # f4[n, T, I] simulated index fixings per payment period (I = 0 without simulation.rates)


class BlockSums(NamedTuple):
    """One block's histograms and exact integer sums by period (reduced over blocks by the caller)."""

    h_bal: np.ndarray  # u2[T, K, NB] (counts; flushed to int64 totals before 2^16)
    h_cash: np.ndarray  # u2[T, K, NB]
    s_int: np.ndarray  # i8[T, K] fen
    s_prin: np.ndarray  # i8[T, K]
    s_bal: np.ndarray  # i8[T, K]
    s_pool: np.ndarray  # i8[5, T] (by flow, then period: pool_period_sums vectorises)


# ---- random variates -----------------------------------------------------------------------------------------------


@jit_inner
def beta_draw(seed, path, stream, base, mean, std):
    """Beta with the given mean and standard deviation (degenerate at the mean when std = 0).

    X/(X + Y) with X ~ Gamma(mean·ν), Y ~ Gamma((1 − mean)·ν), ν = mean(1 − mean)/std² − 1, from the uniform
    pairs ``base ..`` and ``base + 128 ..`` of the stream.
    """
    if std <= 0.0 or mean <= 0.0 or mean >= 1.0:
        return mean
    nu = mean * (1.0 - mean) / (std * std) - 1.0
    x = gamma_draw(seed, path, stream, base, mean * nu)
    y = gamma_draw(seed, path, stream, base + 2 * MAX_GAMMA_TRIES, (1.0 - mean) * nu)
    return x / (x + y) if x + y > 0.0 else mean


@jit_inner
def ip_recoveries(seed, path, pa, asset_default_t, which, n_which, appraisal, hc_mean, hc_std, cost_rate, fixed_rate,
                  lag, use_ip, m, downturn, lag_extra, rec_amount, rec_t):
    """IP-disposal recovery per defaulted asset: min(exposure, appraisal·(1 − h))·(1 − cost), h ~ beta (stream 2,
    indices from a·4·64 for asset a). Assets without an appraisal (or under the fixed-rate model) recover
    ``fixed_rate`` × exposure. Exposure is the performing balance at the start of the default period; the recovery
    is collected ``lag`` periods after default. Only assets ``which[:n_which]`` are visited (the others keep
    whatever ``rec_amount``/``rec_t`` hold, which the pool kernel never reads for a surviving asset).
    Downturn recoveries: with ``downturn`` = s > 0 the haircut becomes min(1, max(0, h − s·M)), M the path's global
    factor, so recoveries fall in the states where defaults cluster. Drawn lags: with ``lag_extra`` = k > 0 the
    lag is ``lag + floor(u·(k + 1))``, u uniform on stream 5 (index = asset)."""
    n_t = pa.b_int.shape[0]
    for c in range(n_which):
        a = which[c]
        tau = asset_default_t[a]
        if tau >= n_t:
            rec_amount[a] = 0.0
            rec_t[a] = n_t
            continue
        exposure = pa.a_bal_start[a, tau]
        if use_ip and appraisal[a] > 0.0:
            h = beta_draw(seed, path, np.int64(STREAM_RECOVERY), a * 4 * MAX_GAMMA_TRIES, hc_mean[a], hc_std[a])
            if downturn > 0.0:
                h = h - downturn * m
                h = 0.0 if h < 0.0 else (1.0 if h > 1.0 else h)
            gross = appraisal[a] * (1.0 - h)
            if gross > exposure:
                gross = exposure
            rec_amount[a] = gross * (1.0 - cost_rate)
        else:
            rec_amount[a] = fixed_rate * exposure
        extra = 0
        if lag_extra > 0:
            extra = int(uniform(seed, path, np.int64(STREAM_LAG), a) * (lag_extra + 1))
            if extra > lag_extra:
                extra = lag_extra
        rec_t[a] = tau + lag + extra


@jit_inner
def revenue_flows(seed, path, pa, asset_obligor, a_def, a_end, rev_asset, rev_mu, rev_sig, floor, cap, pf, factors,
                  rev_cm, rev_cs, rev_ce, rev_sec):
    """Sales-linked payments: add (S_{o,t} − 1) × the scheduled interest and principal (prepayments excluded) of each
    asset ``rev_asset[c]`` in every period t before its default (and its last active period) to ``pf``.

    S is the sales index of the asset's obligor o, a geometric random walk from S = 1 at the cut-off:
    ln S_{o,t} = ln S_{o,t−1} + μ_t + σ_t·Z_{o,t} with ``rev_mu`` μ_t = (μ − σ²/2)·Δ_t and ``rev_sig``
    σ_t = σ·√Δ_t (so E[S_t] = e^(μ·Σ Δ)), Z_{o,t} = Φ⁻¹(u), u the uniform o·T + t of stream 3 (assets of one
    obligor share its index); with a factor loading w the shock is Z_{o,t} = cm·M + cs·F_sector + ce·ε_{o,t}
    (``rev_cm``, ``rev_cs``, ``rev_ce``: w·a/√(a²+s²), w·s/√(a²+s²), √(1 − w²) for the obligor's copula loadings a,
    s; ε the uniform above, M and F the path's systematic normals ``factors``), and exactly ε when cm = cs = 0.
    The index applied is min(cap, max(floor, S)). Balances are not touched: a royalty
    below schedule is cash that never comes, not a default. Returns Σ (1 − index) × scheduled payment, the
    shortfall against the schedule (negative for a surplus).
    """
    n_t = pa.b_int.shape[0]
    short = 0.0
    for c in range(rev_asset.shape[0]):
        a = rev_asset[c]
        o = asset_obligor[a]
        end = a_def[a] if a_def[a] < a_end[a] else a_end[a]
        loaded = rev_cm[c] != 0.0 or rev_cs[c] != 0.0
        sys_z = rev_cm[c] * factors[0] + rev_cs[c] * factors[1 + rev_sec[c]] if loaded else 0.0
        ls = 0.0
        for t in range(end):
            z = norm_ppf(uniform(seed, path, np.int64(STREAM_REVENUE), o * n_t + t))
            if loaded:
                z = sys_z + rev_ce[c] * z
            ls += rev_mu[c, t] + rev_sig[c, t] * z
            s = math.exp(ls)
            if s < floor:
                s = floor
            if s > cap:
                s = cap
            f = s - 1.0
            sched = pa.a_prin[a, t] - pa.a_prepay[a, t]
            pf.interest[t] += pa.a_int[a, t] * f
            pf.principal[t] += sched * f
            short -= (pa.a_int[a, t] + sched) * f
    return short


# ---- per-path statistics helpers ---------------------------------------------------------------------------------


@jit_inner
def hist_bin(x, hi, nb):
    """Bin of ``x`` among ``nb`` equal bins on [0, hi] (values outside go to the end bins)."""
    if hi <= 0.0:
        return 0
    j = int(x / hi * nb)
    if j < 0:
        return 0
    if j >= nb:
        return nb - 1
    return j


@jit_inner
def fen(x):
    """Amount in yuan → integer fen, rounded to the nearest (halves up)."""
    return np.int64(math.floor(x * 100.0 + 0.5))


@jit_inline
def pool_period_sums(pf, t0, s_pool):
    """Add the pool flows of periods t0 .. T − 1, in fen, to ``s_pool[c, t]`` (c: interest, principal, defaults,
    recoveries, balance at the end): one loop per flow over views indexed from 0, which the compiler vectorises
    (docs/performance.md, item 23)."""
    n_t = pf.interest.shape[0]
    for c in range(s_pool.shape[0]):
        src = (pf.interest, pf.principal, pf.defaults, pf.recoveries, pf.bal_end)[c][t0:]
        dst = s_pool[c, t0:]
        for i in range(n_t - t0):
            dst[i] += fen(src[i])


@jit_inline
def bin_of(x, hi, r, nb):
    """:func:`hist_bin` (x, hi, nb) without its division where that gives the same bin: ``r`` = nb / hi (0 when
    hi ≤ 0). y = x·r and :func:`hist_bin`'s x / hi · nb are both within a few ulps — below 1e-12 for y ≤ nb ≈ 1,000
    — of the exact x·nb/hi, so when y lies more than 1e-9 inside (j, j + 1) with 0 ≤ j < nb, both truncate to j;
    anything else (values near a bin edge, out of range, NaN) takes :func:`hist_bin` itself, except zero, whose bin
    is 0 whatever ``hi`` (0 / hi · nb truncates to 0, or to a negative integer for a NaN hi, which hist_bin also
    returns as 0): about a third of the rows a path bins are zero balances or payments."""
    if x == 0.0:
        return 0
    y = x * r
    if 1e-9 < y < nb - 1e-9:
        j = int(y)
        f = y - j
        if 1e-9 < f < 1.0 - 1e-9:
            return j
    return hist_bin(x, hi, nb)


# ---- the base path -------------------------------------------------------------------------------------------------


@jit_inner
def save_state(w, b, t):
    """Copy the waterfall state held in ``w`` (start of period t) into the base path's row t."""
    for a in range(w.acct.shape[0]):
        b.s_acct[t, a] = w.acct[a]
    for k in range(w.bal.shape[0]):
        b.s_bal[t, k] = w.bal[k]
        b.s_short[t, k] = w.short[k]
    for f in range(w.fee_carry.shape[0]):
        b.s_fee_carry[t, f] = w.fee_carry[f]
    for sp in range(w.sup_left.shape[0]):
        b.s_sup_left[t, sp] = w.sup_left[sp]
    for j in range(w.scal.shape[0]):
        b.s_scal[t, j] = w.scal[j]


@jit_inline
def load_state(w, b, t):
    """Put the base path's state at the start of period t into ``w``."""
    for a in range(w.acct.shape[0]):
        w.acct[a] = b.s_acct[t, a]
    for k in range(w.bal.shape[0]):
        w.bal[k] = b.s_bal[t, k]
        w.short[k] = b.s_short[t, k]
    for f in range(w.fee_carry.shape[0]):
        w.fee_carry[f] = b.s_fee_carry[t, f]
    for sp in range(w.sup_left.shape[0]):
        w.sup_left[sp] = b.s_sup_left[t, sp]
    for j in range(w.scal.shape[0]):
        w.scal[j] = b.s_scal[t, j]


@jit
def base_path(d, pa, ci, si, b, bpf, bout, nb):
    """Fill ``b`` (a :class:`BasePath` of zeros with the right shapes), ``bpf`` and ``bout``: the no-default path
    run period by period with its state saved before each period, then its statistics (same formulas as
    :func:`simulate_path`). Returns (restart_ok, wound_up)."""
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_a = ci.asset_obligor.shape[0]
    never = np.full(n_a, n_t, dtype=np.int64)
    rec_amt = np.zeros(n_a)
    rec_t = np.full(n_a, n_t, dtype=np.int64)
    apply_defaults_into(pa, ci.packed, ci.width, never, rec_amt, rec_t, bpf, ci.a_end, ci.has_prepay, ci.has_frac_def,
                        np.empty(4 * n_t), np.arange(n_a), np.int64(0), np.int64(0), np.int64(0))
    sup_def_t = np.full(d.sup_cap.shape[0], n_t, dtype=np.int64)
    w = waterfall_work(d)
    waterfall_start(d, w)
    for t in range(n_t):
        save_state(w, b, t)
        waterfall_periods(d, bpf, sup_def_t, bout, w, t, t + 1, np.int64(REC_ALL))
    save_state(w, b, n_t)
    wound = n_t
    for t in range(n_t - 1):
        if b.s_scal[t + 1, 2] != 0.0 and wound == n_t:
            wound = t
    # restarting is exact only if cleaning the base flows changes nothing
    ok = 1
    for arr in (bpf.interest, bpf.principal, bpf.prepayment, bpf.defaults, bpf.recoveries, bpf.bal_start,
                bpf.bal_end):
        for t in range(n_t):
            x = arr[t]
            if -DUST < x < DUST and not (x == 0.0 and math.copysign(1.0, x) > 0.0):
                ok = 0
    pw = np.empty(si.inc_val.shape[0])
    cf = np.empty(n_t)
    for k in range(n_k):
        face = d.tr_bal0[k]
        short = 0
        num = 0.0
        den = 0.0
        tot = 0.0
        mom = 0.0
        last = 0
        for t in range(n_t):
            b.short_pre[t, k] = short
            b.num_pre[t, k] = num
            b.den_pre[t, k] = den
            b.tot_pre[t, k] = tot
            b.mom_pre[t, k] = mom
            b.last_pre[t, k] = last
            if bout.tr_int_short[t, k] > EPS:
                short = 1
            num += si.tau_years[t] * bout.tr_prin_paid[t, k]
            den += bout.tr_prin_paid[t, k]
            paid = bout.tr_int_paid[t, k] + bout.tr_prin_paid[t, k] + bout.tr_resid[t, k]
            cf[t] = paid / face * 100.0 if face > 0.0 else 0.0
            b.cf[t, k] = cf[t]
            b.bin_bal[t, k] = hist_bin(bout.tr_bal_end[t, k], si.bal_hi[k], nb)
            b.bin_cash[t, k] = hist_bin(paid, si.cash_hi[k], nb)
            b.fen_int[t, k] = fen(bout.tr_int_paid[t, k])
            b.fen_prin[t, k] = fen(bout.tr_prin_paid[t, k])
            b.fen_bal[t, k] = fen(bout.tr_bal_end[t, k])
            tot += cf[t]  # as _cf_sums
            mom += cf[t] * si.tau_years[t]
            if cf[t] != 0.0:
                last = t + 1
        b.short_pre[n_t, k] = short
        b.num_pre[n_t, k] = num
        b.den_pre[n_t, k] = den
        b.tot_pre[n_t, k] = tot
        b.mom_pre[n_t, k] = mom
        b.last_pre[n_t, k] = last
        b.wal[k] = num / den if den > 0.0 else 0.0
        b.yld[k] = path_yield(cf, si.tau_years, si.price[k], si.freq, si.inc_idx, si.inc_val, si.inc_units, si.unit,
                              pw)
    draw = 0.0
    dsum = 0.0
    rsum = 0.0
    for t in range(n_t):
        b.draw_pre[t] = draw
        b.def_pre[t] = dsum
        b.rec_pre[t] = rsum
        for sp in range(d.sup_cap.shape[0]):
            draw += bout.sup_draw[t, sp]
        dsum += bpf.defaults[t]
        rsum += bpf.recoveries[t]
        b.fen_pool[t, 0] = fen(bpf.interest[t])
        b.fen_pool[t, 1] = fen(bpf.principal[t])
        b.fen_pool[t, 2] = fen(bpf.defaults[t])
        b.fen_pool[t, 3] = fen(bpf.recoveries[t])
        b.fen_pool[t, 4] = fen(bpf.bal_end[t])
    b.draw_pre[n_t] = draw
    b.def_pre[n_t] = dsum
    b.rec_pre[n_t] = rsum
    return ok, wound


# ---- one path ------------------------------------------------------------------------------------------------------


class PathScratch(NamedTuple):
    """Per-block scratch of :func:`simulate_path`."""

    factors: np.ndarray  # f8[1 + n_sectors]
    screen: np.ndarray  # f8[G]
    ubuf: np.ndarray  # f8[O rounded up to even]
    cand: np.ndarray  # i8[O]
    ob_def: np.ndarray  # i8[O]
    a_def: np.ndarray  # i8[N]
    rec_amt: np.ndarray  # f8[N]
    rec_t: np.ndarray  # i8[N]
    sup_def_t: np.ndarray  # i8[S]
    cf: np.ndarray  # f8[T]
    pw: np.ndarray  # f8[J]
    lf: np.ndarray  # f8[4T] pool kernel scratch
    dl: np.ndarray  # i8[N] defaulted assets of the path, in increasing order
    cnt_wf: np.ndarray  # i8[T+1] paths whose waterfall statistics start at t
    cnt_pool: np.ndarray  # i8[T+1] paths whose pool statistics start at t
    cfk: np.ndarray  # f8[K, T] each tranche's cash flow per 100 of face (yield input)
    k_short: np.ndarray  # i8[K] interest shortfall seen
    k_num: np.ndarray  # f8[K] Σ τ_t · principal_t
    k_den: np.ndarray  # f8[K] Σ principal_t
    k_same: np.ndarray  # i8[K] 1 while the cash flows equal the base path's
    pw2: np.ndarray  # f8[J] second yield's discount steps (path_yield2)
    cnt_same: np.ndarray  # i8[T, K] paths whose row (t, k) equals the base path's (statistics added per block)
    n_dl: np.ndarray  # i8[1] number of entries of dl written by the previous path (their a_def is reset)
    k_tot: np.ndarray  # f8[K] Σ cf_t (the yield's start, _cf_sums)
    k_mom: np.ndarray  # f8[K] Σ cf_t τ_t
    k_last: np.ndarray  # i8[K] one past the last t with cf_t ≠ 0
    xr: np.ndarray  # f8[G] the path's short-rate deviations on the fixing grid (simulation.rates)
    yl: YieldLanes  # queued yield solves, solved eight at a time (ipabs.kernels.yields)
    #: i8[K + 1] where the statistics waterfall writes tranche k's cash flow per 100 of period t: element
    #: cfo[k] + t · cfo[K] of its buffer (x.cfk, or the lane of yl.cf that the tranche's next yield takes)
    cfo: np.ndarray


@jit_inline
def simulate_path(seed, p, j, d, pa, ci, si, b, bpf, bout, pf, out, w, x, po, bs, lean, wf_addr, wf_par):
    """Path ``p`` (row ``j`` of the per-path outputs): defaults, recoveries, pool flows, waterfall, statistics.

    With ``lean`` (the losses-only statistics, decision 012) the waterfall records nothing
    (:data:`~ipabs.kernels.waterfall.REC_NONE`); the path's losses, shortfall flags, support drawn and pool rates
    are the same numbers, bit for bit, and the per-period sums, histograms, WAL and yield are not computed (WAL
    and yield are NaN). ``lean`` is one of :data:`STATS_FULL`, :data:`STATS_LOSSES` and
    :data:`STATS_LOSSES_NO_BALANCES`; the last, only with a generated waterfall (``wf_addr`` ≠ 0) that reads no
    pool balance, has the pool kernel skip the balances and prepayments (decision 014)."""
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_s = d.sup_cap.shape[0]
    nb = bs.h_bal.shape[2]
    n_dob = default_periods_one_path(seed, p, ci.thresholds, ci.th_row, ci.group, ci.g_a, ci.g_s, ci.g_b, ci.g_sector,
                                     ci.g_cmax, ci.dof, x.factors, x.screen, x.ubuf, x.cand, x.ob_def)
    # the defaulted assets (x.dl, increasing) and their default periods (x.a_def; n_t for every other asset, which
    # holds between paths: only the previous path's defaulted assets are reset); τ₀, the first period in which an
    # asset's obligor or a support provider defaults
    for c in range(x.n_dl[0]):
        x.a_def[x.dl[c]] = n_t
    tau0 = n_t
    nd = np.int64(0)  # int64 from the start: a literal 0 would compile the callees a second time
    ordered = True
    for c in range(n_dob):
        o = x.cand[c]
        ta = x.ob_def[o]
        for q in range(ci.ob_ptr[o], ci.ob_ptr[o + 1]):
            a = ci.ob_assets[q]
            x.a_def[a] = ta
            if nd > 0 and a < x.dl[nd - 1]:
                ordered = False
            x.dl[nd] = a
            nd += 1
            if ta < tau0:
                tau0 = ta
    if not ordered:  # obligors listed out of asset order on the tape: sort the (short) list
        for c in range(1, nd):
            a = x.dl[c]
            q = c - 1
            while q >= 0 and x.dl[q] > a:
                x.dl[q + 1] = x.dl[q]
                q -= 1
            x.dl[q + 1] = a
    x.n_dl[0] = nd
    sdef = 0
    for sp in range(n_s):
        ts = x.ob_def[ci.sup_obligor[sp]] if ci.sup_obligor[sp] >= 0 else n_t
        x.sup_def_t[sp] = ts
        if ts < n_t:
            sdef = 1
        if ts < tau0:
            tau0 = ts
    po.first_default[j] = tau0
    po.sup_def[j] = sdef
    # simulated index paths (simulation.rates): the path's coupons and floating assets' interest differ from the
    # base path's from period 0, like sales-linked payments; either way every path runs from period 0
    has_rates = ci.rt.out_g.shape[1] > 0
    if has_rates:
        rate_path(seed, p, ci.rt, x.xr)
        record_indices(ci.rt, x.xr, po.index_lv, j)
        path_coupons(ci.rt, x.xr, d.tr_rate, wf_par, ci.rt.cpn_off if wf_addr != 0 else -1)
    fused = False  # the generated waterfall accumulated the tranche rows' statistics
    # pool flows (with sales-linked payments or simulated rates every path differs from the base path from period 0)
    from_start = ci.rev_asset.shape[0] > 0 or has_rates
    if tau0 < n_t or from_start:
        if tau0 < n_t:
            ip_recoveries(seed, p, pa, x.a_def, x.dl, nd, ci.appraisal, ci.hc_mean, ci.hc_std, ci.cost_rate,
                          ci.fixed_rate, ci.lag, ci.use_ip, x.factors[0], ci.downturn, ci.lag_extra, x.rec_amt,
                          x.rec_t)
        # the path restarts at τ₀ (pool statistics and waterfall): earlier periods of pf are not written or read
        t_pool = tau0 if b.restart_ok and not from_start else 0
        if lean == STATS_LOSSES_NO_BALANCES and wf_addr != 0:
            packed, width = ci.packed2, np.int64(2)
        else:
            packed, width = ci.packed, np.int64(ci.width)
        # full statistics with a generated waterfall that reads no pool balance: no prepayments or balances at the
        # start (the waterfall reads neither; the pool's sums need only the balances at the end)
        end_only = si.bal_end_only if lean == STATS_FULL and wf_addr != 0 else 0
        apply_defaults_into(pa, packed, width, x.a_def, x.rec_amt, x.rec_t, pf, ci.a_end, ci.has_prepay,
                            ci.has_frac_def, x.lf, x.dl, nd, t_pool, np.int64(end_only))
        if ci.rev_asset.shape[0] > 0:
            rs = revenue_flows(seed, p, pa, ci.asset_obligor, x.a_def, ci.a_end, ci.rev_asset, ci.rev_mu, ci.rev_sig,
                               ci.rev_floor, ci.rev_cap, pf, x.factors, ci.rev_cm, ci.rev_cs, ci.rev_ce, ci.rev_sec)
            po.rev_short[j] = rs / d.pool_bal0 if d.pool_bal0 > 0.0 else 0.0
        if has_rates:
            floating_asset_interest(ci.rt, x.xr, x.a_def, pf.interest)
        flows = pf
    else:
        t_pool = n_t
        flows = bpf
    # waterfall, restarted at τ₀ from the base path's state
    if not from_start and (tau0 >= n_t or (b.wound_up < n_t and tau0 > b.wound_up)):
        t_wf = n_t
    else:
        t_wf = tau0 if b.restart_ok and not from_start else 0
        load_state(w, b, t_wf)
        if lean:
            for k in range(n_k):
                w.track[k] = 1.0 if b.short_pre[t_wf, k] else 0.0
            w.track[n_k] = b.draw_pre[t_wf]
        rec = REC_NONE if lean else REC_TRANCHES
        if wf_addr != 0 and lean:  # the waterfall generated for this deal's structure (bit-identical, codegen.py)
            call_waterfall(wf_addr, pf.interest, pf.principal, pf.recoveries, pf.defaults, pf.bal_start, pf.bal_end,
                           wf_par, w.acct, w.bal, w.short, w.fee_carry, w.sup_left, w.scal, w.track, x.sup_def_t,
                           out.tr_int_paid, out.tr_int_short, out.tr_prin_paid, out.tr_bal_end, out.tr_resid,
                           out.sup_draw, t_wf, n_t, rec)
        elif wf_addr != 0:
            # full statistics: wf_addr is the statistics version of the generated waterfall, which also does the
            # row loop below as it records each row (docs/performance.md item 25); with the state already wound up
            # it would return at once, as the plain version does, and the row loop reads the rows as they are
            if w.scal[2] == 0.0:
                # with the lanes the cash flows per 100 go straight into the lane each tranche's next yield takes
                # (written whole for every path: the base path's prefix below, the waterfall from t_wf on; a
                # tranche whose flows equal the base path's leaves its lane to the next path)
                lanes = x.yl.ok[0] != 0 and x.yl.ok[2] != 0
                cf_buf = x.yl.cf if lanes else x.cfk.reshape((n_k, n_t, 1))
                x.cfo[n_k] = LANES if lanes else 1
                for k in range(n_k):
                    x.cfo[k] = k * n_t * LANES + x.yl.n[k] if lanes else k * n_t
                    if lanes:
                        lane = x.yl.n[k]
                        for t in range(t_wf):
                            x.yl.cf[k, t, lane] = b.cf[t, k]
                    x.k_short[k] = b.short_pre[t_wf, k]
                    x.k_num[k] = b.num_pre[t_wf, k]
                    x.k_den[k] = b.den_pre[t_wf, k]
                    x.k_same[k] = 1
                    x.k_tot[k] = b.tot_pre[t_wf, k]
                    x.k_mom[k] = b.mom_pre[t_wf, k]
                    x.k_last[k] = b.last_pre[t_wf, k]
                call_waterfall_stats(wf_addr, pf.interest, pf.principal, pf.recoveries, pf.defaults, pf.bal_start,
                                     pf.bal_end, wf_par, w.acct, w.bal, w.short, w.fee_carry, w.sup_left, w.scal,
                                     w.track, x.sup_def_t, out.tr_int_paid, out.tr_int_short, out.tr_prin_paid,
                                     out.tr_bal_end, out.tr_resid, out.sup_draw, t_wf, n_t, rec, bout.tr_int_paid,
                                     bout.tr_prin_paid, bout.tr_resid, bout.tr_bal_end, b.cf, si.tau_years, d.tr_bal0,
                                     si.bal_hi, si.cash_hi, cf_buf, x.cfo, x.k_num, x.k_den, x.k_tot, x.k_mom,
                                     x.k_short, x.k_same, x.k_last, bs.h_bal, bs.h_cash, bs.s_int, bs.s_prin,
                                     bs.s_bal, x.cnt_same, np.int64(nb))
                fused = True
        else:
            # one call site (two would compile the waterfall into this kernel twice)
            waterfall_periods(d, pf, x.sup_def_t, out, w, t_wf, n_t, rec)
    if not lean:
        x.cnt_wf[t_wf] += 1
        x.cnt_pool[t_pool] += 1
    # pool statistics
    dsum = b.def_pre[t_pool]
    rsum = b.rec_pre[t_pool]
    for t in range(t_pool, n_t):
        dsum += flows.defaults[t]
        rsum += flows.recoveries[t]
    if not lean:
        pool_period_sums(flows, t_pool, bs.s_pool)
    po.pool_def[j] = dsum / d.pool_bal0 if d.pool_bal0 > 0.0 else 0.0
    po.pool_loss[j] = (dsum - rsum) / d.pool_bal0 if d.pool_bal0 > 0.0 else 0.0
    # tranche statistics
    if t_wf == n_t:
        for k in range(n_k):
            po.loss[j, k] = bout.tr_bal_end[n_t - 1, k] / d.tr_bal0[k] if d.tr_bal0[k] > 0.0 else 0.0
            po.short[j, k] = b.short_pre[n_t, k]
            po.wal[j, k] = math.nan if lean else b.wal[k]
            po.yld[j, k] = math.nan if lean else b.yld[k]
        po.sup_draw[j] = b.draw_pre[n_t]
        return
    if lean:
        # w holds the state after the last period: its balances are the last row the waterfall would record
        for k in range(n_k):
            po.loss[j, k] = w.bal[k] / d.tr_bal0[k] if d.tr_bal0[k] > 0.0 else 0.0
            po.short[j, k] = 1 if w.track[k] != 0.0 else 0
            po.wal[j, k] = math.nan
            po.yld[j, k] = math.nan
        po.sup_draw[j] = w.track[n_k]
        return
    draw = b.draw_pre[t_wf]
    for t in range(t_wf, n_t):
        for sp in range(n_s):
            draw += out.sup_draw[t, sp]
    po.sup_draw[j] = draw
    # each tranche's rows: shortfall flag, WAL sums and cash flows per 100 of face (yield input) in local
    # accumulators; a row whose interest, principal, residual and end balance equal the base path's has the base
    # path's bins, fen amounts and cash flow per 100 (the same functions of equal values; a zero's sign changes
    # neither a bin, a fen nor a yield): it is counted in x.cnt_same and add_base_counts adds the base path's
    # contributions per block; any other row is binned and summed here
    if not fused:
        for k in range(n_k):
            short = b.short_pre[t_wf, k]
            num = b.num_pre[t_wf, k]
            den = b.den_pre[t_wf, k]
            tot = b.tot_pre[t_wf, k]  # the yield's start sums (_cf_sums), continued from the base path's prefix
            mom = b.mom_pre[t_wf, k]
            last = b.last_pre[t_wf, k]
            same = 1
            face = d.tr_bal0[k]
            bhi = si.bal_hi[k]
            chi = si.cash_hi[k]
            rb = nb / bhi if bhi > 0.0 else 0.0
            rc = nb / chi if chi > 0.0 else 0.0
            for t in range(t_wf, n_t):
                ip = out.tr_int_paid[t, k]
                pp = out.tr_prin_paid[t, k]
                rs = out.tr_resid[t, k]
                be = out.tr_bal_end[t, k]
                if out.tr_int_short[t, k] > EPS:
                    short = 1
                num += si.tau_years[t] * pp
                den += pp
                if (ip == bout.tr_int_paid[t, k] and pp == bout.tr_prin_paid[t, k] and rs == bout.tr_resid[t, k]
                        and be == bout.tr_bal_end[t, k]):
                    c = b.cf[t, k]
                    x.cnt_same[t, k] += 1
                else:
                    paid = ip + pp + rs
                    c = paid / face * 100.0 if face > 0.0 else 0.0
                    if c != b.cf[t, k]:
                        same = 0
                    bs.h_bal[t, k, bin_of(be, bhi, rb, nb)] += 1
                    bs.h_cash[t, k, bin_of(paid, chi, rc, nb)] += 1
                    bs.s_int[t, k] += fen(ip)
                    bs.s_prin[t, k] += fen(pp)
                    bs.s_bal[t, k] += fen(be)
                x.cfk[k, t] = c
                tot += c
                mom += c * si.tau_years[t]
                if c != 0.0:
                    last = t + 1
            x.k_short[k] = short
            x.k_num[k] = num
            x.k_den[k] = den
            x.k_same[k] = same
            x.k_tot[k] = tot
            x.k_mom[k] = mom
            x.k_last[k] = last
    pending = np.int64(-1)  # a tranche whose yield waits for a second one (two yields are solved at once)
    # queue the yields and solve eight at a time (ipabs.kernels.yields) with the solver generated for the period grid
    lanes = x.yl.ok[0] != 0 and x.yl.ok[2] != 0
    for k in range(n_k):
        face = d.tr_bal0[k]
        po.loss[j, k] = out.tr_bal_end[n_t - 1, k] / face if face > 0.0 else 0.0
        po.short[j, k] = x.k_short[k]
        den = x.k_den[k]
        po.wal[j, k] = x.k_num[k] / den if den > 0.0 else 0.0
        if x.k_same[k]:
            po.yld[j, k] = b.yld[k]
        elif lanes and fused:  # the lane holds the cash flows already
            lanes_commit(x.yl, k, j, x.k_tot[k], x.k_mom[k], x.k_last[k], si.price[k], po.yld)
        else:
            for t in range(t_wf):
                x.cfk[k, t] = b.cf[t, k]
            if lanes:
                lanes_push(x.yl, k, j, x.cfk[k], x.k_tot[k], x.k_mom[k], x.k_last[k], si.price[k], po.yld)
                continue
            if pending < 0:
                pending = k
            else:
                path_yield2(x.cfk[pending], x.cfk[k], x.k_tot[pending], x.k_mom[pending], x.k_last[pending],
                            x.k_tot[k], x.k_mom[k], x.k_last[k], si.tau_years, si.price[pending], si.price[k],
                            si.freq, si.inc_idx, si.inc_val, si.inc_units, si.unit, x.pw, x.pw2, po.yld[j], pending, k)
                pending = -1
    if pending >= 0:
        po.yld[j, pending] = path_yield_sums(x.cfk[pending], x.k_tot[pending], x.k_mom[pending], x.k_last[pending],
                                             si.tau_years, si.price[pending], si.freq, si.inc_idx, si.inc_val,
                                             si.inc_units, si.unit, x.pw)


@jit
def trace_path(seed, p, d, pa, ci, si, pf, out, x):
    """One path in full, from period 0 and without shortcuts: fills ``x.ob_def``, ``x.a_def``, ``x.sup_def_t``,
    ``x.rec_amt``/``x.rec_t``, ``pf`` and ``out`` (for inspection and tests of :func:`simulate_path`)."""
    n_t = d.yf.shape[0]
    default_periods_one_path(seed, p, ci.thresholds, ci.th_row, ci.group, ci.g_a, ci.g_s, ci.g_b, ci.g_sector,
                             ci.g_cmax, ci.dof, x.factors, x.screen, x.ubuf, x.cand, x.ob_def)
    for a in range(ci.asset_obligor.shape[0]):
        x.a_def[a] = x.ob_def[ci.asset_obligor[a]]
    for sp in range(d.sup_cap.shape[0]):
        x.sup_def_t[sp] = x.ob_def[ci.sup_obligor[sp]] if ci.sup_obligor[sp] >= 0 else n_t
    n_a = ci.asset_obligor.shape[0]
    for a in range(n_a):
        x.dl[a] = a
    x.n_dl[0] = n_a
    ip_recoveries(seed, p, pa, x.a_def, x.dl, n_a, ci.appraisal, ci.hc_mean, ci.hc_std, ci.cost_rate,
                  ci.fixed_rate, ci.lag, ci.use_ip, x.factors[0], ci.downturn, ci.lag_extra, x.rec_amt, x.rec_t)
    apply_defaults_into(pa, ci.packed, ci.width, x.a_def, x.rec_amt, x.rec_t, pf, ci.a_end, ci.has_prepay, ci.has_frac_def,
                        x.lf, x.dl, n_a, np.int64(0), np.int64(0))
    revenue_flows(seed, p, pa, ci.asset_obligor, x.a_def, ci.a_end, ci.rev_asset, ci.rev_mu, ci.rev_sig, ci.rev_floor,
                  ci.rev_cap, pf, x.factors, ci.rev_cm, ci.rev_cs, ci.rev_ce, ci.rev_sec)
    if ci.rt.out_g.shape[1] > 0:  # simulated index paths: d must be the caller's own copy (its tr_rate is written)
        rate_path(seed, p, ci.rt, x.xr)
        path_coupons(ci.rt, x.xr, d.tr_rate, np.empty(0), -1)
        floating_asset_interest(ci.rt, x.xr, x.a_def, pf.interest)
    w = waterfall_work(d)
    waterfall_start(d, w)
    waterfall_periods(d, pf, x.sup_def_t, out, w, 0, n_t, np.int64(REC_ALL))


@jit
def path_scratch(d, ci, si):
    """Allocate a :class:`PathScratch` for deal ``d``."""
    n_t = d.yf.shape[0]
    n_a = ci.asset_obligor.shape[0]
    n_s = d.sup_cap.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_ob = ci.th_row.shape[0]
    n_fac = 1 + ci.n_sectors  # factors, rounded up to an even length (systematic_factors)
    x = PathScratch(np.empty(n_fac + (n_fac & 1)), np.empty(ci.g_a.shape[0]), np.empty(n_ob + (n_ob & 1)),
                       np.empty(n_ob, dtype=np.int64), np.empty(n_ob, dtype=np.int64), np.empty(n_a, dtype=np.int64),
                       np.empty(n_a), np.empty(n_a, dtype=np.int64), np.empty(n_s, dtype=np.int64), np.empty(n_t),
                       np.empty(si.inc_val.shape[0]), np.empty(4 * n_t), np.empty(n_a, dtype=np.int64),
                       np.zeros(n_t + 1, dtype=np.int64),
                       np.zeros(n_t + 1, dtype=np.int64), np.empty((n_k, n_t)), np.empty(n_k, dtype=np.int64),
                       np.empty(n_k), np.empty(n_k), np.empty(n_k, dtype=np.int64), np.empty(si.inc_val.shape[0]),
                       np.zeros((n_t, n_k), dtype=np.int64), np.zeros(1, dtype=np.int64), np.empty(n_k), np.empty(n_k),
                       np.empty(n_k, dtype=np.int64), np.zeros(ci.rt.time.shape[0]), yield_lanes(n_k, n_t, si),
                       np.zeros(n_k + 1, dtype=np.int64))
    for a in range(n_a):
        x.a_def[a] = n_t
    return x


@jit_inner
def add_base_counts(b, x, bs):
    """Add the base path's per-period contributions for the paths whose statistics started after each period and
    for the rows equal to the base path's (``x.cnt_same``)."""
    n_t, n_k = b.bin_bal.shape
    after_wf = 0
    after_pool = 0
    for t in range(n_t - 1, -1, -1):
        after_wf += x.cnt_wf[t + 1]  # paths whose waterfall statistics start after t
        after_pool += x.cnt_pool[t + 1]
        for k in range(n_k):
            c = after_wf + x.cnt_same[t, k]
            if c:
                bs.h_bal[t, k, b.bin_bal[t, k]] += c
                bs.h_cash[t, k, b.bin_cash[t, k]] += c
                bs.s_int[t, k] += c * b.fen_int[t, k]
                bs.s_prin[t, k] += c * b.fen_prin[t, k]
                bs.s_bal[t, k] += c * b.fen_bal[t, k]
            x.cnt_same[t, k] = 0
        if after_pool:
            for c in range(b.fen_pool.shape[1]):
                bs.s_pool[c, t] += after_pool * b.fen_pool[t, c]
    for t in range(n_t + 1):
        x.cnt_wf[t] = 0
        x.cnt_pool[t] = 0


@jit_nogil
def simulate_block(seed, p_start, p_end, j0, d, pa, ci, si, b, bpf, bout, po, bs, lean, wf_addr, wf_par):
    """Paths [p_start, p_end) into per-path rows from ``j0`` and this block's sums ``bs`` (allocates scratch once);
    ``lean``: losses-only statistics (see :func:`simulate_path`; ``bs`` is left untouched)."""
    n_t = d.yf.shape[0]
    n_k = d.tr_bal0.shape[0]
    n_f = d.fee_basis.shape[0]
    n_acc = d.acct_init.shape[0]
    n_s = d.sup_cap.shape[0]
    x = path_scratch(d, ci, si)
    pf = PoolFlows(np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                   np.zeros(n_t))
    out = WaterfallOut(np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)),
                       np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_k)), np.zeros((n_t, n_f)),
                       np.zeros((n_t, n_f)), np.zeros((n_t, n_acc)), np.zeros((n_t, n_s)),
                       np.zeros(n_t, dtype=np.int64), np.zeros(n_t), np.zeros(n_t), np.zeros(n_t),
                       np.zeros(n_t, dtype=np.int64))
    w = waterfall_work(d)
    run_block(seed, p_start, p_end, j0, d, pa, ci, si, b, bpf, bout, pf, out, w, x, po, bs, lean, wf_addr, wf_par)


@jit_inner
def run_block(seed, p_start, p_end, j0, d, pa, ci, si, b, bpf, bout, pf, out, w, x, po, bs, lean, wf_addr, wf_par):
    """The path loop of :func:`simulate_block` (no allocation, no reference counting)."""
    for p in range(p_start, p_end):
        simulate_path(seed, p, j0 + p - p_start, d, pa, ci, si, b, bpf, bout, pf, out, w, x, po, bs, lean, wf_addr,
                      wf_par)
    if not lean:
        if x.yl.ok[2] != 0:
            lanes_flush(x.yl, si, po.yld)
        add_base_counts(b, x, bs)
