"""Image metrics restricted to where the viewer looks: the person and the garment.

Full-frame SSIM and PSNR reward any answer that keeps a static background, which is most of a
kiosk frame; these variants look at the person only:
- ``person_ssim``: SSIM (metrics.ssim) on the bounding box of the true person masks of the source
  and the target frame (the region where either the old or the new body is), grown to the SSIM
  window if smaller;
- ``masked_psnr``: PSNR over the pixels of a mask (the target person mask, or the target
  clothing mask for the garment region). NaN for an empty mask: nothing to score.
"""
from __future__ import annotations

import numpy as np

from fashionmirror_ros.evaluation.metrics import DATA_RANGE_8BIT, PSNR_CAP_DB, SSIM_WINDOW_SIZE, ssim


def union_box(*masks: np.ndarray) -> tuple[slice, slice] | None:
    """(rows, columns) slices of the bounding box of the union of (H, W) masks; None if empty.
    The box is grown around its centre to at least the SSIM window (within the image)."""
    union = np.zeros(np.shape(masks[0]), bool)
    for mask in masks:
        union |= np.asarray(mask) > 0
    if not union.any():
        return None
    rows, columns = np.nonzero(union.any(1))[0], np.nonzero(union.any(0))[0]
    return (_grown(rows[0], rows[-1] + 1, union.shape[0]), _grown(columns[0], columns[-1] + 1, union.shape[1]))


def _grown(start: int, stop: int, size: int) -> slice:
    missing = max(0, SSIM_WINDOW_SIZE - (stop - start))
    start = max(0, start - (missing + 1) // 2)
    stop = min(size, max(stop + missing // 2, start + SSIM_WINDOW_SIZE))
    return slice(max(0, min(start, stop - SSIM_WINDOW_SIZE)), stop)


def person_ssim(generated: np.ndarray, real: np.ndarray, source_person: np.ndarray,
                target_person: np.ndarray) -> float:
    """SSIM of two (H, W, 3) uint8 images on the box of both person masks; NaN without a person."""
    box = union_box(source_person, target_person)
    if box is None:
        return float("nan")
    return ssim(generated[box], real[box])


def masked_psnr(generated: np.ndarray, real: np.ndarray, mask: np.ndarray) -> float:
    """PSNR in dB over the pixels where ``mask`` (H, W) is nonzero; NaN for an empty mask."""
    inside = np.asarray(mask) > 0
    if generated.shape != real.shape or inside.shape != generated.shape[:2]:
        raise ValueError(f"shapes differ: {generated.shape}, {real.shape}, mask {inside.shape}")
    if not inside.any():
        return float("nan")
    difference = generated[inside].astype(np.float64) - real[inside].astype(np.float64)
    mse = float(np.mean(difference ** 2))
    if mse == 0.0:
        return PSNR_CAP_DB
    return float(min(10.0 * np.log10(DATA_RANGE_8BIT ** 2 / mse), PSNR_CAP_DB))
