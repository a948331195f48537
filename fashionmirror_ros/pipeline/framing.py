"""Letterboxing frames, masks and keypoints onto the model's square input.

The networks work on S x S images (S = ModelConfig.image_size, 256). A frame of any aspect is
scaled so its longer side is S and padded symmetrically; keypoints and masks go through the same
transform, so the skeleton p^t and the clothing masks line up with the frame. One implementation
serves the nodes (camera frames, source, garment) and the FashionVideo loader (training data),
so the model sees the same framing in training and at run time.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 255  # FashionVideo-like studio backgrounds are bright; white padding blends in.


@dataclass(frozen=True)
class Letterbox:
    scale: float
    pad_x: int
    pad_y: int
    size: int
    width: int
    height: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> "Letterbox":
        scale = size / max(width, height)
        new_width = max(1, int(round(width * scale)))
        new_height = max(1, int(round(height * scale)))
        return cls(scale, (size - new_width) // 2, (size - new_height) // 2, size, width, height)

    @property
    def resized_size(self) -> tuple[int, int]:
        """(width, height) of the frame after scaling, before padding."""
        return (max(1, int(round(self.width * self.scale))), max(1, int(round(self.height * self.scale))))

    def _borders(self) -> tuple[int, int, int, int]:
        new_width, new_height = self.resized_size
        return (self.pad_y, self.size - new_height - self.pad_y,
                self.pad_x, self.size - new_width - self.pad_x)

    def image(self, rgb: np.ndarray, pad_value: int | None = PAD_VALUE) -> np.ndarray:
        """(H, W, 3) -> (S, S, 3); pad_value None repeats the edge pixels instead."""
        if rgb.shape[:2] == (self.size, self.size):
            return rgb
        interpolation = cv2.INTER_AREA if self.scale < 1 else cv2.INTER_LINEAR
        resized = cv2.resize(rgb, self.resized_size, interpolation=interpolation)
        if pad_value is None:
            return cv2.copyMakeBorder(resized, *self._borders(), cv2.BORDER_REPLICATE)
        return cv2.copyMakeBorder(resized, *self._borders(), cv2.BORDER_CONSTANT,
                                  value=(pad_value,) * 3)

    def mask(self, mask: np.ndarray) -> np.ndarray:
        """(H, W) -> (S, S), nearest neighbour, padded with 0."""
        resized = cv2.resize(mask, self.resized_size, interpolation=cv2.INTER_NEAREST)
        return cv2.copyMakeBorder(resized, *self._borders(), cv2.BORDER_CONSTANT, value=0)

    def keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """(..., 3) x, y, confidence in frame pixels -> model pixels (confidence unchanged)."""
        mapped = np.array(keypoints, dtype=np.float32, copy=True)
        # Through pixel centres, x' + 0.5 = (x + 0.5) * scale + pad, as cv2.resize maps pixels.
        mapped[..., 0] = (mapped[..., 0] + 0.5) * self.scale - 0.5 + self.pad_x
        mapped[..., 1] = (mapped[..., 1] + 0.5) * self.scale - 0.5 + self.pad_y
        return mapped
