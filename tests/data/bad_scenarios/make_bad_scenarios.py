"""Write the bad-scenario corpus: ``python tests/data/bad_scenarios/make_bad_scenarios.py``.

Every file is ``base.toml`` (a minimal valid deal on the synthetic Ganzhou tape) with one thing broken, or a file that
is not a scenario at all. ``manifest.toml`` lists, for each file, what is wrong and the fragments that the error
message of ``ipabs validate`` (or ``ipabs run``) must contain; tests/cli/test_bad_inputs.py checks exit code 2 and
every fragment. Edit this script, not the generated files.
"""

from __future__ import annotations

import random
from pathlib import Path

HERE = Path(__file__).resolve().parent

BASE = """\
# Bad-scenario corpus base: a minimal VALID deal (synthetic tape). Every other file here breaks one thing.
schema_version = 1

[deal]
name = "bad-input corpus base"
cutoff_date = 2026-04-15
closing_date = 2026-04-20
first_payment_date = 2026-07-20
payment_frequency = "quarterly"
legal_maturity = 2027-04-20

[pool]
tape = "../../../scenarios/tapes/ganzhou_pledge_pool.csv"

[assumptions]
cdr = 0.02
recovery_rate = 0.3

[[tranches]]
name = "优先A"
seniority = "senior"
balance = 180_000_000
coupon = 0.025
amortization = "bullet"

[[tranches]]
name = "次级"
seniority = "subordinate"
balance = 20_000_000

[[fees]]
name = "管理费"
basis = "fixed"
annual_amount = 50_000

[[accounts]]
name = "收款账户"
receives = ["interest", "principal", "recoveries"]

[[support]]
name = "担保人"
cap = 100_000_000

[waterfall]
normal = [
  { action = "draw_support", support = "担保人", covers = ["interest:优先A"] },
  { action = "pay_fees" },
  { action = "pay_interest", tranches = ["优先A"] },
  { action = "pay_principal", tranches = ["优先A"] },
  { action = "pay_principal", tranches = ["次级"], amount = "all", require_repaid = ["优先A"] },
  { action = "pay_residual", tranche = "次级" },
]
"""


def edit(old: str, new: str) -> str:
    assert BASE.count(old) == 1, old
    return BASE.replace(old, new)


