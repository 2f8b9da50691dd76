"""The SolaraViz app in a real browser: Debian's Chromium, headless, driven by Playwright (Python).

The server is ``python -m socialsim.viz`` on a free port of 127.0.0.1, started by a fixture and torn down after.
Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``CHROMIUM`` overrides the path).
One test walks through the whole page so that under ``pytest -n 2`` only one server and one browser run at a
time: compare mode (both networks, Play with both worlds in step and its rate reported, pinning a person's card,
Reset during Play, a lever of one world and Reset, a preset, the verdict), then the one-world view (Step, Play,
a new recommender on Reset).
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

# the browser, its flags, a free port and the page's caption watcher are the benchmark's (benchmarks/app_play.py),
# so the test and the benchmark drive and watch the page alike
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from app_play import CHROMIUM, CHROMIUM_ARGS, WATCH_CAPTIONS, _free_port  # noqa: E402
SERVER_START_TIMEOUT = 300  # s: importing solara, mesa and the model, and numba's first compile on a fresh clone,
# on a 2-core machine that other jobs keep busy (a load average of 10 took over 120 s)
UI_TIMEOUT = 60_000  # ms for one UI change (a step re-draws three figures on a busy 2-core machine)
PLAY_SECONDS = 8  # how long compare mode plays while its rate is measured

# Known, harmless offline failures. Solara's Markdown asks its CDN for katex@0.16.9, which the solara-assets
# package does not bundle (see docs: /work/shared/context/solara-offline.md): two 404s for katex files.
ALLOWED_FAILED_URL = re.compile(r"/_solara/cdn/katex@[^/]+/")


@pytest.fixture(scope="module")
def app_url(tmp_path_factory):
    """Serve the app with ``python -m socialsim.viz`` on a free port; yield its URL; stop the server."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("app_server") / "server.log"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "socialsim.viz", "--host", "127.0.0.1", "--port", str(port)],
                                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the app server exited with {proc.returncode}:\n{log_path.read_text()[-4000:]}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the app server did not answer within {SERVER_START_TIMEOUT} s:\n"
                            f"{log_path.read_text()[-4000:]}")
            time.sleep(0.5)
        yield url
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop the server and anything it started (its own session: process group id = its pid)."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=15)
        except ProcessLookupError:
            pass


@pytest.fixture
def page():
    sync_api = pytest.importorskip("playwright.sync_api")
    if not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (tests/run.sh installs Debian's chromium)")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1500, "height": 1050})
            yield context.new_page()
        finally:
            browser.close()


def _step_text(page) -> str:
    return page.locator(".socialsim-step").inner_text()


def _step(page) -> int:
    return int(re.match(r"Step (\d+) of", _step_text(page)).group(1))


def _wait_for_step(page, n: int, timeout: float = UI_TIMEOUT) -> None:
    page.locator(".socialsim-step").filter(has_text=re.compile(rf"^Step {n} of")).wait_for(timeout=timeout)


def _wait_for_new_image(page, selector: str, old: bytes) -> bytes:
    """Wait until the PNG shown in ``selector`` differs from ``old``; return the new one."""
    deadline = time.monotonic() + UI_TIMEOUT / 1000
    while True:
        new = page.locator(selector).screenshot()
        if new != old:
            return new
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} did not change")
        page.wait_for_timeout(250)


def measure_play(page, seconds: float) -> dict:
    """Play for ``seconds``, then pause: steps per second read from the page's step counter, and how many of the
    steps played the network captions showed (a caption changes only when its world is redrawn)."""
    page.evaluate(WATCH_CAPTIONS)
    start_step = _step(page)
    page.get_by_role("button", name="\u25b6").click()
    samples = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        samples.append((time.monotonic(), _step(page)))
        page.wait_for_timeout(200)
    page.get_by_role("button", name="\u275a\u275a").click()
    page.get_by_role("button", name="Step", exact=True).wait_for(state="visible", timeout=UI_TIMEOUT)
    settled = _step(page)  # a step already under way when Pause was pressed still lands: wait for it
    while True:
        page.wait_for_timeout(1000)
        if _step(page) == settled:
            break
        settled = _step(page)
    moving = [(t, k) for t, k in samples if k > start_step]
    rate = (moving[-1][1] - moving[0][1]) / (moving[-1][0] - moving[0][0]) if len(moving) > 1 else 0.0
    captions = page.evaluate("() => window.__captions")
    steps_a = {int(m.group(1)) for c in captions for m in [re.search(r"World A, step (\d+)", c)] if m}
    steps_b = {int(m.group(1)) for c in captions for m in [re.search(r"World B, step (\d+)", c)] if m}
    end_step = _step(page)
    played = range(start_step + 1, end_step + 1)
    return {"steps_per_second": rate, "steps": end_step - start_step, "end_step": end_step,
            "drawn_a": len(steps_a & set(played)), "drawn_b": len(steps_b & set(played))}


