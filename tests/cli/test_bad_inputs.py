"""The bad-input corpus: every file gets exit code 2 and a message naming what is wrong, never a traceback.

Two corpora: tests/data/bad_scenarios/ (scenario files, manifest written by make_bad_scenarios.py) and the pool-tape
corpus tests/data/bad_tapes/ (manifest by the tape reader's author), reached through a scenario pointing at each tape.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from ipabs.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
BAD_SCENARIOS = DATA / "bad_scenarios"
BAD_TAPES = DATA / "bad_tapes"
SCENARIO_CASES = tomllib.loads((BAD_SCENARIOS / "manifest.toml").read_text("utf-8"))["case"]
TAPE_MANIFEST = BAD_TAPES / "manifest.toml"
TAPE_CASES = tomllib.loads(TAPE_MANIFEST.read_text("utf-8"))["case"] if TAPE_MANIFEST.exists() else []


def run_cli(capsys, args: list[str]) -> tuple[int, str]:
    code = main(args)
    captured = capsys.readouterr()
    return code, captured.out + captured.err


def assert_names_the_problem(message: str, fragments: list[str]) -> None:
    assert "Traceback" not in message
    low = message.lower()
    missing = [f for f in fragments if f.lower() not in low]
    assert not missing, f"message lacks {missing}:\n{message}"


def test_the_corpus_holds_at_least_25_bad_inputs():
    assert len(SCENARIO_CASES) >= 25
    assert len(SCENARIO_CASES) + len(TAPE_CASES) >= 50 or not TAPE_CASES


def test_the_corpus_base_scenario_is_valid(capsys):
    """Each bad file breaks exactly one thing of a valid base, so the failure is due to that thing."""
    code, message = run_cli(capsys, ["validate", str(BAD_SCENARIOS / "base.toml")])
    assert code == 0, message


@pytest.mark.parametrize("case", SCENARIO_CASES, ids=[c["file"] for c in SCENARIO_CASES])
def test_a_bad_scenario_file_exits_2_with_a_message_naming_the_problem(case, capsys, tmp_path):
    path = BAD_SCENARIOS / case["file"]
    args = [case["command"], str(path)]
    if case["command"] == "run":
        args += ["--paths", "0", "--out", str(tmp_path / "out")]
    code, message = run_cli(capsys, args)
    assert code == 2, f"{case['file']} ({case['description']}): exit {code}\n{message}"
    assert_names_the_problem(message, case["expect"])
    if case["command"] == "run":
        assert not (tmp_path / "out").exists()


def test_a_scenario_file_that_does_not_exist_exits_2(capsys, tmp_path):
    code, message = run_cli(capsys, ["validate", str(tmp_path / "nope.toml")])
    assert code == 2
    assert_names_the_problem(message, ["nope.toml", "file not found"])


def test_a_folder_given_as_scenario_exits_2(capsys, tmp_path):
    code, message = run_cli(capsys, ["run", str(tmp_path), "--paths", "0", "--out", str(tmp_path / "o")])
    assert code == 2
    assert_names_the_problem(message, ["is a folder"])


def scenario_for_tape(tmp_path: Path, tape: Path, strict: bool) -> Path:
    text = (BAD_SCENARIOS / "base.toml").read_text("utf-8")
    text = text.replace('tape = "../../../scenarios/tapes/ganzhou_pledge_pool.csv"',
                        f"tape = '{tape.as_posix()}'\nstrict = {'true' if strict else 'false'}")
    path = tmp_path / f"on_{tape.stem}.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.skipif(not TAPE_CASES, reason="tests/data/bad_tapes/manifest.toml is not there yet (tape reader's corpus)")
@pytest.mark.parametrize("case", TAPE_CASES, ids=[c["file"] for c in TAPE_CASES] or None)
def test_a_scenario_on_a_bad_tape_exits_2_with_a_message_naming_file_row_and_field(case, capsys, tmp_path):
    tape = BAD_TAPES / case["file"]
    path = scenario_for_tape(tmp_path, tape, strict=case["kind"] == "row")
    code, message = run_cli(capsys, ["validate", str(path)])
    assert code == 2, f"{case['file']} ({case['description']}): exit {code}\n{message}"
    fragments = [case["file"]]
    for issue in case.get("issues", []):
        fragments.append(issue["message"])
        if "row" in issue:
            fragments.append(f"row {issue['row']}")
        if "field" in issue:
            fragments.append(f"field '{issue['field']}'")
    assert_names_the_problem(message, fragments)
