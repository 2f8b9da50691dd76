"""The app's model wrapper and drawing code, without a browser (the browser test is test_app_browser.py)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from socialsim import Params, PlatformModel, svg
from socialsim.compare import WORLD_LEVERS

app = pytest.importorskip("socialsim.app")


def test_app_model_defaults_are_the_cli_defaults_except_size():
    m = app.AppModel(size=200)
    defaults = Params().to_dict()
    defaults["population"]["size"] = 200
    assert m.params.to_dict() == defaults
    assert app.AppModel.__init__.__defaults__[0] == app.APP_POPULATION_SIZE == 500


def test_controls_map_to_parameters_and_match_the_constructor():
    m = app.AppModel(size=120, openness=0.3, recommender="local", timeline="engagement", reshares=False,
                     meetup_rate=0.1, elite_early_adoption=2.0, elite_exit_rate=0.02, minority_share=0.3,
                     homophily=0.8, exit_rule="imposed", seed="7")
    p = m.params
    assert (p.population.minority_share, p.population.homophily) == (0.3, 0.8)
    assert (p.population.size, p.platform.openness, p.platform.recommender, p.platform.timeline) == (
        120, 0.3, "local", "engagement")
    assert (p.platform.reshares, p.meetups.rate, p.adoption.elite_early_adoption, p.leaving.elite_exit_rate,
            p.leaving.exit_rule, p.seed) == (False, 0.1, 2.0, 0.02, "imposed", 7)
    # every control is a constructor argument, and its initial value is the constructor's default
    import inspect

    signature = inspect.signature(app.AppModel.__init__).parameters
    for name, control in app.model_params.items():
        value = control.value if isinstance(control, app.Slider) else control["value"]
        assert name in signature
        default = signature[name].default
        assert value == default or str(value) == str(default), name
    assert m.notice is None
    bad = app.AppModel(size=50, seed="x")  # a typo in the seed box: the default seed, and a notice on the page
    assert bad.params.seed == Params().seed and "seed" in bad.notice


def test_same_run_as_the_plain_model_and_drawing_leaves_it_alone():
    plain = PlatformModel(population__size=150, seed=4)
    shown = app.AppModel(size=150, seed=4)
    for k in range(25):
        plain.step()
        shown.step()
        if k % 6 == 0:
            app.draw_network(shown)
            app.draw_metrics(shown)
            app.draw_quartiles(shown)
    assert plain.metrics == shown.metrics
    assert plain.rng.random() == shown.rng.random()


def test_stops_after_run_steps():
    m = app.AppModel(size=60, steps=3)
    for _ in range(3):
        assert m.running
        m.step()
    assert not m.running


def test_network_sample_is_capped_stable_and_nodes_do_not_move():
    m = app.AppModel(size=500, seed=2)
    m.run(60)
    view = m.view
    nodes, n_members = view.sample()
    assert n_members > app.NETWORK_MAX_NODES and nodes.size == app.NETWORK_MAX_NODES
    followers = m.state.graph.in_deg
    top = np.sort(followers[m.state.members()])[::-1][: app.NETWORK_TOP]
    assert np.all(np.isin(top, followers[nodes]))  # the top accounts are always shown
    app.draw_network(m)
    before = dict(view.pos)
    m.run(5)
    app.draw_network(m, "town")
    for i, xy in before.items():
        assert np.array_equal(view.pos[i], xy)  # cached positions are kept
    after, _ = view.sample()
    assert np.intersect1d(nodes, after).size > 0.8 * nodes.size  # the random part of the sample is stable
    xy = np.array(list(view.pos.values()))
    assert np.all(np.isfinite(xy)) and np.abs(xy).max() < 10


@pytest.mark.slow
def test_drawing_at_500_members_gives_pictures():
    m = app.AppModel(size=500, seed=1)
    m.run(80)
    for draw in (app.draw_network, app.draw_metrics, app.draw_quartiles):
        assert app.figure_png(draw(m))[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_served_page_has_the_project_title_and_the_server_logs_no_warning(tmp_path):
    """``python -m socialsim.viz`` on 127.0.0.1: the HTML title is the project's (Solara's default is
    "Solara ☀️"), and a normal start and page request log no warning (Solara's samesite-cookie one included)."""
    import os
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    from socialsim.app import PAGE_TITLE

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    log_path = tmp_path / "server.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "socialsim.viz", "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"},
                                start_new_session=True)
    try:
        html = None
        for _ in range(600):  # up to about five minutes: imports and numba's first compile on a busy machine
            assert proc.poll() is None, log_path.read_text()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
                    html = response.read().decode()
                    break
            except OSError:
                time.sleep(0.5)
        assert html is not None, log_path.read_text()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            response.read()  # a second request (a browser's reload)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    title = html.split("<title>", 1)[1].split("</title>", 1)[0]
    assert title == PAGE_TITLE
    log = log_path.read_text()
    assert "warn" not in log.lower() and "samesite" not in log.lower(), log


