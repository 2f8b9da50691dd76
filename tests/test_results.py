"""Every number results/README.md quotes for a finding is in the committed table row it cites
(experiments/check_numbers.py says how the report cites rows), and the check itself catches a number that
drifted from its table, a result quoted without a citation and a citation of a missing row.

Sections marked ``<!-- numbers: not yet re-run -->`` are reported as skipped, one test each."""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
import check_numbers  # noqa: E402

README = ROOT / "results" / "README.md"
NOT_RE_RUN = [s.heading for s in check_numbers.sections(README.read_text()) if s.status == "not yet re-run"]


def test_every_quoted_number_of_the_report_is_in_its_table():
    errors, _ = check_numbers.check(README)
    assert not errors, "\n".join(errors)


@pytest.mark.parametrize("heading", NOT_RE_RUN or ["(none)"])
def test_sections_not_yet_re_run(heading):
    if heading == "(none)":
        return
    pytest.skip(f"results/README.md section {heading!r} is marked not yet re-run: its numbers are not checked")


@pytest.fixture
def report(tmp_path):
    pd.DataFrame({"claim": ["popularity", "meetups"], "diff": [0.04812, -0.0996], "ci_lo": [0.0441, -0.105],
                  "ci_hi": [0.0519, -0.0962], "draws_sign_holds": [0.95, 0.6], "n_seeds": [20, 20]}
                 ).to_csv(tmp_path / "robustness.csv", index=False)
    pd.DataFrame({"experiment": ["local_networks"], "effect": ["intimacy_gap: meetups 0.1 vs 0.0"],
                  "diff": [-0.0762]}).to_csv(tmp_path / "effects.csv", index=False)

    def write(body: str) -> Path:
        path = tmp_path / "README.md"
        path.write_text(body)
        return path

    return write


GOOD = """# Findings

## Robustness
Popularity suggestions raise the Gini by +0.048 [+0.044, +0.052] over 20 seeds, and the sign holds in 95% of
the draws [robustness.csv#popularity](robustness.csv).
- Meetups lower it by −0.100 [−0.105, −0.096] in 60% of draws `meetups.rate=0.1`
  [robustness.csv#meetups](robustness.csv); the gap falls by 7.6 points
  [effects.csv#local_networks/intimacy_gap: meetups 0.1 vs 0.0](effects.csv).

## Old numbers
<!-- numbers: not yet re-run -->
The Gini rose by +0.5.

## Regenerating
<!-- numbers: not findings -->
The stage took 1,482 s and 24.5 minutes.

```
python -m socialsim seed=0.5
```
"""


def test_a_report_whose_numbers_match_passes(report):
    errors, skipped = check_numbers.check(report(GOOD))
    assert errors == [] and skipped == ["Old numbers"]


@pytest.mark.parametrize("old,new,message", [
    ("+0.048 [", "+0.049 [", r"\+0.049 is not a value of the cited row\(s\) robustness.csv#popularity"),
    ("in 95% of", "in 90% of", "90% is not a value"),
    ("−0.100", "+0.100", r"\+0.100 is not a value"),  # the sign counts
    ("7.6 points", "7.9 points", "7.9 points is not a value"),
    ("7.6 points", "+7.6 points", r"\+7.6 points is not a value"),  # the value is negative
    ("robustness.csv#meetups", "robustness.csv#nope", "robustness.csv has no row 'nope'"),
    ("effects.csv#local", "missing.csv#local", "cites missing.csv, which does not exist"),
    (" [robustness.csv#popularity](robustness.csv)", "", r"README.md:4: \+0.048.* quoted without a citation"),
])
def test_a_drifted_or_uncited_number_fails(report, old, new, message):
    assert old in GOOD
    errors, _ = check_numbers.check(report(GOOD.replace(old, new)))
    assert errors and any(__import__("re").search(message, e) for e in errors), errors


def test_the_command_exits_1_on_a_mismatch(report, capsys):
    assert check_numbers.main([str(report(GOOD))]) == 0
    assert check_numbers.main([str(report(GOOD.replace("+0.048", "+0.047")))]) == 1
    assert "+0.047 is not a value" in capsys.readouterr().err
