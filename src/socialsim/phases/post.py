"""Post: members come online at their activity rate and post; a post's appeal is the author's skill plus noise."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..params import Params
from ..state import ACTIVE, State, month_bit


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Active members come online at their activity rate and post; each post gets an appeal."""
    b = params.behaviour
    n = state.n
    online_draw, post_draw = rng.random(n), rng.random(n)
    state.online, state.posted = np.empty(n, bool), np.empty(n, bool)
    authors = _come_online(state.status, state.pop.activity, online_draw, post_draw, b.post_prob, state.step,
                           month_bit(state.step), state.online, state.posted, state.last_post, state.posts,
                           state.online_months)
    state.appeal[authors] = rules.post_appeal(state.pop.skill[authors], rng.standard_normal(authors.size),
                                              b.appeal_noise)


@njit(cache=True)
def _come_online(status, activity, online_draw, post_draw, post_prob, step, month, online, posted, last_post, posts,
                 online_months):
    """Active members with ``online_draw < activity`` are online, and post if also ``post_draw < post_prob``:
    fills ``online`` and ``posted``, the authors' last post and post count, and the month bit of everyone online
    (counters only, for the calibration targets). Returns the authors (ascending)."""
    authors = np.empty(status.shape[0], np.int64)
    m = 0
    for i in range(status.shape[0]):
        online[i] = status[i] == ACTIVE and online_draw[i] < activity[i]
        posted[i] = online[i] and post_draw[i] < post_prob
        if online[i]:
            online_months[i] |= month
        if posted[i]:
            authors[m] = i
            m += 1
            last_post[i] = step
            posts[i] += 1
    return authors[:m].copy()
