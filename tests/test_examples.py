"""Every example in README.md and docs/*.md prints what it shows.

What is run
-----------
- A fenced ```` ```console ```` block: each line starting with ``$ `` is a command (a line ending in ``\\``
  continues on the next one), and the lines after it, up to the next ``$ `` or the end of the block, are its
  expected output. A command starts with ``python``, which stands for this test's interpreter
  (``sys.executable``); it runs without a shell, with stdout and stderr merged as a terminal shows them.
  A command shown without output (followed by the end of the block or the next ``$``) is not run. To add an
  example, write the command and a placeholder line under it, then run ``python tests/update_examples.py``.
- A fenced block whose first line starts with ``>>> `` (```` ```pycon ````): doctest examples.
- A ```` ```bash ```` block is shown, not run: it is for what cannot run here, such as a cluster or hours
  of compute.

All examples of one document run in document order in one fresh temporary directory: it is the working
directory of the commands and of the ``>>>`` examples, and the ``>>>`` examples of a document share one
namespace. So a later example can read what an earlier one wrote (a ``>>>`` example can load a sweep that a
``$`` command ran).

How outputs are compared
------------------------
With doctest's checker: ``...`` stands for any text (ELLIPSIS) and runs of whitespace are equal
(NORMALIZE_WHITESPACE). Before comparing, the actual output shows the temporary directory as ``~``, and on
both sides these are normalised, so that they may differ between the shown and the actual output:

- dates (``2026-11-30``), times of day (``18:36:25``, ``18:36:25,107``, and ``18-36-25`` in folder names) and
  durations (``7.9 s``);
- a configuration hash (16 hexadecimal digits) and a SHA-256 (64).

A ``>>>`` example's expected output cannot start with ``...`` (doctest reads that as a continuation line) and
shows a blank line as ``<BLANKLINE>``.

After a deliberate change to the model, ``python tests/update_examples.py`` re-runs every example and
rewrites the outputs that no longer match (see :func:`update_document`).
"""

from __future__ import annotations

import contextlib
import difflib
import doctest
import os
import re
import shlex
import subprocess
import sys
import tempfile
import traceback
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
FLAGS = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
TIMEOUT_S = 600
NORMALISE = [  # (pattern, stand-in), applied in this order
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{64}(?![0-9a-f])"), "<sha256>"),
    (re.compile(r"(?<![0-9a-f])[0-9a-f]{16}(?![0-9a-f])"), "<hash>"),
    (re.compile(r"(?<!\d)\d{4}-\d\d-\d\d(?!\d)"), "<date>"),
    (re.compile(r"(?<!\d)\d\d:\d\d:\d\d([,.]\d+)?(?!\d)"), "<time>"),
    (re.compile(r"(?<!\d)\d\d-\d\d-\d\d(?!\d)"), "<time>"),
    (re.compile(r"(?<![\d.])\d+(\.\d+)? s\b"), "<duration>"),
]
FENCE = re.compile(r"^(\s*)```(\S*)")


def documents() -> list[Path]:
    """The documents whose examples are checked: README.md and docs/*.md."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def normalise(text: str) -> str:
    """``text`` with dates, times, durations and hashes replaced by stand-ins."""
    for pattern, stand_in in NORMALISE:
        text = pattern.sub(stand_in, text)
    return text


class Checker(doctest.OutputChecker):
    """doctest's checker on normalised text."""

    def check_output(self, want: str, got: str, optionflags: int) -> bool:
        return super().check_output(normalise(want), normalise(got), optionflags)


CHECKER = Checker()


def matches(expected: str, actual: str) -> bool:
    """Whether ``actual`` output is what ``expected`` shows (elisions, whitespace and normalisation allowed)."""
    return CHECKER.check_output(expected.rstrip("\n") + "\n", actual.rstrip("\n") + "\n", FLAGS)


def shown(text: str, workdir: Path) -> str:
    """Output as a document shows it: the working directory as ``~``, no trailing spaces or blank lines."""
    for path in {str(workdir.resolve()), str(workdir)}:
        text = text.replace(path, "~")
    return "\n".join(line.rstrip() for line in text.rstrip().splitlines())


