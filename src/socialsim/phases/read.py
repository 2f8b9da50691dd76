"""Read: each online member reads at most A items of a timeline of followees' posts and reshares.

Timelines are not stored: the kernel walks each online reader's followees (a CSR view
of the follow graph), gathers this step's posts and the reshares made in the last
step, orders them (chronologically: fresh posts first, in random order, then reshares;
or by engagement: highest appeal first) and keeps the first A.

With several threads (``socialsim.graph.parallel``) the walk is split: contiguous chunks of readers gather
their candidates at once, each on its own thread, then one thread chooses every reader's items in reader
order, drawing the same random numbers as the one-thread kernel, so the timeline does not depend on the
thread count.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from .. import graph
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
    walk = (readers, follows, items, state.step - pl.post_lifetime, pl.attention, pl.timeline == "engagement",
            state.step)
    seed = int(rng.integers(2**62))
    # the follows walked are counted only when threads may be used, so the one-thread read costs what it did
    bounds = _chunk_bounds(readers, follows, numba.get_num_threads()) if graph.PARALLEL else None
    out = _read(seed, *walk) if bounds is None else _read_chunks(seed, *walk, bounds)
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


@njit(cache=True, inline="always")
def _wants_reshares(shared, fresh, attention, ranked):
    """Whether a reader's followees' reshares are gathered: a chronological timeline shows them only after all
    fresh posts, so they are gathered (in a second walk, in the same order) only when those leave room."""
    return shared > 0 and (ranked or fresh < attention)


@njit(cache=True)
def _reshare_hash(n_reshares):
    """The (key, stamp) table that shows a reshared post once per reader, with room for every reshare."""
    size = 2
    while size < 2 * n_reshares + 2:
        size *= 2
    return np.empty(size, np.int64), np.zeros(size, np.int64)


@njit(cache=True)
def _timeline_buffers(total):
    """Room for total items read: (reader, author, appeal, edge, born)."""
    return (np.empty(total, np.int64), np.empty(total, np.int64), np.empty(total, np.float64),
            np.empty(total, np.int64), np.empty(total, np.int64))


@njit(cache=True)
def _read(seed, readers, fl, it, expired, attention, ranked, step):
    """Every online reader's timeline: (reader, author, appeal, edge, born) of each item read, reader by reader."""
    np.random.seed(seed)
    o_reader, o_author, o_appeal, o_edge, o_born = _timeline_buffers(readers.shape[0] * attention)
    c = _candidate_buffers(readers, fl, it.rs_author.shape[0])
    c_author, c_appeal, c_edge, c_born = c.author, c.appeal, c.edge, c.born
    h_key, h_stamp = _reshare_hash(it.rs_author.shape[0])
    pos = 0
    for i in range(readers.shape[0]):
        r = readers[i]
        fresh, shared = _gather_posts(i, r, fl, it, c, step)
        m = fresh
        if _wants_reshares(shared, fresh, attention, ranked):
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


# --- the same read on several threads -----------------------------------------------------------------------
def _chunk_bounds(readers: np.ndarray, fl: Followees, threads: int) -> np.ndarray | None:
    """Where to cut the readers into ``threads`` contiguous chunks of about equal walks (the follow slots each
    reader walks), or None when the walk is too short to be worth more than one thread.

    The gate counts follow slots, not readers: the walk over them is the read's work (one memory access each),
    and readers are few for it (at 1e5 people near the end of a year, 17,000 readers a step walk 176,000 slots).
    """
    walked = np.cumsum(fl.row_ptr[readers + 1] - fl.row_ptr[readers] + fl.recent_ptr[readers + 1]
                       - fl.recent_ptr[readers])
    if walked.size == 0 or not graph.parallel(int(walked[-1])):
        return None
    cuts = np.searchsorted(walked, walked[-1] * np.arange(1, threads) / threads)
    return np.concatenate([[0], cuts, [readers.size]])


def _read_chunks(seed, readers, fl, it, expired, attention, ranked, step, bounds):
    """What :func:`_read` returns, the readers between consecutive ``bounds`` gathered on a thread each.

    Every reader's candidates depend only on that reader (each chunk has its own marks and reshare hash, and
    marks carry the reader's index), and the random numbers are drawn afterwards on this thread in reader
    order, so the result is the same for any bounds. Python threads run the gather: numba releases the GIL
    inside it, and the chunks' buffers of unknown length come back as ordinary arrays.
    """
    def gather(k):
        return _gather_chunk(readers, bounds[k], bounds[k + 1], fl, it, expired, attention, ranked, step)

    chunks = range(len(bounds) - 1)
    if len(chunks) == 1:
        parts = [gather(0)]
    else:  # this thread gathers the first chunk while the pool's threads gather the others
        with ThreadPoolExecutor(len(chunks) - 1) as pool:
            rest = [pool.submit(gather, k) for k in chunks[1:]]
            parts = [gather(0)] + [f.result() for f in rest]
    if ranked:  # chosen already, in reading order
        count, _, author, appeal, edge, born = (np.concatenate(p) for p in zip(*parts))
        return np.repeat(readers, count), author, appeal, edge, born
    out = _timeline_buffers(readers.size * attention)
    _seed(seed)  # numba's generator is per thread: this one draws for every chunk, in reader order
    pos = 0
    for k, part in zip(chunks, parts, strict=True):
        pos = _choose_in_order(readers[bounds[k]:bounds[k + 1]], *part, attention, out, pos)
    return tuple(o[:pos] for o in out)


