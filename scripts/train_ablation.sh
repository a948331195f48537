#!/usr/bin/env bash
# Ablation of the realtime preset (issue 11): each variant trained for the same number of steps
# from the same initialisation (a CMN checkpoint; SFE and HSG fresh), with the shipped run's flags.
#   scripts/train_ablation.sh CMN_CHECKPOINT [STEPS]     -> runs/ablation/<variant>/final
# Then score them beside the shipped model in one run:
#   fashionmirror eval --extra literal=runs/ablation/realtime_literal/final --extra ...
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
init=${1:?CMN checkpoint to start every variant from}
steps=${2:-150}
for preset in realtime_literal realtime_prior_only realtime_no_composition realtime; do
  fashionmirror train --stage end2end --preset "$preset" --init-from "$init" --init-networks cmn \
    --tryon-share 0.5 --body-only-share 0.25 --output "runs/ablation/$preset" --steps "$steps" \
    --workers 1 --threads 1 --lr 2e-4 --checkpoint-every 50 --log-every 10 --resume
done
