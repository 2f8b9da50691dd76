"""The directed follow graph: edge arrays, an open-addressing hash index and per-member counters.

Edges live in parallel arrays (follower ``src``, followee ``dst``, ``since`` step,
``familiarity``, ``closeness``, ``met``, ``alive``, the ``origin`` of the follow (one of ``ORIGINS``) and
``contact``, whether the two are offline contacts). A hash table maps the key
``src * n + dst`` to the edge's slot, so follow checks are O(1). Removed edges are
marked dead and compacted away now and then. A CSR view of followees per member is
rebuilt on demand by a counting sort (O(edges)). In- and out-degree, mutual ties,
offline ties, mutual ties with people outside one's offline contacts ("new" ties) and the number of local
follows are kept up to date on every change, so metrics never rescan the edge list for them.
"""

from __future__ import annotations

import os
from typing import NamedTuple

import numpy as np
from numba import njit, prange

from . import rules

EMPTY = -1
TOMB = -2
#: the index stores each follow's slot as int32, so a graph holds at most this many slots (live and dead)
MAX_SLOTS = 2**31 - 1
#: after the index is rebuilt, it has at least this many entries per follow: at most a third full, so linear
#: probing stays short, and it grows by doubling before it is half full (tombstones counted)
INDEX_ROOM = 3

#: below this many items a map over them runs on one thread: starting the threads costs more than they save
PARALLEL_MIN = 50_000
#: the kernels that can use several threads do so only when ``NUMBA_NUM_THREADS`` asks for more than one: on a
#: busy machine, or in a sweep whose jobs already use every core, each kernel waits for its second thread to be
#: scheduled, which costs more than the thread saves (docs/performance.md)
PARALLEL = int(os.environ.get("NUMBA_NUM_THREADS", "1") or "1") > 1


def parallel(items: int) -> bool:
    """Whether a map over ``items`` items runs on all threads (see ``PARALLEL`` and ``PARALLEL_MIN``)."""
    return PARALLEL and items >= PARALLEL_MIN

# indices into the counters array
N_ALIVE, N_MUTUAL_PAIRS, N_LOCAL, N_TOMB, N_USED = range(5)

#: how a follow began, in the order of the codes stored per edge (``FollowGraph.origin``)
ORIGINS = ("offline", "meetup", "suggested", "content", "follow_back", "classic")
OFFLINE, MEETUP, SUGGESTED, CONTENT, FOLLOW_BACK, CLASSIC = range(len(ORIGINS))


@njit(cache=True, inline="always")
def _mix(key):
    # splitmix64 finaliser: spreads consecutive keys over the table
    z = np.uint64(key) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(cache=True)
def _find_slot(keys, key):
    mask = np.uint64(keys.shape[0] - 1)
    i = np.int64(_mix(key) & mask)
    while True:
        k = keys[i]
        if k == key:
            return i
        if k == EMPTY:
            return -1
        i = (i + 1) & (keys.shape[0] - 1)


@njit(cache=True)
def _free_slot(keys, key):
    """First empty or tombstone slot on key's probe path (key must be absent)."""
    mask = np.uint64(keys.shape[0] - 1)
    i = np.int64(_mix(key) & mask)
    while keys[i] >= 0:
        i = (i + 1) & (keys.shape[0] - 1)
    return i


@njit(cache=True)
def _find_edges(keys, vals, n, srcs, dsts):
    out = np.full(srcs.shape[0], -1, np.int64)
    for j in range(srcs.shape[0]):
        s = _find_slot(keys, np.int64(srcs[j]) * n + dsts[j])
        if s >= 0:
            out[j] = vals[s]
    return out


@njit(cache=True, parallel=True)
def _find_edges_parallel(keys, vals, n, srcs, dsts):
    """:func:`_find_edges` on all threads: each lookup only reads the table and writes its own entry, so the
    result does not depend on the number of threads."""
    out = np.full(srcs.shape[0], -1, np.int64)
    for j in prange(srcs.shape[0]):
        s = _find_slot(keys, np.int64(srcs[j]) * n + dsts[j])
        if s >= 0:
            out[j] = vals[s]
    return out


