"""Meet: local meetups ("tweetups") in towns with enough members.

Members hear of a meetup through their local followees; attendance rises with skill
and local ties and falls with shyness. Each attendee meets a few others (preferring
people they already follow): the pair becomes an offline tie, grows closer, and
follows each other.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..graph import MEETUP
from ..params import Params
from ..state import ACTIVE, State
from .follow import follow

VENUE = 200  # most attendees one meetup holds; beyond it a random VENUE of them get in


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Towns with enough members may hold a meetup; those who meet follow each other and grow closer."""
    m, pop, g = params.meetups, state.pop, state.graph
    state.counts.meetups = state.counts.attendees = 0
    if m.rate == 0:
        return
    size = _active_by_town(state.status, pop.town, params.population.towns)
    hosts = np.flatnonzero((size >= m.min_members) & (rng.random(size.size) < m.rate))
    if hosts.size == 0:
        return
    active = np.flatnonzero(state.status == ACTIVE)
    local = active[np.isin(pop.town[active], hosts)]
    ties = g.local_out[local]
    hear = rng.random(local.size) < rules.hear_probability(ties, m.hear_prob)
    p = rules.attend_probability(pop.skill[local], pop.shyness[local], ties, m.attend_base, m.attend_skill,
                                 m.attend_ties, m.attend_shyness)
    attendees = local[hear & (rng.random(local.size) < p)]
    state.counts.meetups, state.counts.attendees = int(hosts.size), int(attendees.size)
    pairs = [meet(state, params, attendees[pop.town[attendees] == t], rng) for t in hosts]
    a = np.concatenate([x[0] for x in pairs])
    b = np.concatenate([x[1] for x in pairs])
    if a.size == 0:
        return
    # meeting in person: follows both ways, an offline tie, and closeness on both sides
    follow(state, params, np.concatenate([a, b]), np.concatenate([b, a]), rng, met=True, origin=MEETUP)
    edges = g.find(np.concatenate([a, b]), np.concatenate([b, a]))
    np.add.at(g.closeness, edges[edges >= 0], params.intimacy.closeness_gain_meeting)


def meet(state: State, params: Params, group: np.ndarray, rng: np.random.Generator):
    """Pairs (a, b), a < b, of people who meet at one meetup."""
    if group.size > VENUE:
        group = np.sort(rng.choice(group, VENUE, replace=False))
    k = min(params.meetups.meets, group.size - 1)
    if k <= 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    g = group.size
    i, j = np.meshgrid(np.arange(g), np.arange(g), indexing="ij")
    known = state.graph.follows(group[i.ravel()], group[j.ravel()]).reshape(g, g)
    weight = np.where(known, params.meetups.follow_preference, 1.0)
    np.fill_diagonal(weight, 0.0)
    # Gumbel top-k: k partners per attendee, drawn without replacement by weight
    with np.errstate(divide="ignore"):
        key = np.log(weight) + rng.gumbel(size=(g, g))
    partner = np.argpartition(-key, k - 1, axis=1)[:, :k]
    a = np.repeat(group, k)
    b = group[partner.ravel()]
    lo, hi = np.minimum(a, b), np.maximum(a, b)
    pair = np.unique(lo * state.n + hi)
    return pair // state.n, pair % state.n


@njit(cache=True)
def _active_by_town(status, town, towns):
    """Active members per town, as ``np.bincount(town[active], minlength=towns)`` counts them."""
    top = towns - 1
    for i in range(status.shape[0]):
        if status[i] == ACTIVE:
            top = max(top, town[i])
    size = np.zeros(top + 1, np.int64)
    for i in range(status.shape[0]):
        if status[i] == ACTIVE:
            size[town[i]] += 1
    return size
