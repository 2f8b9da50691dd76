"""Follow: exposures become follows, and the followed may follow back."""

from __future__ import annotations

import numpy as np

from .. import rules
from ..params import Params
from ..state import ACTIVE, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    if state.exposures:
        follower, author, p = (np.concatenate(x) for x in zip(*state.exposures))
        state.exposures = []
        take = (rng.random(follower.size) < p) & (state.status[follower] == ACTIVE) & state.is_member[author]
        follow(state, params, follower[take], author[take], rng)


def follow(state: State, params: Params, follower, followee, rng, met: bool = False) -> np.ndarray:
    """Add follows (respecting the follow cap); each new followee may follow back. Returns the added mask."""
    g, b, cap = state.graph, params.behaviour, params.platform.follow_cap
    added = g.add(follower, followee, state.step, met=met, cap=cap)
    new_src, new_dst = np.asarray(follower)[added], np.asarray(followee)[added]
    if new_src.size and not met:
        p = rules.follow_back_probability(g.in_deg[new_dst], state.pop.shyness[new_dst], b.follow_back_prob,
                                          b.follow_back_scale)
        back = (state.status[new_dst] == ACTIVE) & (rng.random(new_src.size) < p)
        g.add(new_dst[back], new_src[back], state.step, cap=cap)
    return added
