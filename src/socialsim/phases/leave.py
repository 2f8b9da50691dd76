"""Leave: members go quiet at a base rate, more so when the share of their followers whom they value has fallen
below what they came to expect (leaving.exit_rule=audience; under exit_rule=imposed, early elite adopters once
the platform is mainstream), and quiet members leave after a while, taking their follows with them."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..params import Params
from ..state import ACTIVE, LEFT, QUIET, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Members go quiet by the exit rule (``leaving.exit_rule``); those quiet for ``quiet_steps`` leave."""
    lv, pop, g = params.leaving, state.pop, state.graph
    if state.mainstream_since < 0 and state.members().size >= lv.mainstream_share * state.n:
        state.mainstream_since = state.step
    if lv.exit_rule == "imposed":
        mainstream = state.mainstream_since >= 0
        early_elite = state.elite & (state.joined_step >= 0)
        if mainstream:
            early_elite &= state.joined_step <= state.mainstream_since
        p = rules.quiet_probability(early_elite, mainstream, lv.quiet_rate, lv.elite_exit_rate)
    else:
        p = rules.audience_quiet_probability(*update_audience(state, params), lv.quiet_rate, lv.tolerance,
                                             lv.disappointment_exit)
    gone = _go_quiet(state.status, state.online, state.quiet_since, rng.random(state.n),
                     np.asarray(p, float), state.step, lv.quiet_steps)
    state.left_now = gone
    state.counts.left = len(gone)
    if gone.size == 0:
        return
    state.status[gone] = LEFT
    state.left_step[gone] = state.step
    state.followers_at_exit[gone] = g.in_deg[gone]
    g.remove_members(gone)
    _forget_contacts(pop.contacts_indptr, pop.contacts, gone, state.member_contacts)


def update_audience(state: State, params: Params) -> tuple[np.ndarray, np.ndarray]:
    """Each active member with followers updates what they expect of their audience; returns (the valued-audience
    share now, the expected share) for every person."""
    g = state.graph
    share = rules.valued_audience_share(g.mutual[: state.n], g.in_deg[: state.n])
    seen = (state.status == ACTIVE) & (g.in_deg[: state.n] > 0)
    state.audience_expected[seen] = rules.update_expectation(state.audience_expected[seen], share[seen],
                                                             params.leaving.expectation_memory)
    return share, state.audience_expected


@njit(cache=True)
def _go_quiet(status, online, quiet_since, u, p, step, quiet_steps):
    """Active members with ``u < p`` go quiet (offline, from this step); returns those quiet for ``quiet_steps``
    steps, who leave now (ascending)."""
    gone = np.empty(status.shape[0], np.int64)
    m = 0
    for i in range(status.shape[0]):
        if status[i] == ACTIVE and u[i] < p[i]:
            status[i] = QUIET
            online[i] = False
            quiet_since[i] = step
        if status[i] == QUIET and step - quiet_since[i] >= quiet_steps:
            gone[m] = i
            m += 1
    return gone[:m].copy()


@njit(cache=True)
def _forget_contacts(indptr, contacts, gone, member_contacts):
    """Take one from ``member_contacts`` of each offline contact of those who left (once per leaver)."""
    for p in gone:
        for k in range(indptr[p], indptr[p + 1]):
            member_contacts[contacts[k]] -= 1
