"""Decay: familiarity and closeness fade without contact; under intimacy.close_rule=dunbar close ties are
capped at a Dunbar-like number (under the default budget rule the reply budget limits them instead)."""

from __future__ import annotations

import numpy as np

from .. import rules
from ..params import Params
from ..state import State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Familiarity and closeness decay; members beyond the Dunbar number of close ties keep only their closest."""
    it, g = params.intimacy, state.graph
    used = g.used
    g.familiarity[:used] *= np.float32(1.0 - it.familiarity_decay)
    g.closeness[:used] *= np.float32(1.0 - it.closeness_decay)
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
