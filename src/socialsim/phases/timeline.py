"""Read: each online member reads at most A items of a timeline of followees' posts and reshares.

Timelines are not stored: the kernel walks each online reader's followees (a CSR view
of the follow graph), gathers this step's posts and the reshares made in the last
step, orders them (chronologically: fresh posts first, in random order, then reshares;
or by engagement: highest appeal first) and keeps the first A.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..params import Params
from ..state import Reshares, State, Timeline


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    pl, g = params.platform, state.graph
    # last step's reshares are delivered now; this step's are collected by the engage phase
    state.reshares_prev, state.reshares_new = state.reshares_new, Reshares.empty()
    readers = np.flatnonzero(state.online)
    if readers.size == 0 or pl.attention == 0 or g.n_edges == 0:
        state.timeline = Timeline.empty()
        return
    csr = g.followees_csr()
    rs = state.reshares_prev if pl.reshares else Reshares.empty()
    rs_indptr = np.concatenate([[0], np.cumsum(np.bincount(rs.resharer, minlength=state.n))])
    order = np.argsort(rs.resharer, kind="stable")
    out = _read(int(rng.integers(2**62)), readers, csr.indptr, csr.slots, csr.followee, state.posted, state.appeal,
                rs_indptr, rs.author[order], rs.appeal[order], pl.attention, pl.timeline == "engagement")
    state.timeline = Timeline(*out, reshared=out[3] < 0)


@njit(cache=True)
def _in_row(followee, lo, hi, a):
    """Whether a is in the sorted row followee[lo:hi] (binary search)."""
    end = hi
    while lo < hi:
        mid = (lo + hi) // 2
        if followee[mid] < a:
            lo = mid + 1
        else:
            hi = mid
    return lo < end and followee[lo] == a


@njit(cache=True)
def _read(seed, readers, indptr, slots, followee, posted, appeal, rs_indptr, rs_author, rs_appeal, attention,
          ranked):
    np.random.seed(seed)
    # pass 1: an upper bound of each reader's items, to size the output and one scratch buffer
    cap = np.zeros(readers.shape[0], np.int64)
    for i in range(readers.shape[0]):
        r = readers[i]
        c = 0
        for k in range(indptr[r], indptr[r + 1]):
            f = followee[k]
            c += (1 if posted[f] else 0) + rs_indptr[f + 1] - rs_indptr[f]
        cap[i] = c
    total = np.minimum(cap, attention).sum()
    o_reader = np.empty(total, np.int64)
    o_author = np.empty(total, np.int64)
    o_appeal = np.empty(total, np.float64)
    o_edge = np.empty(total, np.int64)
    width = cap.max() if cap.shape[0] else 0
    c_author = np.empty(width, np.int64)
    c_appeal = np.empty(width, np.float64)
    c_edge = np.empty(width, np.int64)
    c_key = np.empty(width, np.float64)
    pos = 0
    for i in range(readers.shape[0]):
        if cap[i] == 0:
            continue
        r = readers[i]
        lo, hi = indptr[r], indptr[r + 1]
        m = 0
        for k in range(lo, hi):
            f = followee[k]
            if posted[f]:
                c_author[m] = f
                c_appeal[m] = appeal[f]
                c_edge[m] = slots[k]
                c_key[m] = -appeal[f] if ranked else np.random.random()
                m += 1
            for j in range(rs_indptr[f], rs_indptr[f + 1]):
                a = rs_author[j]
                # one's own posts and posts of followees (already in the timeline) are not shown again
                if a == r or _in_row(followee, lo, hi, a):
                    continue
                c_author[m] = a
                c_appeal[m] = rs_appeal[j]
                c_edge[m] = -1
                # chronological: this step's posts come before last step's reshares
                c_key[m] = -rs_appeal[j] if ranked else 1.0 + np.random.random()
                m += 1
        if m > attention:
            idx = np.argsort(c_key[:m])[:attention]
        else:
            idx = np.arange(m)
        for j in idx:
            o_reader[pos] = r
            o_author[pos] = c_author[j]
            o_appeal[pos] = c_appeal[j]
            o_edge[pos] = c_edge[j]
            pos += 1
    return o_reader[:pos], o_author[:pos], o_appeal[:pos], o_edge[:pos]
