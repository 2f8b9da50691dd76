"""Metric names and their computation, in one place. The names are stable: outputs and notebooks rely on them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numba import njit, prange

from .graph import ORIGINS, parallel
from .state import State

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
    """Every metric in METRICS for the current state."""
    g, pop = state.graph, state.pop
    members = state.members()
    n_members = members.size
    followers = g.in_deg[members]
    linked_pairs = g.n_edges - g.mutual_pairs
    out: dict[str, float] = {
        "members": n_members,
        "joined": state.counts.joined,
        "left": state.counts.left,
        "follows": g.n_edges,
        "reciprocity": g.mutual_pairs / linked_pairs if linked_pairs else 0.0,
        "mean_followers": float(followers.mean()) if n_members else 0.0,
        "gini_followers": gini(followers),
        "top1_share_followers": top_share(followers, 0.01),
        "top10_share_impressions": top_share(state.impressions[members], 0.10),
        "local_tie_share": g.local_edges / g.n_edges if g.n_edges else 0.0,
        "meetups": state.counts.meetups,
        "attendees": state.counts.attendees,
    }
    sample = members
    if n_members > SAMPLE:
        sample = np.sort(np.random.default_rng([params.seed, state.step]).choice(members, SAMPLE, replace=False))
    f = ranks(g.in_deg[sample])
    in_sample = np.zeros(state.n, bool)
    in_sample[sample] = True
    joined = np.flatnonzero(state.join_order >= 0)
    by_join = np.empty(joined.size, np.int64)
    by_join[state.join_order[joined]] = joined
    for trait, order in (("skill", pop.skill_order), ("reach", pop.reach_order), ("join_order", by_join)):
        out[f"spearman_{trait}_followers"] = _rank_correlation(subset_ranks(order, in_sample)[sample], f)
    out["top_k_turnover"] = _turnover(state, params, members, followers)
    low = members[pop.skill_quartile[members] == 0]
    out["low_skill_connected_share"] = float((g.mutual[low] > 0).mean()) if low.size else 0.0
    shy = members[pop.shyness_quartile[members] == 3]
    out["shy_connected_share"] = float((g.mutual[shy] > 0).mean()) if shy.size else 0.0
    out["offline_ties_per_member"] = float(g.offline[members].sum() / n_members) if n_members else 0.0
    close_ties, gap = _intimacy(state, params)
    out["close_ties_per_member"] = close_ties / n_members if n_members else 0.0
    out["intimacy_gap"] = gap
    read = state.counts.items_read
    out["nonfollower_impression_share"] = state.counts.nonfollower_read / read if read else 0.0
    out.update(_new_ties(state, params, members, low, shy))
    out.update(_groups(state, params, members, followers))
    return {name: float(out[name]) for name in METRIC_NAMES}


def _share(x: np.ndarray) -> float:
    """Share of True in a boolean array (0 if empty)."""
    return np.count_nonzero(x) / x.size if x.size else 0.0


def _new_ties(state: State, params, members: np.ndarray, low: np.ndarray, shy: np.ndarray) -> dict[str, float]:
    """New mutual ties (kept up to date by the graph) and new close ties by quartile (one pass over the follows)."""
    g, pop = state.graph, state.pop
    out = {"low_skill_new_tie_share": _share(g.new_mutual[low] > 0), "shy_new_tie_share": _share(g.new_mutual[shy] > 0)}
    count = _new_close_by_quartile_parallel if parallel(g.used) else _new_close_by_quartile
    ties = count(g.src, g.closeness, g.contact, g.alive, g.used, params.intimacy.close_threshold,
                  pop.skill_quartile, pop.shyness_quartile)
    for row, (trait, quartile) in enumerate((("skill", pop.skill_quartile), ("shyness", pop.shyness_quartile))):
        size = np.bincount(quartile[members], minlength=4)
        for i in range(4):
            out[f"new_close_ties_{trait}_q{i + 1}"] = ties[row, i] / size[i] if size[i] else 0.0
    return out


@njit(cache=True)
def _new_close_by_quartile(src, closeness, contact, alive, used, threshold, skill_quartile, shyness_quartile):
    """New close ties (live follows only, so of members) summed by the follower's skill and shyness quartile."""
    out = np.zeros((2, 4))
    for e in range(used):
        if alive[e] and not contact[e] and closeness[e] >= threshold:
            out[0, skill_quartile[src[e]]] += 1.0
            out[1, shyness_quartile[src[e]]] += 1.0
    return out


