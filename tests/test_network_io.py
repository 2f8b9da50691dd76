"""Network data in and out: a given offline contact network (``population.offline_network``) and the follow
graph of a run exported for networkx, Gephi and igraph (``socialsim.io.to_networkx``, ``socialsim.export``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest

from socialsim import ParameterError, Params, PlatformModel
from socialsim.config import compose_params, config_hash
from socialsim.export import FORMATS, export
from socialsim.io import GRAPH_MEMBER_ATTRIBUTES, run_to_folder, to_networkx
from socialsim.population import generate, read_network

NETWORK = """# a SNAP-style edge list: ids need not start at 0 or be contiguous
10\t20
20 30
30 10
10 20
40 40
40 50
50 60
60 70
70 40
70 80
"""
TOWNS = "10 harbour\n20 harbour\n30 harbour\n40 hill\n50 hill\n60 mill\n70 mill\n80 mill\n90 mill\n"


@pytest.fixture
def files(tmp_path) -> tuple[Path, Path]:
    (tmp_path / "net.txt").write_text(NETWORK)
    (tmp_path / "towns.txt").write_text(TOWNS)  # 90: in the towns file only, joins without contacts
    return tmp_path / "net.txt", tmp_path / "towns.txt"


def test_an_edge_list_becomes_the_offline_network(files):
    net, towns = files
    ids, indptr, contacts, town = read_network(str(net), str(towns))
    assert ids.tolist() == ["10", "20", "30", "40", "50", "60", "70", "80", "90"]
    pairs = {(min(i, int(j)), max(i, int(j))) for i in range(ids.size) for j in contacts[indptr[i]:indptr[i + 1]]}
    expected = {(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (5, 6), (3, 6), (6, 7)}  # duplicate and self-loop gone
    assert pairs == expected
    assert indptr[-1] == 2 * len(expected)
    # towns by decreasing size: mill (60, 70, 80, 90) 0, harbour 1, hill 2
    assert town.tolist() == [1, 1, 1, 2, 2, 0, 0, 0, 0]


def test_the_population_size_and_towns_come_from_the_files(files):
    net, towns = files
    few = "adoption.seed_members=2"
    p = compose_params([f"population.offline_network={net}", f"population.offline_towns={towns}", few])
    assert (p.population.size, p.population.towns) == (9, 3)
    assert compose_params([f"population.offline_network={net}", "population.size=8", few]).population.size == 8
    with pytest.raises(ParameterError, match=r"population.size comes from .*net.txt \(8 people\)"):
        compose_params([f"population.offline_network={net}", "population.size=100", few])
    with pytest.raises(ParameterError, match=r"population.towns comes from .*towns.txt \(3 towns\)"):
        compose_params([f"population.offline_network={net}", f"population.offline_towns={towns}",
                        "population.towns=5", few])


def test_reach_follows_the_given_degree_and_traits_keep_their_correlation(tmp_path):
    g = nx.barabasi_albert_graph(2000, 3, seed=1)
    path = tmp_path / "ba.txt"
    nx.write_edgelist(g, path, data=False)
    p = compose_params([f"population.offline_network={path}"]).population
    pop = generate(p, np.random.default_rng(0))
    degree = np.diff(pop.contacts_indptr)
    assert pop.size == 2000 and degree.sum() == 2 * g.number_of_edges()
    # the more contacts, the more reach (rank for rank; ties in a random order)
    by_degree = np.argsort(degree, kind="stable")
    assert np.all(np.diff(degree[by_degree]) >= 0)
    reach_in_degree_order = pop.reach[np.lexsort((pop.reach, degree))]
    assert np.all(np.diff(reach_in_degree_order) >= 0)
    # skill was drawn jointly with reach (Gaussian copula, correlation 0.5): still correlated with degree
    assert np.corrcoef(pop.reach_z, np.log(pop.skill / (1 - pop.skill)))[0, 1] > 0.3


def test_a_run_starts_from_the_given_network(files, tmp_path):
    net, towns = files
    params = compose_params([f"population.offline_network={net}", f"population.offline_towns={towns}",
                             "run.steps=5", "adoption.seed_members=2"])
    model = PlatformModel(params).run()
    assert model.state.pop.size == 9 and model.state.pop.town.max() == 2
    assert model.state.pop.contacts_of(0).tolist() == [1, 2]
    # unset, the new inputs leave every earlier configuration's hash as it was
    p = Params()
    assert config_hash(p) == config_hash(p.replace(**{"population.offline_network": ""}))
    given = p.replace(**{"population.offline_network": str(net), "population.size": 8, "adoption.seed_members": 2})
    assert config_hash(given) != config_hash(given.replace(**{"population.offline_network": ""}))


# --- out: the follow graph -----------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    run_to_folder(compose_params(["population.size=300", "run.steps=30"]), out)
    return out


def _same_graph(a: nx.DiGraph, b: nx.DiGraph, node_attributes=True) -> None:
    assert sorted(a.nodes) == sorted(b.nodes)
    assert sorted(a.edges) == sorted(b.edges)
    for u, v, d in a.edges(data=True):
        assert {k: b.edges[u, v][k] for k in d} == d
    if node_attributes:
        for n, d in a.nodes(data=True):
            assert {k: b.nodes[n][k] for k in d} == pytest.approx(d)


def test_to_networkx_holds_the_follows_and_member_attributes(run):
    g = to_networkx(run)
    members = pd.read_parquet(run / "members.parquet")
    follows = pd.read_parquet(run / "follows.parquet")
    assert g.is_directed() and g.number_of_nodes() == len(members) and g.number_of_edges() == len(follows) > 0
    row = members.iloc[len(members) // 2]
    assert g.nodes[int(row.member_id)] == {c: row[c] for c in GRAPH_MEMBER_ATTRIBUTES}
    in_degree = dict(g.in_degree())
    alive = members[members.left_step < 0]
    assert all(in_degree[m] == f for m, f in zip(alive.member_id, alive.followers))


@pytest.mark.parametrize("fmt", FORMATS)
def test_each_format_round_trips_through_networkx(run, tmp_path, fmt):
    g = to_networkx(run)
    path = export(run, fmt, tmp_path / f"g.{fmt}")
    if fmt == "graphml":
        back = nx.read_graphml(path, node_type=int)
    elif fmt == "gexf":
        back = nx.read_gexf(path, node_type=int)
    else:
        back = nx.read_edgelist(path, create_using=nx.DiGraph, nodetype=int,
                                data=[("since_step", int), ("origin", str)])
        g = g.edge_subgraph(g.edges)  # an edge list has no members without follows, and no node attributes
    _same_graph(g, back, node_attributes=fmt != "edgelist")


def test_a_tie_origin_column_is_exported(run, tmp_path):
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    follows = pd.read_parquet(copy / "follows.parquet")
    follows["origin"] = np.where(follows.since_step % 2 == 0, "offline", "recommended")
    follows.to_parquet(copy / "follows.parquet", index=False)
    import json

    summary = json.loads((copy / "summary.json").read_text())  # keep the recorded size consistent
    summary["files"]["follows.parquet"]["bytes"] = (copy / "follows.parquet").stat().st_size
    (copy / "summary.json").write_text(json.dumps(summary))
    back = nx.read_graphml(export(copy, "graphml"), node_type=int)
    assert {d["origin"] for *_, d in back.edges(data=True)} == {"offline", "recommended"}
    lines = (copy / "follows.edgelist").read_text() if (copy / "follows.edgelist").exists() else None
    assert lines is None
    text = export(copy, "edgelist").read_text().splitlines()
    assert text[0] == "# follower followee since_step origin" and len(text) == len(follows) + 1


def test_the_export_command(run, tmp_path):
    target = tmp_path / "g.gexf"
    proc = subprocess.run([sys.executable, "-m", "socialsim.export", str(run), "--format", "gexf", "--out",
                           str(target)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == str(target), proc.stderr
    assert nx.read_gexf(target, node_type=int).number_of_edges() == len(pd.read_parquet(run / "follows.parquet"))
    again = subprocess.run([sys.executable, "-m", "socialsim.export", str(run), "--format", "gexf", "--out",
                            str(target)], capture_output=True, text=True, timeout=120)
    assert again.returncode == 2 and again.stderr.count("\n") == 1 and "--force" in again.stderr
    bad = subprocess.run([sys.executable, "-m", "socialsim.export", str(tmp_path), "--format", "dot"],
                         capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "graphml" in bad.stderr
    empty = subprocess.run([sys.executable, "-m", "socialsim.export", str(tmp_path), "--format", "gexf"],
                           capture_output=True, text=True, timeout=120)
    assert empty.returncode == 2 and "does not hold a complete run" in empty.stderr
