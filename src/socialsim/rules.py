"""The behavioural rules as small functions of member attributes.

Each rule works on one member's scalars and on whole numpy arrays alike, so the
vectorised phases and the per-agent reference model (``socialsim.reference``)
call the same functions and differ only in how they iterate. The numba kernels do not call
them: the phases evaluate a rule with numpy before the kernel runs and pass the result in (a
per-member mask, a lookup table), so each formula is written here once and a compiled kernel
never holds a stale copy of it.
"""

from __future__ import annotations

import numpy as np


def logistic(x):
    """The logistic function 1 / (1 + exp(-x))."""
    return 1.0 / (1.0 + np.exp(-x))


def join_probability(openness, spontaneous_rate, imitation_rate, elite_weight, member_contact_share,
                     invite_only, has_member_contact):
    """Bass adoption: spontaneous joining (scaled by openness and reach) plus imitation of offline contacts."""
    p = openness * spontaneous_rate * elite_weight + imitation_rate * member_contact_share
    p = np.minimum(p, 1.0)
    if invite_only:
        p = np.where(has_member_contact, p, 0.0)
    return p


def elite_weight(reach_z, elite_early_adoption):
    """exp(e z - e^2 / 2): a reach z-score speeds joining; the mean weight over people stays 1."""
    return np.exp(elite_early_adoption * reach_z - 0.5 * elite_early_adoption**2)


def post_appeal(skill, noise, appeal_noise):
    """A post's appeal: its author's skill plus noise of sd ``appeal_noise`` (``noise`` is standard normal)."""
    return skill + appeal_noise * noise


def engage_probability(appeal, engage_base, engage_slope):
    """Engaging (a like or a reply) with a post: logistic in its appeal."""
    return logistic(engage_base + engage_slope * appeal)


def reply_probability(reader_shyness, reply_share):
    """Given engagement: a reply rather than a like. The shy reply less."""
    return reply_share * (1.0 - reader_shyness)


def answer_probability(author_shyness, answer_prob):
    """The author answers a reply; the shy answer less."""
    return answer_prob * (1.0 - 0.5 * author_shyness)


def reshare_probability(appeal, reshare_base, reshare_slope):
    """Resharing a post: logistic in its appeal."""
    return logistic(reshare_base + reshare_slope * appeal)


def follow_probability(appeal, author_reach, follow_base, follow_slope, prominence):
    """Following an author one is exposed to: rises with the post's appeal and the author's prominence."""
    return logistic(follow_base + follow_slope * appeal + prominence * np.log(author_reach))


def follow_back_probability(followed_followers, followed_shyness, follow_back_prob, follow_back_scale):
    """Accounts with many followers rarely follow back; the shy a little less."""
    return follow_back_prob * (1.0 - 0.5 * followed_shyness) / (1.0 + followed_followers / follow_back_scale)


def hear_probability(local_followees, hear_prob):
    """Hearing of a local meetup through any of one's local followees."""
    return 1.0 - (1.0 - hear_prob) ** local_followees


def attend_probability(skill, shyness, local_followees, attend_base, attend_skill, attend_ties, attend_shyness):
    """Attendance rises with skill and local ties and falls with shyness (a fully shy person never goes)."""
    x = attend_base + attend_skill * skill + attend_ties * np.log1p(local_followees) - attend_shyness * shyness
    return (1.0 - shyness) * logistic(x)


def quiet_probability(is_early_elite, mainstream, quiet_rate, elite_exit_rate):
    """Going quiet (the first stage of leaving); early elite adopters drift off once the platform is mainstream."""
    return quiet_rate + np.where(is_early_elite & mainstream, elite_exit_rate, 0.0)


def first_members(rng, reach_z, seed_members, elite_early_adoption, arrivals_per_step):
    """The people on the platform at step 0 (unsorted).

    Drawn without replacement with the reach weight of :func:`elite_weight` (early adopters have reach);
    under a fixed arrival rate (``arrivals_per_step`` > 0, the classic growth models) people
    0 .. seed_members - 1.
    """
    if arrivals_per_step > 0:
        return np.arange(seed_members)
    w = elite_weight(reach_z, elite_early_adoption)
    return rng.choice(np.size(reach_z), size=seed_members, replace=False, p=w / w.sum())


