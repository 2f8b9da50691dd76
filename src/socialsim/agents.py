"""Member: a Mesa agent that gives per-member access to the state arrays (the state lives in arrays)."""

from __future__ import annotations

import mesa
import numpy as np


class Member(mesa.Agent):
    """A person on the platform. ``index`` is the person's row in the state arrays (``member_id`` in outputs)."""

    def __init__(self, model, index: int):
        super().__init__(model)
        self.index = int(index)

    def _attr(self, name):
        return getattr(self.model.state, name)[self.index]

    # traits
    skill = property(lambda self: float(self.model.state.pop.skill[self.index]))
    reach = property(lambda self: float(self.model.state.pop.reach[self.index]))
    shyness = property(lambda self: float(self.model.state.pop.shyness[self.index]))
    activity = property(lambda self: float(self.model.state.pop.activity[self.index]))
    town = property(lambda self: int(self.model.state.pop.town[self.index]))
    # history and counts
    joined_step = property(lambda self: int(self._attr("joined_step")))
    impressions = property(lambda self: int(self._attr("impressions")))
    followers = property(lambda self: int(self.model.state.graph.in_deg[self.index]))
    followees = property(lambda self: int(self.model.state.graph.out_deg[self.index]))
    mutual_ties = property(lambda self: int(self.model.state.graph.mutual[self.index]))
    offline_ties = property(lambda self: int(self.model.state.graph.offline[self.index]))

    @property
    def following(self) -> np.ndarray:
        """member_ids this member follows."""
        g = self.model.state.graph
        csr = g.followees_csr()
        return csr.followee[csr.indptr[self.index]: csr.indptr[self.index + 1]].astype(np.int64)

    def __repr__(self) -> str:
        return f"Member({self.index}, skill={self.skill:.2f}, reach={self.reach:.2f}, followers={self.followers})"
