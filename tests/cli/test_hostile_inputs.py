"""Hostile inputs (issue 15 item 5, decision 018): output folders that must not be replaced, arguments out of bounds,
invalid correlations, malformed files, non-finite outputs, Ctrl-C. Every case exits 2 (130 for Ctrl-C) with a
message naming the file or option, never a traceback, and never loses data.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from ipabs.cli import main
from ipabs.report.writer import MARKER_NAME

ROOT = Path(__file__).resolve().parents[2]
SCENARIOS = ROOT / "scenarios"
PIPELINE = SCENARIOS / "pipeline-ganzhou-2027.csv"
PORTFOLIO = SCENARIOS / "fund-portfolio-ganzhou.csv"


def cli(capsys, *args: str) -> tuple[int, str]:
    code = main([str(a) for a in args])
    captured = capsys.readouterr()
    message = captured.out + captured.err
    assert "Traceback" not in message
    return code, message


@pytest.fixture
def deal(tmp_path) -> Path:
    """A copy of the sample deal: ``<tmp>/deal/ganzhou_pledge_2026.toml`` and its tape in ``<tmp>/deal/tapes/``."""
    folder = tmp_path / "deal"
    (folder / "tapes").mkdir(parents=True)
    shutil.copy(SCENARIOS / "ganzhou_pledge_2026.toml", folder)
    shutil.copy(SCENARIOS / "tapes" / "ganzhou_pledge_pool.csv", folder / "tapes")
    return folder / "ganzhou_pledge_2026.toml"


def inventory(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def run(capsys, scenario: Path, out: Path | str) -> tuple[int, str]:
    return cli(capsys, "run", scenario, "--paths", "0", "--quiet", "--out", out)


# --- 1. output folders --------------------------------------------------------------------------------------------


@pytest.mark.parametrize("where", ["scenario folder", "tape folder", "a parent of both"])
def test_run_refuses_an_output_folder_that_is_or_contains_an_input_folder_and_the_inputs_survive(
        capsys, deal, where):
    out = {"scenario folder": deal.parent, "tape folder": deal.parent / "tapes",
           "a parent of both": deal.parent.parent}[where]
    before = inventory(deal.parent)
    code, message = run(capsys, deal, out)
    assert code == 2, message
    assert "invalid output folder" in message and str(out) in message
    assert inventory(deal.parent) == before


def test_run_refuses_a_non_empty_folder_that_ipabs_did_not_write(capsys, deal, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "thesis.docx").write_text("years of work")
    code, message = run(capsys, deal, out)
    assert code == 2
    assert "not written by ipabs" in message and MARKER_NAME in message and str(out) in message
    assert (out / "thesis.docx").read_text() == "years of work"


def test_run_replaces_its_own_earlier_output_and_marks_it(capsys, deal, tmp_path):
    out = tmp_path / "results"
    out.mkdir()  # an empty folder may be written
    assert run(capsys, deal, out)[0] == 0
    marker = json.loads((out / MARKER_NAME).read_text("utf-8"))
    assert marker["format"] == "ipabs-output" and marker["command"] == "run" and marker["version"]
    (out / "stale.txt").write_text("from the earlier run")
    assert run(capsys, deal, out)[0] == 0
    assert not (out / "stale.txt").exists() and (out / "summary.json").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["deal", "results"]  # no temporary folder left


def test_out_dot_is_refused_with_a_clear_message(capsys, deal, tmp_path, monkeypatch):
    here = tmp_path / "work"
    here.mkdir()
    monkeypatch.chdir(here)
    code, message = run(capsys, deal, ".")
    assert code == 2
    assert "current folder" in message
    assert list(here.iterdir()) == []


def test_out_under_a_regular_file_exits_2_before_the_run(capsys, deal, tmp_path):
    f = tmp_path / "notes.txt"
    f.write_text("x")
    code, message = run(capsys, deal, f / "out")
    assert code == 2
    assert "exists and is not a folder" in message and "notes.txt" in message
    code, message = run(capsys, deal, f)
    assert code == 2 and "exists and is not a folder" in message
    assert f.read_text() == "x"


def test_out_in_an_unwritable_place_exits_2_before_the_run(capsys, deal):
    code, message = run(capsys, deal, "/proc/ipabs-hostile-test/out")
    assert code == 2
    assert "cannot write" in message or "not writable" in message or "permission" in message


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


def test_stale_temporaries_of_a_killed_run_are_removed_by_the_next_run_and_nothing_else(capsys, deal, tmp_path):
    out = tmp_path / "res"
    dead = tmp_path / f".res.ipabs-tmp-{_dead_pid()}-abcd1234"
    dead_old = tmp_path / f".res.ipabs-old-{_dead_pid()}-wxyz9876"
    live = tmp_path / f".res.ipabs-tmp-{os.getpid()}-live0000"  # a run still going on: kept
    other = tmp_path / ".res.tmp-notours"
    for d in (dead, dead_old, live, other):
        d.mkdir()
        (d / "summary.json").write_text("{}")
    assert run(capsys, deal, out)[0] == 0
    assert not dead.exists() and not dead_old.exists()
    assert live.exists() and other.exists()


def test_the_temporary_folder_of_a_writer_killed_by_sigkill_is_removed_by_the_next_run(capsys, deal, tmp_path):
    out = tmp_path / "res"
    killed = textwrap.dedent(f"""
        import os, signal
        from ipabs.report.writer import output_folder
        with output_folder({str(out)!r}, command="run").writing() as tmp:
            (tmp / "summary.json").write_text("half")
            os.kill(os.getpid(), signal.SIGKILL)
    """)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.run([sys.executable, "-c", killed], env=env, cwd=tmp_path)
    assert proc.returncode == -signal.SIGKILL
    left = [p for p in tmp_path.iterdir() if p.name.startswith(".res.ipabs-tmp-")]
    assert len(left) == 1 and not out.exists()
    assert run(capsys, deal, out)[0] == 0
    assert not left[0].exists() and (out / "summary.json").is_file()


def test_eligibility_refuses_to_write_into_the_tapes_folder(capsys, deal):
    tapes = deal.parent / "tapes"
    before = inventory(tapes)
    code, message = cli(capsys, "eligibility", tapes / "ganzhou_pledge_pool.csv", "--as-of", "2026-04-15",
                        "--out", tapes)
    assert code == 2 and "would replace the folder of the input" in message
    assert inventory(tapes) == before


def test_subsidy_and_fund_refuse_the_inputs_folder_and_a_foreign_folder(capsys, tmp_path):
    shutil.copy(PIPELINE, tmp_path)
    code, message = cli(capsys, "subsidy", tmp_path / PIPELINE.name, "--paths", "10", "--out", tmp_path)
    assert code == 2 and "would replace the folder of the input" in message
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "keep.csv").write_text("a,b\n")
    code, message = cli(capsys, "fund", PORTFOLIO, "--fund-size", "50000000", "--paths", "10", "--out", foreign)
    assert code == 2 and "not written by ipabs" in message
    assert (foreign / "keep.csv").read_text() == "a,b\n"


def test_selfcheck_writes_a_marked_output_folder(capsys, tmp_path):
    out = tmp_path / "sc"
    code, message = cli(capsys, "selfcheck", SCENARIOS / "selfcheck-example.toml", "--as-of", "2026-04-15",
                        "--out", out)
    assert code == 0, message
    assert json.loads((out / MARKER_NAME).read_text("utf-8"))["command"] == "selfcheck"
    assert "eligible" in json.loads((out / "selfcheck.json").read_text("utf-8"))


def test_ctrl_c_during_a_command_exits_130_with_one_line(capsys, monkeypatch, deal, tmp_path):
    from ipabs import api

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(api, "load_scenario", interrupted)
    code = main(["run", str(deal), "--paths", "0", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert code == 130 and err.strip() == "interrupted"


def test_ctrl_c_while_the_cli_imports_exits_130_with_one_line(capsys, monkeypatch):
    import ipabs.cli

    def interrupted():
        raise KeyboardInterrupt

    monkeypatch.setattr(ipabs.cli, "build_parser", interrupted)
    assert main(["validate", "x.toml"]) == 130
    assert capsys.readouterr().err.strip() == "interrupted"


def test_sigint_while_importing_the_libraries_gives_exit_130_and_no_traceback():
    """The real thing: SIGINT once the interpreter is importing pandas (-X importtime reports each import)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    proc = subprocess.Popen([sys.executable, "-X", "importtime", "-m", "ipabs", "validate", "x.toml"],
                            stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    deadline = time.monotonic() + 60
    for line in proc.stderr:
        lines.append(line)
        if "pandas" in line or time.monotonic() > deadline:
            proc.send_signal(signal.SIGINT)
            break
    rest = proc.stderr.read()
    code = proc.wait(timeout=60)
    messages = [x for x in (lines + rest.splitlines(keepends=True)) if not x.startswith("import time:")]
    assert "Traceback" not in "".join(messages)
    assert code == 130, "".join(messages)
    assert [m.strip() for m in messages if m.strip()] == ["interrupted"]


# --- 2. numeric bounds at parse time --------------------------------------------------------------------------------


@pytest.mark.parametrize(("args", "fragments"), [
    (["run", "S", "--paths", "-5"], ["--paths", "-5 is below the least allowed 0"]),
    (["run", "S", "--paths", "1000000000000"], ["--paths", "most allowed 10,000,000"]),
    (["run", "S", "--seed", "-1"], ["--seed", "below the least allowed 0", "2**63 - 1"]),
    (["run", "S", "--seed", str(2**64)], ["--seed", "above the most allowed"]),
    (["run", "S", "--sample-paths", "-3"], ["--sample-paths", "below the least allowed 0"]),
    (["run", "S", "--threads", "0"], ["--threads", "below the least allowed 1"]),
    (["run", "S", "--threads", "-1"], ["--threads", "below the least allowed 1"]),
    (["run", "S", "--paths", "ten"], ["--paths", "not a whole number"]),
    (["fund", "P", "--paths", "1000000000000"], ["--paths", "most allowed 1,000,000"]),
    (["subsidy", "P", "--paths", "0"], ["--paths", "below the least allowed 1"]),
    (["subsidy", "P", "--seed", "-1"], ["--seed", "below the least allowed 0"]),
    (["subsidy", "P", "--rho", "nan"], ["--rho", "not a finite number"]),
    (["fund", "P", "--fund-size", "inf"], ["--fund-size", "not a finite number"]),
    (["fund", "P", "--fund-size", "1e30"], ["--fund-size", "outside 0 to 100,000,000,000"]),
    (["fund", "P", "--fund-size", "1000000", "--per-loan-cap", "-100"], ["--per-loan-cap", "outside 0"]),
    (["fund", "P", "--leverage", "inf"], ["--leverage", "not a finite number"]),
    (["fund", "P", "--leverage", "0"], ["--leverage", "outside (0"]),
    (["subsidy", "P", "--lpr", "-0.01"], ["--lpr", "outside 0 to 1"]),
    (["subsidy", "P", "--lpr", "abc"], ["--lpr", "not a number"]),
])
def test_an_argument_out_of_bounds_exits_2_stating_the_limit_before_any_work(capsys, args, fragments):
    code, message = cli(capsys, *args)  # S / P do not exist: the bound is checked before any file is read
    assert code == 2
    for f in fragments:
        assert f in message, message


def test_the_library_refuses_paths_out_of_bounds_before_allocating(tmp_path):
    from ipabs import api
    from ipabs.errors import InputError

    deal = api.compile_scenario(api.load_scenario(SCENARIOS / "ganzhou_pledge_2026.toml"))
    with pytest.raises(InputError, match="0 to 10,000,000"):
        api.simulate(deal, n_paths=10**12, seed=1)
    with pytest.raises(InputError, match="seed"):
        api.simulate(deal, n_paths=10, seed=-1)


# --- 4. malformed files and amounts -------------------------------------------------------------------------------


def test_a_binary_file_given_to_selfcheck_exits_2_naming_the_file(capsys, tmp_path):
    f = tmp_path / "check.toml"
    f.write_bytes(bytes(range(256)) * 8)
    code, message = cli(capsys, "selfcheck", f)
    assert code == 2 and "check.toml" in message and "not UTF-8" in message


@pytest.mark.parametrize(("key", "value"), [("financing_earlier_this_year", "inf"),
                                             ("financing_earlier_this_year", "1e308"), ("appraised_value", "nan")])
def test_a_self_check_with_a_non_finite_or_absurd_amount_exits_2_naming_the_field(capsys, tmp_path, key, value):
    import re

    text = (SCENARIOS / "selfcheck-example.toml").read_text("utf-8")
    f = tmp_path / "sc.toml"
    f.write_text(re.sub(rf"(?m)^{key} = .*$", f"{key} = {value}", text, count=1), encoding="utf-8")
    code, message = cli(capsys, "selfcheck", f)
    assert code == 2 and "sc.toml" in message and f"field '{key}'" in message


@pytest.mark.parametrize("verb", ["validate", "selfcheck", "criteria", "policy", "subsidy"])
def test_a_device_given_as_an_input_file_exits_2_instead_of_reading_forever(capsys, verb):
    args = {"validate": ["validate", "/dev/zero"], "selfcheck": ["selfcheck", "/dev/zero"],
            "criteria": ["eligibility", SCENARIOS / "tapes" / "ganzhou_pledge_pool.csv", "--criteria", "/dev/zero"],
            "policy": ["subsidy", PIPELINE, "--policy", "/dev/zero", "--paths", "10"],
            "subsidy": ["subsidy", "/dev/zero", "--paths", "10"]}[verb]
    code, message = cli(capsys, *args)
    assert code == 2 and "/dev/zero" in message


@pytest.mark.parametrize("verb", ["selfcheck", "criteria", "policy"])
def test_a_pathologically_nested_toml_exits_2_for_every_toml_input(capsys, tmp_path, verb):
    f = tmp_path / "deep.toml"
    f.write_text("x = " + "[" * 5000 + "]" * 5000 + "\n", encoding="utf-8")
    args = {"selfcheck": ["selfcheck", f],
            "criteria": ["eligibility", SCENARIOS / "tapes" / "ganzhou_pledge_pool.csv", "--criteria", f],
            "policy": ["subsidy", PIPELINE, "--policy", f, "--paths", "10"]}[verb]
    code, message = cli(capsys, *args)
    assert code == 2 and "deep.toml" in message and "nested too deeply" in message


def test_the_fund_library_refuses_non_finite_and_negative_amounts_naming_the_field():
    from ipabs.errors import InputError
    from ipabs.policy import api

    for kwargs, field in [({"fund_size": "inf"}, "fund_size"), ({"fund_size": "1e30"}, "fund_size"),
                          ({"fund_size": "abc"}, "fund_size"),
                          ({"fund_size": "1000000", "per_loan_cap": "-100"}, "per_loan_cap"),
                          ({"fund_size": "1000000", "per_loan_cap": "nan"}, "per_loan_cap"),
                          ({"leverage": math.inf}, "leverage")]:
        with pytest.raises(InputError) as e:
            api.run_fund(PORTFOLIO, n_paths=10, **kwargs)
        assert e.value.issues[0].field == field, kwargs


def test_a_negative_or_malformed_lpr_is_refused_by_the_library():
    from ipabs.errors import InputError
    from ipabs.policy import api

    for lpr in ("-0.01", "abc", "inf", 2):
        with pytest.raises(InputError) as e:
            api.run_subsidy(PIPELINE, n_paths=10, lpr=lpr)
        assert e.value.issues[0].field == "lpr"


# --- 5. no NaN or inf in written tables -----------------------------------------------------------------------------


def test_subsidy_skip_invalid_rows_writes_no_nan_or_inf(capsys, tmp_path):
    lines = PIPELINE.read_text("utf-8").splitlines()
    bad = [lines[1].replace(",20000000.00,", ",inf,"), lines[1].replace(",180571428.57,", ",nan,")]
    pipeline = tmp_path / "in" / "pipeline.csv"
    pipeline.parent.mkdir()
    pipeline.write_text("\n".join(lines[:1] + bad + lines[1:]) + "\n", encoding="utf-8")
    out = tmp_path / "out"
    code, message = cli(capsys, "subsidy", pipeline, "--paths", "20", "--skip-invalid-rows", "--out", out)
    assert code == 0, message
    assert "row 1 field 'amount'" in message
    for f in out.glob("*.parquet"):
        table = pq.read_table(f)
        for name in table.column_names:
            col = table[name]
            if col.type in ("double", "float"):
                assert not pc.any(pc.is_nan(col)).as_py(), f"{f.name}: NaN in {name}"
                assert not pc.any(pc.is_inf(col)).as_py(), f"{f.name}: inf in {name}"
    planned = pq.read_table(out / "entitlements_planned.parquet").to_pandas()
    per_loan = planned["item"].str.startswith("pledge")
    assert planned.loc[per_loan, "rate"].isna().all() and planned.loc[~per_loan, "rate"].notna().all()
