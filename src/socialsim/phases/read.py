"""Read: each online member reads at most A items of a timeline of followees' posts and reshares.

Timelines are not stored: the kernel walks each online reader's followees (a CSR view
of the follow graph), gathers this step's posts and the reshares made in the last
step, orders them (chronologically: fresh posts first, in random order, then reshares;
or by engagement: highest appeal first) and keeps the first A.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from ..graph import _mix
from ..params import Params
from ..state import Reshares, State, Timeline


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Each online member reads at most ``platform.attention`` items of its timeline (``state.timeline``)."""
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
    follows = Followees(row_ptr, recent_ptr, recent, g.dst, g.alive)
    items = Items(cell, state.appeal, rs_indptr, rs.author[order], rs.appeal[order], rs.born[order])
    out = _read(int(rng.integers(2**62)), readers, follows, items, state.step - pl.post_lifetime, pl.attention,
                pl.timeline == "engagement", state.step)
    state.timeline = Timeline(*out, reshared=out[3] < 0)


class Followees(NamedTuple):
    """Everyone's followees, as the kernel walks them (see :meth:`socialsim.graph.FollowGraph.rows`)."""

    row_ptr: np.ndarray  # reader r's sorted follows are slots row_ptr[r]:row_ptr[r+1]
    recent_ptr: np.ndarray  # ... and recent[recent_ptr[r]:recent_ptr[r+1]], the follows since the last compaction
    recent: np.ndarray
    dst: np.ndarray  # followee of each slot
    alive: np.ndarray  # whether each slot is a live follow


class Items(NamedTuple):
    """What there is to read this step: fresh posts by member, last step's reshares by resharer."""

    cell: np.ndarray  # per member: bit 0 posted now, bit 1 reshared last step, above: the last reader following
    appeal: np.ndarray  # appeal of each member's post this step
    rs_indptr: np.ndarray  # resharer f's reshares are rows rs_indptr[f]:rs_indptr[f+1] of the next three
    rs_author: np.ndarray
    rs_appeal: np.ndarray
    rs_born: np.ndarray


class Candidates(NamedTuple):
    """One reader's candidate items, in buffers sized once for the longest possible timeline."""

    author: np.ndarray
    appeal: np.ndarray
    edge: np.ndarray  # slot of the follow, -1 for a reshare
    born: np.ndarray
    key: np.ndarray  # sort key of a ranked timeline
    order: np.ndarray  # index permutation of a chronological timeline


@njit(cache=True)
def _shuffle_head(idx, lo, hi, k):
    """Partial Fisher-Yates: a uniform random choice of k of idx[lo:hi], placed at idx[lo:lo+k]."""
    for t in range(lo, min(hi, lo + k)):
        j = t + int(np.random.random() * (hi - t))
        idx[t], idx[j] = idx[j], idx[t]


@njit(cache=True, inline="always")
def _slot(recent, k, hi, rlo):
    """The k-th follow of a reader whose sorted follows end at hi and whose recent ones start at rlo."""
    return k if k < hi else recent[rlo + k - hi]


@njit(cache=True)
def _candidate_buffers(readers, fl, n_reshares):
    """Buffers for the largest possible timeline (every followee posts and every reshare is new): arrays
    reassigned inside the reader loop would make numba count references on every access."""
    longest = 0
    for i in range(readers.shape[0]):
        r = readers[i]
        longest = max(longest, fl.row_ptr[r + 1] - fl.row_ptr[r] + fl.recent_ptr[r + 1] - fl.recent_ptr[r])
    width = longest + n_reshares + 1
    return Candidates(np.empty(width, np.int64), np.empty(width, np.float64), np.empty(width, np.int64),
                      np.empty(width, np.int64), np.empty(width, np.float64), np.empty(width, np.int64))


@njit(cache=True, inline="always")
def _gather_posts(i, r, fl, it, c, step):
    """Reader i (member r): this step's posts by followees into the candidates; marks every followee as
    followed by reader i. Returns (posts gathered, reshares the followees made last step)."""
    # the arrays are taken out of the tuples once: an access through the tuple counts a reference each time
    recent, dst, alive, cell, appeal, rs_indptr = fl.recent, fl.dst, fl.alive, it.cell, it.appeal, it.rs_indptr
    c_author, c_appeal, c_edge, c_born = c.author, c.appeal, c.edge, c.born
    lo, hi = fl.row_ptr[r], fl.row_ptr[r + 1]
    rlo, rhi = fl.recent_ptr[r], fl.recent_ptr[r + 1]
    m = 0
    shared = 0
    for k in range(lo, hi + rhi - rlo):
        e = _slot(recent, k, hi, rlo)
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
    return m, shared