# the most followees anyone may have when no cap applies
NO_FOLLOW_LIMIT = np.iinfo(np.int64).max


def follow_allowance(followers, follow_cap):
    """The most accounts one may follow, given one's followers: Twitter's 2009 follow cap.

    With ``follow_cap`` C > 0, a member with at most C followers may follow at most C accounts; a member with
    more followers than C, or anyone when C = 0, has no limit (:data:`NO_FOLLOW_LIMIT`). A follow is refused
    when one already follows as many accounts as the allowance.
    """
    return np.where((follow_cap > 0) & (np.asarray(followers) <= follow_cap), follow_cap, NO_FOLLOW_LIMIT)


def is_silent(last_post, joined_step, step, silence_steps):
    """Whether an account counts as silent at ``step``: it has neither posted nor joined in the last
    ``silence_steps`` steps (a newcomer who never posted is not silent at once)."""
    return np.maximum(last_post, joined_step) < step - silence_steps


def demoted_closeness(close_threshold):
    """The closeness a close tie falls to when its follower has more close ties than the Dunbar number:
    just below close, so it is the first to become close again."""
    return close_threshold * 0.999


def homophily_weight(same_group, homophily):
    """Karimi et al. (2018)'s h_ab: ``homophily`` for two people of the same group, 1 - ``homophily`` across."""
    return np.where(same_group, homophily, 1.0 - homophily)


def homophilic_follow_probability(probability, same_group, homophily):
    """A follow decision under homophily: the chance scaled by 2 h_ab (2h within one's group, 2(1 - h) across),
    capped at 1; at h = 0.5 it is the chance unchanged."""
    return np.minimum(1.0, probability * 2.0 * homophily_weight(same_group, homophily))


# --- leaving when one's audience fills with strangers (leaving.exit_rule = "audience") --------------------------
PRIOR_FOLLOWERS = 10.0


def valued_audience_share(mutual, followers):
    """The share of one's followers whom one follows back (people one values), shrunk toward 1/2 by one
    follower of each kind so that a handful of followers does not swing it."""
    return (mutual + PRIOR_FOLLOWERS / 2) / (followers + PRIOR_FOLLOWERS)


def update_expectation(expected, share, memory):
    """What a member has come to expect: a moving average of their valued-audience share over about ``memory``
    steps; the first step with followers sets it (``expected < 0``: not yet)."""
    return np.where(expected < 0, share, expected + (share - expected) / memory)


def disappointment(share, expected, tolerance):
    """How far the valued-audience share has fallen below the expected, as a share of it, beyond a tolerated
    fall; in [0, 1] (0 before any expectation)."""
    fall = 1.0 - share / np.where(expected > 0, expected, 1.0)
    return np.where(expected > 0, np.clip(fall - tolerance, 0.0, 1.0), 0.0)


def audience_quiet_probability(share, expected, quiet_rate, tolerance, disappointment_exit):
    """Going quiet: the base rate plus a chance proportional to the disappointment."""
    return np.minimum(quiet_rate + disappointment_exit * disappointment(share, expected, tolerance), 1.0)


# --- closeness from a limited budget (intimacy.close_rule = "budget") ----------------------------------------
def interaction_priority(closeness, u, exploration):
    """Priority of a reply (or an answer) in the budget queue: the closeness of one's tie to the other person
    (0 if one does not follow them) plus an exploration term, ``exploration`` times an Exp(1) draw made from the
    uniform ``u``; the closest ties come first, and now and then someone new jumps the queue."""
    return closeness - exploration * np.log1p(-u)


def within_budget(owner, priority, budget):
    """Which interactions fit in their owners' budgets: each owner keeps its ``budget`` highest priorities
    (equal priorities: earlier first). ``owner`` and ``priority`` are arrays; returns a boolean mask."""
    owner = np.asarray(owner)
    keep = np.ones(owner.shape[0], bool)
    if owner.shape[0] <= budget:
        return keep
    order = np.lexsort((np.arange(owner.shape[0]), -np.asarray(priority, float), owner))
    sorted_owner = owner[order]
    rank = np.arange(order.size) - np.searchsorted(sorted_owner, sorted_owner)
    keep[order[rank >= budget]] = False
    return keep
