#!/usr/bin/env bash
# Regenerate results/ from scratch: run every experiment's sweep, then execute every notebook, which writes its
# tables (CSV) and figures (PNG) to results/<experiment>/; results/effects.csv collects the effect sizes.
#
#   bash experiments/run_all.sh            # reuse complete runs in results/sweeps/ (a re-run only redraws)
#   bash experiments/run_all.sh --fresh    # delete this script's sweeps and results first, then run everything
#   SOCIALSIM_SCALE=ci bash experiments/run_all.sh   # the reduced sweeps, into results/sweeps/ci/ (git-ignored)
#
# Full scale: 1,200 model runs of 2,000 people (1,080 through `python -m socialsim -m +experiment=NAME`, 120 for
# the Morris design): 24 min 45 s on the project's 2-core machine (per step in results/README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
EXPERIMENTS=(openness_vs_elite unpredictability unpredictability_independent illusion_of_intimacy local_networks early_adopters
             recommender_by_attention invite_only reshares_off follow_cap close_tie_budget engagement_timeline
             minority_visibility)
NOTEBOOKS=(openness_vs_elite illusion_of_intimacy local_networks early_adopters sensitivity unpredictability invite_only
           reshares_off follow_cap close_tie_budget engagement_timeline minority_visibility)

if [[ "${1:-}" == "--fresh" ]]; then
  sweeps=$($PY -c "from socialsim import study; print(study.sweeps_dir())")
  results=$($PY -c "from socialsim import study; print(study.results_dir())")
  for name in "${EXPERIMENTS[@]}" sensitivity; do
    rm -rf "${sweeps:?}/$name" "${results:?}/$name"
  done
  rm -f "$results/effects.csv"
fi

start=$(date +%s)
for name in "${EXPERIMENTS[@]}"; do
  t=$(date +%s)
  $PY -c "from socialsim import study; study.run_experiment('$name')"   # python -m socialsim -m +experiment=NAME
  echo "sweep $name: $(( $(date +%s) - t )) s"
done
t=$(date +%s)
$PY experiments/sensitivity.py
echo "sweep sensitivity: $(( $(date +%s) - t )) s"
t=$(date +%s)
$PY experiments/run_notebooks.py "${NOTEBOOKS[@]}"
echo "notebooks: $(( $(date +%s) - t )) s"
echo "total: $(( $(date +%s) - start )) s"
