"""Engage: readers like, reply and reshare; authors answer replies (within a daily budget under
intimacy.close_rule=budget); reading builds familiarity."""

from __future__ import annotations

import numpy as np
from numba import njit

from .. import rules
from ..graph import CONTENT
from ..params import Params
from ..state import Reshares, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Readers of this step's timeline like, reply and reshare; answered replies bring both sides closer."""
    b, g, pop, tl = params.behaviour, state.graph, state.pop, state.timeline
    c = state.counts
    c.items_read, c.nonfollower_read = len(tl), 0
    c.replies = c.answered = c.reshares = 0
    state.reply_pairs = (tl.reader[:0], tl.author[:0])
    if len(tl) == 0:
        return
    # impressions, and familiarity growing one-sidedly toward the authors one follows and reads (at most one post
    # each per step, so each follow's familiarity grows once)
    stranger = _tally_reads(tl.author, tl.edge, state.impressions, state.nonfollower_impressions, g.familiarity,
                            np.float32(params.intimacy.familiarity_gain))
    c.nonfollower_read = stranger.size

    engaged = np.flatnonzero(rng.random(len(tl)) < rules.engage_probability(tl.appeal, b.engage_base, b.engage_slope))
    _count(state.engagements, tl.author, engaged)
    # one draw per item keeps the random stream independent of who engaged; only the engaged need a rule
    budget = params.intimacy.close_rule == "budget"
    u = rng.random(len(tl))[engaged]
    # under the budget rule every engagement is a candidate reply (the shy hold back) and the budget decides
    reply = engaged[u < rules.reply_probability(pop.shyness[tl.reader[engaged]], 1.0 if budget else b.reply_share)]
    u = rng.random(len(tl))
    if budget:
        reply, answered, back = _within_budgets(state, params, rng, reply, u)
    else:
        answered = reply[u[reply] < rules.answer_probability(pop.shyness[tl.author[reply]], b.answer_prob)]
        back = g.find(tl.author[answered], tl.reader[answered])
    state.reply_pairs = (tl.reader[reply], tl.author[reply])
    _count(state.replies_sent, tl.reader, reply)
    # an answered reply is two-way contact: closeness grows on both sides' follows, where they exist
    _grow(g.closeness, g.find(tl.reader[answered], tl.author[answered]), back,
          float(params.intimacy.closeness_gain_reply))

    if params.platform.reshares:
        p = rules.reshare_probability(tl.appeal, b.reshare_base, b.reshare_slope)
        share = rng.random(len(tl)) < p
        state.reshares_new = Reshares(tl.reader[share], tl.author[share], tl.appeal[share], tl.born[share])
    # a reshare exposes readers to authors they do not follow
    author = tl.author[stranger]
    state.expose(tl.reader[stranger], author,
                 rules.follow_probability(tl.appeal[stranger], pop.reach[author], b.follow_base, b.follow_slope,
                                          b.prominence), CONTENT)
    c.replies, c.answered, c.reshares = len(reply), len(answered), len(state.reshares_new.author)


def _within_budgets(state: State, params: Params, rng: np.random.Generator, reply, u):
    """close_rule=budget: each reader sends at most ``reply_budget`` of the replies it would write, and each
    author answers at most ``reply_budget`` of the replies it would answer, the closest ties first.
    Returns (replies sent, replies answered, slots of the authors' follows of the repliers)."""
    it, g, tl = params.intimacy, state.graph, state.timeline
    explore_reply, explore_answer = rng.random(len(tl)), rng.random(len(tl))
    own = tl.edge[reply]
    closeness = np.where(own >= 0, g.closeness[np.maximum(own, 0)], 0.0)
    reply = reply[rules.within_budget(tl.reader[reply], rules.interaction_priority(
        closeness, explore_reply[reply], it.exploration), it.reply_budget)]
    willing = reply[u[reply] < rules.answer_probability(state.pop.shyness[tl.author[reply]],
                                                        params.behaviour.answer_prob)]
    back = g.find(tl.author[willing], tl.reader[willing])
    closeness = np.where(back >= 0, g.closeness[np.maximum(back, 0)], 0.0)
    keep = rules.within_budget(tl.author[willing], rules.interaction_priority(
        closeness, explore_answer[willing], it.exploration), it.reply_budget)
    return reply, willing[keep], back[keep]


@njit(cache=True)
def _tally_reads(author, edge, impressions, nonfollower_impressions, familiarity, gain):
    """Count each item read as an impression of its author (and a non-follower one when ``edge`` < 0); add
    ``gain`` (float32, as numpy adds a Python float to a float32 array) to the familiarity of each follow read.
    Returns the items read by non-followers (ascending)."""
    strangers = np.empty(author.shape[0], np.int64)
    m = 0
    for i in range(author.shape[0]):
        impressions[author[i]] += 1
        if edge[i] < 0:
            nonfollower_impressions[author[i]] += 1
            strangers[m] = i
            m += 1
        else:
            familiarity[edge[i]] += gain
    return strangers[:m].copy()


@njit(cache=True)
def _count(counter, who, items):
    """Add one to ``counter[who[i]]`` for each ``i`` in ``items``."""
    for i in items:
        counter[who[i]] += 1


@njit(cache=True)
def _grow(closeness, forward, back, gain):
    """Add ``gain`` to the closeness of each follow in ``forward``, then in ``back`` (slots; -1: no follow), one
    after another as ``np.add.at`` does, and rounded as it rounds: ``np.add.at`` adds a Python float to a float32
    array in float64 and rounds the sum to float32 (unlike ``+=``, which rounds the gain first), so ``gain`` is a
    float64 here."""
    for e in forward:
        if e >= 0:
            closeness[e] += gain
    for e in back:
        if e >= 0:
            closeness[e] += gain
