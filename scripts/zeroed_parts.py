"""Copies of a realtime checkpoint with one learned part switched back to its untrained start, to
see in `fashionmirror eval` which part costs what (an ablation at inference, no training):

- ``no_residual``: SFE's residual heads zero: the flows are the keypoint prior's alone;
- ``no_logits``: the decoder's three composition logits zero: the blend follows the start rule
  alone (warped h^s, C where it is placed inside M_c), the decoder paints almost nowhere;
- ``no_stn``: the garment STN's correction zero: C sits where the keypoint placement puts it;
- ``none_learned``: all three.

    python scripts/zeroed_parts.py checkpoints/realtime out/zeroed
    fashionmirror eval --protocols real --frames 20 --threads 2 --no-sheet --output out/eval_zeroed \
        --extra no_residual=out/zeroed/no_residual --extra no_logits=out/zeroed/no_logits \
        --extra no_stn=out/zeroed/no_stn --extra none_learned=out/zeroed/none_learned
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

from fashionmirror_ros.models.checkpoint import load_checkpoint, save_checkpoint


def zero_residuals(model) -> None:
    for head in model.sfe.heads.values():
        for conv in (head.flow, head.source_flow):
            conv.weight.zero_()
            conv.bias.zero_()


def zero_logits(model) -> None:
    model.hsg.restart_composition_logits()


def zero_stn_correction(model) -> None:
    model.hsg.stn.restart_theta()


VARIANTS = {
    "no_residual": (zero_residuals,),
    "no_logits": (zero_logits,),
    "no_stn": (zero_stn_correction,),
    "none_learned": (zero_residuals, zero_logits, zero_stn_correction),
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", help="a realtime checkpoint with the keypoint prior")
    parser.add_argument("output", help="folder for one checkpoint per variant")
    args = parser.parse_args(argv)
    for name, zeroings in VARIANTS.items():
        model, config, _ = load_checkpoint(args.checkpoint)
        if not (config.prior.enabled and config.prior.composition):
            print(f"zeroed_parts: {args.checkpoint} has no keypoint prior with composition", file=sys.stderr)
            return 2
        with torch.no_grad():
            for zero in zeroings:
                zero(model)
        path = save_checkpoint(Path(args.output) / name, model, config,
                               {"zeroed_parts": name, "from": str(args.checkpoint)})
        print(f"{name}: {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
