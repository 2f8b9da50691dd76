"""Check that every number results/README.md quotes for a finding is in the committed table row it cites.

    python experiments/check_numbers.py                     # results/README.md against results/*.csv
    python experiments/check_numbers.py path/to/README.md   # another report (tables relative to it)

How the report quotes numbers (checked by tests/test_results.py):

- A finding (a paragraph, a list item or a table row) cites the rows its numbers come from with a link
  ``[TABLE#KEY](TABLE)``, e.g.
  ``[robustness.csv#popularity_concentrates_followers](robustness.csv)``. TABLE is a CSV file relative to the
  report; KEY is the row's ``id`` column, else its ``claim``, else ``experiment/effect``. A finding may cite
  several rows.
- Every number in a citing finding (outside the citations, links and backticks) must equal a value of a cited row
  at the precision quoted: ``+0.048`` matches any value that rounds to 0.048, ``92%`` or ``7.6 points`` a
  value that rounds to 0.92 or 0.076. A signed number must match with its sign; an unsigned one (``falls by
  7.6 points``) matches a value of either sign. Design values that are not results go in backticks
  (``seed=range(0,20)``).
- In a section that is checked, a finding quoting a result (a number with a decimal point, a sign or a percent
  sign) without a citation is an error.
- A heading followed by ``<!-- numbers: not yet re-run -->`` marks its section (up to the next heading) as not
  yet regenerated: it is skipped, and the test reports it as skipped.
  ``<!-- numbers: not findings -->`` marks a section without findings (design, runtimes).
"""

from __future__ import annotations

import argparse
import math
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
MARKERS = {"<!-- numbers: not yet re-run -->": "not yet re-run", "<!-- numbers: not findings -->": "not findings"}
CITATION = re.compile(r"\[([^\]\s#]+\.csv)#([^\]]+)\]\(([^)]*)\)")
LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
CODE = re.compile(r"`[^`]*`")
# a number as written in the report: optional sign (ASCII or Unicode minus), digits with thousands commas,
# decimals, then an optional percent sign or the word "points"
NUMBER = re.compile(r"(?<![\w.])([+\-−±]?)(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?(\s?%|\s(?:percentage\s)?points?\b)?")


@dataclass
class Section:
    """A part of the report under one heading, with its marker (``""`` when checked)."""

    heading: str
    level: int
    status: str = ""
    lines: list[tuple[int, str]] = field(default_factory=list)


def sections(text: str) -> list[Section]:
    """The report split at its headings; a marker right after a heading applies to the lines up to the next."""
    out = [Section("(top)", 0)]
    in_code = False
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith("```"):
            in_code = not in_code
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", line) if not in_code else None
        if heading:
            out.append(Section(heading.group(2).strip(), len(heading.group(1))))
            continue
        if line.strip() in MARKERS and not any(text.strip() for _, text in out[-1].lines):
            out[-1].status = MARKERS[line.strip()]
            continue
        if not in_code:
            out[-1].lines.append((number, line))
    return out


def findings(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """The units a citation covers, each as (first line number, text): a paragraph, a list item (up to the next
    item or a blank line) or a table row."""
    out: list[tuple[int, str]] = []
    open_unit = False
    for number, line in lines:
        stripped = line.strip()
        if not stripped:
            open_unit = False
            continue
        starts = bool(re.match(r"([-*+]|\d+\.)\s", stripped)) or stripped.startswith("|")
        if open_unit and not starts and not out[-1][1].lstrip().startswith("|"):
            out[-1] = (out[-1][0], f"{out[-1][1]} {stripped}")
        else:
            out.append((number, stripped))
        open_unit = True
    return out


def _numbers(line: str) -> list[tuple[str, float, int, bool]]:
    """(as written, value, decimals, is a percentage or points) of each number outside citations, links, code."""
    text = CODE.sub(" ", LINK.sub(lambda m: m.group(1) if not CITATION.fullmatch(m.group(0)) else " ", line))
    text = CITATION.sub(" ", text)
    out = []
    for m in NUMBER.finditer(text):
        sign, whole, frac, unit = m.groups()
        value = float(whole.replace(",", "") + (frac or ""))
        if sign in ("-", "−"):
            value = -value
        out.append((m.group(0).strip(), value, len(frac) - 1 if frac else 0, bool(unit)))
    return out


def _is_result(written: str, decimals: int, scaled: bool) -> bool:
    return decimals > 0 or scaled or written[0] in "+-−±"


def _matches(value: float, decimals: int, scaled: bool, signed: bool, cells: list[float]) -> bool:
    tolerance = 0.5 * 10 ** -decimals + 1e-9
    for cell in cells:
        cell = cell if signed else abs(cell)  # "falls by 7.6 points": the words carry the sign
        for candidate in ((cell * 100,) if scaled else (cell, cell * 100)):
            if math.isfinite(candidate) and abs(candidate - value) <= tolerance:
                return True
    return False


def _row_key(table: pd.DataFrame) -> pd.Series:
    if "id" in table:
        return table["id"].astype(str)
    if "claim" in table:
        return table["claim"].astype(str)
    if {"experiment", "effect"} <= set(table.columns):
        return table["experiment"].astype(str) + "/" + table["effect"].astype(str)
    raise ValueError("has no id, claim or experiment and effect columns to cite a row by")


def check(report: Path) -> tuple[list[str], list[str]]:
    """(errors, skipped sections) of ``report``: each error names the line, the number and the citation."""
    report = Path(report)
    tables: dict[str, pd.DataFrame] = {}
    errors, skipped = [], []
    for section in sections(report.read_text()):
        if section.status == "not yet re-run":
            if any(_numbers(line) for _, line in section.lines):
                skipped.append(section.heading)
            continue
        if section.status:
            continue
        for number, line in findings(section.lines):
            where = f"{report.name}:{number}"
            cited = CITATION.findall(line)
            quoted = _numbers(line)
            if not cited:
                results = [w for w, _, d, s in quoted if _is_result(w, d, s)]
                if results:
                    errors.append(f"{where}: {', '.join(results)} quoted without a citation [TABLE#KEY](TABLE)")
                continue
            cells: list[float] = []
            for name, key, _ in cited:
                if name not in tables:
                    path = report.parent / name
                    if not path.is_file():
                        errors.append(f"{where}: cites {name}, which does not exist")
                        tables[name] = pd.DataFrame()
                        continue
                    tables[name] = pd.read_csv(path)
                table = tables[name]
                if table.empty:
                    continue
                try:
                    rows = table[_row_key(table) == key]
                except ValueError as exc:
                    errors.append(f"{where}: {name} {exc}")
                    continue
                if rows.empty:
                    errors.append(f"{where}: {name} has no row {key!r}")
                    continue
                cells += [float(v) for v in rows.select_dtypes("number").to_numpy().ravel()]
            for written, value, decimals, scaled in quoted:
                if not _matches(value, decimals, scaled, written[0] in "+-−±", cells):
                    errors.append(f"{where}: {written} is not a value of the cited row(s) "
                                  f"{', '.join(f'{n}#{k}' for n, k, _ in cited)}")
    return errors, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("report", nargs="?", type=Path, default=ROOT / "results" / "README.md")
    args = parser.parse_args(argv)
    errors, skipped = check(args.report)
    for heading in skipped:
        print(f"not checked (marked not yet re-run): {heading}")
    for error in errors:
        print(error, file=sys.stderr)
    print(f"{len(errors)} number(s) not found in their tables" if errors else "every quoted number is in its table")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