@njit(cache=True, parallel=True)
def _new_close_by_quartile_parallel(src, closeness, contact, alive, used, threshold, skill_quartile,
                                    shyness_quartile):
    """:func:`_new_close_by_quartile` on all threads, in a fixed number of blocks of follows: the counts are
    whole numbers, so their sum is the same whatever the number of threads and the order of the blocks."""
    blocks = 64
    width = (used + blocks - 1) // blocks
    counts = np.zeros((blocks, 2, 4), np.int64)
    for b in prange(blocks):
        for e in range(b * width, min(used, (b + 1) * width)):
            if alive[e] and not contact[e] and closeness[e] >= threshold:
                counts[b, 0, skill_quartile[src[e]]] += 1
                counts[b, 1, shyness_quartile[src[e]]] += 1
    out = np.zeros((2, 4))
    for b in range(blocks):
        for row in range(2):
            for q in range(4):
                out[row, q] += counts[b, row, q]
    return out


def _groups(state: State, params, members: np.ndarray, followers: np.ndarray) -> dict[str, float]:
    """Minority visibility among the top-k by followers and, per group, the shares with (new) mutual ties."""
    g, group = state.graph, state.pop.group
    connected, new = g.mutual[members] > 0, g.new_mutual[members] > 0
    out = {"minority_connected_share": 0.0, "minority_new_tie_share": 0.0, "minority_visibility": 0.0,
           "majority_connected_share": _share(connected), "majority_new_tie_share": _share(new)}
    if params.population.minority_share == 0:
        return out  # no groups: everyone is in the majority
    minority = group[members] == 1
    for name, sel in (("minority", minority), ("majority", ~minority)):
        out[f"{name}_connected_share"] = _share(connected[sel])
        out[f"{name}_new_tie_share"] = _share(new[sel])
    k = min(params.metrics.top_k, members.size)
    if k and minority.any():
        top = np.argpartition(-followers, k - 1)[:k]
        out["minority_visibility"] = float(minority[top].mean() / minority.mean())
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
    _remember_top_k(state, params, members, state.graph.in_deg[members])


def _remember_top_k(state: State, params, members: np.ndarray, followers: np.ndarray) -> set:
    k = min(params.metrics.top_k, members.size)
    top = set(members[np.argpartition(-followers, k - 1)[:k]].tolist()) if k else set()
    history = state.top_k_history
    history.append(top)
    del history[: max(0, len(history) - params.metrics.turnover_lag - 1)]
    return top


def _turnover(state: State, params, members: np.ndarray, followers: np.ndarray) -> float:
    top = _remember_top_k(state, params, members, followers)
    history = state.top_k_history
    lag = params.metrics.turnover_lag
    past = history[0]
    if len(history) <= lag or not past or not top:
        return 0.0
    return 1.0 - len(top & past) / len(top)


def _intimacy(state: State, params) -> tuple[int, float]:
    g = state.graph
    return _intimacy_kernel(g.src, g.familiarity, g.closeness, g.alive, g.used, g.n, params.intimacy.close_threshold)


@njit(cache=True)
def _intimacy_kernel(src, familiarity, closeness, alive, used, n, threshold):
    """(close ties, intimacy gap): the gap is the mean over members who feel any familiarity of the share
    of it held toward people they are not close to."""
    total = np.zeros(n)
    distant = np.zeros(n)
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
    return close, (gap / count if count else 0.0)


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
