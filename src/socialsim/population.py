"""The people who could join: traits, towns and the offline contact network they bring."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from .params import PopulationParams


@dataclass
class Population:
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

    @property
    def size(self) -> int:
        return self.skill.shape[0]

    def contacts_of(self, i: int) -> np.ndarray:
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


def generate(p: PopulationParams, rng: np.random.Generator) -> Population:
    n = p.size
    z_skill, z_reach, z_shy = _correlated_normals(rng, n, p.skill_reach_correlation, p.skill_shyness_correlation)
    # Gaussian copula: correlated normals pushed through the chosen margins
    skill = special.betaincinv(p.skill_alpha, p.skill_beta, stats.norm.cdf(z_skill))
    shyness = special.betaincinv(p.shyness_alpha, p.shyness_beta, stats.norm.cdf(z_shy))
    reach = np.exp(p.reach_sigma * z_reach - 0.5 * p.reach_sigma**2)
    activity = rng.beta(p.activity_alpha, p.activity_beta, n)
    town = rng.permutation(np.repeat(np.arange(p.towns), town_sizes(n, p.towns, p.town_size_exponent)))
    indptr, contacts = offline_contacts(town, reach, p, rng)
    return Population(skill=skill, reach=reach, reach_z=z_reach, shyness=shyness, activity=activity,
                      town=town.astype(np.int32), contacts_indptr=indptr, contacts=contacts,
                      skill_quartile=quartiles(skill), shyness_quartile=quartiles(shyness),
                      skill_order=np.argsort(skill, kind="stable"), reach_order=np.argsort(reach, kind="stable"))


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
    a, b = np.minimum(a, b), np.maximum(a, b)
    keep = a != b
    # distinct pairs, then both directions sorted by (person, contact): the CSR rows
    key = np.sort(a[keep] * n + b[keep])
    key = key[np.concatenate([[True], key[1:] != key[:-1]])[: key.size]]  # [: key.size]: no pairs at all
    a, b = key // n, key % n
    both = np.sort(np.concatenate([key, b * n + a]))
    indptr = np.concatenate([[0], np.cumsum(np.bincount(both // n, minlength=n))])
    return indptr, (both % n).astype(np.int32)
