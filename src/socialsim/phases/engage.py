"""Engage: readers like, reply and reshare; authors answer replies; reading builds familiarity."""

from __future__ import annotations

import numpy as np

from .. import rules
from ..graph import CONTENT
from ..params import Params
from ..state import Reshares, State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Readers of this step's timeline like, reply and reshare; answered replies bring both sides closer."""
    b, g, pop, tl = params.behaviour, state.graph, state.pop, state.timeline
    n = state.n
    c = state.counts
    c.items_read, c.nonfollower_read = len(tl), int((tl.edge < 0).sum())
    c.replies = c.answered = c.reshares = 0
    if len(tl) == 0:
        return
    state.impressions += np.bincount(tl.author, minlength=n)
    state.nonfollower_impressions += np.bincount(tl.author[tl.edge < 0], minlength=n)
    # familiarity grows one-sidedly toward the authors one follows and reads (at most one post each per step)
    followed = tl.edge[tl.edge >= 0]
    g.familiarity[followed] += params.intimacy.familiarity_gain

    engaged = np.flatnonzero(rng.random(len(tl)) < rules.engage_probability(tl.appeal, b.engage_base, b.engage_slope))
    state.engagements += np.bincount(tl.author[engaged], minlength=n)
    # one draw per item keeps the random stream independent of who engaged; only the engaged need a rule
    u = rng.random(len(tl))[engaged]
    reply = engaged[u < rules.reply_probability(pop.shyness[tl.reader[engaged]], b.reply_share)]
    u = rng.random(len(tl))[reply]
    state.replies_sent += np.bincount(tl.reader[reply], minlength=n)
    answered = reply[u < rules.answer_probability(pop.shyness[tl.author[reply]], b.answer_prob)]
    # an answered reply is two-way contact: closeness grows on both sides' follows, where they exist
    pair_r, pair_a = tl.reader[answered], tl.author[answered]
    edges = np.concatenate([g.find(pair_r, pair_a), g.find(pair_a, pair_r)])
    np.add.at(g.closeness, edges[edges >= 0], params.intimacy.closeness_gain_reply)

    if params.platform.reshares:
        p = rules.reshare_probability(tl.appeal, b.reshare_base, b.reshare_slope)
        share = rng.random(len(tl)) < p
        state.reshares_new = Reshares(tl.reader[share], tl.author[share], tl.appeal[share], tl.born[share])
    # a reshare exposes readers to authors they do not follow
    stranger = tl.edge < 0
    author = tl.author[stranger]
    state.expose(tl.reader[stranger], author,
                 rules.follow_probability(tl.appeal[stranger], pop.reach[author], b.follow_base, b.follow_slope,
                                          b.prominence), CONTENT)
    c.replies, c.answered, c.reshares = len(reply), len(answered), len(state.reshares_new.author)
