"""Picture sheets: the evaluation's frames side by side in one PNG, to be looked at.

A sheet is a column of panels; a panel is a title and rows of equally sized tiles with a label
on the left (e.g. "truth", "copy", "keypoint_warp", "model" at frames 1, 5, 10, 19).
"""
from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

LABEL_WIDTH = 120
TITLE_HEIGHT = 26
FONT = cv2.FONT_HERSHEY_SIMPLEX
INK = (20, 20, 20)
PAPER = 255
SHEET_FRAMES = (1, 5, 10, 19)  # frame numbers t of h_g^t shown per row


def _text_strip(text: str, height: int, width: int, scale: float = 0.45) -> np.ndarray:
    strip = np.full((height, width, 3), PAPER, np.uint8)
    cv2.putText(strip, text, (6, height // 2 + 5), FONT, scale, INK, 1, cv2.LINE_AA)
    return strip


def panel(title: str, rows: Sequence[tuple[str, Sequence[np.ndarray]]], tile: int = 160) -> np.ndarray:
    """One titled block of labelled rows; every tile is resized to ``tile`` x ``tile``."""
    columns = max(len(images) for _, images in rows)
    width = LABEL_WIDTH + columns * tile
    blocks = [_text_strip(title, TITLE_HEIGHT, width, 0.55)]
    for label, images in rows:
        tiles = [cv2.resize(image, (tile, tile), interpolation=cv2.INTER_AREA) for image in images]
        tiles += [np.full((tile, tile, 3), PAPER, np.uint8)] * (columns - len(tiles))
        blocks.append(np.concatenate([_text_strip(label, tile, LABEL_WIDTH)] + tiles, axis=1))
    return np.concatenate(blocks, axis=0)


def stack_panels(panels: Sequence[np.ndarray], columns: int = 2) -> np.ndarray:
    """Panels in a grid, ``columns`` wide, row by row."""
    height = max(p.shape[0] for p in panels) + 8
    width = max(p.shape[1] for p in panels) + 8
    padded = [np.pad(p, ((0, height - p.shape[0]), (0, width - p.shape[1]), (0, 0)), constant_values=PAPER)
              for p in panels]
    padded += [np.full((height, width, 3), PAPER, np.uint8)] * (-len(padded) % columns)
    rows = [np.concatenate(padded[i:i + columns], axis=1) for i in range(0, len(padded), columns)]
    return np.concatenate(rows, axis=0)


def write_sheet(path: str | Path, panels: Sequence[np.ndarray]) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(stack_panels(panels), cv2.COLOR_RGB2BGR))
    return path


def frames_at(frames: np.ndarray, numbers: Sequence[int] = SHEET_FRAMES) -> list[np.ndarray]:
    """h^t for the listed t from an array holding h^1..h^{T-1} (numbers past the end dropped)."""
    return [frames[t - 1] for t in numbers if 1 <= t <= len(frames)]
