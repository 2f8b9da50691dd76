"""The people who could join: traits, towns and the offline contact network they bring.

The network is drawn (:func:`offline_contacts`) or read from an edge list (``population.offline_network``,
:func:`read_network`). :func:`check_memory` refuses, before anything is built, a population that cannot fit in
the memory available now.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import rules
from .params import ParameterError, PopulationParams

#: populations from this size on show their build stages on stderr (building 1e6 people takes seconds)
BUILD_PROGRESS_MIN = 500_000
#: peak memory of building a population and the model's state, per person and per offline contact: traits,
#: towns and orders, then the contact pairs while they are sorted into the CSR (peak RSS measured at 2e5 and
#: 1e6 people with 10 contacts each: 880 and 585 bytes per person)
BYTES_PER_PERSON = 400
BYTES_PER_CONTACT = 48


@dataclass
class Population:
    """The people who could join: their traits, towns and offline contact network (CSR)."""
    skill: np.ndarray  # social skill in [0, 1]
    reach: np.ndarray  # offline audience and prominence, log-normal with mean 1
    reach_z: np.ndarray  # reach as a standard-normal score
    shyness: np.ndarray  # in [0, 1]
    activity: np.ndarray  # chance to be online in a step
    town: np.ndarray  # town index, 0 the largest
    contacts_indptr: np.ndarray  # offline contacts as an undirected CSR
    contacts: np.ndarray
    skill_quartile: np.ndarray  # 0 = bottom quarter of skill in the population
    shyness_quartile: np.ndarray  # 3 = the shyest quarter
    skill_order: np.ndarray  # everyone sorted by skill (for rank correlations)
    reach_order: np.ndarray
    group: np.ndarray = None  # 1 = minority, 0 = majority (everyone 0 when population.minority_share = 0)

    @property
    def size(self) -> int:
        """Number of people."""
        return self.skill.shape[0]

    def contacts_of(self, i: int) -> np.ndarray:
        """The offline contacts of person ``i``."""
        return self.contacts[self.contacts_indptr[i]: self.contacts_indptr[i + 1]]

    def contact_pairs(self, people: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(person, contact) for every offline contact of these people."""
        starts, ends = self.contacts_indptr[people], self.contacts_indptr[people + 1]
        lengths = ends - starts
        offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
        index = np.arange(int(lengths.sum())) + offsets
        return np.repeat(people, lengths), self.contacts[index].astype(np.int64)


def town_sizes(n: int, towns: int, exponent: float) -> np.ndarray:
    """Zipf-like town shares, rounded so they sum to n."""
    share = 1.0 / np.arange(1, towns + 1) ** exponent
    share /= share.sum()
    sizes = np.floor(share * n).astype(np.int64)
    sizes[: n - sizes.sum()] += 1
    return sizes


def _correlated_normals(rng, n: int, r_reach: float, r_shy: float) -> tuple[np.ndarray, ...]:
    z_skill = rng.standard_normal(n)
    z_reach = r_reach * z_skill + np.sqrt(1 - r_reach**2) * rng.standard_normal(n)
    z_shy = r_shy * z_skill + np.sqrt(1 - r_shy**2) * rng.standard_normal(n)
    return z_skill, z_reach, z_shy


