#!/usr/bin/env bash
# Ablation of the realtime preset (issue 11): each variant trained for the same number of steps
# from the same initialisation (a checkpoint's CMN; SFE and HSG fresh), with the shipped run's flags.
#   scripts/train_ablation.sh CMN_CHECKPOINT [STEPS [VARIANT ...]]   -> runs/ablation/<variant>/final
# Variants default to all four in turn; two shells with two variants each fill two cores.
# Then score them beside the shipped model in one run:
#   fashionmirror eval --extra literal=runs/ablation/realtime_literal/final --extra ...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
init=${1:?CMN checkpoint to start every variant from}
steps=${2:-150}
shift $(( $# < 2 ? $# : 2 ))
variants=("$@")
if [ ${#variants[@]} -eq 0 ]; then
  variants=(realtime_literal realtime_prior_only realtime_no_composition realtime)
fi
for preset in "${variants[@]}"; do
  fashionmirror train --stage end2end --preset "$preset" --init-from "$init" --init-networks cmn \
    --tryon-share 0.5 --body-only-share 0.25 --output "runs/ablation/$preset" --steps "$steps" \
    --workers 1 --threads 1 --lr 2e-4 --checkpoint-every 50 --log-every 10 --resume
done