def _design(page, side: str) -> str:
    return page.locator(f".socialsim-world-{side} .socialsim-world-design").inner_text()


def test_app_in_browser(app_url, page, tmp_path):
    problems: list[str] = []

    def on_console(msg):
        if msg.type == "error":
            where = (msg.location or {}).get("url", "")
            if not ALLOWED_FAILED_URL.search(where):
                problems.append(f"console error: {msg.text} ({where})")

    def on_response(response):
        if response.status >= 400 and not ALLOWED_FAILED_URL.search(response.url):
            problems.append(f"HTTP {response.status} for {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(f"page error: {exc}"))
    page.on("response", on_response)
    timings = {}

    # compare mode opens first: named tabs, both networks, the charts and the verdict
    start = time.monotonic()
    page.goto(app_url)
    _wait_for_step(page, 0)
    for tab in ("Compare two designs", "One world"):
        assert page.get_by_role("tab", name=tab).is_visible()
    networks = page.locator(".socialsim-network-svg svg")
    networks.nth(1).wait_for(timeout=UI_TIMEOUT)
    assert networks.count() == 2
    for k in range(2):
        assert networks.nth(k).locator("circle").count() >= 10  # the seed members at least
    assert page.locator(".socialsim-metric svg").count() >= 4
    page.locator(".socialsim-verdict").filter(has_text="Design B against design A").wait_for(timeout=UI_TIMEOUT)
    timings["load"] = time.monotonic() - start

    # Play advances both worlds in step; the rate is reported, not asserted
    play = measure_play(page, PLAY_SECONDS)
    assert play["steps"] >= 3, play
    end = play["end_step"]
    for side in "AB":
        page.locator(".socialsim-caption").filter(has_text=f"World {side}, step {end}:").wait_for(timeout=UI_TIMEOUT)
    assert f"after {end} steps" in page.locator(".socialsim-verdict").inner_text()
    print(f"compare mode, 2 x 500 people: Play ran {play['steps_per_second']:.1f} steps/s "
          f"({play['steps']} steps; networks redrawn for {play['drawn_a']} (A) and {play['drawn_b']} (B) of them)")

    # hovering a person: their traits and ties (an SVG title per person)
    tip = networks.nth(0).locator("circle title").first.text_content()
    assert "skill" in tip and ("followers" in tip or "not a member" in tip)

    # clicking a person pins their card, with a line per world; clicking them again unpins it
    person = networks.nth(0).locator("circle[data-person]").first
    person_id = person.get_attribute("data-person")
    person.dispatch_event("click")  # a synthetic click: small rings may lie under larger circles
    card = page.locator(".socialsim-pinned")
    card.wait_for(timeout=UI_TIMEOUT)
    assert card.locator(".socialsim-pinned-traits").inner_text().startswith(f"person {person_id}:")
    assert [t[:8] for t in card.locator(".socialsim-pinned-world").all_inner_texts()] == ["World A:", "World B:"]
    networks.nth(1).locator(f'circle[data-person="{person_id}"]').dispatch_event("click")
    card.wait_for(state="detached", timeout=UI_TIMEOUT)

    # Reset while playing: Play stops, both worlds go back to step 0 and stay there
    page.get_by_role("button", name="\u25b6").click()
    page.wait_for_function(f"() => +document.querySelector('.socialsim-step').textContent.match(/Step (\\d+)/)[1] >= "
                           f"{end + 2}", timeout=UI_TIMEOUT)
    page.get_by_role("button", name="Reset", exact=True).click()
    _wait_for_step(page, 0)
    page.get_by_role("button", name="\u25b6").wait_for(timeout=UI_TIMEOUT)
    page.wait_for_timeout(1500)
    assert _step(page) == 0
    for side in "AB":
        page.locator(".socialsim-caption").filter(has_text=f"World {side}, step 0:").wait_for(timeout=UI_TIMEOUT)

    # a lever of world B changes world B only, on Reset
    design_a = _design(page, "a")
    current = re.search(r"recommender (\w+)", _design(page, "b")).group(1)
    other = "popularity" if current != "popularity" else "random"
    page.locator(".socialsim-world-b .v-select").filter(has_text="Recommender").click()
    page.get_by_role("option", name=other, exact=True).click()
    page.get_by_role("button", name="Reset", exact=True).click()
    _wait_for_step(page, 0)
    page.locator(".socialsim-world-b .socialsim-world-design").filter(
        has_text=f"recommender {other},").wait_for(timeout=UI_TIMEOUT)
    assert _design(page, "a") == design_a
    page.get_by_role("button", name="Step", exact=True).click()
    _wait_for_step(page, 1)
    page.locator(".socialsim-verdict").filter(has_text="after 1 steps").wait_for(timeout=UI_TIMEOUT)

    # a preset sets both worlds at once
    page.locator(".v-select").filter(has_text="Preset").click()
    page.get_by_role("option", name="Open vs invite-only sign-up", exact=True).click()
    page.locator(".socialsim-world-b .socialsim-world-design").filter(has_text="invite-only").wait_for(
        timeout=UI_TIMEOUT)
    assert "invite-only" not in _design(page, "a")
    page.get_by_role("button", name="tie origin").click()
    page.locator(".socialsim-legend").filter(has_text="follow-back").wait_for(timeout=UI_TIMEOUT)
    shot = tmp_path / "compare.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000

    # the one-world view: controls, the step counter and the figures
    page.get_by_role("tab", name="One world").click()
    _wait_for_step(page, 0)
    for selector in (".socialsim-network img", ".socialsim-metrics img", ".socialsim-quartiles img"):
        page.locator(selector).wait_for(timeout=UI_TIMEOUT)
    for label in ("Step", "Reset", "\u25b6"):
        assert page.get_by_role("button", name=label).is_visible()
    for control in ("Population size", "Openness", "Recommender", "Timeline ordering", "Reshares", "Meetup rate",
                    "Elite early adoption", "Elite exit rate", "Minority share", "Homophily", "Seed"):
        assert page.get_by_text(re.compile(rf"^{control}\b")).count() >= 1, f"no control labelled {control!r}"

    # Step advances the counter (ours and Mesa's) and changes the metric plot
    metrics_before = page.locator(".socialsim-metrics img").screenshot()
    start = time.monotonic()
    page.get_by_role("button", name="Step", exact=True).click()
    _wait_for_step(page, 1)
    page.get_by_text("Time: 1.0").wait_for(timeout=UI_TIMEOUT)
    _wait_for_new_image(page, ".socialsim-metrics img", metrics_before)
    timings["step"] = time.monotonic() - start

    # Play runs on until paused (each played step redraws three matplotlib figures: slow when the machine is busy)
    page.get_by_role("button", name="\u25b6").click()
    _wait_for_step(page, 3, timeout=5 * UI_TIMEOUT)
    page.get_by_role("button", name="\u275a\u275a").click()
    page.get_by_role("button", name="Step", exact=True).wait_for(state="visible", timeout=UI_TIMEOUT)
    assert _step(page) >= 3

    # a new recommender takes effect on Reset: a new model at step 0, built with it
    current = re.search(r"recommender: (\w+)", page.locator(".socialsim-levers").inner_text()).group(1)
    other = "popularity" if current != "popularity" else "random"
    start = time.monotonic()
    page.locator(".v-select").filter(has_text="Recommender").click()
    page.get_by_role("option", name=other, exact=True).click()
    page.get_by_role("button", name="Reset", exact=True).click()
    _wait_for_step(page, 0)
    page.locator(".socialsim-levers").filter(has_text=f"recommender: {other}").wait_for(timeout=UI_TIMEOUT)
    page.get_by_text("Time: 0.0").wait_for(timeout=UI_TIMEOUT)
    timings["reset"] = time.monotonic() - start
    page.get_by_role("button", name="Step", exact=True).click()
    _wait_for_step(page, 1)

    # the network coloured by tie origin: a new drawing with the origins' legend
    network_before = page.locator(".socialsim-network img").screenshot()
    page.get_by_role("button", name="tie origin").click()
    _wait_for_new_image(page, ".socialsim-network img", network_before)

    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    print("browser timings (s):", {k: round(v, 1) for k, v in timings.items()}, "screenshots:", tmp_path)

    page.wait_for_timeout(500)  # let late console messages arrive
    assert not problems, "\n".join(problems)