def draw_traits(p: PopulationParams, n: int, rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Skill, reach, reach z-score, shyness and activity of ``n`` people.

    A Gaussian copula: correlated normals pushed through the chosen margins (Beta for skill and shyness,
    log-normal with mean 1 for reach); activity is an independent Beta draw.
    """
    # scipy.special here rather than at the top: it takes a good part of a second to import, which `--help`, bad
    # input and the configuration need not pay; ndtr is the standard normal CDF (what scipy.stats.norm.cdf computes)
    from scipy.special import betaincinv, ndtr

    z_skill, z_reach, z_shy = _correlated_normals(rng, n, p.skill_reach_correlation, p.skill_shyness_correlation)
    skill = betaincinv(p.skill_alpha, p.skill_beta, ndtr(z_skill))
    shyness = betaincinv(p.shyness_alpha, p.shyness_beta, ndtr(z_shy))
    reach = np.exp(p.reach_sigma * z_reach - 0.5 * p.reach_sigma**2)
    activity = rng.beta(p.activity_alpha, p.activity_beta, n)
    return skill, reach, z_reach, shyness, activity


def _gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:,.1f} GiB"


def estimate_memory(p: PopulationParams) -> int:
    """Bytes needed to build the population and the model's state (a run needs more as follows accumulate)."""
    return int(p.size * (BYTES_PER_PERSON + BYTES_PER_CONTACT * p.offline_degree))


def available_memory() -> int | None:
    """Memory available now (MemAvailable in /proc/meminfo), in bytes; None where that is not known."""
    with contextlib.suppress(OSError, ValueError):
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    return None


def check_memory(p: PopulationParams) -> None:
    """ParameterError when building this population would need more memory than is available now."""
    need, have = estimate_memory(p), available_memory()
    if have is not None and need > have:
        raise ParameterError(f"population.size={p.size:,} needs about {_gib(need)} of memory to build "
                             f"(estimated at {need / p.size:,.0f} bytes per person); {_gib(have)} is available now; "
                             f"choose a smaller population.size")


class _Stages:
    """Build stages shown on stderr for large populations (a no-op below BUILD_PROGRESS_MIN people)."""

    def __init__(self, n: int, total: int):
        self.bar = None
        if n >= BUILD_PROGRESS_MIN:
            import sys

            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=f"building {n:,} people", unit="stage", file=sys.stderr,
                            mininterval=0, leave=False, dynamic_ncols=True)

    def __call__(self, what: str) -> None:
        if self.bar is not None:
            self.bar.set_postfix_str(what, refresh=False)
            self.bar.update(1)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def generate(p: PopulationParams, rng: np.random.Generator) -> Population:
    """Draw the people (traits, towns) and their offline contact network, or read the network from
    ``p.offline_network``."""
    if p.offline_network:
        return _from_network(p, rng)
    n = p.size
    stage = _Stages(n, 3)
    try:
        skill, reach, z_reach, shyness, activity = draw_traits(p, n, rng)
        stage("traits")
        town = rng.permutation(np.repeat(np.arange(p.towns), town_sizes(n, p.towns, p.town_size_exponent)))
        group = draw_groups(n, p.minority_share, rng)
        if group.any():
            indptr, contacts = homophilic_offline_contacts(town, reach, group, p, rng)
        else:
            indptr, contacts = offline_contacts(town, reach, p, rng)
        stage("offline contacts")
        pop = _assemble(skill, reach, z_reach, shyness, activity, town, indptr, contacts, group)
        stage("orders")
    finally:
        stage.close()
    return pop


def draw_groups(n: int, minority_share: float, rng) -> np.ndarray:
    """1 for exactly round(f n) people drawn uniformly (the minority), 0 for the rest; with f = 0 nothing is drawn,
    so runs without groups keep their random numbers."""
    group = np.zeros(n, np.int8)
    if minority_share > 0:
        group[rng.choice(n, int(round(minority_share * n)), replace=False)] = 1
    return group


def _assemble(skill, reach, z_reach, shyness, activity, town, indptr, contacts, group=None) -> Population:
    return Population(skill=skill, reach=reach, reach_z=z_reach, shyness=shyness, activity=activity,
                      town=town.astype(np.int32), contacts_indptr=indptr, contacts=contacts,
                      skill_quartile=quartiles(skill), shyness_quartile=quartiles(shyness),
                      skill_order=np.argsort(skill, kind="stable"), reach_order=np.argsort(reach, kind="stable"),
                      group=np.zeros(skill.size, np.int8) if group is None else group)


def quartiles(x: np.ndarray) -> np.ndarray:
    """0 for the bottom quarter of x, ..., 3 for the top quarter."""
    return np.searchsorted(np.quantile(x, [0.25, 0.5, 0.75]), x, side="right").astype(np.int8)


def offline_contacts(town: np.ndarray, reach: np.ndarray, p: PopulationParams, rng) -> tuple[np.ndarray, np.ndarray]:
    """A Chung-Lu style undirected network: degree grows with reach ** exponent, mostly within towns."""
    n = town.shape[0]
    weight = reach**p.offline_reach_exponent
    pairs = int(round(n * p.offline_degree / 2))
    n_local = int(round(pairs * p.offline_local_share))
    cum = np.cumsum(weight)
    a = np.searchsorted(cum, rng.random(pairs) * cum[-1], side="right")
    b = np.empty(pairs, np.int64)
    # global pairs: the other end drawn by weight from everyone
    b[n_local:] = np.searchsorted(cum, rng.random(pairs - n_local) * cum[-1], side="right")
    # local pairs: the other end drawn by weight from a's own town
    order = np.argsort(town, kind="stable")
    tcum = np.cumsum(weight[order])
    starts = np.searchsorted(town[order], np.arange(town.max() + 2))
    lo = np.where(starts[town[a[:n_local]]] > 0, tcum[np.maximum(starts[town[a[:n_local]]] - 1, 0)], 0.0)
    hi = tcum[starts[town[a[:n_local]] + 1] - 1]
    pick = np.searchsorted(tcum, lo + rng.random(n_local) * (hi - lo), side="right")
    b[:n_local] = order[np.minimum(pick, n - 1)]
    return _contact_csr(a, b, n)


