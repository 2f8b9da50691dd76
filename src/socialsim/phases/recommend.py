"""Recommend: who-to-follow suggestions, k slots per online member, from a mixture of base recommenders.

Base recommenders: random (open discovery), popularity (preferential attachment),
friends_of_friends (triadic closure), local (same town), newcomer (recent joiners).
The named settings are mixtures: ``newcomer_boost`` gives a share of slots to
newcomers and the rest to popularity; ``mixture`` takes ``platform.recommender_mix``.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..graph import SUGGESTED
from ..params import BASE_RECOMMENDERS, Params
from ..state import ACTIVE, State


def mixture_weights(params: Params) -> dict[str, float]:
    """The normalised weights of the base recommenders in use, keyed in the order of ``BASE_RECOMMENDERS``
    whatever the order of the user's ``platform.recommender_mix``: the slots are drawn in this order, and
    the configuration hash (like summary.json) sorts the keys, so equal weights must give equal runs."""
    pl = params.platform
    if pl.recommender == "none" or pl.recommender_slots == 0:
        return {}
    if pl.recommender == "mixture":
        mix = pl.recommender_mix
    elif pl.recommender == "newcomer_boost":
        mix = {"popularity": 1.0 - pl.newcomer_share, "newcomer": pl.newcomer_share}
    else:
        mix = {pl.recommender: 1.0}
    total = sum(mix.values())
    return {k: mix[k] / total for k in BASE_RECOMMENDERS if mix.get(k, 0) > 0}


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Each online member gets ``platform.recommender_slots`` suggestions, each a chance to follow."""
    weights = mixture_weights(params)
    readers = np.flatnonzero(state.online)
    if not weights or readers.size == 0:
        return
    k = params.platform.recommender_slots
    reader = np.repeat(readers, k)
    names = list(weights)  # canonical order (BASE_RECOMMENDERS), not the order the mix was given in
    kind = slot_kinds(rng, [weights[x] for x in names], reader.size)
    pool = np.flatnonzero(state.status == ACTIVE)
    if len(names) == 1:
        candidate = SUGGEST[names[0]](state, params, reader, pool, rng)
    else:
        candidate = np.full(reader.size, -1, np.int64)
        for i, name in enumerate(names):
            sel = np.flatnonzero(kind == i)
            if sel.size:
                candidate[sel] = SUGGEST[name](state, params, reader[sel], pool, rng)
    # the lookup of "no candidate" (-1) finds some follow of the reader's or none; _new_suggestions drops it anyway
    slot = state.graph.find(reader, np.maximum(candidate, 0))
    reader, candidate = _new_suggestions(reader, candidate, slot)
    b, pop = params.behaviour, state.pop
    # a suggestion is judged on what the account is like: its author's skill stands in for appeal
    state.expose(reader, candidate, rules.follow_probability(pop.skill[candidate], pop.reach[candidate],
                                                             b.follow_base, b.follow_slope, b.prominence),
                 SUGGESTED)


def slot_kinds(rng: np.random.Generator, weights: list[float], size: int) -> np.ndarray:
    """Which base recommender fills each of ``size`` slots: ``rng.choice(len(weights), size, p=weights)``, the
    same values from the same draws (one uniform each, placed in the normalised cumulative weights), without
    ``choice``'s checks of its arguments, which cost more than the draws at a few hundred slots."""
    cdf = np.cumsum(weights)
    cdf /= cdf[-1]
    return cdf.searchsorted(rng.random(size), side="right")


def _uniform(pool: np.ndarray, size: int, rng) -> np.ndarray:
    if pool.size == 0:
        return np.full(size, -1, np.int64)
    return pool[rng.integers(pool.size, size=size)]


def suggest_random(state, params, reader, pool, rng):
    """One member of ``pool`` per reader, uniformly at random (-1 where the pool is empty)."""
    return _uniform(pool, reader.size, rng)


def suggest_popularity(state, params, reader, pool, rng):
    """One member of ``pool`` per reader, drawn in proportion to followers + 1."""
    if pool.size == 0:
        return np.full(reader.size, -1, np.int64)
    cum = np.cumsum(state.graph.in_deg[pool] + 1.0)
    return pool[np.searchsorted(cum, rng.random(reader.size) * cum[-1], side="right").clip(max=pool.size - 1)]


def suggest_friends_of_friends(state, params, reader, pool, rng):
    """For each reader, a followee of a followee, drawn at random (-1 where there is none)."""
    g = state.graph
    csr = g.followees_csr()

    def random_followee(who):
        deg = csr.indptr[who + 1] - csr.indptr[who]
        pick = csr.indptr[who] + (rng.random(who.size) * deg).astype(np.int64)
        out = np.full(who.size, -1, np.int64)
        has = deg > 0
        out[has] = csr.followee[pick[has]]
        return out

    friend = random_followee(reader)
    out = np.full(reader.size, -1, np.int64)
    has = friend >= 0
    out[has] = random_followee(friend[has])
    return out


def suggest_local(state, params, reader, pool, rng):
    """For each reader, a member of the pool from the reader's own town, drawn at random."""
    town = state.pop.town
    order = pool[np.argsort(town[pool], kind="stable")]
    starts = np.searchsorted(town[order], np.arange(params.population.towns + 1))
    t = town[reader]
    size = starts[t + 1] - starts[t]
    out = np.full(reader.size, -1, np.int64)
    has = size > 0
    out[has] = order[starts[t[has]] + (rng.random(int(has.sum())) * size[has]).astype(np.int64)]
    return out


def suggest_newcomer(state, params, reader, pool, rng):
    """For each reader, a member of the pool who joined within ``platform.newcomer_window`` steps."""
    recent = pool[state.joined_step[pool] >= state.step - params.platform.newcomer_window]
    return _uniform(recent, reader.size, rng)


SUGGEST = {name: globals()[f"suggest_{name}"] for name in BASE_RECOMMENDERS}


@njit(cache=True)
def _new_suggestions(reader, candidate, slot):
    """The (reader, candidate) pairs with a candidate (>= 0) other than the reader whom the reader does not
    follow yet (``slot`` < 0: the slot of the follow, if any), in their order."""
    keep = np.empty(reader.shape[0], np.int64)
    m = 0
    for j in range(reader.shape[0]):
        if candidate[j] >= 0 and candidate[j] != reader[j] and slot[j] < 0:
            keep[m] = j
            m += 1
    keep = keep[:m]
    return reader[keep], candidate[keep]