@njit(cache=True, inline="always")
def _is_contact(c_indptr, c_idx, a, b):
    """Whether b is among a's offline contacts (each row of the contact CSR is sorted)."""
    lo = c_indptr[a]
    hi = c_indptr[a + 1]
    while lo < hi:
        mid = (lo + hi) // 2
        if c_idx[mid] < b:
            lo = mid + 1
        else:
            hi = mid
    return lo < c_indptr[a + 1] and c_idx[lo] == b


@njit(cache=True)
def _add_edges(new_src, new_dst, step, met_flag, allowance, n, keys, vals, src, dst, since, met, alive,
               in_deg, out_deg, mutual, offline, local_out, town, counters, new_origin, origin, contact,
               c_indptr, c_idx, new_mutual):
    """Add the follows in order; ``allowance[k]`` is the most followees allowed with k followers (the cap);
    ``new_origin`` holds one origin code per follow, or one for all."""
    added = np.zeros(new_src.shape[0], np.bool_)
    for j in range(new_src.shape[0]):
        a = new_src[j]
        b = new_dst[j]
        if a == b:
            continue
        key = np.int64(a) * n + b
        s = _find_slot(keys, key)
        if s >= 0:
            e = vals[s]
            if met_flag and not met[e]:
                met[e] = True
                offline[a] += 1
            continue
        if out_deg[a] >= allowance[in_deg[a]]:
            continue  # Twitter's 2009 follow cap (rules.follow_allowance)
        e = counters[N_USED]
        counters[N_USED] += 1
        fs = _free_slot(keys, key)
        if keys[fs] == TOMB:
            counters[N_TOMB] -= 1
        keys[fs] = key
        vals[fs] = e
        src[e] = a
        dst[e] = b
        since[e] = step
        met[e] = met_flag
        alive[e] = True
        origin[e] = new_origin[j] if new_origin.shape[0] > 1 else new_origin[0]
        known = _is_contact(c_indptr, c_idx, a, b)
        contact[e] = known
        out_deg[a] += 1
        in_deg[b] += 1
        counters[N_ALIVE] += 1
        if met_flag:
            offline[a] += 1
        if _find_slot(keys, np.int64(b) * n + a) >= 0:
            mutual[a] += 1
            mutual[b] += 1
            counters[N_MUTUAL_PAIRS] += 1
            if not known:
                new_mutual[a] += 1
                new_mutual[b] += 1
        if town[a] == town[b]:
            counters[N_LOCAL] += 1
            local_out[a] += 1
        added[j] = True
    return added


@njit(cache=True)
def _remove_edges(edges, n, keys, src, dst, met, alive, in_deg, out_deg, mutual, offline, local_out, town,
                  counters, contact, new_mutual):
    for j in range(edges.shape[0]):
        e = edges[j]
        if not alive[e]:
            continue
        a = src[e]
        b = dst[e]
        alive[e] = False
        s = _find_slot(keys, np.int64(a) * n + b)
        keys[s] = TOMB
        counters[N_TOMB] += 1
        out_deg[a] -= 1
        in_deg[b] -= 1
        counters[N_ALIVE] -= 1
        if met[e]:
            offline[a] -= 1
        if _find_slot(keys, np.int64(b) * n + a) >= 0:
            mutual[a] -= 1
            mutual[b] -= 1
            counters[N_MUTUAL_PAIRS] -= 1
            if not contact[e]:
                new_mutual[a] -= 1
                new_mutual[b] -= 1
        if town[a] == town[b]:
            counters[N_LOCAL] -= 1
            local_out[a] -= 1


@njit(cache=True)
def _edges_touching(gone, src, dst, alive, used):
    out = np.empty(used, np.int64)
    m = 0
    for e in range(used):
        if alive[e] and (gone[src[e]] or gone[dst[e]]):
            out[m] = e
            m += 1
    return out[:m]


