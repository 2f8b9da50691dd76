#!/usr/bin/env bash
# Install what the tests need and run the whole suite: `bash tests/run.sh [--no-system] [PYTEST ARGS...]`.
#
# System packages (Debian, only those missing, announced first, --no-install-recommends):
#   chromium                      the browser tests (tests/test_app_browser.py)
#   slurmctld slurmd munge        the SLURM cluster tests (tests/test_cluster.py, marker `slurm`; they need root)
# --no-system installs nothing with apt; the tests that need a missing package are skipped, each saying why.
# Then a venv (.venv) with socialsim[dev], and pytest on 2 cores; --dist loadgroup keeps the cluster tests,
# which share one SLURM cluster, on one worker.
set -euo pipefail
cd "$(dirname "$0")/.."

system=1
args=()
for a in "$@"; do
  if [ "$a" = "--no-system" ]; then system=0; else args+=("$a"); fi
done

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
for pair in slurmctld:slurmctld slurmd:slurmd munged:munge sbatch:slurm-client; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || missing+=("${pair##*:}")
done

if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$system" -eq 1 ]; then
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    echo "tests/run.sh: installing Debian packages: ${missing[*]} (apt-get, --no-install-recommends)"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
  else
    echo "tests/run.sh: --no-system: not installing ${missing[*]}; the tests that need them are skipped"
  fi
fi

[ -x .venv/bin/python ] || python -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[dev]'
exec .venv/bin/python -m pytest -n 2 --dist loadgroup ${args[@]+"${args[@]}"}
