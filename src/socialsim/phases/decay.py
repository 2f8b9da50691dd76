"""Decay: familiarity and closeness fade without contact; under intimacy.close_rule=dunbar close ties are
capped at a Dunbar-like number (under the default budget rule the reply budget limits them instead)."""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from .. import rules
from ..graph import parallel
from ..params import Params
from ..state import State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Familiarity and closeness decay; members beyond the Dunbar number of close ties keep only their closest."""
    it, g = params.intimacy, state.graph
    used = g.used
    keep_familiarity, keep_closeness = np.float32(1.0 - it.familiarity_decay), np.float32(1.0 - it.closeness_decay)
    if parallel(used):
        _fade(g.familiarity, g.closeness, keep_familiarity, keep_closeness, used)
    else:
        g.familiarity[:used] *= keep_familiarity
        g.closeness[:used] *= keep_closeness
    if it.close_rule == "dunbar":
        cap_close_ties(g, it.close_threshold, it.dunbar)


def cap_close_ties(g, threshold: float, dunbar: int) -> None:
    """Members with more than `dunbar` close ties keep their closest; the rest fall just below close."""
    close = np.flatnonzero(g.alive[: g.used] & (g.closeness[: g.used] >= threshold))
    if close.size <= dunbar:
        return
    count = np.bincount(g.src[close], minlength=g.n)
    over = close[count[g.src[close]] > dunbar]
    if over.size == 0:
        return
    order = over[np.lexsort((-g.closeness[over], g.src[over]))]
    owner = g.src[order]
    first = np.searchsorted(owner, owner)  # start of each member's run in the sorted list
    rank = np.arange(order.size) - first
    g.closeness[order[rank >= dunbar]] = np.float32(rules.demoted_closeness(threshold))


@njit(cache=True, parallel=True)
def _fade(familiarity, closeness, keep_familiarity, keep_closeness, used):
    """The two decays on all threads: one float32 product per follow, correctly rounded as numpy's, so the
    values are the same as numpy's and do not depend on the number of threads."""
    for e in prange(used):
        familiarity[e] *= keep_familiarity
        closeness[e] *= keep_closeness
