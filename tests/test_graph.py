"""Unit tests of FollowGraph: adding and removing follows, tombstones in the hash index, compaction (which
must keep every live follow and its per-edge data), growth of the arrays and the index, the follow cap and
the per-member counters, checked against a recount from the edge list."""

import numpy as np
import pytest

from socialsim import graph as graph_module
from socialsim.graph import N_TOMB, FollowGraph


def graph(n=20, towns=2, capacity=1024):
    return FollowGraph(n, np.arange(n) % towns, capacity=capacity)


def live(g) -> set:
    e = g.edge_frame_arrays()
    return set(zip(e["follower"].tolist(), e["followee"].tolist()))


def assert_counters_match_edges(g):
    """Degrees, mutual, offline and local counts equal a recount from the live edges."""
    idx = g.alive_index()
    src, dst, met = g.src[idx].astype(np.int64), g.dst[idx].astype(np.int64), g.met[idx]
    pairs = set(zip(src.tolist(), dst.tolist()))
    assert len(pairs) == idx.size == g.n_edges
    np.testing.assert_array_equal(g.out_deg, np.bincount(src, minlength=g.n))
    np.testing.assert_array_equal(g.in_deg, np.bincount(dst, minlength=g.n))
    mutual = np.zeros(g.n, np.int64)
    for a, b in pairs:
        if (b, a) in pairs:
            mutual[a] += 1
    np.testing.assert_array_equal(g.mutual, mutual)
    assert g.mutual_pairs == mutual.sum() // 2
    np.testing.assert_array_equal(g.offline, np.bincount(src[met], minlength=g.n))
    local = g.town[src] == g.town[dst]
    np.testing.assert_array_equal(g.local_out, np.bincount(src[local], minlength=g.n))
    assert g.local_edges == local.sum()


def test_add_skips_self_and_duplicate_follows():
    g = graph()
    added = g.add([0, 1, 2, 2, 0, 1], [1, 0, 2, 3, 1, 2], step=5)
    np.testing.assert_array_equal(added, [True, True, False, True, False, True])
    assert live(g) == {(0, 1), (1, 0), (2, 3), (1, 2)}
    np.testing.assert_array_equal(g.follows([0, 1, 3, 2], [1, 0, 2, 2]), [True, True, False, False])
    e = g.find([0, 2], [1, 3])
    assert np.all(e >= 0) and g.since[e].tolist() == [5, 5]
    assert g.mutual[0] == g.mutual[1] == 1 and g.mutual_pairs == 1
    assert_counters_match_edges(g)


def test_met_marks_an_existing_follow_as_offline():
    g = graph()
    g.add([0], [1], step=0)
    g.add([0, 3], [1, 4], step=1, met=True)
    e = g.find([0, 3], [1, 4])
    assert g.met[e].all() and g.since[e].tolist() == [0, 1]  # the follow keeps its date
    assert g.offline[0] == g.offline[3] == 1
    assert_counters_match_edges(g)


def test_remove_leaves_tombstones_that_find_skips_and_add_reuses():
    g = graph()
    g.add([0, 0, 1, 2], [1, 2, 0, 0], step=0)
    g.remove(g.find([0, 1], [1, 0]))
    assert live(g) == {(0, 2), (2, 0)}
    assert g.counters[N_TOMB] == 2 and g.used == 4  # dead slots stay until compaction
    np.testing.assert_array_equal(g.find([0, 1, 0], [1, 0, 2]) >= 0, [False, False, True])
    g.remove(g.find([0], [2]))  # removing twice is harmless: dead slots are skipped
    g.remove(np.array([g.used - 4]))
    g.add([0], [1], step=3)  # the key's tombstone is reused
    assert g.counters[N_TOMB] == 2 and g.follows([0], [1])[0]
    assert_counters_match_edges(g)


def test_remove_members_removes_every_follow_from_or_to_them():
    g = graph()
    g.add([0, 1, 2, 3, 4], [1, 2, 3, 4, 0], step=0)
    g.remove_members(np.array([1, 3]))
    assert live(g) == {(4, 0)}
    assert_counters_match_edges(g)


def test_compaction_keeps_every_follow_and_its_data():
    rng = np.random.default_rng(0)
    g = graph(n=200, towns=5)
    src, dst = rng.integers(0, 200, 3000), rng.integers(0, 200, 3000)
    added = g.add(src, dst, step=1)
    g.add(src[:100], dst[:100], step=2, met=True)
    idx = g.alive_index()
    g.familiarity[idx] = rng.random(idx.size).astype(np.float32)
    g.closeness[idx] = rng.random(idx.size).astype(np.float32)
    g.since[idx] = rng.integers(0, 50, idx.size)
    g.remove(rng.choice(idx, 900, replace=False))

    def per_edge(g):
        i = g.alive_index()
        return {(int(g.src[e]), int(g.dst[e])): (g.since[e], g.familiarity[e], g.closeness[e], g.met[e]) for e in i}

    before = per_edge(g)
    assert len(before) == added.sum() - 900
    g.compact(force=True)
    assert per_edge(g) == before
    assert g.used == g.n_edges == g.sorted_until and g.counters[N_TOMB] == 0
    key = g.src[: g.used].astype(np.int64) * g.n + g.dst[: g.used]
    assert np.all(np.diff(key) > 0)  # sorted by (follower, followee)
    # the index points at the new slots
    pairs = np.array(sorted(before))
    e = g.find(pairs[:, 0], pairs[:, 1])
    np.testing.assert_array_equal(g.src[e], pairs[:, 0])
    np.testing.assert_array_equal(g.dst[e], pairs[:, 1])
    assert_counters_match_edges(g)
    # each member's followees are a contiguous run of the sorted slots
    rows = g.sorted_rows
    for i in range(g.n):
        assert np.all(g.src[rows[i]: rows[i + 1]] == i)


