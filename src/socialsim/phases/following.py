"""Follow: exposures become follows, the followed may follow back, and silent accounts are unfollowed."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..params import Params
from ..state import ACTIVE, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    if state.exposures:
        follower, author, p = (np.concatenate(x) for x in zip(*state.exposures))
        state.exposures = []
        take = (rng.random(follower.size) < p) & (state.status[follower] == ACTIVE) & state.is_member[author]
        follow(state, params, follower[take], author[take], rng)
    unfollow_silent(state, params, rng)


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


def unfollow_silent(state: State, params: Params, rng: np.random.Generator) -> None:
    """Online members drop followees who have not posted for a while (offline friends are kept)."""
    b, g = params.behaviour, state.graph
    if b.unfollow_prob == 0 or g.n_edges == 0:
        return
    silent_since = np.maximum(state.last_post, state.joined_step)
    drop = _silent_edges(int(rng.integers(2**62)), np.flatnonzero(state.online), g.sorted_rows, g.sorted_until, g.src,
                         g.dst, g.alive, g.met, g.used, state.online, silent_since, state.step - b.silence_steps,
                         b.unfollow_prob)
    g.remove(drop)


@njit(cache=True)
def _silent_edges(seed, readers, row_ptr, sorted_until, src, dst, alive, met, used, online, silent_since, before,
                  prob):
    """Follows by online members of silent accounts, each dropped with probability prob, in slot order.

    Walks only online members' rows of the sorted prefix (in slot order, as readers ascend), then the recent
    follows after it, so the random draws match a scan of every slot.
    """
    np.random.seed(seed)
    out = np.empty(used, np.int64)  # an upper bound, so the loop never reassigns it (pages untouched cost nothing)
    m = 0
    for i in range(readers.shape[0]):
        r = readers[i]
        for e in range(row_ptr[r], row_ptr[r + 1]):
            if alive[e] and not met[e] and silent_since[dst[e]] < before and np.random.random() < prob:
                out[m] = e
                m += 1
    for e in range(sorted_until, used):
        if alive[e] and not met[e] and online[src[e]] and silent_since[dst[e]] < before:
            if np.random.random() < prob:
                out[m] = e
                m += 1
    return out[:m]
