"""Compact: the follow graph drops dead follows and re-sorts its slots once enough are dead or unsorted.

It changes no follow and draws no random number, but it moves follows to new slots, so it runs last, between
steps; the read and unfollow kernels walk the sorted slots it leaves.
"""

from __future__ import annotations

import numpy as np

from ..params import Params
from ..state import State


def run(state: State, params: Params, rng: np.random.Generator) -> None:
    """Compact the follow graph (see :meth:`socialsim.graph.FollowGraph.compact`)."""
    state.graph.compact()