#: (file, description, content (str or bytes), fragments the message must contain, command)
CASES: list[tuple[str, str, str | bytes, list[str], str]] = [
    ("syntax_error.toml", "an unclosed array (TOML syntax error)",
     edit('receives = ["interest", "principal", "recoveries"]', 'receives = ["interest", "principal"'),
     ["not valid TOML", "syntax_error.toml"], "validate"),
    ("unknown_key.toml", "a misspelt key in [deal]", edit('name = "bad-input corpus base"', 'nmae = "x"\nname = "y"'),
     ["[deal]", "'nmae'", "unknown key"], "validate"),
    ("unknown_table.toml", "a table that is not in the schema",
     BASE + '\n[pricing]\nspread_bps = 80\n', ["'pricing'", "unknown key"], "validate"),
    ("dangling_tranche.toml", "the waterfall pays interest to a tranche that does not exist",
     edit('{ action = "pay_interest", tranches = ["优先A"] }', '{ action = "pay_interest", tranches = ["优先B"] }'),
     ["waterfall.normal[2]", "unknown tranche '优先B'"], "validate"),
    ("dangling_fee.toml", "the waterfall pays a fee that does not exist",
     edit('{ action = "pay_fees" }', '{ action = "pay_fees", fees = ["托管费"] }'),
     ["waterfall.normal[1]", "unknown fee '托管费'"], "validate"),
    ("dangling_account.toml", "a transfer into an account that does not exist",
     edit('{ action = "pay_fees" }', '{ action = "pay_fees" },\n  { action = "transfer", to = "储备金账户" }'),
     ["waterfall.normal[2]", "'to'", "unknown account '储备金账户'"], "validate"),
    ("dangling_support.toml", "a support draw on a provider that does not exist",
     edit('support = "担保人", covers', 'support = "差额支付人", covers'),
     ["waterfall.normal[0]", "unknown support provider '差额支付人'"], "validate"),
    ("dangling_trigger_support.toml", "a trigger on the default of an unknown support provider",
     BASE + '\n[[triggers]]\nname = "t"\ncondition = "support_default"\nsupport = "保险公司"\neffect = "accelerated"\n',
     ["triggers[0]", "unknown support provider '保险公司'"], "validate"),
    ("closing_before_cutoff.toml", "the closing date is before the cut-off date",
     edit("closing_date = 2026-04-20", "closing_date = 2026-04-10"),
     ["field 'deal'", "cutoff_date 2026-04-15 must not be after closing_date 2026-04-10"], "validate"),
    ("first_payment_before_closing.toml", "the first payment date is before the closing date",
     edit("first_payment_date = 2026-07-20", "first_payment_date = 2026-03-20"),
     ["first_payment_date 2026-03-20 must be after closing_date"], "validate"),
    ("legal_maturity_before_first_payment.toml", "legal maturity before the first payment date",
     edit("legal_maturity = 2027-04-20", "legal_maturity = 2026-06-30"),
     ["legal_maturity 2026-06-30 must not be before first_payment_date"], "validate"),
    ("expected_maturity_after_legal.toml", "a tranche's expected maturity after legal maturity",
     edit('amortization = "bullet"', 'amortization = "bullet"\nexpected_maturity = 2029-01-01'),
     ["tranches[0]", "expected_maturity", "2029-01-01"], "validate"),
    ("negative_balance.toml", "a negative tranche balance",
     edit("balance = 20_000_000", "balance = -20_000_000"),
     ["tranches[1]", "'balance'", "greater than or equal to 0", "-20000000"], "validate"),
    ("negative_fee.toml", "a negative fixed fee",
     edit("annual_amount = 50_000", "annual_amount = -50_000"),
     ["fees[0]", "'annual_amount'", "greater than or equal to 0"], "validate"),
    ("coupon_above_one.toml", "a coupon of 2.5 (250%) where 2.5% was meant",
     edit("coupon = 0.025", "coupon = 2.5"),
     ["tranches[0]", "'coupon'", "less than or equal to 1", "2.5"], "validate"),
    ("recovery_rate_in_percent.toml", "a recovery rate written as a percentage",
     edit("recovery_rate = 0.3", "recovery_rate = 30"),
     ["[assumptions]", "'recovery_rate'", "less than or equal to 1"], "validate"),
    ("nan_amount.toml", "a NaN cap",
     edit("cap = 100_000_000", "cap = nan"), ["support[0]", "'cap'", "finite"], "validate"),
    ("text_amount.toml", "an amount written as text",
     edit("balance = 180_000_000", 'balance = "一亿八千万"'),
     ["tranches[0]", "'balance'", "valid number"], "validate"),
    ("missing_deal_table.toml", "no [deal] table",
     BASE.split("[deal]")[0] + "[pool]" + BASE.split("[pool]")[1],
     ["field 'deal'", "required key is missing"], "validate"),
    ("missing_waterfall.toml", "no [waterfall] table", BASE.split("[waterfall]")[0],
     ["field 'waterfall'", "required key is missing"], "validate"),
    ("missing_tranches.toml", "no tranches at all",
     BASE.split("[[tranches]]")[0] + "[[fees]]" + BASE.split("[[fees]]")[1].replace(
         '  { action = "pay_interest", tranches = ["优先A"] },\n', "").replace(
         '  { action = "pay_principal", tranches = ["优先A"] },\n', "").replace(
         '  { action = "pay_principal", tranches = ["次级"], amount = "all", require_repaid = ["优先A"] },\n', "").replace(
         '  { action = "pay_residual", tranche = "次级" },\n', "").replace('covers = ["interest:优先A"]', 'covers = ["fees"]'),
     ["field 'tranches'", "required key is missing"], "validate"),
    ("missing_deal_key.toml", "[deal] without legal_maturity",
     edit("legal_maturity = 2027-04-20\n", ""), ["[deal]", "'legal_maturity'", "required key is missing"], "validate"),
    ("duplicate_tranche_names.toml", "two tranches with the same name",
     edit('name = "次级"\nseniority = "subordinate"', 'name = "优先A"\nseniority = "subordinate"'),
     ["tranches[1]", "duplicate name '优先A'"], "validate"),
    ("empty_waterfall.toml", "a normal waterfall with no steps",
     BASE.split("[waterfall]")[0] + "[waterfall]\nnormal = []\n", ["waterfall", "'normal'", "at least 1 item"],
     "validate"),
    ("unknown_action.toml", "a step verb that is not in the vocabulary",
     edit('{ action = "pay_fees" }', '{ action = "pay_bonus" }'),
     ["waterfall.normal[1]", "'action'", "pay_bonus"], "validate"),
    ("tranches_out_of_order.toml", "the subordinate listed before the senior",
     BASE.replace('name = "优先A"\nseniority = "senior"', 'name = "优先A"\nseniority = "subordinate"', 1).replace(
         'name = "次级"\nseniority = "subordinate"', 'name = "次级"\nseniority = "senior"', 1),
     ["[tranches]", "most senior to most junior"], "validate"),
    ("support_pd_and_rating.toml", "a support provider with both pd and rating",
     edit("cap = 100_000_000", 'cap = 100_000_000\npd = 0.001\nrating = "AA+"'), ["support[0]", "pd or rating"],
     "validate"),
    ("to_target_into_collection.toml", "a to_target transfer into a collection account",
     edit('[[support]]', '[[accounts]]\nname = "第二账户"\n\n[[support]]').replace(
         '{ action = "pay_fees" }', '{ action = "pay_fees" },\n  { action = "transfer", to = "第二账户", amount = "to_target" }'),
     ["waterfall.normal[2]", "needs a reserve account"], "validate"),
    ("several_problems.toml", "three problems in three tables at once: all are reported",
     edit("coupon = 0.025", "coupon = -0.01").replace("annual_amount = 50_000", "annual_amount = -1").replace(
         "recovery_rate = 0.3", "recovery_rate = 1.3"),
     ["3 problems", "'coupon'", "'annual_amount'", "'recovery_rate'"], "validate"),
    ("unknown_obligor_default.toml", "a largest-obligor stress naming an obligor not on the tape",
     edit("recovery_rate = 0.3", 'recovery_rate = 0.3\nobligor_defaults = [{ obligor_id = "GZ999", period = 2 }]'),
     ["assumptions.obligor_defaults[0]", "unknown obligor 'GZ999'"], "validate"),
    ("obligor_default_after_last_period.toml", "an obligor default after the deal's last period",
     edit("recovery_rate = 0.3", 'recovery_rate = 0.3\nobligor_defaults = [{ obligor_id = "GZ001", period = 40 }]'),
     ["assumptions.obligor_defaults[0]", "period 40 is after the last period 4"], "validate"),
    ("unknown_obligor_default_run.toml", "the same unknown obligor, caught by `ipabs run` as well",
     edit("recovery_rate = 0.3", 'recovery_rate = 0.3\nobligor_defaults = [{ obligor_id = "GZ999", period = 2 }]'),
     ["unknown obligor 'GZ999'"], "run"),
    ("missing_tape.toml", "the tape path does not exist",
     edit("tapes/ganzhou_pledge_pool.csv", "tapes/no_such_pool.csv"), ["no_such_pool.csv"], "validate"),
    ("gbk_encoded.toml", "a scenario saved in GBK instead of UTF-8", BASE.encode("gb18030"),
     ["not UTF-8", "gbk_encoded.toml"], "validate"),
    ("binary_file.toml", "random bytes", bytes(random.Random(7).randrange(256) for _ in range(2048)),
     ["binary_file.toml"], "validate"),
    ("empty_file.toml", "a 0-byte file", "", ["required key is missing", "'deal'"], "validate"),
    ("correlations_sum_to_one.toml", "correlation + sector_correlation = 1: no positive-definite correlation matrix",
     BASE + "\n[simulation]\ncorrelation = 0.6\nsector_correlation = 0.4\n",
     ["[simulation]", "field 'sector_correlation'", "must be below 1", "positive definite"], "validate"),
    ("correlations_above_one_run.toml", "correlations summing above 1, caught by `ipabs run` before any path",
     BASE + "\n[simulation]\ncorrelation = 0.5\nsector_correlation = 0.7\n",
     ["[simulation]", "field 'sector_correlation'", "must be below 1"], "run"),
    ("zero_degrees_of_freedom.toml", "a Student-t copula with 0 degrees of freedom",
     BASE + '\n[simulation]\ncopula = "student_t"\ndegrees_of_freedom = 0\n',
     ["[simulation]", "field 'degrees_of_freedom'", "greater than 0"], "validate"),
    ("deeply_nested.toml", "arrays nested 5,000 deep (Python's parser would recurse out of its stack)",
     "x = " + "[" * 5000 + "]" * 5000 + "\n", ["deeply_nested.toml", "nested too deeply"], "validate"),
]


def main() -> None:
    (HERE / "base.toml").write_text(BASE, encoding="utf-8")
    lines = ["# The bad-scenario corpus (written by make_bad_scenarios.py: edit that, not this file).",
             "# `ipabs <command> FILE` exits with code 2 and its message contains every fragment (case-insensitive).",
             ""]
    for name, description, content, fragments, command in CASES:
        path = HERE / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
        lines += ["[[case]]", f'file = "{name}"', f'description = "{description}"', f'command = "{command}"',
                  "expect = [" + ", ".join('"' + f.replace('"', '\\"') + '"' for f in fragments) + "]", ""]
    (HERE / "manifest.toml").write_text("\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    main()
