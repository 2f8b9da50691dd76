"""docs/ODD.md stays true to the code: its parameter and metric tables are the generated ones."""

from pathlib import Path

from socialsim.metrics import METRICS
from socialsim.params import markdown_table
from socialsim.phases import PHASES

ODD = (Path(__file__).parents[1] / "docs" / "ODD.md").read_text()


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