@njit(cache=True, inline="always")
def _gather_reshares(i, r, m, shared, fl, it, c, h_key, h_stamp, expired, step):
    """Reader i (member r): the reshares its followees made last step, after the m posts; returns the new m.

    Old posts no longer circulate; one's own posts and posts of followees (already in the timeline) are not
    shown again; a post reshared by several followees is shown once (a hash of (author, born) stamped with
    the reader, so it is never cleared; each reader uses a prefix sized to its own reshares).
    """
    mask = 1
    while mask < 2 * shared + 1:
        mask *= 2
    mask -= 1
    recent, dst, alive, cell = fl.recent, fl.dst, fl.alive, it.cell
    rs_indptr, rs_author, rs_appeal, rs_born = it.rs_indptr, it.rs_author, it.rs_appeal, it.rs_born
    c_author, c_appeal, c_edge, c_born = c.author, c.appeal, c.edge, c.born
    lo, hi = fl.row_ptr[r], fl.row_ptr[r + 1]
    rlo, rhi = fl.recent_ptr[r], fl.recent_ptr[r + 1]
    for k in range(lo, hi + rhi - rlo):
        e = _slot(recent, k, hi, rlo)
        if not alive[e] or not cell[dst[e]] & 2:
            continue
        f = dst[e]
        for j in range(rs_indptr[f], rs_indptr[f + 1]):
            a = rs_author[j]
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
    return m


@njit(cache=True, inline="always")
def _choose(c, m, fresh, take, ranked):
    """The take candidates read, in reading order: by engagement, the highest appeal first; chronologically,
    this step's posts in random order, then last step's reshares in random order."""
    if ranked:
        key, appeal = c.key, c.appeal
        for j in range(m):
            key[j] = -appeal[j]
        return np.argsort(key[:m])[:take]
    order = c.order
    for j in range(m):
        order[j] = j
    _shuffle_head(order, 0, fresh, take)
    if take > fresh:
        _shuffle_head(order, fresh, m, take - fresh)
    return order[:take]


@njit(cache=True)
def _read(seed, readers, fl, it, expired, attention, ranked, step):
    """Every online reader's timeline: (reader, author, appeal, edge, born) of each item read, reader by reader."""
    np.random.seed(seed)
    total = readers.shape[0] * attention
    o_reader = np.empty(total, np.int64)
    o_author = np.empty(total, np.int64)
    o_appeal = np.empty(total, np.float64)
    o_edge = np.empty(total, np.int64)
    o_born = np.empty(total, np.int64)
    c = _candidate_buffers(readers, fl, it.rs_author.shape[0])
    c_author, c_appeal, c_edge, c_born = c.author, c.appeal, c.edge, c.born
    size = 2
    while size < 2 * it.rs_author.shape[0] + 2:
        size *= 2
    h_key = np.empty(size, np.int64)
    h_stamp = np.zeros(size, np.int64)
    pos = 0
    for i in range(readers.shape[0]):
        r = readers[i]
        m, shared = _gather_posts(i, r, fl, it, c, step)
        fresh = m
        # a chronological timeline shows reshares only after all fresh posts, so they are gathered (in a
        # second walk, in the same order) only when the fresh posts leave room for them
        if shared > 0 and (ranked or m < attention):
            m = _gather_reshares(i, r, m, shared, fl, it, c, h_key, h_stamp, expired, step)
        if m == 0:
            continue
        for j in _choose(c, m, fresh, min(m, attention), ranked):
            o_reader[pos] = r
            o_author[pos] = c_author[j]
            o_appeal[pos] = c_appeal[j]
            o_edge[pos] = c_edge[j]
            o_born[pos] = c_born[j]
            pos += 1
    return o_reader[:pos], o_author[:pos], o_appeal[:pos], o_edge[:pos], o_born[:pos]
