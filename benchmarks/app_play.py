"""How fast the app plays in compare mode, measured in headless Chromium, against the 5 steps/s target.

    python benchmarks/app_play.py                      # 3 plays of 20 s at 2 x 500 people
    python benchmarks/app_play.py --screenshots docs/img   # and the app's screenshots for the docs

Serves the app (``python -m socialsim.viz`` on a free port of 127.0.0.1), opens it in Chromium (``/usr/bin/chromium``
or ``$CHROMIUM``) through Playwright, and in compare mode (two worlds of 500 people, the page's defaults) presses
Play for ``--seconds``, then pauses; before each play the page is Reset to step 0. The rate is read from the page:
steps per second between the first and last change of the step counter, polled every 0.2 s. Every step is
redrawn (the app's Play waits until the page has drawn a step before the next); the browser side is checked too:
a MutationObserver records the network captions ("World A, step k ..."), and the number of steps whose drawing
the page showed is reported beside the steps played. The load average before and after each play is recorded,
because the machine is shared.

Results go to ``benchmarks/app_play.json`` and ``benchmarks/app_play.md`` (rewritten on each run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

HERE = Path(__file__).resolve().parent
TARGET = 5.0  # steps per second at 2 x 500 people, every step drawn (issue: the app's compare mode)
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]

# one observer per page, however many plays (each play empties the list); textContent, not innerText, which
# would make the browser lay the page out again on every change it observes
WATCH_CAPTIONS = """() => {
  window.__captions = [];
  if (window.__captionsObserver) return;
  const read = () => Array.from(document.querySelectorAll('.socialsim-caption')).map(e => e.textContent).join('|');
  window.__captionsObserver = new MutationObserver(() => {
    const now = read();
    const seen = window.__captions;
    if (!seen.length || seen[seen.length - 1] !== now) seen.push(now);
  });
  window.__captionsObserver.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _step(page) -> int:
    return int(re.match(r"Step (\d+) of", page.locator(".socialsim-step").inner_text()).group(1))


def _wait_for_step(page, n: int) -> None:
    page.locator(".socialsim-step").filter(has_text=re.compile(rf"^Step {n} of")).wait_for(timeout=120_000)


def play(page, seconds: float) -> dict:
    """Play for ``seconds`` from the current step, then pause: the rate and the steps the page drew."""
    page.evaluate(WATCH_CAPTIONS)
    start_step = _step(page)
    load_before = os.getloadavg()[0]
    page.get_by_role("button", name="\u25b6").click()
    samples = []
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        samples.append((time.monotonic(), _step(page)))
        page.wait_for_timeout(200)
    page.get_by_role("button", name="\u275a\u275a").click()
    page.get_by_role("button", name="Step", exact=True).wait_for(state="visible", timeout=120_000)
    settled = _step(page)  # a step already under way when Pause was pressed still lands: wait for it
    while True:
        page.wait_for_timeout(1000)
        if _step(page) == settled:
            break
        settled = _step(page)
    moving = [(t, k) for t, k in samples if k > start_step]
    rate = (moving[-1][1] - moving[0][1]) / (moving[-1][0] - moving[0][0]) if len(moving) > 1 else 0.0
    end_step = _step(page)
    played = set(range(start_step + 1, end_step + 1))
    captions = page.evaluate("() => window.__captions")
    drawn = {side: len(played & {int(m.group(1)) for c in captions
                                 for m in [re.search(rf"World {side}, step (\d+)", c)] if m}) for side in "AB"}
    return {"steps_per_second": round(rate, 2), "steps": end_step - start_step, "drawn_a": drawn["A"],
            "drawn_b": drawn["B"], "load": [round(load_before, 1), round(os.getloadavg()[0], 1)]}


def serve_app(out, env: dict | None = None) -> tuple[subprocess.Popen, str]:
    """Start ``python -m socialsim.viz`` on a free port, its output to ``out``, and wait (up to 4 minutes) until
    it answers; returns the server process and the page's address."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    server = subprocess.Popen([sys.executable, "-m", "socialsim.viz", "--port", str(port)], stdout=out,
                              stderr=subprocess.STDOUT, start_new_session=True, env=env)
    for _ in range(480):
        try:
            urllib.request.urlopen(url, timeout=5).read()
            break
        except OSError:
            time.sleep(0.5)
    return server, url


def main(argv=None) -> None:
    """Measure, write the results, optionally take the docs' screenshots."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="length of one play (s)")
    parser.add_argument("--repeats", type=int, default=3, help="plays, each from step 0")
    parser.add_argument("--screenshots", type=Path, default=None,
                        help="folder for app_compare.png and app.png (the docs' screenshots)")
    parser.add_argument("--note", default="", help="a remark stored with the results (e.g. other load)")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    server, url = serve_app(subprocess.DEVNULL)
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1500, "height": 1050}).new_page()
            page.goto(url)
            _wait_for_step(page, 0)
            page.locator(".socialsim-network-svg svg").nth(1).wait_for(timeout=120_000)
            plays = []
            for k in range(args.repeats):
                if k:
                    page.get_by_role("button", name="Reset", exact=True).click()
                    _wait_for_step(page, 0)
                plays.append(play(page, args.seconds))
                print(f"play {k + 1}: {plays[-1]}", flush=True)
            if args.screenshots is not None:
                _screenshots(page, args.screenshots)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
    _write(args, plays)


