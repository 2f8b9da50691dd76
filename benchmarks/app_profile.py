"""Where a played step's time goes in the app's compare mode: server, Solara and the browser, play by play.

    python benchmarks/app_profile.py                   # 3 plays of 15 s at 2 x 500 people, each from step 0
    python benchmarks/app_profile.py --plays 5 --seconds 10

Serves the app as ``benchmarks/app_play.py`` does, with ``SOCIALSIM_VIZ_TIMING=1`` so the server logs, for every
played step, the two models' step, the wait for the browser's report that it painted the step before, the
pause, and the render (Solara's render of the step's changes, sending them included), and each drawing's build.
Per play it reports:

* server: medians of those per-step times (an app without them shows nan), and the server process's CPU time
  per step;
* browser: CPU time per step of Chromium's processes, and from Chromium's performance counters (CDP
  ``Performance.getMetrics``) the script, layout and style time per step and the page's DOM nodes, event
  listeners and JS heap after the play (growth across plays would show leaks); the websocket messages the page
  received and sent per step (CDP ``Network`` events);
* the rate the page showed (steps per second between the first and last of world A's step captions it showed).

Prints a table (markdown) to paste into ``benchmarks/app_play.md``; the machine is shared, so the CPU times are
steadier than wall times.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import sys
import tempfile
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from app_play import CHROMIUM, CHROMIUM_ARGS, _step, _wait_for_step, serve_app  # noqa: E402

WATCH = """() => {
  window.__drawn = [];
  const read = () => Array.from(document.querySelectorAll('.socialsim-caption')).map(e => e.textContent).join('|');
  new MutationObserver(() => {
    const now = read();
    const seen = window.__drawn;
    if (!seen.length || seen[seen.length - 1][1] !== now) seen.push([performance.now(), now]);
  }).observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
COUNTERS = ("TaskDuration", "ScriptDuration", "LayoutDuration", "RecalcStyleDuration", "Nodes", "JSEventListeners",
            "JSHeapUsedSize", "LayoutCount")


def _cpu(procs) -> float:
    total = 0.0
    for p in procs:
        try:
            t = p.cpu_times()
            total += t.user + t.system
        except psutil.Error:
            pass
    return total


def _median(values):
    return statistics.median(values) if values else float("nan")


def main(argv=None) -> None:
    """Serve the app, play it ``--plays`` times, print where each step's time went."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=15.0, help="length of one play (s)")
    parser.add_argument("--plays", type=int, default=3, help="plays, each from step 0 (Reset before each)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    log = Path(tempfile.mkdtemp()) / "server.log"
    env = {**os.environ, "SOCIALSIM_VIZ_TIMING": "1", "PYTHONUNBUFFERED": "1"}
    rows = []
    with open(log, "wb") as out:
        server, url = serve_app(out, env)
    try:
        server_procs = [psutil.Process(server.pid)]
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page = browser.new_context(viewport={"width": 1500, "height": 1050}).new_page()
            cdp = page.context.new_cdp_session(page)
            cdp.send("Performance.enable")
            cdp.send("Network.enable")
            frames = {"in": 0, "in_bytes": 0, "out": 0}

            def received(event):
                frames["in"] += 1
                frames["in_bytes"] += len(event["response"]["payloadData"])

            def sent(event):
                frames["out"] += 1

            cdp.on("Network.webSocketFrameReceived", received)
            cdp.on("Network.webSocketFrameSent", sent)
            page.goto(url)
            _wait_for_step(page, 0)
            page.locator(".socialsim-network-svg svg").nth(1).wait_for(timeout=120_000)
            page.evaluate(WATCH)
            browser_procs = [p for p in psutil.Process().children(recursive=True) if "chrom" in p.name()]
            for k in range(args.plays):
                if k:
                    page.get_by_role("button", name="Reset", exact=True).click()
                    _wait_for_step(page, 0)
                    page.wait_for_timeout(500)
                page.evaluate("() => { window.__drawn = []; }")
                offset = log.stat().st_size
                before = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                cpu_s, cpu_b, load = _cpu(server_procs), _cpu(browser_procs), os.getloadavg()[0]
                start_step = _step(page)
                frames.update({"in": 0, "in_bytes": 0, "out": 0})
                page.get_by_role("button", name="\u25b6").click()
                page.wait_for_timeout(args.seconds * 1000)
                page.get_by_role("button", name="\u275a\u275a").click()
                page.get_by_role("button", name="Step", exact=True).wait_for(state="visible", timeout=120_000)
                page.wait_for_timeout(500)
                steps = _step(page) - start_step
                cpu_s, cpu_b = _cpu(server_procs) - cpu_s, _cpu(browser_procs) - cpu_b
                after = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
                drawn = page.evaluate("() => window.__drawn")
                shown = {}  # world A's step -> when the page first showed its drawing
                for t, caption in drawn:
                    found = re.search(r"World A, step (\d+)", caption)
                    if found:
                        shown.setdefault(int(found.group(1)), t)
                times = sorted(shown.values())
                rate = (len(times) - 1) / ((times[-1] - times[0]) / 1000) if len(times) > 1 else 0.0
                text = log.read_bytes()[offset:].decode(errors="replace")
                per = {key: [float(v) for v in re.findall(rf"{key} ([\d.]+) ms", text)]
                       for key in ("step", "render", "paint", "pause")}
                builds = {key: [float(v) for v in re.findall(rf"socialsim.app: {key} ([\d.]+) ms", text)]
                          for key in ("network A", "network B", "compare charts")}
                n = max(steps, 1)
                row = {"play": k + 1, "steps": steps, "rate": rate, "load": load,
                       "model step ms": _median(per["step"]), "render ms": _median(per["render"]),
                       "paint wait ms": _median(per["paint"]), "pause ms": _median(per["pause"]),
                       "drawings ms": sum(_median(v) for v in builds.values()),
                       "server cpu ms/step": 1000 * cpu_s / n, "browser cpu ms/step": 1000 * cpu_b / n,
                       "script ms/step": 1000 * (after["ScriptDuration"] - before["ScriptDuration"]) / n,
                       "layout+style ms/step": 1000 * (after["LayoutDuration"] - before["LayoutDuration"]
                                                      + after["RecalcStyleDuration"]
                                                      - before["RecalcStyleDuration"]) / n,
                       "task ms/step": 1000 * (after["TaskDuration"] - before["TaskDuration"]) / n,
                       "messages in/step": frames["in"] / n, "kB in/step": frames["in_bytes"] / n / 1000,
                       "messages out/step": frames["out"] / n,
                       "DOM nodes": int(after["Nodes"]), "listeners": int(after["JSEventListeners"]),
                       "JS heap MB": after["JSHeapUsedSize"] / 1e6}
                rows.append(row)
                print(row, flush=True)
            browser.close()
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(timeout=30)
        print(f"server log: {log}")
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---:|" * len(keys))
    for row in rows:
        print("| " + " | ".join(f"{v:.1f}" if isinstance(v, float) else str(v) for v in row.values()) + " |")


if __name__ == "__main__":
    main()
