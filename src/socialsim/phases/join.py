"""Join: Bass-style adoption (openness x reach-weighted spontaneous joining, plus imitation of offline contacts)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..params import Params
from ..state import ACTIVE, OUTSIDE, State


def seed(state: State, params: Params, rng: np.random.Generator) -> None:
    """The first members, on the platform at step 0: drawn by reach (as early adopters are).

    Under a fixed arrival rate (``adoption.arrivals_per_step`` > 0, the classic growth models) the first
    members are people 0 .. seed_members - 1, the rest join in index order. Under a classic attachment rule
    the seed is wired uniformly at random (each seed member follows ``attachment_links`` other seed members):
    the m0-member starting network of Barabasi-Albert, and with seed_members = population.size the whole
    Erdos-Renyi network.
    """
    a = params.adoption
    if a.arrivals_per_step > 0:
        first = np.arange(a.seed_members)
    else:
        w = rules.elite_weight(state.pop.reach_z, a.elite_early_adoption)
        first = rng.choice(state.n, size=a.seed_members, replace=False, p=w / w.sum())
    if a.attachment not in ("behaviour", "uniform"):
        params = params.replace(**{"adoption.attachment": "uniform"})
    join(state, params, np.sort(first), rng)


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    a, pl, pop = params.adoption, params.platform, state.pop
    outside = np.flatnonzero(state.status == OUTSIDE)
    if a.arrivals_per_step > 0:
        # the classic growth models: a fixed number of newcomers per step, in index order
        joiners = outside[: a.arrivals_per_step]
    else:
        degree = np.diff(pop.contacts_indptr)[outside]
        contacts_on = state.member_contacts[outside]
        p = rules.join_probability(pl.openness, a.spontaneous_rate, a.imitation_rate,
                                   rules.elite_weight(pop.reach_z[outside], a.elite_early_adoption),
                                   contacts_on / np.maximum(degree, 1), pl.invite_only, contacts_on > 0)
        joiners = outside[rng.random(outside.size) < p]
    join(state, params, joiners, rng)


def join(state: State, params: Params, joiners: np.ndarray, rng: np.random.Generator) -> None:
    """Make people members; they start by following offline contacts already there (and are followed back)."""
    state.joined_now = joiners
    state.counts.joined = len(joiners)
    if joiners.size == 0:
        return
    pop = state.pop
    state.status[joiners] = ACTIVE
    state.joined_step[joiners] = state.step
    state.join_order[joiners] = state.n_joined + rng.permutation(joiners.size)
    state.n_joined += joiners.size
    owner, contact = pop.contact_pairs(joiners)
    np.add.at(state.member_contacts, contact, 1)
    if params.adoption.attachment != "behaviour":
        attach(state, params, joiners, rng)
        return
    on = state.is_member[contact]
    owner, contact = owner[on], contact[on]
    p = params.behaviour.offline_follow_prob
    # the newcomer follows friends already there, and friends follow the newcomer
    state.expose(owner, contact, p)
    state.expose(contact, owner, p)


def attach(state: State, params: Params, joiners: np.ndarray, rng: np.random.Generator) -> None:
    """Classic attachment: each newcomer, in turn, follows m distinct members drawn with weight

    - ``uniform`` (Erdos-Renyi): 1;
    - ``preferential`` (Barabasi-Albert): total degree, followers + followees;
    - ``fitness`` (Bianconi-Barabasi): skill x total degree.

    Newcomers of one step attach one after another, in ``join_order``, and see each other's follows (the
    newcomer's own degree becomes m), so k arrivals in a step are the same process as one arrival in each of
    k steps. The m targets
    are drawn one by one in proportion to weight among the members not yet drawn (as
    ``rng.choice(replace=False, p=...)`` would). Only when no member has a positive weight are members drawn
    uniformly; when fewer than m have one, the newcomer follows just those.
    """
    a, g = params.adoption, state.graph
    joiners = np.asarray(joiners, np.int64)
    if joiners.size == 0:
        return
    joiners = joiners[np.argsort(state.join_order[joiners], kind="stable")]  # attach in join order
    member = state.is_member
    if a.attachment == "uniform":
        fitness = np.ones(state.n)
        weight = member.astype(np.float64)
    else:
        fitness = state.pop.skill.astype(np.float64) if a.attachment == "fitness" else np.ones(state.n)
        weight = np.where(member, (g.in_deg + g.out_deg) * fitness, 0.0)
    src, dst = _attach_kernel(int(rng.integers(2**62)), joiners, weight, member, fitness,
                              int(a.attachment_links), a.attachment != "uniform")
    g.add(src, dst, state.step, cap=params.platform.follow_cap)


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
