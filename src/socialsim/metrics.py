"""Metric names and their computation, in one place. The names are stable: outputs and notebooks rely on them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit

from .graph import ORIGINS
from .state import ACTIVE, QUIET, State

# per step (timeseries.parquet); each with what it measures and its range
METRICS: dict[str, str] = {
    "members": "members on the platform (joined, not left; quiet ones count) [0, N]",
    "joined": "people who joined in this step",
    "left": "members who left in this step",
    "follows": "live follow edges",
    "reciprocity": "pair-based reciprocity (Kwak et al. 2010): share of linked pairs that follow each other [0, 1]",
    "mean_followers": "mean followers per member",
    "gini_followers": "Gini coefficient of followers among members [0, 1]",
    "top1_share_followers": "share of all follows received by the top 1% of members [0, 1]",
    "top10_share_impressions": "share of all impressions (reads so far) received by the top 10% of members [0, 1]",
    "spearman_skill_followers": "Spearman correlation of social skill and followers among members [-1, 1]",
    "spearman_reach_followers": "Spearman correlation of offline reach and followers among members [-1, 1]",
    "spearman_join_order_followers": "Spearman correlation of join order and followers (negative: early joiners lead) [-1, 1]",
    "top_k_turnover": "share of the top-k members by followers who were not in the top-k metrics.turnover_lag steps ago [0, 1]",
    "low_skill_connected_share": "share of members in the bottom skill quartile with at least one mutual tie [0, 1]",
    "shy_connected_share": "share of members in the top shyness quartile with at least one mutual tie [0, 1]",
    "offline_ties_per_member": "people met in person (offline ties) per member",
    "close_ties_per_member": "close ties (closeness >= intimacy.close_threshold) per member",
    "intimacy_gap": "mean share of a member's familiarity held toward people they are not close to [0, 1]",
    "local_tie_share": "share of follows within one town [0, 1]",
    "nonfollower_impression_share": "share of this step's reads that reached non-followers through reshares [0, 1]",
    "meetups": "meetups held in this step",
    "attendees": "people at meetups in this step",
    "low_skill_new_tie_share": "share of members in the bottom skill quartile with at least one new mutual tie "
                               "(with someone outside their offline contacts) [0, 1]",
    "shy_new_tie_share": "share of members in the top shyness quartile with at least one new mutual tie [0, 1]",
    **{f"new_close_ties_skill_q{q}": "new close ties (close follows of people outside one's offline contacts) per "
       f"member of skill quartile {q}" + {1: " (the least skilled)", 4: " (the most skilled)"}.get(q, "")
       for q in (1, 2, 3, 4)},
    **{f"new_close_ties_shyness_q{q}": f"new close ties per member of shyness quartile {q}"
       + {1: " (the least shy)", 4: " (the shyest)"}.get(q, "") for q in (1, 2, 3, 4)},
    "minority_visibility": "the minority's share of the top-k members by followers divided by its share of members "
                           "(1 = in proportion; 0 without groups)",
    "minority_connected_share": "share of minority members with at least one mutual tie (0 without groups) [0, 1]",
    "majority_connected_share": "share of majority members with at least one mutual tie [0, 1]",
    "minority_new_tie_share": "share of minority members with at least one new mutual tie (0 without groups) [0, 1]",
    "majority_new_tie_share": "share of majority members with at least one new mutual tie [0, 1]",
}
METRIC_NAMES = tuple(METRICS)

# per member at the end of a run (members.parquet)
MEMBER_COLUMNS = ("member_id", "skill", "reach", "shyness", "activity", "town", "joined_step", "left_step",
                  "followers", "followees", "mutual_ties", "offline_ties", "impressions", "familiarity",
                  "closeness", "join_order", "engagements", "nonfollower_impressions", "followers_at_exit",
                  "group", *(f"mutual_{origin}" for origin in ORIGINS), "new_mutual_ties", "new_close_ties",
                  "posts", "replies_sent", "online_months")
FOLLOW_COLUMNS = ("follower", "followee", "since_step", "origin")

SAMPLE = 20_000  # rank correlations use at most this many members (a seeded sample beyond it)


def gini(x: np.ndarray) -> float:
    """Gini coefficient; for whole counts (followers) through their histogram, with no sort."""
    x = np.asarray(x)
    n = x.size
    if n == 0 or x.sum() == 0:
        return 0.0
    if np.issubdtype(x.dtype, np.integer) and x.min() >= 0:
        counts = np.bincount(x).astype(float)
        values = np.arange(counts.size, dtype=float)
        before = np.cumsum(counts) - counts  # people with smaller values
        rank_sum = counts * before + counts * (counts + 1) / 2  # sum of the (1-based) ranks of each value
        weighted, total = float((rank_sum * values).sum()), float((counts * values).sum())
    else:
        xs = np.sort(x.astype(float))
        weighted, total = float(np.arange(1, n + 1) @ xs), float(xs.sum())
    return 2.0 * weighted / (n * total) - (n + 1) / n


def top_share(x: np.ndarray, fraction: float) -> float:
    """Share of the total held by the top ``fraction`` of values (at least one value)."""
    x = np.asarray(x, float)
    total = x.sum()
    if x.size == 0 or total == 0:
        return 0.0
    k = max(1, int(np.ceil(fraction * x.size)))
    return float(np.partition(x, x.size - k)[x.size - k:].sum() / total)


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks (ties share the mean of their ranks), as in Spearman's rho."""
    order = np.argsort(x, kind="stable")
    xs = x[order]
    new = np.concatenate([[True], xs[1:] != xs[:-1]])
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.concatenate([starts[1:], [x.size]])
    out = np.empty(x.size)
    out[order] = ((starts + ends - 1) / 2.0)[group]
    return out


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho (average ranks for ties, as ``scipy.stats.spearmanr``); 0 where either side is constant
    or there are fewer than 3 values."""
    return _rank_correlation(ranks(np.asarray(x)), ranks(np.asarray(y)))


def measure(state: State, params) -> dict[str, float]:
    """Every metric in METRICS for the current state.

    The counts behind the shares (members with a mutual tie by quartile and group, quartile sizes, ...) come from
    one pass over the people (:func:`_member_tallies`), the rank correlations, the Gini coefficient and the top
    shares from kernels whose sums are exact (whole numbers, or multiples of 1/4 for the centred ranks, all below
    2**53), so they equal numpy's pairwise sums bit for bit whatever the order of the additions.
    """
    g, pop = state.graph, state.pop
    members, tally = _member_tallies(state.status, g.in_deg, g.mutual, g.new_mutual, g.offline,
                                     pop.skill_quartile, pop.shyness_quartile, pop.group)
    n_members = members.size
    followers = g.in_deg[members]
    linked_pairs = g.n_edges - g.mutual_pairs
    out: dict[str, float] = {
        "members": n_members,
        "joined": state.counts.joined,
        "left": state.counts.left,
        "follows": g.n_edges,
        "reciprocity": g.mutual_pairs / linked_pairs if linked_pairs else 0.0,
        "mean_followers": int(tally[T_FOLLOWERS]) / n_members if n_members else 0.0,
        "gini_followers": _count_gini(followers),
        "top1_share_followers": _count_top_share(followers, 0.01),
        "top10_share_impressions": _count_top_share(state.impressions[members], 0.10),
        "local_tie_share": g.local_edges / g.n_edges if g.n_edges else 0.0,
        "meetups": state.counts.meetups,
        "attendees": state.counts.attendees,
    }
    sample = members
    if n_members > SAMPLE:
        sample = np.sort(np.random.default_rng([params.seed, state.step]).choice(members, SAMPLE, replace=False))
    correlations = _follower_rank_correlations(g.in_deg, sample, pop.skill_order, pop.reach_order, state.join_order)
    for trait, r in zip(("skill", "reach", "join_order"), correlations):
        out[f"spearman_{trait}_followers"] = float(r)
    k = min(params.metrics.top_k, n_members)
    top = np.argpartition(-followers, k - 1)[:k] if k else np.zeros(0, np.int64)  # positions in members
    out["top_k_turnover"] = _turnover(state, params, set(members[top].tolist()))
    shares = {"low_skill_connected_share": (T_LOW_CONNECTED, T_LOW), "shy_connected_share": (T_SHY_CONNECTED, T_SHY),
              "low_skill_new_tie_share": (T_LOW_NEW, T_LOW), "shy_new_tie_share": (T_SHY_NEW, T_SHY)}
    for name, (part, whole) in shares.items():
        out[name] = int(tally[part]) / int(tally[whole]) if tally[whole] else 0.0
    out["offline_ties_per_member"] = int(tally[T_OFFLINE]) / n_members if n_members else 0.0
    close_ties, gap, new_close = _tie_tallies(state, params)
    out["close_ties_per_member"] = close_ties / n_members if n_members else 0.0
    out["intimacy_gap"] = gap
    read = state.counts.items_read
    out["nonfollower_impression_share"] = state.counts.nonfollower_read / read if read else 0.0
    for row, (trait, first) in enumerate((("skill", T_SKILL_Q), ("shyness", T_SHYNESS_Q))):
        for i in range(4):
            size = int(tally[first + i])
            out[f"new_close_ties_{trait}_q{i + 1}"] = float(new_close[row, i]) / size if size else 0.0
    out.update(_groups(params, tally, n_members, top, pop.group[members[top]]))
    return {name: float(out[name]) for name in METRIC_NAMES}


# the tallies of _member_tallies, by index: members, their followers and offline ties; the bottom skill quartile's
# members, those with a mutual tie and those with a new one; the same for the top shyness quartile; all members with
# a mutual tie and with a new one; the minority's members, with a mutual tie and with a new one; then the members
# in each skill quartile (4) and each shyness quartile (4)
(T_MEMBERS, T_FOLLOWERS, T_OFFLINE, T_LOW, T_LOW_CONNECTED, T_LOW_NEW, T_SHY, T_SHY_CONNECTED, T_SHY_NEW,
 T_CONNECTED, T_NEW, T_MINORITY, T_MINORITY_CONNECTED, T_MINORITY_NEW) = range(14)
T_SKILL_Q, T_SHYNESS_Q = 14, 18  # the first of four each
N_TALLIES = 22


@njit(cache=True)
def _member_tallies(status, in_deg, mutual, new_mutual, offline, skill_quartile, shyness_quartile, group):
    """(the members' indices, the counts indexed by the ``T_*`` constants), in one pass over the people."""
    n = status.shape[0]
    members = np.empty(n, np.int64)
    t = np.zeros(N_TALLIES, np.int64)
    m = 0
    for i in range(n):
        if status[i] != ACTIVE and status[i] != QUIET:
            continue
        members[m] = i
        m += 1
        t[T_FOLLOWERS] += in_deg[i]
        t[T_OFFLINE] += offline[i]
        connected = 1 if mutual[i] > 0 else 0
        new = 1 if new_mutual[i] > 0 else 0
        t[T_CONNECTED] += connected
        t[T_NEW] += new
        if skill_quartile[i] == 0:
            t[T_LOW] += 1
            t[T_LOW_CONNECTED] += connected
            t[T_LOW_NEW] += new
        if shyness_quartile[i] == 3:
            t[T_SHY] += 1
            t[T_SHY_CONNECTED] += connected
            t[T_SHY_NEW] += new
        if group[i] == 1:
            t[T_MINORITY] += 1
            t[T_MINORITY_CONNECTED] += connected
            t[T_MINORITY_NEW] += new
        t[T_SKILL_Q + skill_quartile[i]] += 1
        t[T_SHYNESS_Q + shyness_quartile[i]] += 1
    t[T_MEMBERS] = m
    return members[:m].copy(), t


EXACT = 2**53  # whole numbers below this are exact in float64, and so are sums of them whose total is below it


def _count_gini(x: np.ndarray) -> float:
    """:func:`gini` of whole counts, from their histogram summed in whole numbers: the same value as ``gini``
    (whose float sums are exact below 2**53; beyond that, ``gini`` itself)."""
    if x.size == 0:
        return 0.0
    weighted, total = _gini_sums(x)
    if total == 0:
        return 0.0
    if weighted >= EXACT or total >= EXACT:
        return gini(x)
    n = x.size
    return 2.0 * float(weighted) / (n * float(total)) - (n + 1) / n


@njit(cache=True)
def _gini_sums(x):
    """(sum of rank x value, sum of values) of :func:`gini`'s histogram formula, in whole numbers (the ranks of one
    value sum to counts * before + counts * (counts + 1) / 2, a whole number)."""
    top = 0
    for v in x:
        top = max(top, v)
    counts = np.zeros(top + 1, np.int64)
    for v in x:
        counts[v] += 1
    weighted = 0
    total = 0
    before = 0
    for v in range(top + 1):
        c = counts[v]
        weighted += (c * before + c * (c + 1) // 2) * v
        total += c * v
        before += c
    return weighted, total


def _count_top_share(x: np.ndarray, fraction: float) -> float:
    """:func:`top_share` of whole counts, summed in whole numbers (the same value below 2**53)."""
    if x.size == 0:
        return 0.0
    k = max(1, math.ceil(fraction * x.size))  # as int(np.ceil(...)) in top_share
    top, total = _top_sums(x, k)
    if total == 0:
        return 0.0
    if total >= EXACT:
        return top_share(x, fraction)
    return float(top) / float(total)


@njit(cache=True)
def _top_sums(x, k):
    """(sum of the k largest values, sum of all values), in whole numbers."""
    total = 0
    for v in x:
        total += v
    part = np.partition(x.astype(np.int64), x.size - k)
    top = 0
    for i in range(x.size - k, x.size):
        top += part[i]
    return top, total


@njit(cache=True)
def _follower_rank_correlations(in_deg, sample, skill_order, reach_order, join_order):
    """Spearman's rho of followers with skill, reach and join order over ``sample`` (sorted member indices), as
    :func:`spearman` computes it: the same average ranks (followers' ranks from their histogram, the traits' from
    everyone's order, without ties) and the same arithmetic. Every sum is exact, so its order does not matter:
    ranks are multiples of 1/2 summing to m (m - 1) / 2, so the means are exact, the centred ranks are multiples
    of 1/2 and their products' sums (at most m**3 / 12 with m <= SAMPLE) stay far below 2**51."""
    n = in_deg.shape[0]
    m = sample.shape[0]
    out = np.zeros(3)
    # followers' average ranks: a value's ranks run from the count of smaller values on, for its count
    deg = np.empty(m, np.int64)
    top = 0
    for i in range(m):
        deg[i] = in_deg[sample[i]]
        top = max(top, deg[i])
    counts = np.zeros(top + 1, np.int64)
    for i in range(m):
        counts[deg[i]] += 1
    start = np.empty(top + 1, np.int64)
    before = 0
    for v in range(top + 1):
        start[v] = before
        before += counts[v]
    f = np.empty(m)
    for i in range(m):
        f[i] = (2 * start[deg[i]] + counts[deg[i]] - 1) / 2.0
    # the traits' ranks within the sample, from everyone's order by them
    position = np.full(n, -1, np.int64)  # index in sample
    for i in range(m):
        position[sample[i]] = i
    n_joined = 0
    for i in range(n):
        n_joined += join_order[i] >= 0
    by_join = np.empty(n_joined, np.int64)  # the people who joined, in join order
    for i in range(n):
        if join_order[i] >= 0:
            by_join[join_order[i]] = i
    trait = np.empty(m)
    for row in range(3):
        order = skill_order if row == 0 else reach_order if row == 1 else by_join
        rank = 0
        for person in order:
            if position[person] >= 0:
                trait[position[person]] = rank
                rank += 1
        out[row] = _exact_rank_correlation(trait, f)
    return out


@njit(cache=True)
def _exact_rank_correlation(x, y):
    """:func:`_rank_correlation` for ranks whose sums are exact (see :func:`_follower_rank_correlations`)."""
    n = x.shape[0]
    if n < 3 or x.max() == x.min() or y.max() == y.min():
        return 0.0
    mean_x = 0.0
    mean_y = 0.0
    for i in range(n):
        mean_x += x[i]
        mean_y += y[i]
    mean_x /= n
    mean_y /= n
    cxx = 0.0
    cxy = 0.0
    cyy = 0.0
    for i in range(n):
        dx = x[i] - mean_x
        dy = y[i] - mean_y
        cxx += dx * dx
        cxy += dx * dy
        cyy += dy * dy
    scale = 1.0 / (n - 1)
    r = cxy * scale / math.sqrt(cxx * scale) / math.sqrt(cyy * scale)
    return min(max(r, -1.0), 1.0)


def _groups(params, tally: np.ndarray, n_members: int, top: np.ndarray, top_group: np.ndarray) -> dict[str, float]:
    """Minority visibility among the top-k by followers (``top``: their positions among the members, ``top_group``
    their groups) and, per group, the shares with (new) mutual ties."""
    share = lambda part, whole: int(part) / int(whole) if whole else 0.0  # noqa: E731
    if params.population.minority_share == 0:  # no groups: everyone is in the majority
        return {"minority_connected_share": 0.0, "minority_new_tie_share": 0.0, "minority_visibility": 0.0,
                "majority_connected_share": share(tally[T_CONNECTED], n_members),
                "majority_new_tie_share": share(tally[T_NEW], n_members)}
    minority = int(tally[T_MINORITY])
    majority = n_members - minority
    out = {"minority_connected_share": share(tally[T_MINORITY_CONNECTED], minority),
           "minority_new_tie_share": share(tally[T_MINORITY_NEW], minority),
           "majority_connected_share": share(tally[T_CONNECTED] - tally[T_MINORITY_CONNECTED], majority),
           "majority_new_tie_share": share(tally[T_NEW] - tally[T_MINORITY_NEW], majority),
           "minority_visibility": 0.0}
    if top.size and minority:
        out["minority_visibility"] = float(np.count_nonzero(top_group == 1) / top.size / (minority / n_members))
    return out


def new_close_ties(graph, threshold: float) -> np.ndarray:
    """Per person: close follows (closeness >= threshold) of people outside their offline contacts."""
    return _new_close_kernel(graph.src, graph.closeness, graph.contact, graph.alive, graph.used, graph.n, threshold)


@njit(cache=True)
def _new_close_kernel(src, closeness, contact, alive, used, n, threshold):
    out = np.zeros(n, np.int64)
    for e in range(used):
        if alive[e] and not contact[e] and closeness[e] >= threshold:
            out[src[e]] += 1
    return out


def origin_categorical(codes: np.ndarray) -> pd.Categorical:
    """Origin codes as a pandas Categorical whose categories are ``ORIGINS`` in their order (all of them, used
    or not, so tables of different runs concatenate)."""
    return pd.Categorical.from_codes(np.asarray(codes, np.int8), categories=list(ORIGINS))


def mutual_tie_origin(graph) -> tuple[np.ndarray, np.ndarray]:
    """(slots, origin codes): every live follow that is half of a mutual tie, and the tie's origin.

    A mutual tie takes the origin of the earlier of its two follows (smaller ``since``); when both began in the
    same step, the origin listed first in ``ORIGINS`` (offline, meetup, suggested, content, follow_back,
    classic), so a follow-back never names a tie whose other follow was made the same step.
    """
    idx = graph.alive_index()
    rev = graph.find(graph.dst[idx], graph.src[idx])
    mutual = rev >= 0
    idx, rev = idx[mutual], rev[mutual]
    mine, theirs = graph.origin[idx], graph.origin[rev]
    since, since_rev = graph.since[idx], graph.since[rev]
    origin = np.where(since < since_rev, mine, np.where(since > since_rev, theirs, np.minimum(mine, theirs)))
    return idx, origin.astype(np.int8)


def subset_ranks(order: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Ranks within the people in ``mask`` of a trait with no ties, given everyone's order by it: O(n), no sort."""
    inside = order[mask[order]]
    out = np.zeros(mask.size)
    out[inside] = np.arange(inside.size)
    return out


def _rank_correlation(x_ranks: np.ndarray, y_ranks: np.ndarray) -> float:
    n = x_ranks.size
    if n < 3 or x_ranks.max() == x_ranks.min() or y_ranks.max() == y_ranks.min():
        return 0.0
    # np.corrcoef's arithmetic step by step (bit-identical), without its argument handling, which costs more
    # than the arithmetic at the sizes measured every step: the same centring and product of the two rows, then
    # the one correlation needed, in scalars (each operation correctly rounded, as numpy's element by element)
    xy = np.empty((2, n))
    xy[0], xy[1] = x_ranks, y_ranks
    xy -= (np.add.reduce(xy, axis=1) / n)[:, None]  # what xy.mean(axis=1) computes
    c = np.dot(xy, xy.T)
    scale = 1.0 / (n - 1)
    r = float(c[0, 1]) * scale / math.sqrt(float(c[0, 0]) * scale) / math.sqrt(float(c[1, 1]) * scale)
    return min(max(r, -1.0), 1.0)


def track_top_k(state: State, params) -> None:
    """Remember this step's top-k members by followers, for ``top_k_turnover``, on a step that is not measured
    (``run.record_every`` > 1): the turnover compares with the top group exactly ``turnover_lag`` steps earlier."""
    members = state.members()
    followers = state.graph.in_deg[members]
    k = min(params.metrics.top_k, members.size)
    _remember_top_k(state, params, set(members[np.argpartition(-followers, k - 1)[:k]].tolist()) if k else set())


def _remember_top_k(state: State, params, top: set) -> None:
    history = state.top_k_history
    history.append(top)
    del history[: max(0, len(history) - params.metrics.turnover_lag - 1)]


def _turnover(state: State, params, top: set) -> float:
    """Share of this step's top-k (``top``, remembered here) not in the top-k ``turnover_lag`` steps ago."""
    _remember_top_k(state, params, top)
    history = state.top_k_history
    lag = params.metrics.turnover_lag
    past = history[0]
    if len(history) <= lag or not past or not top:
        return 0.0
    return 1.0 - len(top & past) / len(top)


def _tie_tallies(state: State, params) -> tuple[int, float, np.ndarray]:
    """(close ties, intimacy gap, new close ties by the follower's skill quartile (row 0) and shyness quartile
    (row 1)), in one pass over the follows. It stays on one thread: the gap's sums are ordered, and a second pass
    for the counts alone, on all threads, cost more than it saved (docs/performance.md, Both cores)."""
    g, pop, threshold = state.graph, state.pop, params.intimacy.close_threshold
    return _tie_kernel(g.src, g.familiarity, g.closeness, g.contact, g.alive, g.used, g.n, threshold,
                       pop.skill_quartile, pop.shyness_quartile)


@njit(cache=True)
def _tie_kernel(src, familiarity, closeness, contact, alive, used, n, threshold, skill_quartile, shyness_quartile):
    """(close ties, intimacy gap, new close ties by quartile): the gap is the mean over
    members who feel any familiarity of the share of it held toward people they are not close to; a new close
    tie is a close follow of someone outside one's offline contacts (live follows only, so of members)."""
    total = np.zeros(n)
    distant = np.zeros(n)
    new_close = np.zeros((2, 4))
    close = 0
    # follows are mostly grouped by follower, so the running sums stay in registers while the follower is
    # the same (the additions happen in the same order as one by one, so the sums are the same)
    who = -1
    t = 0.0
    d = 0.0
    for e in range(used):
        if alive[e]:
            s = src[e]
            if s != who:
                if who >= 0:
                    total[who] = t
                    distant[who] = d
                who = s
                t = total[s]
                d = distant[s]
            t += familiarity[e]
            if closeness[e] >= threshold:
                close += 1
                if not contact[e]:
                    new_close[0, skill_quartile[s]] += 1.0
                    new_close[1, shyness_quartile[s]] += 1.0
            else:
                d += familiarity[e]
    if who >= 0:
        total[who] = t
        distant[who] = d
    gap = 0.0
    count = 0
    for i in range(n):
        if total[i] > 0:
            gap += distant[i] / total[i]
            count += 1
    return close, (gap / count if count else 0.0), new_close


def member_table(state: State, params=None) -> dict[str, np.ndarray]:
    """One row per person who ever joined, with the columns in MEMBER_COLUMNS (``params`` gives the closeness
    threshold of the new close ties; default: the default parameters')."""
    from .params import IntimacyParams

    threshold = (params.intimacy if params is not None else IntimacyParams()).close_threshold
    g, pop = state.graph, state.pop
    ids = np.flatnonzero(state.joined_step >= 0)
    idx = g.alive_index()
    familiarity = np.bincount(g.src[idx], weights=g.familiarity[idx], minlength=g.n)
    closeness = np.bincount(g.src[idx], weights=g.closeness[idx], minlength=g.n)
    columns = {
        "member_id": ids, "skill": pop.skill, "reach": pop.reach, "shyness": pop.shyness,
        "activity": pop.activity, "town": pop.town, "joined_step": state.joined_step, "left_step": state.left_step,
        "followers": g.in_deg, "followees": g.out_deg, "mutual_ties": g.mutual, "offline_ties": g.offline,
        "impressions": state.impressions, "familiarity": familiarity, "closeness": closeness,
        "join_order": state.join_order, "engagements": state.engagements,
        "nonfollower_impressions": state.nonfollower_impressions, "followers_at_exit": state.followers_at_exit,
        "group": pop.group, "new_mutual_ties": g.new_mutual, "new_close_ties": new_close_ties(g, threshold),
        "posts": state.posts, "replies_sent": state.replies_sent, "online_months": state.online_months,
    }
    slots, tie_origin = mutual_tie_origin(g)
    for code, name in enumerate(ORIGINS):
        columns[f"mutual_{name}"] = np.bincount(g.src[slots[tie_origin == code]], minlength=g.n)
    return {name: (col if name == "member_id" else col[ids]) for name, col in columns.items()}
