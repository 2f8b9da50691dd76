"""Join: Bass-style adoption (openness x reach-weighted spontaneous joining, plus imitation of offline contacts)."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..graph import CLASSIC, OFFLINE
from ..params import Params
from ..state import ACTIVE, OUTSIDE, QUIET, State


def seed(state: State, params: Params, rng: np.random.Generator) -> None:
    """The first members, on the platform at step 0: drawn by reach (as early adopters are).

    Under a fixed arrival rate (``adoption.arrivals_per_step`` > 0, the classic growth models) the first
    members are people 0 .. seed_members - 1, the rest join in index order. Under a classic attachment rule
    the seed is wired uniformly at random (each seed member follows ``attachment_links`` other seed members):
    the m0-member starting network of Barabasi-Albert, and with seed_members = population.size the whole
    Erdos-Renyi network.
    """
    a = params.adoption
    first = rules.first_members(rng, state.pop.reach_z, a.seed_members, a.elite_early_adoption, a.arrivals_per_step)
    if a.attachment not in ("behaviour", "uniform"):
        params = params.replace(**{"adoption.attachment": "uniform"})
    join(state, params, np.sort(first), rng)


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Outsiders join (Bass adoption, or the classic growth rule's fixed arrivals) and follow their contacts."""
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
    # every contact of a newcomer counts one more contact on the platform
    owner, contact = _meet_contacts(pop.contacts_indptr, pop.contacts, np.asarray(joiners, np.int64),
                                    state.member_contacts, state.status)
    if params.adoption.attachment != "behaviour":
        attach(state, params, joiners, rng)
        return
    p = params.behaviour.offline_follow_prob
    # the newcomer follows friends already there, and friends follow the newcomer
    state.expose(owner, contact, p, OFFLINE)
    state.expose(contact, owner, p, OFFLINE)


