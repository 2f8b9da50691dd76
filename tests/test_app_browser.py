"""The SolaraViz app in a real browser: Debian's Chromium, headless, driven by Playwright (Python).

The server is ``python -m socialsim.viz`` on a free port of 127.0.0.1, started by a fixture and torn down after.
Playwright never downloads a browser here: it launches ``/usr/bin/chromium`` (``CHROMIUM`` overrides the path).
One test walks through the whole page (load, Step, Play, change the recommender, Reset) so that under
``pytest -n 2`` only one server and one browser run at a time.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.slow]

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
SERVER_START_TIMEOUT = 120  # s: importing solara, mesa and the model, and numba's first compile on a fresh clone
UI_TIMEOUT = 60_000  # ms for one UI change (a step re-draws three figures on a busy 2-core machine)

# Known, harmless offline failures. Solara's Markdown asks its CDN for katex@0.16.9, which the solara-assets
# package does not bundle (see docs: /work/shared/context/solara-offline.md): two 404s for katex files.
ALLOWED_FAILED_URL = re.compile(r"/_solara/cdn/katex@[^/]+/")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))  # the OS hands out a free port: distinct per xdist worker
        return s.getsockname()[1]


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


def _wait_for_step(page, n: int) -> None:
    page.locator(".socialsim-step").filter(has_text=re.compile(rf"^Step {n} of")).wait_for(timeout=UI_TIMEOUT)


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

    # the page loads: controls, the step counter and the figures
    start = time.monotonic()
    page.goto(app_url)
    _wait_for_step(page, 0)
    for selector in (".socialsim-network img", ".socialsim-metrics img", ".socialsim-quartiles img"):
        page.locator(selector).wait_for(timeout=UI_TIMEOUT)
    for label in ("Step", "Reset", "▶"):
        assert page.get_by_role("button", name=label).is_visible()
    for control in ("Population size", "Openness", "Recommender", "Timeline ordering", "Reshares", "Meetup rate",
                    "Elite early adoption", "Elite exit rate", "Minority share", "Homophily", "Seed"):
        assert page.get_by_text(re.compile(rf"^{control}\b")).count() >= 1, f"no control labelled {control!r}"
    timings["load"] = time.monotonic() - start

    # Step advances the counter (ours and Mesa's) and changes the metric plot
    metrics_before = page.locator(".socialsim-metrics img").screenshot()
    start = time.monotonic()
    page.get_by_role("button", name="Step").click()
    _wait_for_step(page, 1)
    page.get_by_text("Time: 1.0").wait_for(timeout=UI_TIMEOUT)
    _wait_for_new_image(page, ".socialsim-metrics img", metrics_before)
    timings["step"] = time.monotonic() - start

    # Play runs on until paused
    start = time.monotonic()
    page.get_by_role("button", name="▶").click()
    _wait_for_step(page, 3)
    page.get_by_role("button", name="❚❚").click()
    page.get_by_role("button", name="Step").wait_for(state="visible", timeout=UI_TIMEOUT)
    played = int(re.match(r"Step (\d+) of", _step_text(page)).group(1))
    assert played >= 3
    timings["play"] = time.monotonic() - start

    # a new recommender takes effect on Reset: a new model at step 0, built with it
    assert "recommender: random" in page.locator(".socialsim-levers").inner_text()
    start = time.monotonic()
    page.locator(".v-select").filter(has_text="Recommender").click()
    page.get_by_role("option", name="popularity", exact=True).click()
    page.get_by_role("button", name="Reset").click()
    _wait_for_step(page, 0)
    page.locator(".socialsim-levers").filter(has_text="recommender: popularity").wait_for(timeout=UI_TIMEOUT)
    page.get_by_text("Time: 0.0").wait_for(timeout=UI_TIMEOUT)
    timings["reset"] = time.monotonic() - start
    page.get_by_role("button", name="Step").click()
    _wait_for_step(page, 1)

    # the network coloured by tie origin: a new drawing with the origins' legend
    network_before = page.locator(".socialsim-network img").screenshot()
    page.get_by_role("button", name="tie origin").click()
    _wait_for_new_image(page, ".socialsim-network img", network_before)

    shot = tmp_path / "app.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    print("browser timings (s):", {k: round(v, 1) for k, v in timings.items()}, "screenshot:", shot)

    page.wait_for_timeout(500)  # let late console messages arrive
    assert not problems, "\n".join(problems)