# --- finding the examples -----------------------------------------------------------------------------
@dataclass
class Block:
    """A fenced block of a document: ``kind`` "console" or "pycon", its lines (dedented) and where they are."""

    kind: str
    lines: list[str]
    start: int  # index (0-based) in the document's lines of the block's first line inside the fences
    indent: str


def blocks(text: str) -> list[Block]:
    """The console and ``>>>`` blocks of a Markdown text, in order."""
    lines = text.splitlines()
    found, i = [], 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, info = opening.groups()
        end = next((k for k in range(i + 1, len(lines)) if re.fullmatch(r"\s*```\s*", lines[k])), len(lines))
        body = [line[len(indent):] if line.startswith(indent) else line.lstrip() for line in lines[i + 1:end]]
        first = next((line for line in body if line.strip()), "")
        if info == "console":
            found.append(Block("console", body, i + 1, indent))
        elif first.startswith(">>> "):
            found.append(Block("pycon", body, i + 1, indent))
        i = end + 1
    return found


@dataclass
class Outcome:
    """One example run: what it shows, what it printed, and where its shown output is in the document."""

    document: Path
    line: int  # 1-based line of the command or the ``>>>``
    source: str
    expected: str
    actual: str
    ok: bool
    start: int  # the shown output occupies lines [start, end) of the document (0-based)
    end: int
    kind: str
    indent: str = ""
    error: bool = False  # the example raised an exception: the updater leaves it alone

    def report(self) -> str:
        name = f"{self.document.relative_to(ROOT) if self.document.is_relative_to(ROOT) else self.document}"
        diff = difflib.unified_diff(normalise(self.expected).splitlines(), normalise(self.actual).splitlines(),
                                    "shown", "printed", lineterm="", n=2)
        return (f"{name}:{self.line}: {self.source}\n" + "\n".join(diff) +
                "\n(if the change is intended, `python tests/update_examples.py` rewrites the shown output)")


# --- running them -------------------------------------------------------------------------------------
def run_command(command: str, workdir: Path) -> str:
    """Run a ``python ...`` command of a console example in ``workdir`` and return its output as shown."""
    argv = shlex.split(command)
    if not argv or argv[0] != "python":
        raise ValueError(f"a console example runs a python command; got: {command} "
                         "(show a command that cannot run here in a ```bash block, without output)")
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "MPLBACKEND": "Agg"}
    env.pop("HYDRA_FULL_ERROR", None)
    proc = subprocess.run([sys.executable, *argv[1:]], cwd=workdir, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S)
    return shown(proc.stdout, workdir)


def _console(document: Path, block: Block, workdir: Path) -> list[Outcome]:
    outcomes, i, lines = [], 0, block.lines
    while i < len(lines):
        if not lines[i].startswith("$ "):
            i += 1  # text before the first command is not compared
            continue
        first, parts = i, [lines[i][2:]]
        while parts[-1].rstrip().endswith("\\") and i + 1 < len(lines):
            i += 1
            parts[-1] = parts[-1].rstrip()[:-1]
            parts.append(lines[i])
        command = " ".join(p.strip() for p in parts)
        end = i + 1
        while end < len(lines) and not lines[end].startswith("$ "):
            end += 1
        expected = "\n".join(lines[i + 1:end]).rstrip()
        if not expected:  # a command to type, shown without output: not an example
            i = end
            continue
        actual = run_command(command, workdir)
        outcomes.append(Outcome(document, block.start + first + 1, "$ " + command, expected, actual,
                                matches(expected, actual), block.start + i + 1, block.start + end, "console",
                                block.indent))
        i = end
    return outcomes


class _Recorder(doctest.DocTestRunner):
    """A doctest runner that keeps what each example printed instead of reporting it."""

    def __init__(self, workdir: Path):
        super().__init__(checker=CHECKER, optionflags=FLAGS, verbose=False)
        self.workdir, self.got = workdir, {}

    def report_start(self, out, test, example):
        pass

    def report_success(self, out, test, example, got):
        self.got[id(example)] = (got, False)

    def report_failure(self, out, test, example, got):
        self.got[id(example)] = (got, False)

    def report_unexpected_exception(self, out, test, example, exc_info):
        self.got[id(example)] = ("".join(traceback.format_exception(*exc_info)), True)


