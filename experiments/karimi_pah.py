"""Minority visibility under homophilic preferential attachment: socialsim's PAH preset against netin's PAH.

Karimi et al. (2018) grow a network in which each newcomer attaches m links with chance proportional to
h_ab x degree; with a minority of f = 0.2, heterophily (h < 0.5) lifts the minority among the best connected
and homophily (0.5 < h < 1) buries it. Both engines here run N = 1000, m = 2, f = 0.2 and report the
minority's share of the top 10% by degree divided by its share of nodes (mean and standard error over seeds):

    python experiments/karimi_pah.py socialsim    # the scenario homophilic_preferential (this project's venv)
    python experiments/karimi_pah.py netin        # netin.PAH, in a separate environment (see below)

netin 1.0.7 pins numpy~=1.24, which has no build for Python 3.12, so it cannot be installed with its declared
dependencies next to this project. The netin numbers in docs/VALIDATION.md come from a throwaway venv:
``pip install --no-deps netin==1.0.7 numpy networkx scipy pandas powerlaw pqdm sympy``. netin is not a
dependency of socialsim.
"""

from __future__ import annotations

import sys

import numpy as np

N, M, F, SEEDS, TOP = 1000, 2, 0.2, range(10), 0.1
HS = (0.2, 0.5, 0.8)


def visibility(degree: np.ndarray, minority: np.ndarray) -> float:
    top = np.argsort(-degree, kind="stable")[: int(round(TOP * degree.size))]
    return float(minority[top].mean() / minority.mean())


def netin_visibility(h: float, seed: int) -> float:
    import netin  # noqa: PLC0415

    g = netin.PAH(n=N, k=M, f_m=F, h_MM=h, h_mm=h, seed=seed)
    g.generate()
    nodes = list(g.nodes())
    degree = np.array([g.degree(v) for v in nodes])
    minority = np.array([g.nodes[v][g.get_class_attribute()] == g.get_minority_value() for v in nodes])
    return visibility(degree, minority)


def socialsim_visibility(h: float, seed: int) -> float:
    from socialsim import validation as v  # noqa: PLC0415

    params = v.scenario_params("homophilic_preferential", {**v.classic_overrides(N, 20, seed_members=M + 1),
                                                           "adoption.attachment_links": M,
                                                           "population.minority_share": F,
                                                           "population.homophily": h, "seed": seed})
    return v.minority_visibility(v.run(params).members, TOP)


def main(engine: str) -> None:
    run = {"netin": netin_visibility, "socialsim": socialsim_visibility}[engine]
    print(f"| h | {engine}: visibility, mean (s.e.) over {len(SEEDS)} seeds |")
    print("| --- | --- |")
    for h in HS:
        x = np.array([run(h, seed) for seed in SEEDS])
        print(f"| {h} | {x.mean():.2f} ({x.std(ddof=1) / np.sqrt(x.size):.2f}) |")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "socialsim")
