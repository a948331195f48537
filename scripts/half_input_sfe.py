"""Start a realtime model with the half-resolution SFE (``sfe.input_stride`` 2, no correlation;
the preset since 2026-12-07) from a checkpoint of the full-resolution one, for fine-tuning:

- CMN and HSG: copied;
- SFE encoders: the old level k (image stride 2^(k+1)) becomes the new level k-1 for k >= 2, same
  shapes; the new first level (half-resolution input -> image stride 4) starts untrained;
- SFE decoder and heads: copied, minus the correlation's input channels of the 1x1 skip convs
  (the cost volume is appended last to a level's skips).

    python scripts/half_input_sfe.py checkpoints/realtime runs/half_sfe_init
    fashionmirror train --stage end2end --preset realtime --init-from runs/half_sfe_init ...
"""
from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

from fashionmirror_ros.models.checkpoint import load_checkpoint, save_checkpoint
from fashionmirror_ros.models.config import get_preset
from fashionmirror_ros.models.mirror import FashionMirror

ENCODER_LEVEL = re.compile(r"^sfe\.(encoder_prev|encoder_next)\.layers\.(\d+)\.(.*)$")


def carried_over(old_state: dict, new_state: dict, shift: int) -> tuple[dict, list[str]]:
    """New-model tensors taken from the old state dict, and the new keys left untrained."""
    taken, untrained = {}, []
    for key, new in new_state.items():
        source = key
        match = ENCODER_LEVEL.match(key)
        if match:
            source = f"sfe.{match[1]}.layers.{int(match[2]) + shift}.{match[3]}"
            if int(match[2]) == 0:
                untrained.append(key)
                continue
        old = old_state.get(source)
        if old is None:
            untrained.append(key)
        elif old.shape == new.shape:
            taken[key] = old
        elif key.endswith("fuse.skip.weight") and old.shape[1] > new.shape[1]:
            taken[key] = old[:, :new.shape[1]]  # drop the correlation channels
        else:
            raise ValueError(f"{key}: shape {tuple(new.shape)} has no counterpart in {source} "
                             f"{tuple(old.shape)}")
    return taken, untrained


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="a realtime checkpoint with the full-resolution SFE")
    parser.add_argument("output", help="folder of the new checkpoint")
    args = parser.parse_args(argv)
    old_model, old_config, _ = load_checkpoint(args.checkpoint)
    if old_config.sfe.input_stride != 1:
        parser.error(f"{args.checkpoint} already has sfe.input_stride {old_config.sfe.input_stride}")
    config = get_preset("realtime")
    torch.manual_seed(0)
    model = FashionMirror(config)
    shift = len(old_config.sfe.encoder_widths) - len(config.sfe.encoder_widths)
    taken, untrained = carried_over(old_model.state_dict(), model.state_dict(), shift)
    model.load_state_dict(taken, strict=False)
    save_checkpoint(args.output, model, config, {"initialised_from": str(args.checkpoint),
                                                 "untrained": untrained})
    print(f"{args.output}: {len(taken)} tensors carried over, {len(untrained)} untrained: {untrained}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
