"""Read: each online member reads at most A items of a timeline of followees' posts and reshares.

Timelines are not stored: the kernel walks each online reader's followees (a CSR view
of the follow graph), gathers this step's posts and the reshares made in the last
step, orders them (chronologically: fresh posts first, in random order, then reshares;
or by engagement: highest appeal first) and keeps the first A.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from ..graph import _mix
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
    row_ptr, recent_ptr, recent = g.rows()
    rs = state.reshares_prev if pl.reshares else Reshares.empty()
    rs_indptr = np.concatenate([[0], np.cumsum(np.bincount(rs.resharer, minlength=state.n))])
    order = np.argsort(rs.resharer, kind="stable")
    # one cell per member holds what the walk over followees needs, so each followee costs one memory access:
    # bit 0 = posted now, bit 1 = reshared last step, the bits above = the last reader (index + 1) following them
    cell = (state.posted.astype(np.int32) | (2 * (np.diff(rs_indptr) > 0)).astype(np.int32))
    if readers.size >= 2**29:
        cell = cell.astype(np.int64)
    out = _read(int(rng.integers(2**62)), readers, row_ptr, recent_ptr, recent, g.dst, g.alive, cell,
                state.appeal, rs_indptr, rs.author[order], rs.appeal[order], rs.born[order],
                state.step - pl.post_lifetime, pl.attention, pl.timeline == "engagement", state.step)
    state.timeline = Timeline(*out, reshared=out[3] < 0)


@njit(cache=True)
def _shuffle_head(idx, lo, hi, k):
    """Partial Fisher-Yates: a uniform random choice of k of idx[lo:hi], placed at idx[lo:lo+k]."""
    for t in range(lo, min(hi, lo + k)):
        j = t + int(np.random.random() * (hi - t))
        idx[t], idx[j] = idx[j], idx[t]


@njit(cache=True)
def _read(seed, readers, row_ptr, recent_ptr, recent, dst, alive, cell, appeal, rs_indptr, rs_author, rs_appeal,
          rs_born, expired, attention, ranked, step):
    np.random.seed(seed)
    total = readers.shape[0] * attention
    o_reader = np.empty(total, np.int64)
    o_author = np.empty(total, np.int64)
    o_appeal = np.empty(total, np.float64)
    o_edge = np.empty(total, np.int64)
    o_born = np.empty(total, np.int64)
    # the buffers are sized once for the largest possible timeline (every followee posts and every reshare is
    # new): arrays reassigned inside the loop would make numba count references on every access
    longest = 0
    for i in range(readers.shape[0]):
        r = readers[i]
        longest = max(longest, row_ptr[r + 1] - row_ptr[r] + recent_ptr[r + 1] - recent_ptr[r])
    width = longest + rs_author.shape[0] + 1
    c_author = np.empty(width, np.int64)
    c_appeal = np.empty(width, np.float64)
    c_edge = np.empty(width, np.int64)
    c_born = np.empty(width, np.int64)
    c_key = np.empty(width, np.float64)
    order = np.empty(width, np.int64)
    # a hash of the (author, born) reshares a reader has, stamped with the reader so it is never cleared; each
    # reader uses a prefix sized to its own reshares, which stays in cache
    size = 2
    while size < 2 * rs_author.shape[0] + 2:
        size *= 2
    h_key = np.empty(size, np.int64)
    h_stamp = np.zeros(size, np.int64)
    pos = 0
    for i in range(readers.shape[0]):
        r = readers[i]
        lo, hi = row_ptr[r], row_ptr[r + 1]
        rlo, rhi = recent_ptr[r], recent_ptr[r + 1]
        m = 0
        shared = 0
        for k in range(lo, hi + rhi - rlo):
            e = k if k < hi else recent[rlo + k - hi]
            if not alive[e]:
                continue
            f = dst[e]
            flag = cell[f] & 3
            if flag & 1:
                c_author[m] = f
                c_appeal[m] = appeal[f]
                c_edge[m] = e
                c_born[m] = step
                m += 1
            if flag & 2:
                shared += rs_indptr[f + 1] - rs_indptr[f]
            cell[f] = ((i + 1) << 2) | flag
        fresh = m
        # a chronological timeline shows reshares only after all fresh posts, so they are gathered (in a
        # second walk, in the same order) only when the fresh posts leave room for them
        if shared > 0 and (ranked or m < attention):
            mask = 1
            while mask < 2 * shared + 1:
                mask *= 2
            mask -= 1
            for k in range(lo, hi + rhi - rlo):
                e = k if k < hi else recent[rlo + k - hi]
                if not alive[e] or not cell[dst[e]] & 2:
                    continue
                f = dst[e]
                for j in range(rs_indptr[f], rs_indptr[f + 1]):
                    a = rs_author[j]
                    # old posts no longer circulate; one's own posts and posts of followees (already in the
                    # timeline) are not shown again; a post reshared by several followees is shown once
                    if rs_born[j] <= expired or a == r or cell[a] >> 2 == i + 1:
                        continue
                    key = a * (step + 1) + rs_born[j]
                    t = np.int64(_mix(key) & np.uint64(mask))
                    while h_stamp[t] == i + 1 and h_key[t] != key:
                        t = (t + 1) & mask
                    if h_stamp[t] == i + 1:
                        continue
                    h_stamp[t] = i + 1
                    h_key[t] = key
                    c_author[m] = a
                    c_appeal[m] = rs_appeal[j]
                    c_edge[m] = -1
                    c_born[m] = rs_born[j]
                    m += 1
        if m == 0:
            continue
        take = min(m, attention)
        if ranked:
            # by engagement: the highest appeal first
            for j in range(m):
                c_key[j] = -c_appeal[j]
            idx = np.argsort(c_key[:m])[:take]
        else:
            # chronological: this step's posts in random order, then last step's reshares in random order
            for j in range(m):
                order[j] = j
            _shuffle_head(order, 0, fresh, take)
            if take > fresh:
                _shuffle_head(order, fresh, m, take - fresh)
            idx = order[:take]
        for j in idx:
            o_reader[pos] = r
            o_author[pos] = c_author[j]
            o_appeal[pos] = c_appeal[j]
            o_edge[pos] = c_edge[j]
            o_born[pos] = c_born[j]
            pos += 1
    return o_reader[:pos], o_author[:pos], o_appeal[:pos], o_edge[:pos], o_born[:pos]