def attach(state: State, params: Params, joiners: np.ndarray, rng: np.random.Generator) -> None:
    """Classic attachment: each newcomer, in turn, follows m distinct members drawn with weight

    - ``uniform`` (Erdos-Renyi): 1;
    - ``preferential`` (Barabasi-Albert): total degree, followers + followees;
    - ``fitness`` (Bianconi-Barabasi): skill x total degree;
    - ``homophilic_preferential`` (PAH, Karimi et al. 2018): h_ab x total degree, where h_ab is
      ``population.homophily`` for a member of the newcomer's own group and 1 - h for the other group
      (see :func:`_homophilic_attach_kernel`).

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
    if a.attachment == "homophilic_preferential":
        groups = np.arange(2)
        h_ab = rules.homophily_weight(groups[:, None] == groups[None, :], params.population.homophily)
        src, dst = _homophilic_attach_kernel(int(rng.integers(2**62)), joiners, (g.in_deg + g.out_deg).astype(np.float64),
                                             member, state.pop.group, h_ab, int(a.attachment_links))
        g.add(src, dst, state.step, cap=params.platform.follow_cap, origin=CLASSIC)
        return
    if a.attachment == "uniform":
        fitness = np.ones(state.n)
        weight = member.astype(np.float64)
    else:
        fitness = state.pop.skill.astype(np.float64) if a.attachment == "fitness" else np.ones(state.n)
        weight = np.where(member, (g.in_deg + g.out_deg) * fitness, 0.0)
    src, dst = _attach_kernel(int(rng.integers(2**62)), joiners, weight, member, fitness,
                              int(a.attachment_links), a.attachment != "uniform")
    g.add(src, dst, state.step, cap=params.platform.follow_cap, origin=CLASSIC)


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


@njit(cache=True, inline="always")
def _tree_total(tree):
    """The sum of all weights: the prefix sum up to the last index."""
    total = 0.0
    i = tree.shape[0] - 1
    while i > 0:
        total += tree[i]
        i -= i & (-i)
    return total


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
def _weighted_tree(weight):
    """(Fenwick tree of the weights, number of positive weights)."""
    positive = 0
    for i in range(weight.shape[0]):
        if weight[i] > 0:
            positive += 1
    return _tree_build(weight), positive


@njit(cache=True, inline="always")
def _add_weight(tree, weight, i, delta):
    _tree_add(tree, i, delta)
    weight[i] += delta


@njit(cache=True, inline="always")
def _draw_distinct(tree, weight, top_bit, k, drawn, saved):
    """Draw k distinct indices one by one in proportion to weight among those not yet drawn (into drawn[:k]),
    then put their weights back (saved[:k] is scratch)."""
    n = weight.shape[0]
    for t in range(k):
        while True:
            idx = _tree_find(tree, np.random.random() * _tree_total(tree), top_bit)
            if idx < n and weight[idx] > 0:
                break
        drawn[t] = idx
        saved[t] = weight[idx]
        _add_weight(tree, weight, idx, -weight[idx])  # not again for this newcomer
    for t in range(k):
        _add_weight(tree, weight, drawn[t], saved[t])


@njit(cache=True)
def _degree_weights(weight, fitness, src, dst, k):
    """Weights fitness x total degree from the first k follows made (all other degrees are zero)."""
    weight[:] = 0.0
    for q in range(k):
        weight[src[q]] += fitness[src[q]]
        weight[dst[q]] += fitness[dst[q]]


@njit(cache=True)
def _attach_kernel(seed, joiners, weight, member, fitness, m, grow):
    """Follows (src, dst) made by the joiners in turn; ``weight`` is updated in place as degrees grow."""
    np.random.seed(seed)
    n = weight.shape[0]
    top_bit = 1
    while top_bit * 2 <= n:
        top_bit *= 2
    uniform_fallback = weight.sum() <= 0
    if uniform_fallback:
        for i in range(n):
            weight[i] = 1.0 if member[i] else 0.0
    tree, positive = _weighted_tree(weight)
    src = np.empty(joiners.shape[0] * m, np.int64)
    dst = np.empty(joiners.shape[0] * m, np.int64)
    drawn = np.empty(m, np.int64)
    saved = np.empty(m)
    k = 0
    for jj in range(joiners.shape[0]):
        j = joiners[jj]
        own = weight[j]
        if own > 0:  # the newcomer does not follow itself
            _add_weight(tree, weight, j, -own)
        mj = min(m, positive - (1 if own > 0 else 0))
        _draw_distinct(tree, weight, top_bit, mj, drawn, saved)
        for t in range(mj):
            src[k] = j
            dst[k] = drawn[t]
            k += 1
        if own > 0:
            _add_weight(tree, weight, j, own)
        if grow and not uniform_fallback:
            # the new follows raise the total degree of the followees and of the newcomer
            for t in range(mj):
                _add_weight(tree, weight, drawn[t], fitness[drawn[t]])
            if mj > 0:
                if weight[j] <= 0 and fitness[j] > 0:
                    positive += 1
                _add_weight(tree, weight, j, fitness[j] * mj)
        elif grow and uniform_fallback and mj > 0:
            # nobody had a degree: from now on the degrees made so far weigh, as in the non-fallback case
            _degree_weights(weight, fitness, src, dst, k)
            tree, positive = _weighted_tree(weight)
            uniform_fallback = False
    return src[:k], dst[:k]


@njit(cache=True)
def _homophilic_attach_kernel(seed, joiners, degree, member, group, h_ab, m):
    """Follows (src, dst) made by the joiners in turn under homophilic preferential attachment (PAH).

    Each newcomer j draws m distinct members b != j one after another, each with chance proportional to
    h_ab[g(j), g(b)] x degree(b) among those not yet drawn (``h_ab`` from :func:`socialsim.rules.homophily_weight`:
    h within a group, 1 - h across); when no member
    has a positive weight, with chance proportional to h_ab alone. Degrees (followers + followees) grow as the
    follows are made, so later newcomers see earlier ones'. A linear scan per draw: O(members) per link, meant
    for the reduction check's sizes.
    """
    np.random.seed(seed)
    n = degree.shape[0]
    src = np.empty(joiners.shape[0] * m, np.int64)
    dst = np.empty(joiners.shape[0] * m, np.int64)
    w = np.zeros(n)
    k = 0
    for jj in range(joiners.shape[0]):
        j = joiners[jj]
        total = 0.0
        for b in range(n):
            w[b] = 0.0
            if member[b] and b != j:
                w[b] = h_ab[group[j], group[b]] * degree[b]
                total += w[b]
        if total <= 0:
            for b in range(n):
                if member[b] and b != j:
                    w[b] = h_ab[group[j], group[b]]
                    total += w[b]
        made = 0
        for t in range(m):
            if total <= 0:
                break
            u = np.random.random() * total
            pick = -1
            acc = 0.0
            for b in range(n):
                if w[b] > 0:
                    acc += w[b]
                    pick = b
                    if acc > u:
                        break
            total -= w[pick]
            w[pick] = 0.0
            src[k] = j
            dst[k] = pick
            k += 1
            made += 1
        for q in range(k - made, k):
            degree[dst[q]] += 1.0
        degree[j] += made
    return src[:k], dst[:k]


@njit(cache=True)
def _meet_contacts(indptr, contacts, joiners, member_contacts, status):
    """Add one to ``member_contacts`` of each offline contact of the joiners (once per joiner); returns the
    (joiner, contact) pairs whose contact is a member, in the order of ``Population.contact_pairs``."""
    total = 0
    for p in joiners:
        total += indptr[p + 1] - indptr[p]
    owner = np.empty(total, np.int64)
    contact = np.empty(total, np.int64)
    m = 0
    for p in joiners:
        for k in range(indptr[p], indptr[p + 1]):
            c = contacts[k]
            member_contacts[c] += 1
            if status[c] == ACTIVE or status[c] == QUIET:
                owner[m] = p
                contact[m] = c
                m += 1
    return owner[:m].copy(), contact[:m].copy()
