"""ReferenceModel: the same platform written as a plain per-agent Mesa model, the executable specification.

Every person is a :class:`Person` (a ``mesa.Agent``) holding its own traits, its own
followees (a dict of :class:`Tie` records: since, familiarity, closeness, met) and its
own followers (a set). Nothing is vectorised: each person reads its own timeline,
engages item by item, settles its own chances to follow, and so on, calling the very
same functions in :mod:`socialsim.rules` as the fast model, on scalars. The
population is drawn by the same :func:`socialsim.population.generate` (setup, not a rule).

The phases of a step keep the fast model's order (``socialsim.phases.PHASES``). Within a
phase the people act one at a time in a random order (``AgentSet.shuffle_do``, Mesa 3's
replacement for staged activation): everyone posts before anyone reads, as in the fast
model. Joining, meetups and leaving need a view of the whole town or platform and run
at the model level, but still decide person by person.

It is slow on purpose (pure Python, dicts and sets). ``tests/test_reference.py`` checks
that the fast :class:`socialsim.model.PlatformModel` agrees with it in distribution, and
``benchmarks/run.py`` uses it as the yardstick for speed. Known, deliberate differences
of scheduling (not of rules) from the fast model:

* follows are settled follower by follower, so a follow-back sees the followee's
  follower count at that moment (the fast model adds a step's follows first, then
  decides the follow-backs on the counts after all of them);
* random numbers come from the model's ``random`` (scalars) rather than in batches
  from ``rng``, so the two engines agree in distribution, never run for run.
"""

from __future__ import annotations

from typing import Any

import mesa
import numpy as np
import pandas as pd

from . import metrics, population, rules
from .graph import CLASSIC, CONTENT, FOLLOW_BACK, MEETUP, OFFLINE, ORIGINS, SUGGESTED
from .params import Params
from .phases.meet import VENUE
from .phases.recommend import mixture_weights
from .state import ACTIVE, LEFT, OUTSIDE, QUIET, StepCounts, month_bit


class Tie:
    """One follow, held by the follower; ``origin`` is how it began (a code of ``socialsim.graph.ORIGINS``)."""

    __slots__ = ("since", "familiarity", "closeness", "met", "origin")

    def __init__(self, since: int, met: bool = False, origin: int = CLASSIC):
        self.since = since
        self.familiarity = 0.0
        self.closeness = 0.0
        self.met = met
        self.origin = origin