def test_network_coloured_by_tie_origin_shows_each_follow_in_its_origin_colour():
    m = app.AppModel(size=150, seed=3, minority_share=0.3, meetup_rate=0.2)
    m.run(40)
    fig = app.draw_network(m, "tie origin")
    ax = fig.axes[0]
    nodes, _ = m.view.sample()
    src, dst, met, origin = m.view.edges_with_origin(nodes)
    drawn = ax.collections[0].get_colors()  # one RGBA per follow, in edge order
    from matplotlib.colors import to_rgba

    expected = np.array([to_rgba(app.ORIGIN_COLOURS[o], 0.7) for o in origin])
    assert len(set(origin.tolist())) >= 3 and np.allclose(drawn, expected)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"offline", "suggested", "follow-back", "minority"} <= set(legend)
    for colour_by in app.COLOUR_BY:
        app.draw_network(m, colour_by)


# --- compare mode ---------------------------------------------------------------------------------------------


def _circles(svg_text: str) -> dict[int, tuple[str, str, str]]:
    """{person: (cx, cy, title)} of a network drawing."""
    import re

    return {int(p): (x, y, t) for x, y, p, t in re.findall(
        r'<circle cx="([\d.]+)" cy="([\d.]+)" [^>]*data-person="(\d+)"><title>([^<]*)</title>', svg_text)}


def test_compare_networks_show_the_same_people_at_the_same_places_with_their_ties():
    m = app.AppCompareModel(size=500, seed=1, preset="Random vs popularity suggestions")
    for _ in range(60):
        m.step()
    nodes, n_either = m.sample.people()
    assert n_either > svg.NETWORK_MAX_NODES and nodes.size == svg.NETWORK_MAX_NODES
    for world in m.worlds:  # each world's top accounts are drawn
        members = world.state.members()
        top = members[np.argsort(-world.state.graph.in_deg[members], kind="stable")[: svg.NETWORK_TOP]]
        assert np.isin(top, nodes).mean() > 0.9  # ties in followers may swap the last few
    a, b = (_circles(app.network_svg(m, side, m.sample)) for side in (0, 1))
    assert set(a) == set(b) == set(nodes.tolist())
    assert all(a[i][:2] == b[i][:2] for i in a)  # one position per person in both worlds
    assert any(a[i][2] != b[i][2] for i in a)  # but their followers differ between the worlds
    i = int(np.argmax(m.a.state.graph.in_deg))
    assert f"followers {m.a.state.graph.in_deg[i]}," in a[i][2]
    assert "new ties" in a[i][2] and "close ties" in a[i][2] and "skill" in a[i][2]
    caption = app.network_caption(m, 0, m.sample)
    assert f"{nodes.size} of the {n_either} people" in caption
    # a colour per tie origin: one path per origin present
    origin_svg = app.network_svg(m, 1, m.sample, "tie origin")
    colours = set(re.findall(r'<path d="[^"]*" stroke="(#[0-9a-f]{6})"', origin_svg))
    assert len(colours) >= 3 and colours <= set(svg.ORIGIN_COLOURS)


def test_compare_charts_put_both_worlds_on_shared_axes():
    m = app.AppCompareModel(size=150, seed=0, minority_share=0.2, preset="No meetups vs frequent meetups")
    for _ in range(12):
        m.step()
    panels = app.headline_metrics(m)
    assert [p[0] for p in panels][-1] == "minority_visibility"
    text = app.metric_svg(m, *panels[0])
    lines = re.findall(r'<polyline points="([^"]*)"', text)
    assert len(lines) == 2 and all(len(pts.split()) == 13 for pts in lines)
    assert "stroke-dasharray" in text  # world B dashed
    quartiles = app.quartile_svg(m)
    assert quartiles.count("<rect") == 8  # four quartiles, two worlds
    assert "minority_visibility" not in "".join(p[0] for p in app.headline_metrics(app.AppCompareModel(size=60)))


def test_compare_controls_match_the_model_and_presets_set_both_worlds():
    import inspect

    signature = inspect.signature(app.CompareModel.__init__).parameters
    levers = {f"{side}_{name}" for side in "ab" for name in WORLD_LEVERS}
    assert set(app.COMPARE_DEFAULTS) == (set(signature) - {"self", "levers"}) | levers
    m = app.AppCompareModel(**app.COMPARE_DEFAULTS)
    assert m.a.params.population.size == app.APP_POPULATION_SIZE and m.notice is None
    assert m.a.params.platform == Params().platform  # the page starts from the defaults
    chosen = app.preset_controls("Open vs invite-only sign-up", {**app.COMPARE_DEFAULTS, "size": 200})
    assert chosen["b_invite_only"] and not chosen["a_invite_only"] and chosen["size"] == 200
    bad = app.AppCompareModel(size=50, seed="x")
    assert bad.a.params.seed == Params().seed and "seed" in bad.notice
