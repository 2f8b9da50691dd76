"""The experiment notebooks run end to end on a reduced sweep (SOCIALSIM_SCALE=ci), so they never rot.

Each notebook runs its named experiment through the command line (``python -m socialsim -m +experiment=NAME``,
or the Sobol driver), loads it with ``socialsim.analysis.load_sweep`` and writes its tables and figures. Sweeps
and outputs go to a temporary folder, never into the committed results/.
"""

from __future__ import annotations

import pytest

pytest.importorskip("nbclient")

import sys  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "experiments"))
from run_notebooks import NOTEBOOKS, execute  # noqa: E402

MECHANISM = ["summary.csv", "ties_by_quartile.csv", "ties_by_origin.csv", "exit.csv", "mechanism.png", "effects.csv"]
EXPECTED = {  # files each notebook must write
    "openness_vs_elite": ["summary.csv", "effects.csv", "matched_size.csv", "partial_correlations.csv", "inequality.png", "who_wins.png",
                          "mobility.png", "reach_of_the_weak.png", "amplification.csv", "amplification.png",
                          "top10_representation.csv"],
    "illusion_of_intimacy": ["summary.csv", "by_quartile.csv", "effects.csv", "over_time.png", "by_quartile.png"],
    "local_networks": ["summary.csv", "by_quartile.csv", "effects.csv", "local_and_offline.png", "over_time.png",
                       "who_meets.png"],
    "early_adopters": ["top50_composition.csv", "effects.csv", "over_time.png", "top50_composition.png",
                       "top50_per_member.png", "final.png"],
    "sensitivity": ["sobol.csv", "design.csv", "top_parameters.csv", "sobol_heatmap.png", "sobol_indices.png",
                    "recommender_by_attention.csv", "recommender_by_attention.png", "effects.csv"],
    "unpredictability": ["summary.csv", "effects.csv", "inequality_and_unpredictability.png",
                         "success_vs_traits.png"],
    **{name: MECHANISM for name in ("invite_only", "reshares_off", "follow_cap", "close_tie_budget",
                                    "engagement_timeline")},
    "minority_visibility": ["summary.csv", "effects.csv", "minority_visibility.png"],
}


def test_every_notebook_is_tested():
    assert set(EXPECTED) == set(NOTEBOOKS) <= {p.stem for p in (ROOT / "experiments").glob("*.ipynb")}


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_on_a_reduced_sweep(name, tmp_path, monkeypatch):
    monkeypatch.setenv("SOCIALSIM_SCALE", "ci")
    monkeypatch.setenv("SOCIALSIM_SWEEPS_DIR", str(tmp_path / "sweeps"))
    monkeypatch.setenv("SOCIALSIM_RESULTS_DIR", str(tmp_path / "results"))
    execute(name, timeout=900)
    written = {p.name for p in (tmp_path / "results" / name).iterdir()}
    assert set(EXPECTED[name]) <= written
    for p in (tmp_path / "results" / name).iterdir():
        assert p.stat().st_size > 0, p