@njit(cache=True)
def _rebuild_table(keys, vals, src, dst, alive, used, n):
    keys[:] = EMPTY
    for e in range(used):
        if alive[e]:
            key = np.int64(src[e]) * n + dst[e]
            fs = _free_slot(keys, key)
            keys[fs] = key
            vals[fs] = e


@njit(cache=True)
def _out_csr(src, dst, alive, used, n, first=0):
    """Counting sort of the live edges in slots [first, used) by follower."""
    indptr = np.zeros(n + 1, np.int64)
    for e in range(first, used):
        if alive[e]:
            indptr[src[e] + 1] += 1
    for i in range(n):
        indptr[i + 1] += indptr[i]
    fill = indptr[:-1].copy()
    slots = np.empty(indptr[n], np.int64)
    followee = np.empty(indptr[n], np.int32)
    for e in range(first, used):
        if alive[e]:
            j = fill[src[e]]
            slots[j] = e
            followee[j] = dst[e]
            fill[src[e]] += 1
    return indptr, slots, followee


class CSR(NamedTuple):
    """Followees per member: row i is ``[indptr[i], indptr[i+1])``."""

    indptr: np.ndarray
    slots: np.ndarray  # edge slot of each follow
    followee: np.ndarray  # followee of each follow (= dst[slots])


