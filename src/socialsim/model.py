"""PlatformModel: a Mesa model of members who join, post, read, reshare, follow and meet offline."""

from __future__ import annotations

from typing import Any

import mesa
from mesa.time import EventGenerator, Priority, Schedule
import numpy as np
import pandas as pd

from . import metrics, population
from .agents import Member
from .params import Params
from .phases import PHASES, follow, join, unfollow
from .state import State, StepCounts


class MetricCollector(mesa.DataCollector):
    """Mesa's DataCollector for reporters that return plain numbers, stored as they are.

    Mesa copies every reported value (``copy.deepcopy``) in case it is a mutable object; the metrics are floats and
    the step an int, so the copy changes nothing and, with 38 reporters, costs a measurable share of a small step.
    """

    def collect(self, model) -> None:
        """Append each model reporter's value to ``model_vars``."""
        for name, reporter in self.model_reporters.items():
            self.model_vars[name].append(reporter(model))


class PlatformModel(mesa.Model):
    """The platform model.

    Build it from one parameters object or from keyword arguments, dotted or with
    ``__`` for the group: ``PlatformModel(population__size=500, platform__recommender="local")``.
    The seed is ``params.seed`` (or ``rng=``); the model draws every random number from Mesa's ``self.rng``.
    """

    def __init__(self, params: Params | dict | None = None, *, rng: int | None = None, **overrides: Any):
        p = Params.resolve(params, rng, **overrides)
        super().__init__(rng=p.seed)
        self._setup(p)
        # the same people in every world when population.seed is fixed (Salganik-style experiments)
        people_rng = self.rng if p.population.seed < 0 else np.random.default_rng(p.population.seed)
        self.state = State.new(population.generate(p.population, people_rng))
        self.state.elite = self.state.pop.reach >= np.quantile(self.state.pop.reach, p.leaving.elite_quantile)
        join.seed(self.state, p, self.rng)
        # the first members follow their offline contacts (and the follow step's unfollowing runs, as in a step)
        follow.run(self.state, p, self.rng)
        unfollow.run(self.state, p, self.rng)
        self._sync_members()
        self.measure()

    def _setup(self, p: Params) -> None:
        self.params = p
        self.members: dict[int, Member] = {}
        self.metrics: dict[str, float] = {}
        # the step is a reporter of its own (rather than the DataCollector's private list of collection times),
        # so that a checkpoint restores it through the public ``model_vars``
        reporters = {"step": lambda m: m.steps}
        reporters.update({name: (lambda m, name=name: m.metrics[name]) for name in metrics.METRIC_NAMES})
        self.datacollector = MetricCollector(model_reporters=reporters)

    # --- checkpoints -------------------------------------------------------
    def checkpoint(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly, as plain values, numpy arrays and the State objects
        (socialsim.snapshot stores it without pickle; socialsim.recovery writes it to the run folder)."""
        return {"params": self.params.to_dict(), "steps": int(self.steps), "rng": self.rng.bit_generator.state,
                "state": self.state, "metrics": dict(self.metrics),
                "model_vars": {k: list(v) for k, v in self.datacollector.model_vars.items()}}

    @classmethod
    def from_checkpoint(cls, data: dict[str, Any]) -> PlatformModel:
        """Rebuild a model from :meth:`checkpoint`; stepping it on gives the same results as never stopping."""
        p = Params.from_dict(data["params"])
        self = cls.__new__(cls)
        mesa.Model.__init__(self, rng=p.seed)
        self._setup(p)
        self.rng.bit_generator.state = data["rng"]
        # Mesa's clock: continue from the saved step rather than from 1. Mesa 3.5 has no public way to move the
        # clock of a new model forward without running its steps; its own Simulator (mesa.experimental.devs)
        # replaces the default step schedule the same way.
        self._default_schedule.stop()
        self.steps, self.time = int(data["steps"]), float(data["steps"])
        self._default_schedule = EventGenerator(self, self._do_step, Schedule(interval=1.0, start=self.time + 1.0),
                                                priority=Priority.HIGH).start()
        self.state = data["state"]
        self.state.graph._csr = None  # derived, rebuilt on demand
        self.metrics = dict(data["metrics"])
        self.datacollector.model_vars = {k: list(v) for k, v in data["model_vars"].items()}
        for i in self.state.members().tolist():
            self.members[i] = Member(self, i)
        return self

    # --- the step ----------------------------------------------------------
    def step(self) -> None:
        """One day: the phases of ``socialsim.phases.PHASES`` in order; then Mesa's agents follow membership and
        the model measures (every ``run.record_every`` steps and at step ``run.steps``)."""
        state = self.state
        state.step = self.steps
        for _, phase in PHASES:
            phase(state, self.params, self.rng)
        # after compact, which touches only the follow graph; this touches only Mesa's agents
        self._sync_members()
        every = self.params.run.record_every
        if every == 1 or self.steps % every == 0 or self.steps == self.params.run.steps:
            self.measure()
        else:  # carry what the recorded metrics sum or compare over to the next record
            carried = state.counts_unrecorded  # a new object: the phases overwrite state.counts in place
            state.counts_unrecorded = state.counts.plus(carried if carried is not None else StepCounts())
            metrics.track_top_k(state, self.params)

    def measure(self) -> None:
        """Compute every metric for the current state and hand them to the DataCollector (the per-step tallies
        cover the steps since the previous record)."""
        state = self.state
        if state.counts_unrecorded is not None:
            state.counts, state.counts_unrecorded = state.counts_unrecorded.plus(state.counts), None
        self.metrics = metrics.measure(state, self.params)
        self.datacollector.collect(self)

    def _recorded(self) -> bool:
        """Whether the metrics of the current step are recorded."""
        steps = self.datacollector.model_vars["step"]
        return bool(steps) and steps[-1] == self.steps

    def _sync_members(self) -> None:
        """Mesa agents mirror membership: created on joining, removed on leaving."""
        for i in self.state.joined_now.tolist():
            self.members[i] = Member(self, i)
        for i in self.state.left_now.tolist():
            self.members.pop(i).remove()
        self.state.joined_now = self.state.joined_now[:0]
        self.state.left_now = self.state.left_now[:0]

    def run(self, steps: int | None = None, progress=None) -> PlatformModel:
        """Run ``steps`` steps (default ``params.run.steps``); ``progress`` is called after each. The metrics of the
        last step are recorded whatever ``run.record_every``."""
        for _ in range(self.params.run.steps if steps is None else steps):
            self.step()
            if progress is not None:
                progress(self)
        if not self._recorded():
            self.measure()
        return self

    # --- outputs -----------------------------------------------------------
    def timeseries(self) -> pd.DataFrame:
        """One row per measured step, with every metric in ``metrics.METRIC_NAMES``."""
        df = self.datacollector.get_model_vars_dataframe()
        df["step"] = df["step"].astype(np.int64)
        return df.reset_index(drop=True)

    def member_frame(self) -> pd.DataFrame:
        """One row per person who joined, with the columns of ``metrics.MEMBER_COLUMNS``."""
        return pd.DataFrame(metrics.member_table(self.state, self.params), columns=list(metrics.MEMBER_COLUMNS))

    def follows_frame(self) -> pd.DataFrame:
        """One row per live follow; ``origin`` is a pandas Categorical over ``socialsim.graph.ORIGINS``."""
        df = pd.DataFrame(self.state.graph.edge_frame_arrays(), columns=list(metrics.FOLLOW_COLUMNS))
        df["origin"] = metrics.origin_categorical(df["origin"].to_numpy())
        return df

    def member(self, member_id: int) -> Member:
        """The Mesa agent of one member."""
        return self.members[member_id]
