"""Small helpers shared by the replay report and the benchmark report."""
from __future__ import annotations

from pathlib import Path

import numpy as np


def json_default(value):
    """json.dumps(default=...) for numpy scalars, paths and tuples."""
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        return float(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def format_value(value, digits: int = 1) -> str:
    """A table cell: '-' for a missing figure, floats to `digits` decimals."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)
