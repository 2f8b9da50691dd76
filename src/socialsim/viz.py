"""Serve the browser visualisation: ``python -m socialsim.viz [--host 127.0.0.1] [--port 8765] [--open]``.

A thin wrapper around ``solara run src/socialsim/app.py --production`` (the page works offline: its front-end
files come from the ``solara-assets`` package). Open the printed address in a browser; Ctrl-C stops the server.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

APP = Path(__file__).with_name("app.py")


def command(host: str = "127.0.0.1", port: int = 8765, open_browser: bool = False,
            production: bool = True) -> list[str]:
    """The ``solara run`` command line that serves the app."""
    cmd = [sys.executable, "-m", "solara", "run", str(APP), "--host", host, "--port", str(port)]
    cmd.append("--open" if open_browser else "--no-open")
    if production:
        cmd.append("--production")
    return cmd


def main(argv: list[str] | None = None) -> None:
    """Parse the options and replace this process with the app's server."""
    parser = argparse.ArgumentParser(prog="python -m socialsim.viz", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", 8765)), help="port (default 8765)")
    parser.add_argument("--open", action="store_true", help="open a browser tab")
    parser.add_argument("--dev", action="store_true",
                        help="solara's development mode (auto-reload) instead of production")
    args = parser.parse_args(argv)
    cmd = command(args.host, args.port, args.open, production=not args.dev)
    print(f"socialsim: serving the app at http://{args.host}:{args.port}/", flush=True)
    os.execv(cmd[0], cmd)  # replace this process: signals (Ctrl-C, terminate) reach the server directly


if __name__ == "__main__":
    main()
