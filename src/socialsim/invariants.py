"""Checks that hold after every step; tests and debugging runs call :func:`check`."""

from __future__ import annotations

import numpy as np

from .graph import ORIGINS
from .metrics import METRICS
from .state import ACTIVE, LEFT, OUTSIDE

# metrics bounded to [lo, hi]; the others are counts (>= 0)
BOUNDS = {name: (-1.0, 1.0) if "[-1, 1]" in doc else (0.0, 1.0) for name, doc in METRICS.items()
          if "[-1, 1]" in doc or "[0, 1]" in doc}


def check(model) -> None:
    """Raise AssertionError naming the first broken invariant."""
    s, g = model.state, model.state.graph
    idx = g.alive_index()
    src, dst = g.src[idx].astype(np.int64), g.dst[idx].astype(np.int64)
    assert not np.any(src == dst), "self-follow"
    keys = src * g.n + dst
    assert np.unique(keys).size == keys.size, "duplicate follow"
    assert g.n_edges == idx.size, "edge count"
    assert np.array_equal(np.bincount(dst, minlength=g.n), g.in_deg), "followers disagree with edges"
    assert np.array_equal(np.bincount(src, minlength=g.n), g.out_deg), "followees disagree with edges"
    mutual = np.isin(dst * g.n + src, keys)
    assert np.array_equal(np.bincount(src[mutual], minlength=g.n), g.mutual), "mutual ties disagree with edges"
    assert g.mutual_pairs * 2 == mutual.sum(), "mutual pair count"
    contact = g.contact[idx]
    assert np.array_equal(np.bincount(src[mutual & ~contact], minlength=g.n), g.new_mutual), \
        "new mutual ties disagree with edges"
    assert np.all((g.origin[idx] >= 0) & (g.origin[idx] < len(ORIGINS))), "a follow with no known origin"
    met = g.met[idx]
    assert np.array_equal(np.bincount(src[met], minlength=g.n), g.offline), "offline ties disagree with edges"
    local = g.town[src] == g.town[dst]
    assert g.local_edges == local.sum(), "local follow count"
    assert np.array_equal(np.bincount(src[local], minlength=g.n), g.local_out), "local followees"
    gone = (s.status == LEFT) | (s.status == OUTSIDE)
    assert not np.any(gone[src] | gone[dst]), "a follow from or to someone who is not a member"
    assert not np.any(s.online & (s.status != ACTIVE)), "someone online who is not an active member"
    assert np.all(g.familiarity[idx] >= 0) and np.all(g.closeness[idx] >= 0), "negative familiarity or closeness"
    for name, value in model.metrics.items():
        assert np.isfinite(value), f"metric {name} is not finite: {value}"
        lo, hi = BOUNDS.get(name, (0.0, np.inf))
        assert lo - 1e-9 <= value <= hi + 1e-9, f"metric {name}={value} outside [{lo}, {hi}]"
    assert model.metrics["members"] == len(model.members), "Mesa agents disagree with membership"
