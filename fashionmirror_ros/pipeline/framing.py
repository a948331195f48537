"""Letterboxing camera frames and their keypoints onto the model's square input.

The networks work on S x S images (S = ModelConfig.image_size, 256). A camera frame of any
aspect is scaled so its longer side is S and padded symmetrically; keypoints found in the
camera frame go through the same transform, so the skeleton p^t lines up with the frame.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PAD_VALUE = 255  # FashionVideo-like studio backgrounds are bright; white padding blends in.


@dataclass(frozen=True)
class Letterbox:
    scale: float
    offset_x: float
    offset_y: float
    size: int

    @classmethod
    def fit(cls, width: int, height: int, size: int) -> "Letterbox":
        scale = size / max(width, height)
        return cls(scale, (size - width * scale) / 2.0, (size - height * scale) / 2.0, size)

    def image(self, rgb: np.ndarray) -> np.ndarray:
        height, width = rgb.shape[:2]
        if (height, width) == (self.size, self.size):
            return rgb
        new_w, new_h = max(1, round(width * self.scale)), max(1, round(height * self.scale))
        resized = cv2.resize(rgb, (new_w, new_h), interpolation=cv2.INTER_AREA)
        canvas = np.full((self.size, self.size, 3), PAD_VALUE, np.uint8)
        top, left = int(self.offset_y), int(self.offset_x)
        canvas[top:top + new_h, left:left + new_w] = resized
        return canvas

    def keypoints(self, keypoints: np.ndarray) -> np.ndarray:
        """(137, 3) x, y, confidence in camera pixels -> model pixels (confidence unchanged)."""
        mapped = np.array(keypoints, dtype=np.float32, copy=True)
        mapped[:, 0] = mapped[:, 0] * self.scale + self.offset_x
        mapped[:, 1] = mapped[:, 1] * self.scale + self.offset_y
        return mapped