def _pycon(document: Path, block: Block, workdir: Path, globs: dict) -> list[Outcome]:
    text = "\n".join(block.lines) + "\n"
    test = doctest.DocTestParser().get_doctest(text, globs, f"{document.name}:{block.start}", str(document),
                                               block.start)
    runner = _Recorder(workdir)
    runner.run(test, out=lambda s: None, clear_globs=False)
    globs.update(test.globs)
    outcomes = []
    for example in test.examples:
        got, error = runner.got.get(id(example), ("", False))
        actual = shown(got, workdir)
        expected = example.want.rstrip("\n")
        start = block.start + example.lineno + len(example.source.splitlines())
        ok = not error and matches(expected, actual) if expected or actual else not error
        outcomes.append(Outcome(document, block.start + example.lineno + 1, ">>> " + example.source.strip(),
                                expected, actual, ok, start, start + len(example.want.splitlines()), "pycon",
                                block.indent, error))
    return outcomes


@contextlib.contextmanager
def _inside(workdir: Path):
    previous = Path.cwd()
    os.chdir(workdir)
    try:
        yield
    finally:
        os.chdir(previous)


def run_document(document: Path, workdir: Path | None = None) -> list[Outcome]:
    """Run every example of ``document`` in order, in ``workdir`` (a fresh temporary directory if None)."""
    if workdir is None:
        with tempfile.TemporaryDirectory(prefix="socialsim-examples-") as tmp:
            return run_document(document, Path(tmp))
    globs: dict = {"__name__": "__example__"}
    outcomes = []
    with _inside(workdir):
        for block in blocks(document.read_text()):
            if block.kind == "console":
                outcomes += _console(document, block, workdir)
            else:
                outcomes += _pycon(document, block, workdir, globs)
    return outcomes


# --- rewriting them -----------------------------------------------------------------------------------
def _shape(line: str) -> str:
    """A line with every number as 0 and whitespace collapsed: what stays when a model change moves numbers."""
    return " ".join(re.sub(r"[-+]?\d[\d,]*(\.\d+)?", "0", normalise(line)).split())


def merge(expected: str, actual: str, keep: bool = True) -> str:
    """New shown output for ``actual``, keeping the ``...`` lines of ``expected`` where they still fit.

    Each shown line is matched, in order, with the next printed line it still matches, or else the next one
    that has its shape (the same text with other numbers); the lines after the last ``...`` are matched with
    the last lines printed. A matched line is kept if it still matches and either ``keep`` is true (so only
    lines that changed beyond the normalisation are rewritten) or it elides part of the line with ``...``; it is
    replaced by the printed one otherwise; an unmatched line is dropped,
    and printed lines that no ``...`` line covers are added. If the result does not match ``actual``,
    the whole printed output is returned instead.
    """
    shown_lines, printed = expected.splitlines(), actual.splitlines()
    out: list[str] = []
    j, eliding = 0, False
    for n, line in enumerate(shown_lines):
        if line.strip() == "...":
            out.append(line)
            eliding = True
            continue
        rest = shown_lines[n:]
        if eliding and "..." not in [x.strip() for x in rest]:
            j = max(j, len(printed) - len(rest))  # the lines after the last elision are the last ones printed
        k = next((k for k in range(j, len(printed)) if matches(line, printed[k])), None)
        if k is None:
            k = next((k for k in range(j, len(printed)) if _shape(line) == _shape(printed[k])), None)
        if k is None:
            continue
        if not eliding:
            out.extend(printed[j:k])
        out.append(line if (keep or "..." in line) and matches(line, printed[k]) else printed[k])
        j, eliding = k + 1, False
    if not eliding:
        out.extend(printed[j:])
    merged = "\n".join(out)
    return merged if matches(merged, actual) else actual