class FollowGraph:
    """Directed follow edges among ``n`` people, with familiarity, closeness and origin per edge.

    ``contacts_indptr``/``contacts`` is the offline contact network (a CSR with sorted rows, as
    :class:`socialsim.population.Population` holds it); each follow records whether its two ends are offline
    contacts, and ``new_mutual`` counts each member's mutual ties with people who are not.
    """

    FIELDS = (("src", np.int32), ("dst", np.int32), ("since", np.int32), ("familiarity", np.float32),
              ("closeness", np.float32), ("met", np.bool_), ("alive", np.bool_), ("origin", np.int8),
              ("contact", np.bool_))

    def __init__(self, n: int, town: np.ndarray, capacity: int = 1024, contacts_indptr: np.ndarray | None = None,
                 contacts: np.ndarray | None = None):
        self.n = int(n)
        self.town = np.ascontiguousarray(town, dtype=np.int32)
        if contacts_indptr is None:
            contacts_indptr, contacts = np.zeros(self.n + 1, np.int64), np.zeros(0, np.int32)
        self.contacts_indptr = np.ascontiguousarray(contacts_indptr, dtype=np.int64)
        self.contacts = np.ascontiguousarray(contacts, dtype=np.int32)
        self.new_mutual = np.zeros(n, np.int32)  # mutual ties with people outside one's offline contacts
        self.in_deg = np.zeros(n, np.int32)
        self.out_deg = np.zeros(n, np.int32)
        self.mutual = np.zeros(n, np.int32)
        self.offline = np.zeros(n, np.int32)
        self.local_out = np.zeros(n, np.int32)  # followees in one's own town
        self.counters = np.zeros(5, np.int64)
        for name, dtype in self.FIELDS:
            setattr(self, name, np.zeros(capacity, dtype))
        self.keys = np.full(_pow2(INDEX_ROOM * capacity), EMPTY, np.int64)
        self.vals = np.zeros(self.keys.shape[0], np.int32)
        self._csr = None
        self.sorted_until = 0
        self._rows = np.zeros(n + 1, np.int64)

    # --- sizes -------------------------------------------------------------
    @property
    def used(self) -> int:
        """Slots in use, including tombstones of removed follows (compaction reclaims them)."""
        return int(self.counters[N_USED])

    @property
    def n_edges(self) -> int:
        """Live follows."""
        return int(self.counters[N_ALIVE])

    @property
    def mutual_pairs(self) -> int:
        """Pairs of members who follow each other."""
        return int(self.counters[N_MUTUAL_PAIRS])

    @property
    def local_edges(self) -> int:
        """Live follows within one town."""
        return int(self.counters[N_LOCAL])

    def alive_index(self) -> np.ndarray:
        """Slots of the live edges."""
        return np.flatnonzero(self.alive[: self.used])

    # --- changes -----------------------------------------------------------
    def _reserve(self, extra: int) -> None:
        need = self.used + extra
        if need > MAX_SLOTS:
            raise MemoryError(f"the follow graph holds at most {MAX_SLOTS:,} follows (live and removed since the "
                              f"last compaction); {need:,} were asked for")
        cap = self.src.shape[0]
        if need > cap:
            new_cap = max(need, int(cap * 1.5) + 1024)
            for name, dtype in self.FIELDS:
                arr = np.zeros(new_cap, dtype)
                arr[: self.used] = getattr(self, name)[: self.used]
                setattr(self, name, arr)
        # keep the table at most half full, counting tombstones
        if (self.n_edges + int(self.counters[N_TOMB]) + extra) * 2 > self.keys.shape[0]:
            size = _pow2(INDEX_ROOM * (self.n_edges + extra) + 1024)
            self.keys = np.full(size, EMPTY, np.int64)
            self.vals = np.zeros(size, np.int32)
            _rebuild_table(self.keys, self.vals, self.src, self.dst, self.alive, self.used, self.n)
            self.counters[N_TOMB] = 0

    def add(self, src, dst, step: int, met: bool = False, cap: int = 0, origin=CLASSIC) -> np.ndarray:
        """Add follows src -> dst in order; skips self, duplicate and capped ones. Returns the mask of added.

        ``origin`` (one code of ``ORIGINS``, or one per follow) is how each follow began; a follow that
        already exists keeps its origin.
        """
        src = np.ascontiguousarray(src, dtype=np.int64)
        dst = np.ascontiguousarray(dst, dtype=np.int64)
        if src.size == 0:
            return np.zeros(0, bool)
        origin = np.ascontiguousarray(np.atleast_1d(origin), dtype=np.int8)
        if origin.size not in (1, src.size):
            raise ValueError("origin must be one code or one per follow")
        if origin.size == 1 and src.size > 1:
            origin = origin[:1]
        self._reserve(src.size)
        self._csr = None
        # the cap for every follower count a follower can have during this batch
        allowance = rules.follow_allowance(np.arange(int(self.in_deg.max()) + src.size + 1), int(cap))
        return _add_edges(src, dst, int(step), bool(met), allowance, self.n, self.keys, self.vals, self.src,
                          self.dst, self.since, self.met, self.alive, self.in_deg, self.out_deg, self.mutual,
                          self.offline, self.local_out, self.town, self.counters, origin, self.origin,
                          self.contact, self.contacts_indptr, self.contacts, self.new_mutual)

    def remove(self, edges) -> None:
        """Remove the edges at these slots (unfollow)."""
        edges = np.ascontiguousarray(edges, dtype=np.int64)
        if edges.size == 0:
            return
        self._csr = None
        _remove_edges(edges, self.n, self.keys, self.src, self.dst, self.met, self.alive, self.in_deg,
                      self.out_deg, self.mutual, self.offline, self.local_out, self.town, self.counters,
                      self.contact, self.new_mutual)

    def remove_members(self, members) -> None:
        """Remove every follow from or to these people."""
        if len(members) == 0:
            return
        gone = np.zeros(self.n, np.bool_)
        gone[members] = True
        self.remove(_edges_touching(gone, self.src, self.dst, self.alive, self.used))

    def find(self, src, dst) -> np.ndarray:
        """Slot of each follow src -> dst, or -1 where there is none."""
        src = np.ascontiguousarray(src, dtype=np.int64)
        dst = np.ascontiguousarray(dst, dtype=np.int64)
        find = _find_edges_parallel if parallel(src.shape[0]) else _find_edges
        return find(self.keys, self.vals, self.n, src, dst)

    def follows(self, src, dst) -> np.ndarray:
        """Whether each ``src[i]`` follows ``dst[i]`` (a boolean array)."""
        return self.find(src, dst) >= 0

    def compact(self, force: bool = False) -> None:
        """Drop dead edges and sort the live ones by (follower, followee) when many are dead or unsorted.

        Slots change, so call this between steps only. The sorted prefix gives each member's followees as a
        contiguous run (``rows``) that stays valid, dead entries included, until the next compaction.
        """
        used = self.used
        dead, unsorted = used - self.n_edges, used - self.sorted_until
        if not force and dead <= 0.3 * used and unsorted <= 0.15 * used and used >= 1024:
            return
        if not force and dead == 0 and unsorted == 0:
            return
        keep = self.alive_index()
        keep = keep[np.argsort(self.src[keep].astype(np.int64) * self.n + self.dst[keep], kind="stable")]
        for name, _ in self.FIELDS:
            arr = getattr(self, name)
            arr[: keep.size] = arr[keep]
            arr[keep.size: used] = 0
        self.counters[N_USED] = keep.size
        self.counters[N_TOMB] = 0
        _rebuild_table(self.keys, self.vals, self.src, self.dst, self.alive, self.used, self.n)
        self.sorted_until = keep.size
        self._rows = np.concatenate([[0], np.cumsum(np.bincount(self.src[: keep.size], minlength=self.n))])
        self._csr = None

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(row_ptr, recent_ptr, recent): a cheap view of everyone's followees for the read kernel.

        Member i's followees are the slots ``row_ptr[i]:row_ptr[i+1]`` of the sorted prefix (sorted by
        followee; skip dead ones) plus ``recent[recent_ptr[i]:recent_ptr[i+1]]``, the follows added since the
        last compaction. Building it costs O(recent follows), not O(all follows).
        """
        recent_ptr, recent, _ = _out_csr(self.src, self.dst, self.alive, self.used, self.n, self.sorted_until)
        return self._rows, recent_ptr, recent

    @property
    def sorted_rows(self) -> np.ndarray:
        """row_ptr of the sorted prefix: member i's followees are slots row_ptr[i]:row_ptr[i+1] (dead included)."""
        return self._rows

    # --- views -------------------------------------------------------------
    def followees_csr(self) -> CSR:
        """The live follows by follower (rebuilt after any change, O(edges))."""
        if self._csr is None:
            self._csr = CSR(*_out_csr(self.src, self.dst, self.alive, self.used, self.n))
        return self._csr

    def edge_frame_arrays(self) -> dict[str, np.ndarray]:
        """The live follows as columns: follower, followee, since_step and origin (codes of ``ORIGINS``)."""
        idx = self.alive_index()
        return {"follower": self.src[idx].astype(np.int64), "followee": self.dst[idx].astype(np.int64),
                "since_step": self.since[idx].astype(np.int64), "origin": self.origin[idx].copy()}

    def state(self) -> dict[str, np.ndarray]:
        """Arrays that fully describe the graph (for checkpoints)."""
        used = self.used
        out = {name: getattr(self, name)[:used].copy() for name, _ in self.FIELDS}
        return out

    @classmethod
    def from_state(cls, n: int, town: np.ndarray, state: dict[str, np.ndarray],
                   contacts_indptr: np.ndarray | None = None, contacts: np.ndarray | None = None) -> FollowGraph:
        """Rebuild a graph from :meth:`state` (the arrays of a checkpoint)."""
        g = cls(n, town, capacity=max(1024, len(state["src"])), contacts_indptr=contacts_indptr, contacts=contacts)
        alive = state["alive"].astype(bool)
        g.add(state["src"][alive], state["dst"][alive], 0)
        # restore per-edge values in the same (compacted) order
        idx = g.alive_index()
        for name in ("since", "familiarity", "closeness", "origin"):
            getattr(g, name)[idx] = state[name][alive]
        met_idx = idx[state["met"][alive]]
        g.met[met_idx] = True
        np.add.at(g.offline, g.src[met_idx], 1)
        return g


def _pow2(x: int) -> int:
    return 1 << max(10, int(x - 1).bit_length())
