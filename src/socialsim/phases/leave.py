"""Leave: members go quiet at a base rate (early elite adopters more so once the platform is mainstream),
and quiet members leave after a while, taking their follows with them."""

from __future__ import annotations

import numpy as np

from .. import rules
from ..params import Params
from ..state import ACTIVE, LEFT, QUIET, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    lv, pop, g = params.leaving, state.pop, state.graph
    if state.mainstream_since < 0 and state.is_member.sum() >= lv.mainstream_share * state.n:
        state.mainstream_since = state.step
    mainstream = state.mainstream_since >= 0
    early_elite = state.elite & (state.joined_step >= 0)
    if mainstream:
        early_elite &= state.joined_step <= state.mainstream_since
    p = rules.quiet_probability(early_elite, mainstream, lv.quiet_rate, lv.elite_exit_rate)
    quiet = (state.status == ACTIVE) & (rng.random(state.n) < p)
    state.status[quiet] = QUIET
    state.online[quiet] = False
    state.quiet_since[quiet] = state.step
    gone = np.flatnonzero((state.status == QUIET) & (state.step - state.quiet_since >= lv.quiet_steps))
    state.left_now = gone
    state.counts.left = len(gone)
    if gone.size == 0:
        return
    state.status[gone] = LEFT
    state.left_step[gone] = state.step
    state.followers_at_exit[gone] = g.in_deg[gone]
    g.remove_members(gone)
    np.subtract.at(state.member_contacts, pop.contact_pairs(gone)[1], 1)
