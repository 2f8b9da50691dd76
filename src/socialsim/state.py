"""The model's state as arrays: who is a member, what they did, and the follow graph."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from numba import njit

from .graph import FollowGraph
from .population import Population

# membership status of a person
OUTSIDE, ACTIVE, QUIET, LEFT = 0, 1, 2, 3

#: steps in a month of ``State.online_months`` (monthly activity, as audience surveys count it)
MONTH = 30
#: months recorded in ``State.online_months`` (one bit each in an int64; later months are not recorded)
MONTHS_RECORDED = 63


def month_bit(step):
    """The bit of ``State.online_months`` for a step (0 for steps past the recorded months)."""
    month = step // MONTH
    return (1 << month) if month < MONTHS_RECORDED else 0


@dataclass
class Timeline:
    """What members read in one step: one row per item read (reader, author, appeal, ...)."""

    reader: np.ndarray
    author: np.ndarray
    appeal: np.ndarray
    edge: np.ndarray  # slot of the reader -> author follow, -1 if the reader does not follow the author
    born: np.ndarray  # step the post was made
    reshared: np.ndarray  # True if the item reached the reader through a reshare

    @classmethod
    def empty(cls) -> Timeline:
        """A timeline with no items."""
        z = np.zeros(0, np.int64)
        return cls(z, z, np.zeros(0), z, z, np.zeros(0, bool))

    def __len__(self) -> int:
        return self.reader.shape[0]


@dataclass
class Reshares:
    """Reshares made in one step, delivered to the resharers' followers in the next."""

    resharer: np.ndarray
    author: np.ndarray
    appeal: np.ndarray
    born: np.ndarray  # step the original post was made

    @classmethod
    def empty(cls) -> Reshares:
        """No reshares."""
        z = np.zeros(0, np.int64)
        return cls(z, z, np.zeros(0), z)


@dataclass
class StepCounts:
    """What happened in one step, as the metrics need it; every phase that counts sets its fields each step."""

    joined: int = 0  # people who joined (join phase)
    left: int = 0  # members who left (leave phase)
    items_read: int = 0  # timeline items read (engage phase)
    nonfollower_read: int = 0  # ... of which the reader does not follow the author
    replies: int = 0
    answered: int = 0  # replies the author answered
    reshares: int = 0
    meetups: int = 0  # meetups held (meet phase)
    attendees: int = 0

    def plus(self, other: StepCounts) -> StepCounts:
        """The tallies of two stretches of steps added up (for metrics recorded every ``run.record_every`` steps)."""
        return StepCounts(**{name: getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__})


@dataclass
class State:
    """Everything the fast model knows: per-person arrays, the follow graph, and the current step's scratch."""

    pop: Population
    graph: FollowGraph
    step: int = 0
    status: np.ndarray = None  # OUTSIDE / ACTIVE / QUIET / LEFT
    joined_step: np.ndarray = None  # -1 until joined
    join_order: np.ndarray = None  # rank of joining (ties broken by draw), -1 until joined
    left_step: np.ndarray = None  # -1 unless left
    quiet_since: np.ndarray = None
    last_post: np.ndarray = None  # step of the last post, -1 if none
    member_contacts: np.ndarray = None  # offline contacts who are members
    impressions: np.ndarray = None  # reads of one's posts, in total
    nonfollower_impressions: np.ndarray = None  # reads by people who do not follow the author
    engagements: np.ndarray = None  # likes and replies received
    followers_at_exit: np.ndarray = None
    posts: np.ndarray = None  # posts made, in total
    replies_sent: np.ndarray = None  # replies made to others' posts, in total
    online_months: np.ndarray = None  # bit m set when online in a step of month m (steps m*MONTH ...)
    elite: np.ndarray = None  # reach above the leaving.elite_quantile of the population
    audience_expected: np.ndarray = None  # the valued-audience share one has come to expect (-1: no followers yet)
    n_joined: int = 0
    mainstream_since: int = -1
    # what happened in the current step (scratch, rebuilt every step)
    online: np.ndarray = None
    posted: np.ndarray = None
    appeal: np.ndarray = None
    timeline: Timeline = field(default_factory=Timeline.empty)
    reshares_new: Reshares = field(default_factory=Reshares.empty)
    reshares_prev: Reshares = field(default_factory=Reshares.empty)
    exposures: list = field(default_factory=list)  # (follower, author, probability, origin) arrays to try to follow
    joined_now: np.ndarray = None
    left_now: np.ndarray = None
    reply_pairs: tuple = None  # (replier, author) of the replies sent this step
    counts: StepCounts = field(default_factory=StepCounts)  # per-step tallies for the metrics
    # tallies of the steps since the metrics were last recorded (run.record_every > 1), None when there are none
    counts_unrecorded: StepCounts | None = None
    top_k_history: list = field(default_factory=list)

    @classmethod
    def new(cls, pop: Population) -> State:
        """The state before anyone joins, for the people of ``pop``."""
        n = pop.size
        s = cls(pop=pop, graph=FollowGraph(n, pop.town, capacity=max(1024, 8 * n),
                                           contacts_indptr=pop.contacts_indptr, contacts=pop.contacts))
        s.status = np.zeros(n, np.int8)
        for name in ("joined_step", "join_order", "left_step", "quiet_since", "last_post"):
            setattr(s, name, np.full(n, -1, np.int64))
        for name in ("member_contacts", "impressions", "nonfollower_impressions", "engagements", "followers_at_exit",
                     "posts", "replies_sent", "online_months"):
            setattr(s, name, np.zeros(n, np.int64))
        s.audience_expected = np.full(n, -1.0)
        s.online = np.zeros(n, bool)
        s.posted = np.zeros(n, bool)
        s.appeal = np.zeros(n)
        s.joined_now = np.zeros(0, np.int64)
        s.left_now = np.zeros(0, np.int64)
        s.reply_pairs = (s.left_now, s.left_now)
        return s

    @property
    def n(self) -> int:
        """Number of people who could join."""
        return self.pop.size

    @property
    def is_member(self) -> np.ndarray:
        """Joined and not left (quiet members count)."""
        return (self.status == ACTIVE) | (self.status == QUIET)

    def members(self) -> np.ndarray:
        """Indices of the members (joined and not left)."""
        return _members(self.status)

    def expose(self, follower, author, probability, origin: int) -> None:
        """Record exposures that may turn into follows in the follow phase; ``origin`` (a code of
        ``socialsim.graph.ORIGINS``) is how the exposure came about and becomes the follow's origin."""
        n = len(follower)
        if n:
            probability = np.asarray(probability, float)
            if probability.shape != (n,):  # one for all (np.full costs less than np.broadcast_to)
                probability = np.full(n, probability)
            self.exposures.append((np.asarray(follower, np.int64), np.asarray(author, np.int64), probability,
                                   np.full(n, origin, np.int8)))


@njit(cache=True)
def _members(status):
    """Indices of the people whose status is ACTIVE or QUIET (ascending)."""
    out = np.empty(status.shape[0], np.int64)
    m = 0
    for i in range(status.shape[0]):
        if status[i] == ACTIVE or status[i] == QUIET:
            out[m] = i
            m += 1
    return out[:m].copy()
