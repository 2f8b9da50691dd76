"""Follow: exposures become follows, and the followed may follow back."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..graph import CONTENT, FOLLOW_BACK, OFFLINE
from ..params import Params
from ..state import ACTIVE, QUIET, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """This step's exposures become follows with their probability; the newly followed may follow back."""
    if state.exposures:
        follower, author, p, origin = (np.concatenate(x) for x in zip(*state.exposures))
        state.exposures = []
        if params.population.minority_share > 0:
            # homophily acts in the choice to follow someone met on the platform; offline contacts are already
            # homophilic through the contact network
            chosen = origin != OFFLINE
            same = state.pop.group[follower] == state.pop.group[author]
            p = np.where(chosen, rules.homophilic_follow_probability(p, same, params.population.homophily), p)
        take = _taken(rng.random(follower.size), p, state.status, follower, author)
        follow(state, params, follower[take], author[take], rng, origin=origin[take])


def follow(state: State, params: Params, follower, followee, rng, met: bool = False, origin=CONTENT) -> np.ndarray:
    """Add follows (respecting the follow cap); each new followee may follow back. Returns the added mask.

    ``origin`` is the code (of ``socialsim.graph.ORIGINS``) of each follow, or one for all; follow-backs are
    ``follow_back``.
    """
    g, b, cap = state.graph, params.behaviour, params.platform.follow_cap
    added = g.add(follower, followee, state.step, met=met, cap=cap, origin=origin)
    new_src, new_dst = np.asarray(follower)[added], np.asarray(followee)[added]
    if new_src.size and not met:
        p = rules.follow_back_probability(g.in_deg[new_dst], state.pop.shyness[new_dst], b.follow_back_prob,
                                          b.follow_back_scale)
        if params.population.minority_share > 0:
            same = state.pop.group[new_dst] == state.pop.group[new_src]
            p = rules.homophilic_follow_probability(p, same, params.population.homophily)
        back = (state.status[new_dst] == ACTIVE) & (rng.random(new_src.size) < p)
        g.add(new_dst[back], new_src[back], state.step, cap=cap, origin=FOLLOW_BACK)
    return added


@njit(cache=True)
def _taken(u, p, status, follower, author):
    """The exposures that become follows: ``u < p``, an active follower and an author still a member."""
    take = np.empty(u.shape[0], np.int64)
    m = 0
    for i in range(u.shape[0]):
        if u[i] < p[i] and status[follower[i]] == ACTIVE and (status[author[i]] == ACTIVE
                                                              or status[author[i]] == QUIET):
            take[m] = i
            m += 1
    return take[:m].copy()
