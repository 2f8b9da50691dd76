"""Join: Bass-style adoption (openness x reach-weighted spontaneous joining, plus imitation of offline contacts)."""

from __future__ import annotations

import numpy as np

from .. import rules
from ..params import Params
from ..state import ACTIVE, OUTSIDE, State


def seed(state: State, params: Params, rng: np.random.Generator) -> None:
    """The first members, on the platform at step 0: drawn by reach (as early adopters are)."""
    a = params.adoption
    if a.arrivals_per_step > 0:
        first = np.arange(a.seed_members)
    else:
        w = rules.elite_weight(state.pop.reach_z, a.elite_early_adoption)
        first = rng.choice(state.n, size=a.seed_members, replace=False, p=w / w.sum())
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
    """Classic attachment: each newcomer follows m members chosen uniformly, by degree, or by skill x degree."""
    a, g = params.adoption, state.graph
    pool = state.members()
    for j in joiners:
        others = pool[pool != j]
        if others.size == 0:
            continue
        m = min(a.attachment_links, others.size)
        if a.attachment == "uniform":
            w = None
        else:
            degree = (g.in_deg[others] + g.out_deg[others]).astype(float)
            if a.attachment == "fitness":
                degree = degree * state.pop.skill[others]
            w = degree / degree.sum() if degree.sum() > 0 else None
        targets = rng.choice(others, size=m, replace=False, p=w)
        g.add(np.full(m, j), targets, state.step, cap=params.platform.follow_cap)

