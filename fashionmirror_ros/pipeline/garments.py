"""Garment photos -> the flat garment image C the networks expect: cut out, cropped, on white.

A catalogue holds product photos as shops have them: a garment on a transparent background
(PNG with alpha) or on a plain white (or other uniform) studio background. cut_out_garment():

1. mask: the alpha channel when the image has a meaningful one; otherwise the background is the
   colour of the image border, if the border is uniform, and everything of that colour connected
   to the border is background (a flood from the border: a white print inside the garment stays
   garment); a non-uniform border means the photo is already cropped to the garment;
2. specks (compression noise, dust) are removed: only connected parts of at least
   MIN_PART_FRACTION of the largest part are kept;
3. an image with no garment is refused with the reason (GarmentRejected): one colour only, all
   background, or a garment covering less than MIN_COVERAGE of the image;
4. the garment is composited on white (alpha-weighted, so soft edges stay soft), cropped to its
   box with a small margin, and letterboxed to a square on white.

Used by `fashionmirror garment`, the mirror display's catalogue and the evaluation.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp")
MIN_COVERAGE = 0.02  # a garment covering less of the image is not a product photo of it
BACKGROUND_TOLERANCE = 24  # max per-channel distance from the border colour (JPEG noise, shading)
UNIFORM_BORDER_FRACTION = 0.9  # this much of the border within tolerance = a uniform background
BLANK_STD = 2.0  # an image whose pixels vary less than this is one colour
MIN_PART_FRACTION = 0.02
MARGIN_FRACTION = 0.04
DEFAULT_SIZE = 512


class GarmentRejected(ValueError):
    """The image holds no usable garment; str() says why."""


@dataclass
class GarmentCutout:
    rgb: np.ndarray  # (size, size, 3) uint8, garment on white
    coverage: float  # fraction of the input image covered by the garment
    method: str  # "alpha", "uniform background", or "whole image"
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 of the garment in the input image


def read_garment_file(path: str | Path) -> np.ndarray:
    """RGB or RGBA uint8 array of an image file (alpha kept), or GarmentRejected naming the path."""
    image = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if image is None:
        raise GarmentRejected(f"{path}: cannot read (missing or not an image)")
    if image.dtype == np.uint16:
        image = (image >> 8).astype(np.uint8)
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2RGB)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2RGBA)
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)


def garment_mask(image: np.ndarray) -> tuple[np.ndarray, str]:
    """(float mask in [0, 1], method) of the garment in an RGB or RGBA uint8 image."""
    if image.ndim == 3 and image.shape[2] == 4:
        alpha = image[..., 3]
        if alpha.min() < 250:  # an alpha channel that is all opaque says nothing
            return alpha.astype(np.float32) / 255.0, "alpha"
        image = image[..., :3]
    rgb = image[..., :3]
    if float(rgb.std()) < BLANK_STD:
        raise GarmentRejected("the image is blank (a single colour): no garment in it")
    border = np.concatenate([rgb[0], rgb[-1], rgb[:, 0], rgb[:, -1]]).astype(np.int16)
    background = np.median(border, axis=0)
    near = np.abs(border - background).max(axis=1) <= BACKGROUND_TOLERANCE
    if near.mean() < UNIFORM_BORDER_FRACTION:
        return np.ones(rgb.shape[:2], np.float32), "whole image"
    like_background = (np.abs(rgb.astype(np.int16) - background).max(axis=2) <= BACKGROUND_TOLERANCE)
    # Background = background-coloured pixels connected to the border (one extra pixel of frame
    # joins every border run into one component).
    framed = np.pad(like_background.astype(np.uint8), 1, constant_values=1)
    _, labels = cv2.connectedComponents(framed, connectivity=4)
    outside = labels == labels[0, 0]
    return (~outside[1:-1, 1:-1]).astype(np.float32), "uniform background"


def _without_specks(mask: np.ndarray) -> np.ndarray:
    binary = (mask > 0.5).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    if count <= 1:
        return np.zeros_like(mask)
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.zeros(count, bool)
    keep[1:] = areas >= MIN_PART_FRACTION * areas.max()
    return mask * keep[labels]


def cut_out_garment(image: np.ndarray, size: int = DEFAULT_SIZE) -> GarmentCutout:
    """The garment of a product photo, cropped and letterboxed to (size, size, 3) on white."""
    image = np.asarray(image)
    if image.dtype != np.uint8 or image.ndim != 3 or image.shape[2] not in (3, 4) or min(image.shape[:2]) == 0:
        raise GarmentRejected(f"expected an RGB or RGBA uint8 image, got {image.dtype} {image.shape}")
    mask, method = garment_mask(image)
    mask = _without_specks(mask)
    height, width = mask.shape
    coverage = float((mask > 0.5).mean())
    if coverage == 0.0:
        raise GarmentRejected("no garment found: the image is all background")
    if coverage < MIN_COVERAGE:
        raise GarmentRejected(f"the garment covers {coverage:.1%} of the image, under "
                              f"{MIN_COVERAGE:.0%}: not a product photo of a garment")
    rows = np.flatnonzero((mask > 0.5).any(axis=1))
    columns = np.flatnonzero((mask > 0.5).any(axis=0))
    y0, y1, x0, x1 = rows[0], rows[-1] + 1, columns[0], columns[-1] + 1
    margin = int(round(MARGIN_FRACTION * max(y1 - y0, x1 - x0)))
    y0, x0 = max(0, y0 - margin), max(0, x0 - margin)
    y1, x1 = min(height, y1 + margin), min(width, x1 + margin)
    rgb = image[..., :3].astype(np.float32)
    alpha = mask[..., None]
    on_white = rgb * alpha + 255.0 * (1.0 - alpha)
    crop = on_white[y0:y1, x0:x1]
    side = max(crop.shape[:2])
    square = np.full((side, side, 3), 255.0, np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    interpolation = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    resized = cv2.resize(square, (size, size), interpolation=interpolation)
    return GarmentCutout(np.clip(resized + 0.5, 0, 255).astype(np.uint8), coverage, method,
                         (int(x0), int(y0), int(x1), int(y1)))


def catalog_files(folder: str | Path) -> list[Path]:
    """The image files of a catalogue folder, sorted by name (the catalogue's order)."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise NotADirectoryError(f"garment catalogue '{folder}' is not a folder")
    files = sorted(path for path in folder.iterdir()
                   if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES)
    if not files:
        raise FileNotFoundError(f"garment catalogue '{folder}' holds no images ({', '.join(IMAGE_SUFFIXES)})")
    return files


def load_garment(path: str | Path, size: int = DEFAULT_SIZE) -> GarmentCutout:
    """cut_out_garment of an image file; GarmentRejected names the file."""
    try:
        return cut_out_garment(read_garment_file(path), size)
    except GarmentRejected as error:
        text = str(error)
        raise GarmentRejected(text if text.startswith(str(path)) else f"{path}: {text}") from None
