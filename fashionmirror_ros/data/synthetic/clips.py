"""Clips: the Clip record, the generator's entry points and the on-the-fly split
SyntheticFashionVideo."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from fashionmirror_ros.data.synthetic.config import DEFAULT_CONFIG, SyntheticConfig
from fashionmirror_ros.data.synthetic.flat_garment import render_flat_garment
from fashionmirror_ros.data.synthetic.recipe import sample_recipe, split_of_seed, split_seed
from fashionmirror_ros.data.synthetic.renderer import FrameRenderer
from fashionmirror_ros.pose.layout import NUM_KEYPOINTS


@dataclass
class Clip:
    """One video clip with its ground truth (generated, or loaded from FashionVideo).

    cloth_masks[t] is the visible garment region of frame t: in the reconstruction protocol it
    is both the removed mask M_r (for frame 0) and the target clothing mask M_c^t.
    """

    frames: np.ndarray          # uint8 (T, H, W, 3) RGB
    keypoints: np.ndarray       # float32 (T, 137, 3) x, y, confidence
    cloth_masks: np.ndarray     # uint8 (T, H, W) in {0, 1}
    person_masks: np.ndarray    # uint8 (T, H, W) in {0, 1}
    garment: np.ndarray         # uint8 (H, W, 3) the flat in-shop garment image C
    garment_mask: np.ndarray    # uint8 (H, W) in {0, 1}
    garment_type: str
    fps: float
    seed: int
    split: str

    def __len__(self) -> int:
        return int(self.frames.shape[0])


def _render_clip(person_seed: int, garment_seed: int, frame_indices, image_size: int, fps: float,
                 config: SyntheticConfig) -> Clip:
    if image_size < 32:
        raise ValueError(f"image_size must be at least 32, got {image_size}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    frame_indices = [int(i) for i in frame_indices]
    if not frame_indices or min(frame_indices) < 0:
        raise ValueError("need at least one frame and non-negative frame indices")
    duration = (max(frame_indices) + 1) / fps
    recipe = sample_recipe(person_seed, duration, config, garment_seed)
    renderer = FrameRenderer(recipe, image_size)
    count = len(frame_indices)
    frames = np.empty((count, image_size, image_size, 3), np.uint8)
    keypoints = np.empty((count, NUM_KEYPOINTS, 3), np.float32)
    cloth_masks = np.empty((count, image_size, image_size), np.uint8)
    person_masks = np.empty((count, image_size, image_size), np.uint8)
    for slot, index in enumerate(frame_indices):
        rendered = renderer.render_time(index / fps)
        frames[slot] = rendered.image
        keypoints[slot] = rendered.keypoints
        cloth_masks[slot] = rendered.cloth_mask
        person_masks[slot] = rendered.person_mask
    garment, garment_mask = render_flat_garment(recipe.garment, image_size, config)
    return Clip(frames=frames, keypoints=keypoints, cloth_masks=cloth_masks,
                person_masks=person_masks, garment=garment, garment_mask=garment_mask,
                garment_type=recipe.garment.garment_type, fps=float(fps), seed=int(person_seed),
                split=split_of_seed(person_seed))


def generate_clip(seed: int, num_frames: int = 60, image_size: int = 256, fps: float = 30.0,
                  config: SyntheticConfig = DEFAULT_CONFIG) -> Clip:
    """The clip of ``seed``: same seed, same bytes. Its first N frames do not depend on
    ``num_frames``; the motion runs in real time at ``fps``."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    return _render_clip(seed, seed, range(num_frames), image_size, fps, config)


def generate_frames(seed: int, frame_indices, image_size: int = 256, fps: float = 30.0,
                    config: SyntheticConfig = DEFAULT_CONFIG, garment_seed: int | None = None) -> Clip:
    """Only the listed frames of clip ``seed`` (identical to those frames of the full clip);
    a Clip whose frame k is source frame ``frame_indices[k]``."""
    return _render_clip(seed, seed if garment_seed is None else garment_seed, frame_indices,
                        image_size, fps, config)


def tryon_clip(person_seed: int, garment_seed: int, num_frames: int = 60, image_size: int = 256,
               fps: float = 30.0, config: SyntheticConfig = DEFAULT_CONFIG) -> Clip:
    """Person, motion, background and framing of ``person_seed`` wearing the garment of
    ``garment_seed``; the ground-truth masks and C follow the new garment. ``seed`` and ``split``
    of the result are the person's."""
    if num_frames < 1:
        raise ValueError(f"num_frames must be at least 1, got {num_frames}")
    return _render_clip(person_seed, garment_seed, range(num_frames), image_size, fps, config)


class SyntheticFashionVideo:
    """A split of generated clips, made on the fly (nothing stored); clip i has seed
    ``split_seed(split, i)``. Also serves single frames cheaply through ``get_frames``."""

    def __init__(self, split: str, num_clips: int, num_frames: int = 60, image_size: int = 256,
                 fps: float = 30.0, config: SyntheticConfig = DEFAULT_CONFIG):
        if num_clips < 0:
            raise ValueError(f"num_clips must be non-negative, got {num_clips}")
        split_seed(split, max(num_clips - 1, 0))  # validates the split and the range
        self.split = split
        self.num_clips = int(num_clips)
        self.num_frames = int(num_frames)
        self.image_size = int(image_size)
        self.fps = float(fps)
        self.config = config

    def __len__(self) -> int:
        return self.num_clips

    def _index(self, index: int) -> int:
        if index < 0:
            index += self.num_clips
        if not 0 <= index < self.num_clips:
            raise IndexError(f"clip index {index} out of range for {self.num_clips} clips")
        return index

    def seed(self, index: int) -> int:
        return split_seed(self.split, self._index(index))

    def clip_length(self, index: int) -> int:
        self._index(index)
        return self.num_frames

    def __getitem__(self, index: int) -> Clip:
        clip = generate_clip(self.seed(index), self.num_frames, self.image_size, self.fps, self.config)
        clip.split = self.split
        return clip

    def get_frames(self, index: int, frame_indices, garment_index: int | None = None) -> Clip:
        """Frames ``frame_indices`` of clip ``index`` only (what the training sampler needs);
        with ``garment_index``, the person wears the garment of that clip of the split instead
        (``tryon_clip``'s swap: same person, motion and background)."""
        frame_indices = list(frame_indices)
        if frame_indices and max(frame_indices) >= self.num_frames:
            raise IndexError(f"frame index {max(frame_indices)} beyond clip length {self.num_frames}")
        garment_seed = None if garment_index is None else self.seed(garment_index)
        clip = generate_frames(self.seed(index), frame_indices, self.image_size, self.fps, self.config,
                               garment_seed=garment_seed)
        clip.split = self.split
        return clip