def _screenshots(page, folder: Path) -> None:
    """Compare mode at "random vs popularity suggestions" after 120 steps, and the one-world view after 98."""
    folder.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1500, "height": 1340})
    page.locator(".v-select").filter(has_text="Preset").click()
    page.get_by_role("option", name="Random vs popularity suggestions", exact=True).click()
    _wait_for_step(page, 0)
    page.get_by_role("button", name="\u25b6").click()
    page.locator(".socialsim-step").filter(has_text=re.compile(r"^Step 1[2-9]\d of")).wait_for(timeout=300_000)
    page.get_by_role("button", name="\u275a\u275a").click()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(folder / "app_compare.png"))
    page.set_viewport_size({"width": 1500, "height": 1050})
    page.get_by_role("tab", name="One world").click()
    _wait_for_step(page, 0)
    page.get_by_role("button", name="\u25b6").click()
    page.locator(".socialsim-step").filter(has_text=re.compile(r"^Step (9[8-9]|1\d\d) of")).wait_for(timeout=300_000)
    page.get_by_role("button", name="\u275a\u275a").click()
    page.wait_for_timeout(3000)
    page.screenshot(path=str(folder / "app.png"))


def _write(args, plays: list[dict]) -> None:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                            cwd=HERE).stdout.strip()
    rates = sorted(p["steps_per_second"] for p in plays)
    result = {
        "when": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "commit": commit, "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores",
        "people_per_world": 500, "worlds": 2, "seconds": args.seconds, "target_steps_per_second": TARGET,
        "median_steps_per_second": rates[len(rates) // 2], "plays": plays, "note": args.note,
    }
    (HERE / "app_play.json").write_text(json.dumps(result, indent=2) + "\n")
    rows = "\n".join(f"| {k + 1} | {p['steps_per_second']:.1f} | {p['steps']} | {p['drawn_a']} / {p['drawn_b']} | "
                     f"{p['load'][0]} -> {p['load'][1]} |" for k, p in enumerate(plays))
    verdict = "meets" if result["median_steps_per_second"] >= TARGET else "falls short of"
    (HERE / "app_play.md").write_text(f"""# The app's Play rate in compare mode

`python benchmarks/app_play.py` (see its docstring): compare mode, two worlds of 500 people (the page's defaults),
every step drawn, headless Chromium on this machine ({result['machine']}); socialsim at {commit},
{result['when']}. {len(plays)} plays of {args.seconds:g} s, each from step 0.

Median: **{result['median_steps_per_second']:.1f} steps per second**, which {verdict} the target of {TARGET:g}.
{args.note}

| play | steps/s | steps played | steps drawn (A / B) | load average (1 min) before -> after |
|---:|---:|---:|---:|---|
{rows}
""")
    print(f"median {result['median_steps_per_second']} steps/s (target {TARGET}); wrote {HERE / 'app_play.md'}")


if __name__ == "__main__":
    main()
