"""One module per phase, named as the phase; each exposes ``run(state, params, rng)``, called once per step."""

from . import compact, decay, engage, follow, join, leave, meet, post, read, recommend, unfollow

# the order of the phases within a step (docs/ODD.md, "Process overview and scheduling")
PHASES = (
    ("join", join.run),
    ("post", post.run),
    ("read", read.run),
    ("engage", engage.run),
    ("recommend", recommend.run),
    ("follow", follow.run),
    ("unfollow", unfollow.run),
    ("meet", meet.run),
    ("leave", leave.run),
    ("decay", decay.run),
    ("compact", compact.run),
)
