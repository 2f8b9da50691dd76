"""Post: members come online at their activity rate and post; a post's appeal is the author's skill plus noise."""

from __future__ import annotations

import numpy as np

from .. import rules
from ..params import Params
from ..state import ACTIVE, State, month_bit


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Active members come online at their activity rate and post; each post gets an appeal."""
    b = params.behaviour
    state.online = (state.status == ACTIVE) & (rng.random(state.n) < state.pop.activity)
    state.posted = state.online & (rng.random(state.n) < b.post_prob)
    authors = np.flatnonzero(state.posted)
    state.appeal[authors] = rules.post_appeal(state.pop.skill[authors], rng.standard_normal(authors.size),
                                              b.appeal_noise)
    state.last_post[authors] = state.step
    # counters only (no draws): lifetime posts and the months one was online in, for the calibration targets
    state.posts[authors] += 1
    state.online_months[state.online] |= month_bit(state.step)
