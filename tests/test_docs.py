"""docs/ODD.md stays true to the code: its parameter and metric tables are the generated ones. Every relative
link and image in the Markdown documents (README.md, results/README.md, docs/) points to a file that exists, and
every in-page link to a heading of the same document."""

import ast
import re
from pathlib import Path

import pytest

from socialsim.metrics import METRICS
from socialsim.params import markdown_table
from socialsim.phases import PHASES

ROOT = Path(__file__).parents[1]
ODD = (ROOT / "docs" / "ODD.md").read_text()
DOCUMENTS = ["README.md", "results/README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")  # [text](target) and ![alt](target)


def _between(start: str, end: str) -> str:
    return ODD.split(start)[1].split(end)[0].strip()


def test_parameter_table_matches_the_code():
    assert _between("<!-- params:start -->", "<!-- params:end -->") == markdown_table(), (
        "docs/ODD.md's parameter table is stale: regenerate it with socialsim.params.markdown_table()")


def test_every_metric_is_described():
    table = _between("<!-- metrics:start -->", "<!-- metrics:end -->")
    for name, doc in METRICS.items():
        assert f"| `{name}` | {doc} |" in table


def test_phase_order_is_the_documented_one():
    section = ODD.split("## 3. Process overview and scheduling")[1].split("## 4.")[0]
    documented = [line.split("**")[1] for line in section.splitlines() if line[:1].isdigit() and "**" in line]
    assert documented == [name for name, _ in PHASES]


def test_each_phase_is_named_as_its_module():
    assert [(name, f"socialsim.phases.{name}") for name, _ in PHASES] == [(name, fn.__module__) for name, fn in PHASES]


def _anchor(heading: str) -> str:
    """GitHub's id of a heading: lower case, punctuation other than - and _ dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


@pytest.mark.parametrize("document", DOCUMENTS)
def test_relative_links_and_images_resolve(document):
    path = ROOT / document
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)  # not links inside code blocks
    anchors = {_anchor(h) for h in re.findall(r"^#+\s+(.*)$", text, flags=re.M)}
    broken = []
    for target in LINK.findall(text):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:, ...
            continue
        file, _, fragment = target.partition("#")
        if file and not (path.parent / file).exists():
            broken.append(target)
        elif not file and fragment not in anchors:
            broken.append(target)
    assert not broken, f"{document}: links to nothing: {', '.join(broken)}"


def public_definitions_without_docstring(root: Path) -> list[str]:
    """Modules, and public functions, classes and methods (names without a leading underscore), with no docstring."""
    missing = []

    def walk(node, where: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                    and not child.name.startswith("_"):
                if not ast.get_docstring(child):
                    missing.append(f"{where}:{child.lineno} {child.name}")
                if isinstance(child, ast.ClassDef):
                    walk(child, where)

    for path in sorted(root.rglob("*.py")):
        tree = ast.parse(path.read_text())
        where = str(path.relative_to(root.parent))
        if not ast.get_docstring(tree):
            missing.append(f"{where}: module")
        walk(tree, where)
    return missing


def test_every_public_definition_has_a_docstring(tmp_path):
    assert public_definitions_without_docstring(ROOT / "src" / "socialsim") == []
    # the check can fail: an undocumented function in a module is named
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "mod.py").write_text('"""A module."""\n\ndef bare():\n    return 1\n')
    assert public_definitions_without_docstring(tmp_path / "pkg") == ["pkg/mod.py:3 bare"]
