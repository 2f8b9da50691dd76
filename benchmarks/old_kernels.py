"""The read and attach kernels as they were before they were split into named steps, kept only so that
``benchmarks/run.py --only kernels`` can time the old and the new code in one process (and check that they
give the same results). Not part of the package; do not import it from socialsim."""

import numpy as np
from numba import njit

from socialsim.graph import _mix


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


@njit(cache=True)
def _tree_add(tree, i, delta):
    i += 1
    while i < tree.shape[0]:
        tree[i] += delta
        i += i & (-i)


@njit(cache=True)
def _tree_find(tree, u, top_bit):
    """Smallest index whose prefix sum of weights exceeds u (a Fenwick-tree descent)."""
    pos = 0
    bit = top_bit
    while bit > 0:
        nxt = pos + bit
        if nxt < tree.shape[0] and tree[nxt] <= u:
            pos = nxt
            u -= tree[nxt]
        bit >>= 1
    return pos


@njit(cache=True)
def _tree_build(weight):
    n = weight.shape[0]
    tree = np.zeros(n + 1)
    for i in range(n):
        tree[i + 1] += weight[i]
        parent = (i + 1) + ((i + 1) & (-(i + 1)))
        if parent <= n:
            tree[parent] += tree[i + 1]
    return tree


@njit(cache=True)
def _attach_kernel(seed, joiners, weight, member, fitness, m, grow):
    """Follows (src, dst) made by the joiners in turn; ``weight`` is updated in place as degrees grow."""
    np.random.seed(seed)
    n = weight.shape[0]
    top_bit = 1
    while top_bit * 2 <= n:
        top_bit *= 2
    if weight.sum() <= 0:
        for i in range(n):
            weight[i] = 1.0 if member[i] else 0.0
        uniform_fallback = True
    else:
        uniform_fallback = False
    tree = _tree_build(weight)
    positive = 0
    for i in range(n):
        if weight[i] > 0:
            positive += 1
    src = np.empty(joiners.shape[0] * m, np.int64)
    dst = np.empty(joiners.shape[0] * m, np.int64)
    drawn = np.empty(m, np.int64)
    saved = np.empty(m)
    k = 0
    for jj in range(joiners.shape[0]):
        j = joiners[jj]
        own = weight[j]
        if own > 0:
            _tree_add(tree, j, -own)
            weight[j] = 0.0
        available = positive - (1 if own > 0 else 0)
        mj = min(m, available)
        for t in range(mj):
            while True:
                total = 0.0
                i = n
                while i > 0:  # prefix sum of everything = the total weight left
                    total += tree[i]
                    i -= i & (-i)
                idx = _tree_find(tree, np.random.random() * total, top_bit)
                if idx < n and weight[idx] > 0:
                    break
            drawn[t] = idx
            saved[t] = weight[idx]
            _tree_add(tree, idx, -weight[idx])  # not again for this newcomer
            weight[idx] = 0.0
        for t in range(mj):
            _tree_add(tree, drawn[t], saved[t])
            weight[drawn[t]] = saved[t]
            src[k] = j
            dst[k] = drawn[t]
            k += 1
        if own > 0:
            _tree_add(tree, j, own)
            weight[j] = own
        if grow and not uniform_fallback:
            # the new follows raise the total degree of the followees and of the newcomer
            for t in range(mj):
                _tree_add(tree, drawn[t], fitness[drawn[t]])
                weight[drawn[t]] += fitness[drawn[t]]
            if mj > 0:
                if weight[j] <= 0 and fitness[j] > 0:
                    positive += 1
                _tree_add(tree, j, fitness[j] * mj)
                weight[j] += fitness[j] * mj
        elif grow and uniform_fallback and mj > 0:
            # nobody had a degree: from now on the degrees made so far weigh, as in the non-fallback case
            for i in range(n):
                weight[i] = 0.0
            for q in range(k):
                weight[src[q]] += fitness[src[q]]
                weight[dst[q]] += fitness[dst[q]]
            tree = _tree_build(weight)
            positive = 0
            for i in range(n):
                if weight[i] > 0:
                    positive += 1
            uniform_fallback = False
    return src[:k], dst[:k]