class Person(mesa.Agent):
    """Someone who could join; ``index`` is the row in the population (``member_id`` in outputs)."""

    def __init__(self, model: ReferenceModel, index: int, pop: population.Population):
        super().__init__(model)
        self.index = index
        self.skill = float(pop.skill[index])
        self.reach = float(pop.reach[index])
        self.reach_z = float(pop.reach_z[index])
        self.shyness = float(pop.shyness[index])
        self.activity = float(pop.activity[index])
        self.town = int(pop.town[index])
        self.contacts = pop.contacts_of(index).tolist()
        self.contact_set = set(self.contacts)
        self.skill_quartile = int(pop.skill_quartile[index])
        self.shyness_quartile = int(pop.shyness_quartile[index])
        self.group = int(pop.group[index])
        self.elite = False
        self.status = OUTSIDE
        self.joined_step = self.join_order = self.left_step = self.quiet_since = self.last_post = -1
        self.member_contacts = 0  # offline contacts on the platform
        self.impressions = self.nonfollower_impressions = self.engagements = self.followers_at_exit = 0
        self.posts = self.replies_sent = self.online_months = 0
        self.audience_expected = -1.0  # the valued-audience share one has come to expect (-1: no followers yet)
        self.following: dict[int, Tie] = {}
        self.followers: set[int] = set()
        self.exposures: list[tuple[int, float, int]] = []  # (author, probability, origin): chances to follow
        self.online = self.posted = False
        self.appeal = 0.0
        self.reshares: list[tuple[int, float, int]] = []  # (author, appeal, step posted) reshared this step
        self.reshares_prev: list[tuple[int, float, int]] = []  # ... and in the last step, shown to followers now

    @property
    def is_member(self) -> bool:
        """Joined and not left (quiet members count)."""
        return self.status == ACTIVE or self.status == QUIET

    # --- join --------------------------------------------------------------
    def join_probability(self) -> float:
        """This step's chance of joining, by the shared Bass adoption rule."""
        p, a = self.model.params.platform, self.model.params.adoption
        return rules.join_probability(p.openness, a.spontaneous_rate, a.imitation_rate,
                                      rules.elite_weight(self.reach_z, a.elite_early_adoption),
                                      self.member_contacts / max(len(self.contacts), 1), p.invite_only,
                                      self.member_contacts > 0)

    # --- post --------------------------------------------------------------
    def post(self) -> None:
        """Come online at one's activity rate and maybe post; last step's reshares become visible."""
        self.reshares_prev, self.reshares = self.reshares, []
        self.online = self.posted = False
        if self.status != ACTIVE:
            return
        b, rnd = self.model.params.behaviour, self.model.random
        self.online = rnd.random() < self.activity
        if self.online:
            self.online_months |= month_bit(self.model.steps)
        if self.online and rnd.random() < b.post_prob:
            self.posted = True
            self.appeal = float(rules.post_appeal(self.skill, rnd.gauss(0.0, 1.0), b.appeal_noise))
            self.last_post = self.model.steps
            self.posts += 1

    # --- read and engage ---------------------------------------------------
    def read(self) -> None:
        """Gather followees' posts and their reshares from the last step, read at most A, engage with each."""
        model = self.model
        pl, people, rnd = model.params.platform, model.people, model.random
        if not self.online or pl.attention == 0:
            return
        expired = model.steps - pl.post_lifetime
        posts, shares, seen = [], [], set()
        for f, tie in self.following.items():
            followee = people[f]
            if followee.posted:
                posts.append((followee, followee.appeal, model.steps, tie))
            if pl.reshares:
                for a, appeal, born in followee.reshares_prev:
                    # old posts no longer circulate; one's own posts and followees' posts (already in the
                    # timeline) are not shown again; a post reshared by several followees is shown once
                    if born <= expired or a == self.index or a in self.following or (a, born) in seen:
                        continue
                    seen.add((a, born))
                    shares.append((people[a], appeal, born, None))
        if pl.timeline == "engagement":
            timeline = sorted(posts + shares, key=lambda item: -item[1])
        else:  # chronological: this step's posts (in random order) before last step's reshares
            rnd.shuffle(posts)
            rnd.shuffle(shares)
            timeline = posts + shares
        for author, appeal, born, tie in timeline[: pl.attention]:
            self.engage(author, appeal, born, tie)

    def engage(self, author: Person, appeal: float, born: int, tie: Tie | None) -> None:
        """One item read: maybe like or reply (and be answered), reshare, or meet a stranger's post."""
        p, counts, rnd = self.model.params, self.model.counts, self.model.random
        b = p.behaviour
        counts.items_read += 1
        author.impressions += 1
        if tie is None:
            counts.nonfollower_read += 1
            author.nonfollower_impressions += 1
        else:
            tie.familiarity += p.intimacy.familiarity_gain
        budget = p.intimacy.close_rule == "budget"
        if rnd.random() < rules.engage_probability(appeal, b.engage_base, b.engage_slope):
            author.engagements += 1
            # under the budget rule every engagement is a candidate reply (the shy hold back); the budget decides
            if rnd.random() < rules.reply_probability(self.shyness, 1.0 if budget else b.reply_share):
                if budget:
                    self.model.reply_candidates.append((self, author))
                else:
                    counts.replies += 1
                    self.replies_sent += 1
                    if rnd.random() < rules.answer_probability(author.shyness, b.answer_prob):
                        self.model.answered(self, author)
        if p.platform.reshares and rnd.random() < rules.reshare_probability(appeal, b.reshare_base,
                                                                             b.reshare_slope):
            self.reshares.append((author.index, appeal, born))
        if tie is None:
            self.exposures.append((author.index, rules.follow_probability(
                appeal, author.reach, b.follow_base, b.follow_slope, b.prominence), CONTENT))

    # --- recommend -----------------------------------------------------------
    def recommend(self) -> None:
        """k who-to-follow slots; each suggestion not yet followed is a chance to follow it."""
        model = self.model
        if not self.online or not model.recommenders:
            return
        b = model.params.behaviour
        names, weights = zip(*model.recommenders.items())  # canonical order (BASE_RECOMMENDERS), see mixture_weights
        for _ in range(model.params.platform.recommender_slots):
            kind = model.random.choices(names, weights)[0]
            c = model.suggest(kind, self)
            if c is None or c == self.index or c in self.following:
                continue
            cand = model.people[c]
            # a suggestion is judged on what the account is like: its author's skill stands in for appeal
            self.exposures.append((c, rules.follow_probability(cand.skill, cand.reach, b.follow_base,
                                                               b.follow_slope, b.prominence), SUGGESTED))

    # --- follow --------------------------------------------------------------
    def follow(self) -> None:
        """Settle this step's chances to follow; each new followee may follow back."""
        exposures, self.exposures = self.exposures, []
        if self.status != ACTIVE:
            return
        model, b, pop = self.model, self.model.params.behaviour, self.model.params.population
        for author, prob, origin in exposures:
            other = model.people[author]
            if pop.minority_share > 0 and origin != OFFLINE:
                # homophily acts in choices about people met on the platform (offline contacts: in the network)
                prob = float(rules.homophilic_follow_probability(prob, self.group == other.group, pop.homophily))
            if model.random.random() < prob and other.is_member and model.add_follow(self, other, origin=origin):
                p_back = rules.follow_back_probability(len(other.followers), other.shyness, b.follow_back_prob,
                                                       b.follow_back_scale)
                if pop.minority_share > 0:
                    p_back = float(rules.homophilic_follow_probability(p_back, self.group == other.group,
                                                                       pop.homophily))
                if other.status == ACTIVE and model.random.random() < p_back:
                    model.add_follow(other, self, origin=FOLLOW_BACK)

    def unfollow_silent(self) -> None:
        """Online members drop followees who have not posted for a while (offline friends are kept)."""
        b, model = self.model.params.behaviour, self.model
        if not self.online or b.unfollow_prob == 0:
            return
        people, step = model.people, model.steps
        for f, tie in list(self.following.items()):
            if (not tie.met and rules.is_silent(people[f].last_post, people[f].joined_step, step, b.silence_steps)
                    and model.random.random() < b.unfollow_prob):
                model.remove_follow(self, model.people[f])

    # --- decay ---------------------------------------------------------------
    def decay(self) -> None:
        """Familiarity and closeness fade; under close_rule=dunbar, beyond a Dunbar number of close ties only the
        closest stay close."""
        it = self.model.params.intimacy
        for tie in self.following.values():
            tie.familiarity *= 1.0 - it.familiarity_decay
            tie.closeness *= 1.0 - it.closeness_decay
        if it.close_rule != "dunbar":
            return
        close = [tie for tie in self.following.values() if tie.closeness >= it.close_threshold]
        if len(close) > it.dunbar:
            close.sort(key=lambda tie: -tie.closeness)
            for tie in close[it.dunbar:]:
                tie.closeness = rules.demoted_closeness(it.close_threshold)

    def closeness_to(self, other: Person) -> float:
        """Closeness of one's follow of ``other`` (0 if one does not follow them)."""
        tie = self.following.get(other.index)
        return 0.0 if tie is None else tie.closeness

    def update_audience(self) -> float:
        """Update what one expects of one's audience (if one has followers); returns the valued-audience share."""
        mutual = sum(1 for f in self.followers if f in self.following)
        share = float(rules.valued_audience_share(mutual, len(self.followers)))
        if self.status == ACTIVE and self.followers:
            self.audience_expected = float(rules.update_expectation(self.audience_expected, share,
                                                                    self.model.params.leaving.expectation_memory))
        return share

    def local_followees(self) -> int:
        """Followees in one's own town."""
        people = self.model.people
        return sum(1 for f in self.following if people[f].town == self.town)


