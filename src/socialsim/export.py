"""``python -m socialsim.export RUN --format graphml|gexf|edgelist [--out PATH]``: a run's follow graph for
Gephi, networkx or igraph.

The graph is :func:`socialsim.io.to_networkx`: one node per person who ever joined (``member_id``) with skill,
reach, shyness, town, followers, joined_step and left_step; one edge follower -> followee per live follow with
since_step (and origin, when the run records it). GraphML and GEXF carry every attribute; the edge list is
``follower followee since_step [origin]`` per line after a ``#`` header (node attributes are not in it).
The file is written to ``RUN/follows.FORMAT`` unless ``--out`` names another path; an existing file is not
replaced without ``--force``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from .io import atomic_path, to_networkx

FORMATS = ("graphml", "gexf", "edgelist")


def write_graph(graph, path: str | os.PathLike, fmt: str) -> Path:
    """Write ``graph`` (from :func:`socialsim.io.to_networkx`) to ``path`` in ``fmt`` (one of FORMATS)."""
    import networkx as nx

    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    path = Path(path)
    with atomic_path(path) as tmp:
        if fmt == "graphml":
            nx.write_graphml(graph, tmp)
        elif fmt == "gexf":
            nx.write_gexf(graph, tmp)
        else:
            columns = sorted({k for *_, d in graph.edges(data=True) for k in d},
                             key=lambda c: (c != "since_step", c))
            with open(tmp, "w") as fh:
                fh.write("# " + " ".join(["follower", "followee", *columns]) + "\n")
                for a, b, d in graph.edges(data=True):
                    fh.write(" ".join(str(x) for x in (a, b, *(d.get(c, "") for c in columns))) + "\n")
    return path


def export(run: str | os.PathLike, fmt: str, out: str | os.PathLike | None = None, force: bool = False) -> Path:
    """Write the follow graph of run folder ``run`` as ``fmt``; return the file written."""
    if fmt not in FORMATS:
        raise ValueError(f"--format must be one of {', '.join(FORMATS)}; got {fmt!r}")
    target = Path(out) if out is not None else Path(run) / f"follows.{fmt}"
    if target.is_dir():
        raise IsADirectoryError(f"--out {target} is a folder; give a file name")
    if target.exists() and not force:
        raise FileExistsError(f"{target} exists; add --force to replace it, or give --out PATH")
    return write_graph(to_networkx(run), target, fmt)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, not argparse's usage block
        self.exit(2, f"socialsim.export: error: {message} (python -m socialsim.export --help)\n")


def main(argv: list[str] | None = None) -> int:
    """Write a run's follow graph as GraphML, GEXF or an edge list; returns the exit code."""
    parser = _Parser(prog="python -m socialsim.export",
                     description="Write the follow graph of a run for Gephi, networkx or igraph.")
    parser.add_argument("run", help="a complete run folder (holding summary.json)")
    parser.add_argument("--format", required=True, choices=FORMATS, help="graphml or gexf (Gephi, networkx, "
                        "igraph), or edgelist")
    parser.add_argument("--out", help="file to write (default RUN/follows.FORMAT)")
    parser.add_argument("--force", action="store_true", help="replace an existing file")
    args = parser.parse_args(argv)
    try:
        path = export(args.run, args.format, args.out, args.force)
    except (OSError, ValueError) as exc:
        print(f"socialsim.export: error: {exc}", file=sys.stderr)
        return 2
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
