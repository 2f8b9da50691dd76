"""Property-based tests (hypothesis) over random valid configurations.

After every step: no self or duplicate follows, counts agree with the edge list, metrics are finite and in
their ranges, nobody who left still acts, Mesa agents mirror membership (socialsim.invariants.check plus the
checks below). Also: resuming from a checkpoint at any step gives the uninterrupted run, and any value
outside a parameter's range is refused with a message naming the parameter and what is allowed.

The examples are derandomized (the same ones every run, no example database), so CI is reproducible.
"""

from __future__ import annotations


import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from socialsim import PlatformModel, snapshot
from socialsim.invariants import check
from socialsim.params import (ATTACHMENTS, BASE_RECOMMENDERS, RECOMMENDERS, TIMELINES, ParameterError, Params,
                              iter_fields)
from socialsim.state import ACTIVE, LEFT, QUIET

CI = settings(max_examples=30, deadline=None, derandomize=True, database=None, print_blob=True,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@st.composite
def configs(draw, max_steps: int = 15) -> dict:
    """A valid configuration: 20-200 people, every recommender and timeline, reshares on/off, invite-only,
    follow caps, meetup, leaving and elite-exit rates, Dunbar limits, classic attachment rules ..."""
    size = draw(st.integers(20, 200))
    mix = {k: draw(st.sampled_from([0.0, 0.5, 1.0])) for k in BASE_RECOMMENDERS}
    if sum(mix.values()) == 0:
        mix["random"] = 1.0
    return {
        "seed": draw(st.integers(0, 2**31 - 1)),
        "run.steps": draw(st.integers(1, max_steps)),
        "population.size": size,
        "population.towns": draw(st.integers(1, 8)),
        "population.reach_sigma": draw(st.sampled_from([0.0, 1.5, 3.0])),
        "population.offline_degree": draw(st.sampled_from([0.0, 2.0, 10.0])),
        "population.seed": draw(st.sampled_from([-1, 5])),
        "adoption.seed_members": draw(st.integers(1, min(20, size))),
        "adoption.spontaneous_rate": draw(st.sampled_from([0.0, 0.001, 0.05])),
        "adoption.imitation_rate": draw(st.floats(0.0, 0.5)),
        "adoption.attachment": draw(st.sampled_from(ATTACHMENTS)),
        "adoption.attachment_links": draw(st.integers(1, 5)),
        "adoption.arrivals_per_step": draw(st.sampled_from([0, 0, 5])),
        "platform.openness": draw(st.floats(0.0, 1.0)),
        "platform.invite_only": draw(st.booleans()),
        "platform.recommender": draw(st.sampled_from(RECOMMENDERS)),
        "platform.recommender_slots": draw(st.integers(0, 4)),
        "platform.recommender_mix": mix,
        "platform.newcomer_share": draw(st.floats(0.0, 1.0)),
        "platform.newcomer_window": draw(st.integers(1, 10)),
        "platform.timeline": draw(st.sampled_from(TIMELINES)),
        "platform.attention": draw(st.integers(0, 30)),
        "platform.reshares": draw(st.booleans()),
        "platform.post_lifetime": draw(st.integers(1, 5)),
        "platform.follow_cap": draw(st.sampled_from([0, 1, 3, 10, 2000])),
        "behaviour.follow_base": draw(st.floats(-6.0, 0.0)),
        "behaviour.reshare_base": draw(st.sampled_from([-6.0, -1.0])),
        "behaviour.unfollow_prob": draw(st.sampled_from([0.0, 0.5])),
        "behaviour.silence_steps": draw(st.integers(1, 10)),
        "intimacy.dunbar": draw(st.integers(1, 150)),
        "intimacy.close_threshold": draw(st.sampled_from([0.1, 1.0])),
        "intimacy.closeness_decay": draw(st.sampled_from([0.0, 0.01, 1.0])),
        "meetups.rate": draw(st.sampled_from([0.0, 0.2, 1.0])),
        "meetups.min_members": draw(st.integers(1, 20)),
        "meetups.meets": draw(st.integers(0, 5)),
        "leaving.quiet_rate": draw(st.sampled_from([0.0, 0.02, 0.2])),
        "leaving.quiet_steps": draw(st.integers(0, 5)),
        "leaving.mainstream_share": draw(st.floats(0.0, 1.0)),
        "leaving.elite_quantile": draw(st.floats(0.0, 1.0)),
        "leaving.elite_exit_rate": draw(st.sampled_from([0.0, 0.1])),
        "leaving.exit_rule": draw(st.sampled_from(["audience", "imposed"])),
        "leaving.expectation_memory": draw(st.integers(1, 50)),
        "leaving.tolerance": draw(st.sampled_from([0.0, 0.2, 1.0])),
        "leaving.disappointment_exit": draw(st.sampled_from([0.0, 0.2, 1.0])),
        "intimacy.close_rule": draw(st.sampled_from(["budget", "dunbar"])),
        "intimacy.reply_budget": draw(st.integers(0, 3)),
        "intimacy.exploration": draw(st.sampled_from([0.0, 0.5, 10.0])),
        "metrics.top_k": draw(st.integers(1, 60)),
        "metrics.turnover_lag": draw(st.integers(1, 10)),
    }


def check_everything(model: PlatformModel, left_before: dict[int, int]) -> None:
    """socialsim.invariants.check, and that nobody who left acts, comes back, or keeps an agent."""
    check(model)
    s = model.state
    left = s.status == LEFT
    now = s.step
    assert set(model.members) == set(s.members().tolist()), "Mesa agents disagree with membership"
    assert all(agent.index == i for i, agent in model.members.items())
    # who posted, read or reshared in this step was active when it began (one goes quiet, and may leave, in
    # the leave phase at the end of a step)
    was_active = ((s.status == ACTIVE) | ((s.status == QUIET) & (s.quiet_since == now))
                  | (left & (s.left_step == now) & (s.quiet_since == now)))
    assert not np.any(s.posted & ~was_active), "someone posted who was not active"
    assert np.all(was_active[s.timeline.reader]), "someone read who was not active"
    assert np.all(was_active[s.reshares_new.resharer]), "someone reshared who was not active"
    assert np.all(s.last_post[left] <= s.left_step[left]), "posted after leaving"
    quiet = s.status == QUIET
    assert np.all(s.last_post[quiet] <= s.quiet_since[quiet]), "posted after going quiet"
    assert np.all(s.joined_step[s.is_member] >= 0) and np.all(s.left_step[left] >= s.joined_step[left])
    for i, step in left_before.items():  # leaving is for good
        assert s.status[i] == LEFT and s.left_step[i] == step, f"member {i} came back after leaving"
    left_before.update(zip(np.flatnonzero(left).tolist(), s.left_step[left].tolist()))


@CI
@given(configs())
def test_invariants_hold_after_every_step(config):
    model = PlatformModel(Params.from_dict(config))
    left: dict[int, int] = {}
    check_everything(model, left)
    for _ in range(model.params.run.steps):
        model.step()
        check_everything(model, left)
    assert len(model.timeseries()) == model.params.run.steps + 1


@settings(CI, max_examples=12)
@given(configs(max_steps=12), st.data())
def test_resuming_from_a_checkpoint_at_any_step_gives_the_uninterrupted_run(config, data):
    p = Params.from_dict(config)
    whole = PlatformModel(p).run()
    k = data.draw(st.integers(0, p.run.steps), label="checkpoint step")
    part = PlatformModel(p).run(k)
    resumed = PlatformModel.from_checkpoint(snapshot.loads(snapshot.dumps(part.checkpoint()))[1])
    resumed.run(p.run.steps - k)
    check(resumed)
    for frame in ("timeseries", "member_frame", "follows_frame"):
        assert getattr(whole, frame)().equals(getattr(resumed, frame)()), frame


RANGED = [(name, f.metadata["range"], type(value)) for name, f, value in iter_fields()
          if f.metadata.get("range", (None, None)) != (None, None) and isinstance(value, (int, float))
          and not isinstance(value, bool)]


@CI
@given(st.sampled_from(RANGED), st.data())
def test_any_value_out_of_range_is_refused_naming_the_parameter_and_its_range(field, data):
    name, (lo, hi), kind = field
    sides = [s for s, bound in (("below", lo), ("above", hi)) if bound is not None]
    side = data.draw(st.sampled_from(sides), label="side")
    step = data.draw(st.integers(1, 10**6) if kind is int else st.floats(1e-6, 1e6), label="distance")
    value = (lo - step) if side == "below" else (hi + step)
    if kind is float:
        value = float(value)
    with pytest.raises(ParameterError) as err:
        Params.from_dict({name: value})
    message = str(err.value)
    assert message.startswith(name + " must be"), message
    assert any(word in message for word in (">=", "<=", " in [")), message

