"""Losses-only statistics (``simulation.statistics = "losses"``, decision 012): the waterfall records nothing and the
per-period statistics, WAL and yields are skipped; every number that is reported must equal the full run's, bit for
bit, on every path."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dealgen import SYNTHETIC_MC_VARIANTS, deals, examples, with_and_without_restart
from ipabs.api import compile_scenario, load_scenario
from ipabs.cli import main
from ipabs.compile.arrays import empty_pool_flows
from ipabs.compile.codegen import specialised_waterfall, waterfall_source
from ipabs.credit.synthetic import synthetic_deal
from ipabs.engine.montecarlo import merge, prepare, simulate
from ipabs.errors import ScenarioError
from ipabs.kernels.pool import apply_defaults_into

ROOT = Path(__file__).resolve().parents[2]
#: What a losses-only run reports, per path.
SAME = ("loss", "short", "pool_default_rate", "pool_loss_rate", "support_draw", "support_default", "first_default",
        "revenue_shortfall_rate")


def deal_scenarios() -> list[Path]:
    return sorted(p for p in (ROOT / "scenarios").glob("*.toml") if "deal" in tomllib.loads(p.read_text("utf-8")))


def assert_same_losses(full, lean) -> None:
    assert lean.statistics == "losses" and full.statistics == "full"
    for name in SAME:
        x, y = getattr(full, name), getattr(lean, name)
        assert x.dtype == y.dtype and np.array_equal(x.view(np.uint8), y.view(np.uint8)), name
    assert np.isnan(lean.wal).all() and np.isnan(lean.yld).all()
    assert not lean.h_bal.any() and not lean.h_cash.any()
    assert all(v == 0 for rows in (lean.s_int, lean.s_prin, lean.s_bal, lean.s_pool) for row in rows for v in row)


@pytest.mark.parametrize("path", deal_scenarios(), ids=lambda p: p.stem)
def test_every_sample_scenario_reports_the_same_losses_bit_for_bit(path):
    deal = compile_scenario(load_scenario(path))
    prep = prepare(deal)
    full = simulate(deal, 3_000, 11, prepared=prep, statistics="full")
    lean = simulate(deal, 3_000, 11, prepared=prep, statistics="losses")
    assert_same_losses(full, lean)
    assert [r["expected_loss"] for r in full.tranche_stats()] == [r["expected_loss"] for r in lean.tranche_stats()]


@pytest.mark.parametrize("kw", list(SYNTHETIC_MC_VARIANTS.values()), ids=list(SYNTHETIC_MC_VARIANTS))
def test_synthetic_deals_with_and_without_the_restart_shortcut(kw):
    deal = synthetic_deal(n_obligors=30, **kw)
    for p in with_and_without_restart(deal):
        assert_same_losses(simulate(deal, 4_000, 3, prepared=p), simulate(deal, 4_000, 3, prepared=p,
                                                                          statistics="losses"))


@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(deals())
def test_random_deals_with_triggers_support_and_clean_up_report_the_same_losses(rd):
    deal = rd.compile_mc(default_pd=0.08)
    prep = prepare(deal)
    assert_same_losses(simulate(deal, 600, 5, prepared=prep), simulate(deal, 600, 5, prepared=prep,
                                                                        statistics="losses"))


def test_losses_only_results_do_not_depend_on_threads_chunks_or_path_splits():
    deal = synthetic_deal(n_obligors=40, fees=True, cleanup=0.1)
    runs = [simulate(deal, 20_000, 9, threads=1, statistics="losses"),
            simulate(deal, 20_000, 9, threads=2, chunk=4096, statistics="losses"),
            merge([simulate(deal, 7_000, 9, statistics="losses"),
                   simulate(deal, 13_000, 9, path0=7_000, statistics="losses")])]
    for r in runs[1:]:
        for name in SAME:
            assert np.array_equal(getattr(runs[0], name), getattr(r, name)), name
    with pytest.raises(ValueError, match="same statistics"):
        merge([runs[0], simulate(deal, 10, 9, path0=20_000)])


def test_what_a_losses_only_run_cannot_give_is_refused_with_a_reason():
    deal = synthetic_deal(n_obligors=10)
    lean = simulate(deal, 500, 1, statistics="losses")
    for call in (lean.expected_cashflows, lean.pool_expected_flows):
        with pytest.raises(ValueError, match="full statistics"):
            call()
    row = lean.tranche_stats()[0]
    assert row["wal_mean"] is None and row["yield_mean"] is None and row["wal_percentiles"] == {}
    assert set(lean.quantiles()["statistic"]) == {"loss", "default_rate", "loss_rate"}
    with pytest.raises(ValueError, match="statistics must be one of"):
        simulate(deal, 10, 1, statistics="some")


def test_the_scenario_key_is_validated_and_used(tmp_path):
    src = (ROOT / "scenarios" / "ganzhou_pledge_2026.toml").read_text(encoding="utf-8")
    src = src.replace('tape = "tapes/', f'tape = "{(ROOT / "scenarios" / "tapes").as_posix()}/')
    bad = tmp_path / "bad.toml"
    bad.write_text(src.replace("[simulation]", '[simulation]\nstatistics = "some"'), encoding="utf-8")
    with pytest.raises(ScenarioError, match="statistics"):
        load_scenario(bad)
    good = tmp_path / "good.toml"
    good.write_text(src.replace("[simulation]", '[simulation]\nstatistics = "losses"'), encoding="utf-8")
    assert simulate(compile_scenario(load_scenario(good)), 100, 1).statistics == "losses"


def test_cli_run_with_losses_only_writes_no_cash_flow_bands(tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", str(ROOT / "scenarios" / "ganzhou_pledge_2026.toml"), "--paths", "2000", "--seed", "3",
               "--statistics", "losses", "--out", str(out), "--quiet"])
    assert rc == 0
    assert "losses only" in capsys.readouterr().out
    doc = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert doc["provenance"]["statistics"] == "losses"
    assert doc["tranches"][0]["expected_loss"] is not None and doc["tranches"][0]["wal_mean"] is None
    assert (out / "loss_distribution.parquet").exists() and not (out / "expected_cashflows.parquet").exists()


# ---- pool flows without balances (decision 014) -------------------------------------------------------------------


def _pool_flows(prep, a_def, rec_amt, rec_t, packed, width, t_from):
    n_t = prep.d.yf.shape[0]
    pf = empty_pool_flows(n_t)
    for arr in pf:
        arr[:] = np.nan  # what the kernel leaves unwritten stays NaN
    which = np.flatnonzero(a_def < n_t).astype(np.int64)
    ci = prep.credit
    apply_defaults_into(prep.pa, packed, np.int64(width), a_def, rec_amt, rec_t, pf, ci.a_end, ci.has_prepay,
                        ci.has_frac_def, np.empty(4 * n_t), which, np.int64(len(which)), np.int64(t_from),
                        np.int64(0))
    return pf


@settings(max_examples=examples(25), deadline=None, suppress_health_check=list(HealthCheck))
@given(deals(), st.integers(0, 2**31 - 1))
def test_pool_flows_without_balances_are_the_same_bits_as_with_them(rd, seed):
    """The width-2 pool kernel writes interest, principal, defaults and recoveries for t ≥ t_from with the same bits
    as the full kernel, and nothing else."""
    deal = rd.compile_mc(default_pd=0.08)
    prep = prepare(deal)
    n_t, n_a = deal.n_periods, len(deal.info.asset_ids)
    rng = np.random.default_rng(seed)
    for trial in range(6):
        # trial 0: every asset defaults (base totals minus every asset's flows: rounding dust for the kernel to clean)
        share = 1.0 if trial == 0 else 0.4
        a_def = np.where(rng.random(n_a) < share, rng.integers(0, n_t, n_a), n_t).astype(np.int64)
        rec_t = np.minimum(a_def + rng.integers(0, 6, n_a), n_t).astype(np.int64)
        rec_amt = np.where(a_def < n_t, rng.uniform(0, 1e6, n_a), 0.0)
        t_from = int(a_def.min()) if rng.random() < 0.5 and a_def.min() < n_t else 0
        full = _pool_flows(prep, a_def, rec_amt, rec_t, prep.credit.packed, prep.credit.width, t_from)
        lean = _pool_flows(prep, a_def, rec_amt, rec_t, prep.credit.packed2, 2, t_from)
        for name in ("interest", "principal", "defaults", "recoveries"):
            x, y = getattr(full, name)[t_from:], getattr(lean, name)[t_from:]
            assert x.view(np.uint8).tobytes() == y.view(np.uint8).tobytes(), name
        for name in ("prepayment", "bal_start", "bal_end"):
            assert np.isnan(getattr(lean, name)).all(), name


def test_losses_only_runs_skip_the_pool_balances_only_when_the_generated_waterfall_reads_none():
    plain = synthetic_deal(n_obligors=20)
    called = synthetic_deal(n_obligors=20, cleanup=0.1)  # the clean-up call tests the pool balance at end
    fees = synthetic_deal(n_obligors=20, fees=True)  # a fee on the pool balance at start
    skipped = {name: not simulate(deal, 512, 1, statistics="losses", waterfall_kernel=kernel).meta["pool_balances"]
               for name, deal, kernel in (("plain", plain, "specialised"), ("clean-up", called, "specialised"),
                                          ("fees", fees, "specialised"), ("plain, general", plain, "general"))}
    assert skipped == {"plain": True, "clean-up": False, "fees": False, "plain, general": False}
    assert simulate(plain, 512, 1, statistics="full").meta["pool_balances"]
    assert [specialised_waterfall(x.waterfall).reads_pool_balances for x in (plain, called, fees)] == [False, True,
                                                                                                       True]
    assert "pbs[t]" in waterfall_source(fees.waterfall) and "pbe[t]" in waterfall_source(called.waterfall)
