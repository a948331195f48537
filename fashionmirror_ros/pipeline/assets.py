"""Where the shipped checkpoint, demo input and config live, in a source tree or a ROS install."""
from __future__ import annotations

import os
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PRESET = "realtime"


def _ament_share() -> Path | None:
    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory("fashionmirror_ros"))
    except Exception:  # noqa: BLE001 - not installed with colcon, or no ament index
        return None


def data_roots() -> list[Path]:
    """Source tree first (the checkout being edited), then the installed share directory."""
    roots = [SOURCE_ROOT]
    share = _ament_share()
    if share is not None:
        roots.append(share)
    return roots


def find_data(relative: str) -> Path:
    """The first existing `relative` path under the data roots; FileNotFoundError naming all tried."""
    tried = [root / relative for root in data_roots()]
    for path in tried:
        if path.exists():
            return path
    raise FileNotFoundError(f"{relative} not found; tried: {', '.join(map(str, tried))}")


def default_checkpoint(preset: str = DEFAULT_PRESET) -> Path:
    override = os.environ.get("FASHIONMIRROR_CHECKPOINT")
    if override:
        return Path(override)
    return find_data(f"checkpoints/{preset}")


def resolve_checkpoint(value: str, preset: str = DEFAULT_PRESET) -> Path:
    """A checkpoint parameter: '' means the shipped checkpoint of the preset."""
    return Path(value).expanduser() if value else default_checkpoint(preset)
