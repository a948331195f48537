"""Video files and contact sheets for evaluation reports (OpenCV, no ROS).

- ``write_mp4`` encodes uint8 RGB frames with OpenCV's VideoWriter and the 'mp4v' fourcc
  (MPEG-4 Part 2, available in the opencv-python wheels without extra codecs). That codec needs
  even frame sizes: a frame with an odd height or width is padded by repeating its last row or
  column, so the file is at most one pixel larger on each axis than the frames given.
  The codec is lossy: a round trip changes pixel values by a few levels.
- ``read_mp4`` decodes a whole file into a (T, H, W, 3) uint8 RGB array.
- ``contact_sheet`` tiles rows of images (RGB, grey or [0, 1] float masks) into one uint8 RGB
  image with optional row labels on the left and column labels on top, for quick looks.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Iterable, Sequence

import cv2
import numpy as np

MP4_FOURCC = "mp4v"
LABEL_FONT = cv2.FONT_HERSHEY_SIMPLEX
LABEL_FONT_SCALE = 0.4
LABEL_THICKNESS = 1
LABEL_MARGIN_PX = 4
TILE_GAP_PX = 2
SHEET_BACKGROUND = (255, 255, 255)
LABEL_COLOUR = (0, 0, 0)
FLOAT_IMAGE_SCALE = 255.0


def _pad_to_even(frame: np.ndarray) -> np.ndarray:
    pad_rows = frame.shape[0] % 2
    pad_cols = frame.shape[1] % 2
    if pad_rows or pad_cols:
        frame = np.pad(frame, ((0, pad_rows), (0, pad_cols), (0, 0)), mode="edge")
    return frame


def write_mp4(path: str | os.PathLike, frames: Iterable[np.ndarray], fps: float) -> int:
    """Write uint8 RGB frames (H, W, 3), all of one size, to an mp4 file; returns the frame count.

    Raises ValueError for bad frames or no frames, RuntimeError when OpenCV cannot open a writer
    (missing codec, unwritable path)."""
    if not fps > 0:
        raise ValueError(f"fps must be positive, got {fps}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    frame_shape = None
    count = 0
    try:
        for frame in frames:
            frame = np.asarray(frame)
            if frame.dtype != np.uint8 or frame.ndim != 3 or frame.shape[2] != 3:
                raise ValueError(f"frame {count}: expected uint8 RGB (H, W, 3), got {frame.dtype} {frame.shape}")
            if frame_shape is None:
                frame_shape = frame.shape
                height, width = _pad_to_even(frame).shape[:2]
                writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*MP4_FOURCC), float(fps), (width, height))
                if not writer.isOpened():
                    raise RuntimeError(
                        f"OpenCV could not open an '{MP4_FOURCC}' video writer for {path} "
                        f"({width}x{height} at {fps} fps): codec unavailable or path not writable"
                    )
            elif frame.shape != frame_shape:
                raise ValueError(f"frame {count} has shape {frame.shape}, the first had {frame_shape}")
            writer.write(cv2.cvtColor(_pad_to_even(frame), cv2.COLOR_RGB2BGR))
            count += 1
    finally:
        if writer is not None:
            writer.release()
    if count == 0:
        raise ValueError(f"no frames to write to {path}")
    return count


def read_mp4(path: str | os.PathLike) -> np.ndarray:
    """All frames of a video file as a (T, H, W, 3) uint8 RGB array."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"video file not found: {path}")
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise RuntimeError(f"OpenCV could not open {path} for reading")
    frames = []
    try:
        while True:
            ok, frame = capture.read()
            if not ok:
                break
            frames.append(cv2.cvtColor(frame, cv2.COLOR_BGR2RGB))
    finally:
        capture.release()
    if not frames:
        raise ValueError(f"no frames could be decoded from {path}")
    return np.stack(frames)