class ReferenceModel(mesa.Model):
    """The per-agent platform model. Build it like :class:`socialsim.model.PlatformModel`."""

    def __init__(self, params: Params | dict | None = None, *, rng: int | None = None, **overrides: Any):
        p = Params.resolve(params, rng, **overrides)
        super().__init__(rng=p.seed)
        self.params = p
        # the same people in every world when population.seed is fixed, as in the fast model
        people_rng = self.rng if p.population.seed < 0 else np.random.default_rng(p.population.seed)
        self.pop = population.generate(p.population, people_rng)
        self.people = [Person(self, i, self.pop) for i in range(self.pop.size)]
        elite_reach = np.quantile(self.pop.reach, p.leaving.elite_quantile)
        for person in self.people:
            person.elite = person.reach >= elite_reach
        self.shy_cut = float(np.quantile(self.pop.shyness, 0.75))
        self.recommenders = mixture_weights(p)
        self.n_joined = 0
        self.mainstream_since = -1
        self.counts = StepCounts()
        self.counts_unrecorded: StepCounts | None = None  # tallies of steps not recorded yet (run.record_every)
        self.recorded_step = -1  # the last step whose metrics were recorded
        self.reply_candidates: list[tuple[Person, Person]] = []  # (replier, author), close_rule=budget
        self.top_k_history: list[set] = []
        self.metrics: dict[str, float] = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={name: (lambda m, name=name: m.metrics[name]) for name in metrics.METRIC_NAMES}
        )
        # the first members: drawn by reach, as early adopters are (the same draw as the fast model's)
        a = p.adoption
        first = rules.first_members(self.rng, self.pop.reach_z, a.seed_members, a.elite_early_adoption,
                                    a.arrivals_per_step)
        self._new_counts()
        # under a classic attachment rule the seed is wired uniformly (the m0 starting network)
        seed_rule = a.attachment if a.attachment in ("behaviour", "uniform") else "uniform"
        self.join([self.people[i] for i in sorted(first.tolist())], seed_rule)
        self.agents.shuffle_do("follow")  # the first members follow their offline contacts
        self.measure()

    # --- the step ----------------------------------------------------------
    def step(self) -> None:
        """One day, in the fast model's phase order: join, post, read+engage, recommend, follow, unfollow, meet, leave,
        decay (the fast model's compact has nothing to do here)."""
        self._new_counts()
        outside = [x for x in self.people if x.status == OUTSIDE]
        a = self.params.adoption
        if a.arrivals_per_step > 0:
            joiners = outside[: a.arrivals_per_step]
        else:
            joiners = [x for x in outside if self.random.random() < x.join_probability()]
        self.join(joiners)
        self.agents.shuffle_do("post")
        self.agents.shuffle_do("read")
        self.settle_replies()
        self._prepare_suggestions()
        self.agents.shuffle_do("recommend")
        self.agents.shuffle_do("follow")
        self.agents.shuffle_do("unfollow_silent")
        self.meetups()
        self.leave()
        self.agents.shuffle_do("decay")
        every = self.params.run.record_every
        if every == 1 or self.steps % every == 0 or self.steps == self.params.run.steps:
            self.measure()
        else:  # as the fast model: carry the tallies, remember the top group
            self.counts_unrecorded = self.counts.plus(self.counts_unrecorded or StepCounts())
            self._remember_top_k([x for x in self.people if x.is_member])

    def run(self, steps: int | None = None, progress=None) -> ReferenceModel:
        """Run ``steps`` steps (default ``params.run.steps``); ``progress`` is called after each. The metrics of the
        last step are recorded whatever ``run.record_every``."""
        for _ in range(self.params.run.steps if steps is None else steps):
            self.step()
            if progress is not None:
                progress(self)
        if self.recorded_step != self.steps:
            self.measure()
        return self

    def _new_counts(self) -> None:
        self.counts = StepCounts()

    # --- follows -------------------------------------------------------------
    def add_follow(self, a: Person, b: Person, met: bool = False, origin: int = CLASSIC) -> bool:
        """a follows b unless it is oneself, already so, or a is at the follow cap. True if added; an existing
        follow keeps its origin."""
        if a is b:
            return False
        tie = a.following.get(b.index)
        if tie is not None:
            if met:
                tie.met = True
            return False
        if len(a.following) >= rules.follow_allowance(len(a.followers), self.params.platform.follow_cap):
            return False  # Twitter's 2009 follow cap
        a.following[b.index] = Tie(self.steps, met, origin)
        b.followers.add(a.index)
        return True

    def remove_follow(self, a: Person, b: Person) -> None:
        """a stops following b."""
        del a.following[b.index]
        b.followers.discard(a.index)

    # --- join --------------------------------------------------------------
    def join(self, joiners: list[Person], attachment: str | None = None) -> None:
        """Make people members; they follow offline contacts already there, who may follow them (exposures)."""
        attachment = attachment or self.params.adoption.attachment
        self.counts.joined = len(joiners)
        order = list(range(len(joiners)))
        self.random.shuffle(order)
        for person, rank in zip(joiners, order):
            person.status = ACTIVE
            person.joined_step = self.steps
            person.join_order = self.n_joined + rank
        self.n_joined += len(joiners)
        for person in joiners:
            for c in person.contacts:
                self.people[c].member_contacts += 1
        if attachment != "behaviour":
            self._attach(joiners, attachment)
            return
        prob = self.params.behaviour.offline_follow_prob
        for person in joiners:
            for c in person.contacts:
                friend = self.people[c]
                if friend.is_member:
                    person.exposures.append((c, prob, OFFLINE))
                    friend.exposures.append((person.index, prob, OFFLINE))

    def _attach(self, joiners: list[Person], attachment: str) -> None:
        """Classic attachment: each newcomer in turn follows m distinct members drawn with weight 1 (uniform),
        total degree (preferential), skill x total degree (fitness) or h_ab x total degree
        (homophilic_preferential); uniformly (times h_ab) if no one has a degree yet."""
        a, h = self.params.adoption, self.params.population.homophily
        pool = [x for x in self.people if x.is_member]
        for person in joiners:
            others = [x for x in pool if x is not person]
            m = min(a.attachment_links, len(others))
            weights = None
            if attachment != "uniform":
                weights = [len(x.followers) + len(x.following) for x in others]
                if attachment == "fitness":
                    weights = [w * x.skill for w, x in zip(weights, others)]
                if attachment == "homophilic_preferential":
                    h_ab = [float(rules.homophily_weight(x.group == person.group, h)) for x in others]
                    weights = [w * hw for w, hw in zip(weights, h_ab)]
                    if sum(weights) <= 0:
                        weights = h_ab
                if sum(weights) <= 0:
                    weights = None
            targets = (self.random.sample(others, m) if weights is None
                       else _weighted_sample(self.random, others, weights, m))
            for target in targets:
                self.add_follow(person, target, origin=CLASSIC)

    # --- replies within a budget (close_rule=budget) ---------------------------------------------------------------
    def settle_replies(self) -> None:
        """Each replier sends at most ``reply_budget`` of its candidate replies, each author answers at most
        ``reply_budget`` of the replies it would answer; both put their closest ties first."""
        candidates, self.reply_candidates = self.reply_candidates, []
        if not candidates:
            return
        it, b, rnd = self.params.intimacy, self.params.behaviour, self.random
        sent = []
        for replier, group in _by_first(candidates).items():
            priority = [rules.interaction_priority(replier.closeness_to(a), rnd.random(), it.exploration)
                        for _, a in group]
            keep = rules.within_budget(np.zeros(len(group), np.int64), np.array(priority), it.reply_budget)
            sent += [pair for pair, k in zip(group, keep) if k]
            replier.replies_sent += int(keep.sum())
        self.counts.replies += len(sent)
        willing = [(a, r) for r, a in sent if rnd.random() < rules.answer_probability(a.shyness, b.answer_prob)]
        for author, group in _by_first(willing).items():
            priority = [rules.interaction_priority(author.closeness_to(r), rnd.random(), it.exploration)
                        for _, r in group]
            keep = rules.within_budget(np.zeros(len(group), np.int64), np.array(priority), it.reply_budget)
            for (_, replier), k in zip(group, keep):
                if k:
                    self.answered(replier, author)

    def answered(self, replier: Person, author: Person) -> None:
        """An answered reply is two-way contact: closeness grows on both sides' follows, where they exist."""
        self.counts.answered += 1
        for x, y in ((replier, author), (author, replier)):
            if y.index in x.following:
                x.following[y.index].closeness += self.params.intimacy.closeness_gain_reply

    # --- recommend -----------------------------------------------------------
    def _prepare_suggestions(self) -> None:
        """What the recommenders draw from this step: active members, by town, by popularity, the newcomers."""
        self.pool = [x for x in self.people if x.status == ACTIVE]
        self.pool_weights = [len(x.followers) + 1.0 for x in self.pool]
        self.pool_by_town: dict[int, list[Person]] = {}
        for x in self.pool:
            self.pool_by_town.setdefault(x.town, []).append(x)
        window = self.steps - self.params.platform.newcomer_window
        self.newcomers = [x for x in self.pool if x.joined_step >= window]

    def suggest(self, kind: str, reader: Person) -> int | None:
        """One suggestion of the base recommender ``kind`` for ``reader`` (an index, or None)."""
        rnd = self.random
        if kind == "random":
            return rnd.choice(self.pool).index if self.pool else None
        if kind == "popularity":
            return rnd.choices(self.pool, self.pool_weights)[0].index if self.pool else None
        if kind == "friends_of_friends":
            if not reader.following:
                return None
            friend = self.people[rnd.choice(list(reader.following))]
            return rnd.choice(list(friend.following)) if friend.following else None
        if kind == "local":
            local = self.pool_by_town.get(reader.town)
            return rnd.choice(local).index if local else None
        if kind == "newcomer":
            return rnd.choice(self.newcomers).index if self.newcomers else None
        raise ValueError(kind)

    # --- meet ----------------------------------------------------------------
    def meetups(self) -> None:
        """Towns with enough members may hold a meetup; members hear of it through local followees and go or not."""
        m, rnd = self.params.meetups, self.random
        if m.rate == 0:
            return
        active = [x for x in self.people if x.status == ACTIVE]
        size: dict[int, int] = {}
        for x in active:
            size[x.town] = size.get(x.town, 0) + 1
        hosts = {t for t in range(self.params.population.towns)
                 if size.get(t, 0) >= m.min_members and rnd.random() < m.rate}
        if not hosts:
            return
        groups: dict[int, list[Person]] = {t: [] for t in hosts}
        for x in active:
            if x.town in hosts:
                ties = x.local_followees()
                hear = rnd.random() < rules.hear_probability(ties, m.hear_prob)
                if hear and rnd.random() < rules.attend_probability(x.skill, x.shyness, ties, m.attend_base,
                                                                    m.attend_skill, m.attend_ties, m.attend_shyness):
                    groups[x.town].append(x)
        self.counts.meetups = len(hosts)
        self.counts.attendees = sum(len(g) for g in groups.values())
        for t in sorted(hosts):
            for a, b in self._meet(groups[t]):
                # meeting in person: follows both ways, an offline tie, and closeness on both sides
                for x, y in ((a, b), (b, a)):
                    self.add_follow(x, y, met=True, origin=MEETUP)
                    if y.index in x.following:
                        x.following[y.index].closeness += self.params.intimacy.closeness_gain_meeting

    def _meet(self, group: list[Person]) -> list[tuple[Person, Person]]:
        """Pairs who meet: each attendee meets k others, drawn without replacement, preferring followees."""
        m = self.params.meetups
        if len(group) > VENUE:
            group = self.random.sample(group, VENUE)
        k = min(m.meets, len(group) - 1)
        if k <= 0:
            return []
        pairs = set()
        for x in group:
            others = [y for y in group if y is not x]
            weights = [m.follow_preference if y.index in x.following else 1.0 for y in others]
            for y in _weighted_sample(self.random, others, weights, k):
                pairs.add((min(x.index, y.index), max(x.index, y.index)))
        return [(self.people[a], self.people[b]) for a, b in sorted(pairs)]

    # --- leave ---------------------------------------------------------------
    def leave(self) -> None:
        """Members go quiet (more so when their audience has filled with strangers, or under exit_rule=imposed
        early elite adopters once mainstream); quiet ones leave after a while."""
        lv = self.params.leaving
        if self.mainstream_since < 0 and sum(x.is_member for x in self.people) >= lv.mainstream_share * len(self.people):
            self.mainstream_since = self.steps
        mainstream = self.mainstream_since >= 0
        for x in self.people:
            if x.status != ACTIVE:
                continue
            if lv.exit_rule == "imposed":
                early_elite = x.elite and x.joined_step >= 0 and (not mainstream
                                                                  or x.joined_step <= self.mainstream_since)
                p = rules.quiet_probability(early_elite, mainstream, lv.quiet_rate, lv.elite_exit_rate)
            else:
                p = rules.audience_quiet_probability(x.update_audience(), x.audience_expected, lv.quiet_rate,
                                                     lv.tolerance, lv.disappointment_exit)
            if self.random.random() < p:
                x.status = QUIET
                x.online = False
                x.quiet_since = self.steps
        gone = [x for x in self.people if x.status == QUIET and self.steps - x.quiet_since >= lv.quiet_steps]
        self.counts.left = len(gone)
        for x in gone:
            x.status = LEFT
            x.left_step = self.steps
            x.followers_at_exit = len(x.followers)
            for f in list(x.following):
                self.remove_follow(x, self.people[f])
            for f in list(x.followers):
                self.remove_follow(self.people[f], x)
            for c in x.contacts:
                self.people[c].member_contacts -= 1

    # --- measure -------------------------------------------------------------
    def measure(self) -> None:
        """Compute every metric for the current state and hand them to the DataCollector (the per-step tallies
        cover the steps since the previous record)."""
        if self.counts_unrecorded is not None:
            self.counts, self.counts_unrecorded = self.counts_unrecorded.plus(self.counts), None
        self.metrics = self.compute_metrics()
        self.datacollector.collect(self)
        self.recorded_step = self.steps

    def compute_metrics(self) -> dict[str, float]:
        """The metrics of ``socialsim.metrics.METRICS``, computed from the agents (all members, no sample)."""
        people, it = self.people, self.params.intimacy
        members = [x for x in people if x.is_member]
        n = len(members)
        followers = np.array([len(x.followers) for x in members], float)
        n_edges = mutual_pairs2 = local = offline = close = 0
        gaps = []
        for x in people:
            total = distant = 0.0
            for f, tie in x.following.items():
                n_edges += 1
                mutual_pairs2 += x.index in people[f].following
                local += people[f].town == x.town
                offline += tie.met
                total += tie.familiarity
                if tie.closeness >= it.close_threshold:
                    close += 1
                else:
                    distant += tie.familiarity
            if total > 0:
                gaps.append(distant / total)
        mutual_pairs = mutual_pairs2 // 2
        linked = n_edges - mutual_pairs
        mutual = [any(x.index in people[f].following for f in x.following) for x in members]
        low = [has for x, has in zip(members, mutual) if x.skill_quartile == 0]
        shy = [has for x, has in zip(members, mutual) if x.shyness >= self.shy_cut]
        c = self.counts
        out = {
            "members": n,
            "joined": c.joined,
            "left": c.left,
            "follows": n_edges,
            "reciprocity": mutual_pairs / linked if linked else 0.0,
            "mean_followers": followers.mean() if n else 0.0,
            "gini_followers": metrics.gini(followers),
            "top1_share_followers": metrics.top_share(followers, 0.01),
            "top10_share_impressions": metrics.top_share(np.array([x.impressions for x in members], float), 0.10),
            "spearman_skill_followers": metrics.spearman(np.array([x.skill for x in members]), followers),
            "spearman_reach_followers": metrics.spearman(np.array([x.reach for x in members]), followers),
            "spearman_join_order_followers": metrics.spearman(np.array([x.join_order for x in members], float),
                                                              followers),
            "top_k_turnover": self._turnover(members),
            "low_skill_connected_share": float(np.mean(low)) if low else 0.0,
            "shy_connected_share": float(np.mean(shy)) if shy else 0.0,
            "offline_ties_per_member": offline / n if n else 0.0,
            "close_ties_per_member": close / n if n else 0.0,
            "intimacy_gap": float(np.mean(gaps)) if gaps else 0.0,
            "local_tie_share": local / n_edges if n_edges else 0.0,
            "nonfollower_impression_share": c.nonfollower_read / c.items_read if c.items_read else 0.0,
            "meetups": c.meetups,
            "attendees": c.attendees,
        }
        out.update(self._new_tie_metrics(members))
        return {name: float(out[name]) for name in metrics.METRIC_NAMES}

    def new_ties(self, x: Person) -> tuple[int, int]:
        """(new mutual ties, new close ties) of x: with people outside x's offline contacts."""
        people, threshold = self.people, self.params.intimacy.close_threshold
        mutual = close = 0
        for f, tie in x.following.items():
            if f in x.contact_set:
                continue
            mutual += x.index in people[f].following
            close += tie.closeness >= threshold
        return mutual, close

    def _new_tie_metrics(self, members: list[Person]) -> dict[str, float]:
        """New ties by skill and shyness quartile, and the group metrics (see ``socialsim.metrics.METRICS``)."""
        people = self.people
        new = {x.index: self.new_ties(x) for x in members}
        out: dict[str, float] = {}

        def share(xs: list[bool]) -> float:
            return float(np.mean(xs)) if xs else 0.0

        out["low_skill_new_tie_share"] = share([new[x.index][0] > 0 for x in members if x.skill_quartile == 0])
        out["shy_new_tie_share"] = share([new[x.index][0] > 0 for x in members if x.shyness_quartile == 3])
        for trait in ("skill", "shyness"):
            for q in range(4):
                group = [new[x.index][1] for x in members if getattr(x, f"{trait}_quartile") == q]
                out[f"new_close_ties_{trait}_q{q + 1}"] = float(np.mean(group)) if group else 0.0
        for name, g in (("minority", 1), ("majority", 0)):
            group = [x for x in members if x.group == g]
            out[f"{name}_connected_share"] = share([any(x.index in people[f].following for f in x.following)
                                                    for x in group])
            out[f"{name}_new_tie_share"] = share([new[x.index][0] > 0 for x in group])
        minority = sum(x.group for x in members)
        out["minority_visibility"] = 0.0
        k = min(self.params.metrics.top_k, len(members))
        if k and minority:
            top = sorted(members, key=lambda x: -len(x.followers))[:k]
            out["minority_visibility"] = (sum(x.group for x in top) / k) / (minority / len(members))
        return out

    def tie_origin(self, x: Person, f: int) -> int:
        """The origin of the mutual tie of x and f: the earlier follow's, the first in ORIGINS on the same step."""
        mine, theirs = x.following[f], self.people[f].following[x.index]
        if mine.since != theirs.since:
            return mine.origin if mine.since < theirs.since else theirs.origin
        return min(mine.origin, theirs.origin)

    def _remember_top_k(self, members: list[Person]) -> set[int]:
        """This step's top-k by followers (ties: lower index first), kept for ``turnover_lag`` steps."""
        mp = self.params.metrics
        ranked = sorted(members, key=lambda x: -len(x.followers))  # stable: members are in index order
        top = {x.index for x in ranked[: mp.top_k]}
        history = self.top_k_history
        history.append(top)
        del history[: max(0, len(history) - mp.turnover_lag - 1)]
        return top

    def _turnover(self, members: list[Person]) -> float:
        """Share of today's top-k by followers (ties: lower index first) not in the top-k ``turnover_lag`` steps ago."""
        mp = self.params.metrics
        top = self._remember_top_k(members)
        history = self.top_k_history
        past = history[0]
        if len(history) <= mp.turnover_lag or not past or not top:
            return 0.0
        return 1.0 - len(top & past) / len(top)

    # --- outputs -------------------------------------------------------------
    def timeseries(self) -> pd.DataFrame:
        """One row per measured step, with every metric in ``metrics.METRIC_NAMES``."""
        df = self.datacollector.get_model_vars_dataframe()
        # Mesa 3.5's DataCollector keeps the model time of each collection only in _collection_steps (no public
        # accessor; get_model_vars_dataframe has a plain 0..k-1 index), so the step column is read from there
        df.insert(0, "step", np.asarray(self.datacollector._collection_steps, dtype=np.int64))
        return df.reset_index(drop=True)

    def member_frame(self) -> pd.DataFrame:
        """One row per person who joined, with the columns of ``metrics.MEMBER_COLUMNS``."""
        rows = []
        for x in self.people:
            if x.joined_step < 0:
                continue
            mutual = sum(1 for f in x.following if x.index in self.people[f].following)
            by_origin = [0] * len(ORIGINS)
            for f in x.following:
                if x.index in self.people[f].following:
                    by_origin[self.tie_origin(x, f)] += 1
            rows.append((x.index, x.skill, x.reach, x.shyness, x.activity, x.town, x.joined_step, x.left_step,
                         len(x.followers), len(x.following), mutual, sum(t.met for t in x.following.values()),
                         x.impressions, sum(t.familiarity for t in x.following.values()),
                         sum(t.closeness for t in x.following.values()), x.join_order, x.engagements,
                         x.nonfollower_impressions, x.followers_at_exit, x.group, *by_origin, *self.new_ties(x),
                         x.posts, x.replies_sent, x.online_months))
        return pd.DataFrame(rows, columns=list(metrics.MEMBER_COLUMNS))

    def follows_frame(self) -> pd.DataFrame:
        """The follow edge list, with the columns of ``metrics.FOLLOW_COLUMNS``."""
        rows = [(x.index, f, tie.since, tie.origin) for x in self.people for f, tie in x.following.items()]
        df = pd.DataFrame(rows, columns=list(metrics.FOLLOW_COLUMNS))
        df["origin"] = metrics.origin_categorical(df["origin"].to_numpy())
        return df


def _weighted_sample(rnd, items: list, weights: list[float], k: int) -> list:
    """k items drawn one after another without replacement, each with chance proportional to its weight."""
    items, weights = list(items), list(weights)
    out = []
    for _ in range(min(k, len(items))):
        if sum(weights) <= 0:
            break
        j = rnd.choices(range(len(items)), weights)[0]
        out.append(items.pop(j))
        weights.pop(j)
    return out


def _by_first(pairs: list[tuple]) -> dict:
    """Pairs grouped by their first element, in order of first appearance."""
    groups: dict = {}
    for pair in pairs:
        groups.setdefault(pair[0], []).append(pair)
    return groups
