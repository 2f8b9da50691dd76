"""Unfollow: online members drop followees who have not posted for a while (offline friends are kept)."""

from __future__ import annotations

import numpy as np
from numba import njit

from ..params import Params
from ..state import State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
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