def test_compaction_waits_until_enough_is_dead_or_unsorted():
    g = graph(n=2000)
    g.add(np.arange(1999), np.arange(1, 2000), step=0)
    g.compact(force=True)
    g.remove(g.find([0], [1]))
    used = g.used
    g.compact()  # one dead follow of 1,999: not worth it
    assert g.used == used and g.counters[N_TOMB] == 1


def test_capacity_and_index_grow_and_rows_cover_every_follow():
    rng = np.random.default_rng(1)
    g = graph(n=500, capacity=1024)
    keys = g.keys.shape[0]
    for step in range(10):
        g.add(rng.integers(0, 500, 2000), rng.integers(0, 500, 2000), step=step)
        g.remove(g.alive_index()[rng.random(g.n_edges) < 0.1])
        if step == 4:
            g.compact(force=True)
    assert g.src.shape[0] > 1024 and g.keys.shape[0] > keys
    # the index is never more than half full, tombstones counted, and holds 12 bytes an entry
    assert (g.n_edges + g.counters[N_TOMB]) * 2 <= g.keys.shape[0]
    assert g.keys.itemsize + g.vals.itemsize == 12
    edges = live(g)
    pairs = np.array(sorted(edges))
    assert np.all(g.find(pairs[:, 0], pairs[:, 1]) >= 0)
    absent = [(a, b) for a, b in zip(rng.integers(0, 500, 3000).tolist(), rng.integers(0, 500, 3000).tolist())
              if (a, b) not in edges]
    assert not g.follows(*np.array(absent).T).any()
    assert_counters_match_edges(g)
    # rows(): the sorted prefix plus the recent follows give each member's live followees
    row_ptr, recent_ptr, recent = g.rows()
    seen = set()
    for i in range(g.n):
        slots = np.concatenate([np.arange(row_ptr[i], row_ptr[i + 1]), recent[recent_ptr[i]: recent_ptr[i + 1]]])
        seen |= {(i, int(g.dst[e])) for e in slots if g.alive[e]}
    assert seen == edges
    csr = g.followees_csr()
    assert {(i, int(f)) for i in range(g.n) for f in csr.followee[csr.indptr[i]: csr.indptr[i + 1]]} == edges


def test_a_graph_past_its_slot_limit_says_so(monkeypatch):
    monkeypatch.setattr(graph_module, "MAX_SLOTS", 100)
    g = graph(n=100)
    g.add(np.arange(40), np.arange(1, 41), step=0)
    with pytest.raises(MemoryError, match="at most 100 follows"):
        g.add(np.arange(70), np.arange(1, 71), step=1)


@pytest.mark.parametrize("followers, allowed", [(0, 3), (3, 3), (4, 6)])
def test_the_follow_cap(followers, allowed):
    """With cap 3, a member with at most 3 followers follows at most 3 accounts; with more, any number."""
    g = graph(n=30)
    g.add(np.arange(10, 10 + followers), np.zeros(followers, np.int64), step=0)
    added = g.add(np.zeros(6, np.int64), np.arange(1, 7), step=1, cap=3)
    assert added.sum() == allowed and g.out_deg[0] == allowed
    assert added[:allowed].all()  # in order: the first ones get in
    assert g.add([0] * 6, list(range(1, 7)), step=1, cap=0).sum() == 6 - allowed  # no cap


def test_follow_cap_lifts_when_followers_arrive_within_one_batch():
    g = graph(n=30)
    g.add([0, 0], [1, 2], step=0)
    # 0 is at the cap of 2 until its third follower arrives, in the same batch
    added = g.add([0, 10, 11, 12, 0], [3, 0, 0, 0, 4], step=1, cap=2)
    np.testing.assert_array_equal(added, [False, True, True, True, True])


def test_state_round_trip_keeps_follows_and_data():
    rng = np.random.default_rng(2)
    g = graph(n=100)
    g.add(rng.integers(0, 100, 800), rng.integers(0, 100, 800), step=3, met=False)
    g.add([1, 2], [2, 1], step=4, met=True)
    idx = g.alive_index()
    g.closeness[idx] = rng.random(idx.size).astype(np.float32)
    h = FollowGraph.from_state(g.n, g.town, g.state())
    assert live(h) == live(g)
    pairs = np.array(sorted(live(g)))
    a, b = g.find(*pairs.T), h.find(*pairs.T)
    for name in ("since", "familiarity", "closeness", "met"):
        np.testing.assert_array_equal(getattr(g, name)[a], getattr(h, name)[b])
    assert_counters_match_edges(h)
