"""The checkpoint a graph run without a trained model uses: the shipped one of the preset when it
has the preset's current architecture, else freshly initialised weights of the preset. The nodes'
plumbing and their cost per frame do not depend on the weights, so bench, soak and the tests
measure the same graph either way; the answer says which one it was."""
from __future__ import annotations

from pathlib import Path

# The fields that decide a checkpoint's networks (a checkpoint of another shape cannot load).
ARCHITECTURE_FIELDS = ("image_size", "cmn", "sfe", "hsg", "prior")


def untrained_checkpoint(directory: Path, preset: str = "realtime",
                         note: str = "untrained, for tests") -> Path:
    """A checkpoint of `preset` with weights initialised from seed 0, written to `directory`."""
    import torch

    from fashionmirror_ros.models.checkpoint import save_checkpoint
    from fashionmirror_ros.models.config import get_preset
    from fashionmirror_ros.models.mirror import FashionMirror

    torch.manual_seed(0)
    config = get_preset(preset)
    return Path(save_checkpoint(directory, FashionMirror(config), config, {"note": note}))


def _architecture(config) -> dict:
    return {key: value for key, value in config.to_dict().items() if key in ARCHITECTURE_FIELDS}


def shipped_or_untrained(preset: str, scratch: Path, given: str | None = None,
                         note: str = "untrained, for timing only") -> tuple[Path, str]:
    """(checkpoint directory, how it was chosen): `given`; else the shipped checkpoint of `preset`
    when it has the architecture the code builds now; else an untrained one under `scratch`."""
    from fashionmirror_ros.models.checkpoint import CheckpointError, load_config
    from fashionmirror_ros.models.config import get_preset
    from fashionmirror_ros.pipeline.assets import default_checkpoint

    if given:
        return Path(given), f"given: {given}"
    try:
        shipped = default_checkpoint(preset)
        config, _ = load_config(shipped)
        if _architecture(config) == _architecture(get_preset(preset)):
            return shipped, "shipped"
        reason = "the shipped checkpoint is of an older architecture"
    except (FileNotFoundError, ValueError, OSError, CheckpointError) as error:
        reason = f"no usable shipped checkpoint ({error})"
    return untrained_checkpoint(scratch / preset, preset, note), f"untrained ({reason})"