def _as_rgb_tile(image: np.ndarray, tile_size: tuple[int, int]) -> np.ndarray:
    image = np.asarray(image)
    if np.issubdtype(image.dtype, np.floating):
        # float images are masks or images in [0, 1]
        image = np.clip(image * FLOAT_IMAGE_SCALE, 0, FLOAT_IMAGE_SCALE).astype(np.uint8)
    elif image.dtype == np.bool_:
        image = image.astype(np.uint8) * np.uint8(FLOAT_IMAGE_SCALE)
    elif image.dtype != np.uint8:
        image = np.clip(image, 0, FLOAT_IMAGE_SCALE).astype(np.uint8)
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[..., 0]
    if image.ndim == 2:
        image = np.repeat(image[..., None], 3, axis=2)
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"contact sheet tiles must be (H, W), (H, W, 1) or (H, W, 3), got {image.shape}")
    height, width = tile_size
    if image.shape[:2] != (height, width):
        image = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    return image


def _text_size(text: str) -> tuple[int, int]:
    (width, height), baseline = cv2.getTextSize(text, LABEL_FONT, LABEL_FONT_SCALE, LABEL_THICKNESS)
    return width, height + baseline


def contact_sheet(
    rows: Sequence[Sequence[np.ndarray]],
    labels: Sequence[str] | None = None,
    column_labels: Sequence[str] | None = None,
    tile_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Tile ``rows`` of images into one uint8 RGB image.

    ``labels`` name the rows (drawn left of each row), ``column_labels`` the columns (drawn above).
    Every tile is resized to ``tile_size`` (height, width), by default the first image's size;
    short rows are padded with background."""
    rows = [list(row) for row in rows]
    if not rows or not any(rows):
        raise ValueError("contact_sheet needs at least one image")
    if labels is not None and len(labels) != len(rows):
        raise ValueError(f"{len(labels)} labels for {len(rows)} rows")
    if tile_size is None:
        first = np.asarray(next(image for row in rows for image in row))
        tile_size = (int(first.shape[0]), int(first.shape[1]))
    tile_height, tile_width = tile_size
    columns = max(len(row) for row in rows)

    label_width = 0
    if labels:
        label_width = max(_text_size(str(label))[0] for label in labels) + 2 * LABEL_MARGIN_PX
    header_height = 0
    if column_labels:
        header_height = max(_text_size(str(label))[1] for label in column_labels) + 2 * LABEL_MARGIN_PX

    sheet_height = header_height + len(rows) * tile_height + (len(rows) + 1) * TILE_GAP_PX
    sheet_width = label_width + columns * tile_width + (columns + 1) * TILE_GAP_PX
    sheet = np.full((sheet_height, sheet_width, 3), SHEET_BACKGROUND, dtype=np.uint8)

    def column_left(column: int) -> int:
        return label_width + TILE_GAP_PX + column * (tile_width + TILE_GAP_PX)

    for row_index, row in enumerate(rows):
        top = header_height + TILE_GAP_PX + row_index * (tile_height + TILE_GAP_PX)
        for column, image in enumerate(row):
            left = column_left(column)
            sheet[top : top + tile_height, left : left + tile_width] = _as_rgb_tile(image, tile_size)
        if labels:
            _, text_height = _text_size(str(labels[row_index]))
            baseline_y = top + (tile_height + text_height) // 2
            cv2.putText(sheet, str(labels[row_index]), (LABEL_MARGIN_PX, baseline_y), LABEL_FONT,
                        LABEL_FONT_SCALE, LABEL_COLOUR, LABEL_THICKNESS, cv2.LINE_AA)
    for column, label in enumerate(column_labels or []):
        if column >= columns:
            break
        _, text_height = _text_size(str(label))
        cv2.putText(sheet, str(label), (column_left(column), header_height - LABEL_MARGIN_PX), LABEL_FONT,
                    LABEL_FONT_SCALE, LABEL_COLOUR, LABEL_THICKNESS, cv2.LINE_AA)
    return sheet
