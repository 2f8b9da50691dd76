#!/usr/bin/env bash
# Regenerate results/ in resumable stages: run every experiment's sweep, the sensitivity design, then execute
# every notebook, which writes its tables (CSV) and figures (PNG) to results/<experiment>/ (results/effects.csv
# collects the effect sizes), then the robustness map (results/robustness.csv).
#
#   bash experiments/run_all.sh                     # every stage; complete runs in results/sweeps/ are reused
#   bash experiments/run_all.sh --stage robustness  # one stage: sweeps | sensitivity | notebooks | robustness | all
#   bash experiments/run_all.sh --fresh             # delete the chosen stages' sweeps and results first
#   SOCIALSIM_SCALE=ci bash experiments/run_all.sh  # the reduced sweeps, into results/sweeps/ci/ (git-ignored)
#
# Every stage can be stopped and started again: finished jobs are skipped (Hydra and the sensitivity driver
# keep complete run folders), so a later call continues where the last one stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
EXPERIMENTS=(openness_vs_elite unpredictability unpredictability_independent illusion_of_intimacy local_networks early_adopters
             recommender_by_attention invite_only reshares_off follow_cap close_tie_budget engagement_timeline
             minority_visibility)
NOTEBOOKS=(openness_vs_elite illusion_of_intimacy local_networks early_adopters sensitivity unpredictability invite_only
           reshares_off follow_cap close_tie_budget engagement_timeline minority_visibility)
STAGES=(sweeps sensitivity notebooks robustness)

usage="usage: bash experiments/run_all.sh [--fresh] [--stage sweeps|sensitivity|notebooks|robustness|all]"
fresh=0
stage=all
while [[ $# -gt 0 ]]; do
  case "$1" in
    --fresh) fresh=1 ;;
    --stage) [[ $# -ge 2 ]] || { echo "run_all.sh: error: --stage needs a value; $usage" >&2; exit 2; }
             stage=$2; shift ;;
    --stage=*) stage=${1#--stage=} ;;
    -h|--help) echo "$usage"; exit 0 ;;
    *) echo "run_all.sh: error: unknown argument $1; $usage" >&2; exit 2 ;;
  esac
  shift
done
case "$stage" in
  all) selected=("${STAGES[@]}") ;;
  sweeps|sensitivity|notebooks|robustness) selected=("$stage") ;;
  *) echo "run_all.sh: error: --stage must be one of sweeps, sensitivity, notebooks, robustness, all; got $stage" >&2
     exit 2 ;;
esac

sweeps=$($PY -c "from socialsim import study; print(study.sweeps_dir())")
results=$($PY -c "from socialsim import study; print(study.results_dir())")
scale=$($PY -c "from socialsim import study; print(study.scale())")

fresh_stage() {  # delete what a stage writes (its sweeps and its results)
  case "$1" in
    sweeps) for name in "${EXPERIMENTS[@]}"; do rm -rf "${sweeps:?}/$name"; done ;;
    sensitivity) rm -rf "${sweeps:?}/sensitivity" ;;
    notebooks) for name in "${NOTEBOOKS[@]}"; do rm -rf "${results:?}/$name"; done
               rm -f "$results/effects.csv" ;;
    robustness) rm -rf "${sweeps:?}/robustness"; rm -f "$results/robustness.csv" "$results/robustness_draws.csv" ;;
  esac
}

run_stage() {
  case "$1" in
    sweeps)
      for name in "${EXPERIMENTS[@]}"; do
        t=$(date +%s)
        $PY -c "from socialsim import study; study.run_experiment('$name')"   # python -m socialsim -m +experiment=NAME
        echo "sweep $name: $(( $(date +%s) - t )) s"
      done ;;
    sensitivity) $PY experiments/sensitivity.py ;;
    notebooks) $PY experiments/run_notebooks.py "${NOTEBOOKS[@]}" ;;
    robustness)
      draws=()
      n=$($PY -c "from socialsim import study; print(len(study.posterior_draws()))")
      if [[ "$n" == 0 && "$scale" == ci ]]; then  # before a calibration has committed its draws
        echo "robustness: no posterior draws in the package; at the ci scale the stand-ins in tests/data/ are used"
        draws=(--draws tests/data/conf/posterior)
      fi
      $PY experiments/robustness.py ${draws[@]+"${draws[@]}"} ;;
  esac
}

start=$(date +%s)
for s in "${selected[@]}"; do
  [[ $fresh -eq 1 ]] && fresh_stage "$s"
  t=$(date +%s)
  run_stage "$s"
  echo "stage $s: $(( $(date +%s) - t )) s"
done
echo "total: $(( $(date +%s) - start )) s"