@njit(cache=True)
def _grown(a, need):
    """A copy of a with room for at least need items (twice its length or more)."""
    b = np.empty(max(need, 2 * a.shape[0]), a.dtype)
    b[:a.shape[0]] = a
    return b


@njit(cache=True, nogil=True)
def _gather_chunk(readers, lo, hi, fl, it, expired, attention, ranked, step):
    """Readers lo:hi, one after another: (count, fresh, author, appeal, edge, born) of each one's candidates.

    A chronological timeline keeps all of a reader's candidates, to be shuffled later in reader order; a
    ranked timeline draws no random numbers, so its items are chosen here and only those are kept.
    """
    # a private copy of the marks: another chunk's readers overwrite the shared ones concurrently
    own = Items(it.cell.copy(), it.appeal, it.rs_indptr, it.rs_author, it.rs_appeal, it.rs_born)
    c = _candidate_buffers(readers[lo:hi], fl, it.rs_author.shape[0])
    c_author, c_appeal, c_edge, c_born = c.author, c.appeal, c.edge, c.born
    h_key, h_stamp = _reshare_hash(it.rs_author.shape[0])
    count = np.zeros(hi - lo, np.int64)
    fresh = np.zeros(hi - lo, np.int64)
    _, author, appeal, edge, born = _timeline_buffers(max(1, (hi - lo) * attention))
    pos = 0
    for i in range(lo, hi):
        r = readers[i]
        m, shared = _gather_posts(i, r, fl, own, c, step)
        fresh[i - lo] = m
        if _wants_reshares(shared, m, attention, ranked):
            m = _gather_reshares(i, r, m, shared, fl, own, c, h_key, h_stamp, expired, step)
        if m == 0:
            continue
        if pos + m > author.shape[0]:  # seldom: the room at least doubles
            author, appeal = _grown(author, pos + m), _grown(appeal, pos + m)
            edge, born = _grown(edge, pos + m), _grown(born, pos + m)
        if ranked:
            pick = _choose(c, m, 0, min(m, attention), True)
            m = pick.shape[0]
            for t in range(m):
                j = pick[t]
                author[pos + t] = c_author[j]
                appeal[pos + t] = c_appeal[j]
                edge[pos + t] = c_edge[j]
                born[pos + t] = c_born[j]
        else:
            author[pos:pos + m] = c_author[:m]
            appeal[pos:pos + m] = c_appeal[:m]
            edge[pos:pos + m] = c_edge[:m]
            born[pos:pos + m] = c_born[:m]
        count[i - lo] = m
        pos += m
    return count, fresh, author[:pos], appeal[:pos], edge[:pos], born[:pos]


@njit(cache=True)
def _seed(seed):
    """Seeds numba's generator of the calling thread (each thread has its own)."""
    np.random.seed(seed)


@njit(cache=True)
def _choose_in_order(readers, count, fresh, author, appeal, edge, born, attention, out, pos):
    """A chronological timeline from one chunk's candidates (each reader's count of them, fresh posts first),
    written into out (reader, author, appeal, edge, born) from pos on; returns where it ends. Draws what
    :func:`_read` draws for these readers, in the same order, from this thread's generator."""
    o_reader, o_author, o_appeal, o_edge, o_born = out
    width = 1
    for i in range(readers.shape[0]):
        width = max(width, count[i])
    # _choose orders a chronological timeline through the order buffer only
    scratch = Candidates(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.int64),
                         np.empty(0, np.int64), np.empty(0, np.float64), np.empty(width, np.int64))
    start = 0
    for i in range(readers.shape[0]):
        m = count[i]
        if m == 0:
            continue
        for j in _choose(scratch, m, fresh[i], min(m, attention), False):
            o_reader[pos] = readers[i]
            o_author[pos] = author[start + j]
            o_appeal[pos] = appeal[start + j]
            o_edge[pos] = edge[start + j]
            o_born[pos] = born[start + j]
            pos += 1
        start += m
    return pos