def update_document(document: Path, everything: bool = False) -> tuple[int, int, list[str]]:
    """Re-run ``document``'s examples and rewrite the shown outputs that no longer match (all, if ``everything``).

    Returns (examples, rewritten, notes). Unless ``everything``, outputs that still match are left as they are,
    and so are the lines of a changed output that still match, with the times they show. Where a block elides
    lines with ``...``, the elisions are kept if the new output still fits them (:func:`merge`); otherwise the
    whole printed output replaces the shown one, and a note says so. An example that raises is left alone and
    noted.
    """
    outcomes = run_document(document)
    lines = document.read_text().splitlines()
    notes, edits = [], []
    for o in outcomes:
        if o.ok and not everything:
            continue
        where = f"{document.name}:{o.line}"
        if o.error:
            notes.append(f"{where}: raised an exception, left as it is:\n{o.actual}")
            continue
        new = merge(o.expected, o.actual, keep=not everything)
        if "..." in o.expected and "..." not in new:
            notes.append(f"{where}: elisions no longer fit; the whole output is shown now")
        new_lines = new.splitlines()
        if o.kind == "pycon":
            new_lines = [line if line.strip() else "<BLANKLINE>" for line in new_lines]
            if new_lines and new_lines[0].startswith("..."):
                new_lines = o.actual.splitlines()
        edits.append((o.start, o.end, [o.indent + line if line else line for line in new_lines]))
    for start, end, new_lines in sorted(edits, reverse=True):
        lines[start:end] = new_lines
    if edits:
        document.write_text("\n".join(lines) + "\n")
    return len(outcomes), len(edits), notes


# --- the tests ----------------------------------------------------------------------------------------
WITH_EXAMPLES = [d for d in documents() if blocks(d.read_text())]


@pytest.mark.slow
@pytest.mark.parametrize("document", WITH_EXAMPLES, ids=[str(d.relative_to(ROOT)) for d in WITH_EXAMPLES])
def test_examples_print_what_they_show(document, tmp_path):
    outcomes = run_document(document, tmp_path)
    assert outcomes
    failed = [o.report() for o in outcomes if not o.ok]
    assert not failed, "\n\n".join(failed)


WRONG = """\
A console example and a `>>>` example, both showing the wrong output:

```console
$ python -m socialsim population.size=0
socialsim: error: population.size must be >= 2; got 0
```

```pycon
>>> print(6 * 7)
41
```
"""


def test_a_wrong_output_is_reported(tmp_path):
    document = tmp_path / "wrong.md"
    document.write_text(WRONG)
    outcomes = run_document(document, tmp_path)
    assert [(o.kind, o.ok) for o in outcomes] == [("console", False), ("pycon", False)]
    assert outcomes[0].actual == "socialsim: error: population.size must be >= 1; got 0"
    assert outcomes[1].actual == "42"
    report = outcomes[0].report()
    assert "-socialsim: error: population.size must be >= 2; got 0" in report
    assert "+socialsim: error: population.size must be >= 1; got 0" in report


def test_a_command_shown_without_output_is_not_run(tmp_path):
    document = tmp_path / "commands.md"
    document.write_text("```console\n$ python -m socialsim population.size=0\n$ python -m socialsim \\\n"
                        "    run.steps=0\n```\n")
    assert run_document(document, tmp_path) == []


def test_the_updater_makes_a_stale_document_pass_and_keeps_its_elisions(tmp_path):
    document = tmp_path / "stale.md"
    document.write_text(WRONG + """
```pycon
>>> for i in range(1, 7):
...     print(f"row {i}: {i * 11}")
row 1: 10
...
row 6: 60
```
""")
    assert run_document(document, tmp_path)[2].ok is False
    examples, rewritten, notes = update_document(document)
    assert (examples, rewritten, notes) == (3, 3, [])
    assert all(o.ok for o in run_document(document, tmp_path))
    text = document.read_text()
    assert "row 1: 11\n...\nrow 6: 66\n```" in text
    assert ">>> print(6 * 7)\n42\n```" in text
    assert "$ python -m socialsim population.size=0\nsocialsim: error: population.size must be >= 1; got 0" in text


def test_times_paths_and_hashes_may_differ_but_numbers_may_not():
    shown_line = "[2026-11-25 23:01:12,107] done in 9.9 s: ~/results/runs/2026-11-25/23-01-12 (config d340d8c74598e88a)"
    printed = "[2027-01-02 10:00:00,001] done in 12.3 s: ~/results/runs/2027-01-02/10-00-00 (config 0123456789abcdef)"
    assert matches(shown_line, printed)
    assert not matches("follows 84,490\nreciprocity 0.252", "follows 84,491\nreciprocity 0.252")
    assert matches("metric final\n...\nreciprocity 0.252", "metric   final\nfollows 84,490\nreciprocity   0.252")
    assert shown("output: /tmp/x/results", Path("/tmp/x")) == "output: ~/results"