def _contact_csr(a: np.ndarray, b: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Drawn pairs (a, b) as the undirected contact CSR: self-pairs and repeats dropped, rows sorted."""
    a, b = np.minimum(a, b), np.maximum(a, b)
    keep = a != b
    # distinct pairs, then both directions sorted by (person, contact): the CSR rows
    key = np.sort(a[keep] * n + b[keep])
    key = key[np.concatenate([[True], key[1:] != key[:-1]])[: key.size]]  # [: key.size]: no pairs at all
    a, b = key // n, key % n
    both = np.sort(np.concatenate([key, b * n + a]))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(both // n, minlength=n))])
    return indptr, (both % n).astype(np.int32)


# --- a given offline network -------------------------------------------------------------------------------
def _read_pairs(path: str, what: str) -> np.ndarray:
    """The first two whitespace-separated columns of a text file (``#`` comments) as strings, shape (rows, 2)."""
    import pandas as pd

    file = Path(path).expanduser()
    if not file.is_file():
        raise ParameterError(f"{what} must name a file; {path!r} is not one")
    try:
        df = pd.read_csv(file, sep=r"\s+", comment="#", header=None, dtype=str, usecols=[0, 1],
                         engine="c", skip_blank_lines=True)
    except pd.errors.EmptyDataError:
        return np.empty((0, 2), dtype=object)
    except (ValueError, pd.errors.ParserError) as exc:
        raise ParameterError(f"{what}: {path} is not two ids per line ({' '.join(str(exc).split())})") from None
    if df.isna().to_numpy().any():
        row = int(np.flatnonzero(df.isna().to_numpy().any(axis=1))[0])
        raise ParameterError(f"{what}: {path} has a line with one id only (data row {row + 1}); "
                             f"write two ids per line")
    return df.to_numpy(dtype=object)


def _id_order(ids: np.ndarray) -> np.ndarray:
    """Distinct ids sorted: numerically when every id is a whole number, else as text."""
    distinct = np.unique(ids.astype(str))
    try:
        numbers = distinct.astype(np.int64)
    except ValueError:
        return distinct
    return distinct[np.argsort(numbers, kind="stable")]


def read_network(path: str, towns_path: str = "") -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
    """(ids, contacts_indptr, contacts, town or None) of an edge list and an optional towns file.

    People are numbered 0..N-1 in increasing order of their ids; the network is made undirected, without
    duplicates or self-loops. Towns are numbered by decreasing size (0 the largest, ties by label).
    """
    edges = _read_pairs(path, "population.offline_network")
    towns = _read_pairs(towns_path, "population.offline_towns") if towns_path else None
    every = edges.ravel() if towns is None else np.concatenate([edges.ravel(), towns[:, 0]])
    ids = _id_order(every)
    if ids.size == 0:
        raise ParameterError(f"population.offline_network: {path} has no edges")
    lookup = {v: i for i, v in enumerate(ids.tolist())}
    n = ids.size
    a = np.fromiter((lookup[v] for v in edges[:, 0].astype(str)), np.int64, edges.shape[0])
    b = np.fromiter((lookup[v] for v in edges[:, 1].astype(str)), np.int64, edges.shape[0])
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    key = np.unique((lo * n + hi)[lo != hi])
    both = np.sort(np.concatenate([key, (key % n) * n + key // n]))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(both // n, minlength=n))])
    contacts = (both % n).astype(np.int32)
    town = None
    if towns is not None:
        person = np.fromiter((lookup[v] for v in towns[:, 0].astype(str)), np.int64, towns.shape[0])
        labels, label_of_row = np.unique(towns[:, 1].astype(str), return_inverse=True)
        town = np.full(n, -1, np.int64)
        town[person] = label_of_row
        missing = np.flatnonzero(town < 0)
        if missing.size:
            raise ParameterError(f"population.offline_towns: {towns_path} gives no town for {missing.size:,} people "
                                 f"of {path} (e.g. id {ids[missing[0]]}); list every person once")
        by_size = np.lexsort((np.arange(labels.size), -np.bincount(town, minlength=labels.size)))
        rank = np.empty(labels.size, np.int64)
        rank[by_size] = np.arange(labels.size)
        town = rank[town]
    return ids, indptr, contacts, town


def network_shape(path: str, towns_path: str = "") -> tuple[int, int | None]:
    """(people, towns or None) of a given offline network, for ``population.size`` and ``population.towns``."""
    ids, _, _, town = read_network(path, towns_path)
    return ids.size, (None if town is None else int(town.max()) + 1)


def _from_network(p: PopulationParams, rng: np.random.Generator) -> Population:
    """The people of a given offline network. Traits are drawn as for a drawn network, then handed out by
    rank: the more contacts a person has, the higher their reach (with skill, shyness and reach drawn jointly,
    their correlations are kept), as a drawn network ties degree to reach ** offline_reach_exponent."""
    ids, indptr, contacts, town = read_network(p.offline_network, p.offline_towns)
    n = ids.size
    if n != p.size:
        raise ParameterError(f"population.size must be the number of people in {p.offline_network} ({n:,}) or be "
                             f"left out; got {p.size:,}")
    if town is not None and int(town.max()) + 1 != p.towns:
        raise ParameterError(f"population.towns must be the number of towns in {p.offline_towns} "
                             f"({int(town.max()) + 1}) or be left out; got {p.towns}")
    stage = _Stages(n, 2)
    try:
        skill, reach, z_reach, shyness, activity = draw_traits(p, n, rng)
        degree = np.diff(indptr)
        by_degree = np.lexsort((rng.random(n), degree))  # ties in a random order
        trait = np.empty(n, np.int64)
        trait[by_degree] = np.argsort(reach, kind="stable")  # the k-th fewest contacts get the k-th lowest reach
        skill, shyness, reach, z_reach = skill[trait], shyness[trait], reach[trait], z_reach[trait]
        if town is None:
            town = rng.permutation(np.repeat(np.arange(p.towns), town_sizes(n, p.towns, p.town_size_exponent)))
        # groups on a given network: drawn uniformly (the network is as given; homophily acts in follow choices)
        group = draw_groups(n, p.minority_share, rng)
        stage("traits")
        pop = _assemble(skill, reach, z_reach, shyness, activity, town, indptr, contacts, group)
        stage("orders")
    finally:
        stage.close()
    return pop


def homophilic_offline_contacts(town: np.ndarray, reach: np.ndarray, group: np.ndarray, p: PopulationParams,
                                rng) -> tuple[np.ndarray, np.ndarray]:
    """The Chung-Lu contacts of :func:`offline_contacts` with group mixing: one end ``a`` is drawn by weight as
    there, the other end ``b`` with chance proportional to weight(b) x h_ab (Karimi et al. 2018: h for the same
    group, 1 - h across), among everyone (global pairs) or within a's town (local pairs). At h = 0.5 this is
    the same distribution as :func:`offline_contacts`.
    """
    n = town.shape[0]
    h = p.homophily
    weight = reach**p.offline_reach_exponent
    pairs = int(round(n * p.offline_degree / 2))
    n_local = int(round(pairs * p.offline_local_share))
    cum = np.cumsum(weight)
    a = np.searchsorted(cum, rng.random(pairs) * cum[-1], side="right")
    b = np.empty(pairs, np.int64)
    g = group.astype(np.int64)
    b[n_local:] = _draw_homophilic(g, weight, g[a[n_local:]], 2, h, rng)
    towns = int(town.max()) + 1
    b[:n_local] = _draw_homophilic(town.astype(np.int64) * 2 + g, weight, town[a[:n_local]].astype(np.int64) * 2
                                   + g[a[:n_local]], 2 * towns, h, rng)
    return _contact_csr(a, b, n)


def _draw_homophilic(block: np.ndarray, weight: np.ndarray, own: np.ndarray, blocks: int, h: float, rng):
    """For each drawer in block ``own`` (block = 2 x place + group), a person drawn with chance proportional to
    weight x h_ab from the two blocks of the same place: the own group's block (weight h) or the other's (1 - h)."""
    order = np.argsort(block, kind="stable")
    tcum = np.concatenate([[0.0], np.cumsum(weight[order])])
    starts = np.searchsorted(block[order], np.arange(blocks + 1))
    total = tcum[starts[1:]] - tcum[starts[:-1]]  # weight of each block
    other = own ^ 1
    same_w = rules.homophily_weight(True, h) * total[own]
    other_w = rules.homophily_weight(False, h) * total[other]
    denom = same_w + other_w
    pick_same = rng.random(own.size) * np.where(denom > 0, denom, 1.0) < same_w
    pick_same |= denom <= 0  # nobody to weigh: stay in one's own block (a self-pair, dropped later)
    target = np.where(pick_same, own, other)
    lo, hi = tcum[starts[target]], tcum[starts[target + 1]]
    pick = np.searchsorted(tcum, lo + rng.random(own.size) * (hi - lo), side="right") - 1
    return order[np.clip(pick, 0, block.size - 1)]
