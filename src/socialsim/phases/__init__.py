"""One module per mechanism; each exposes ``run(state, params, rng)`` and is called once per step, in order."""

from . import adoption, engagement, following, intimacy, leaving, meetups, posting, recommend, timeline

# the order of the phases within a step (docs/ODD.md, "Process overview and scheduling")
PHASES = (
    ("join", adoption.run),
    ("post", posting.run),
    ("read", timeline.run),
    ("engage", engagement.run),
    ("recommend", recommend.run),
    ("follow", following.run),
    ("meet", meetups.run),
    ("leave", leaving.run),
    ("decay", intimacy.run),
)
