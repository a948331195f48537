"""Training samples cut from clips, as the paper trains (section 4.1).

Each iteration generates 6 frames; consecutive frames skip 0 to 2 source frames at 30 fps, so
the frame gaps are 1, 2 or 3. ``ClipSampleDataset`` turns any sequence of ``Clip`` objects (the
generator's ``SyntheticFashionVideo``, the ``FashionVideoDataset`` loader, or a plain list)
into such samples:

* item ``i`` belongs to clip ``i // samples_per_clip``; its gaps and start frame come from a
  numpy Generator seeded by (seed, epoch, i), so a sample is reproducible, different epochs
  draw different skips (``set_epoch``), and DataLoader workers need no shared random state;
* when the sequence offers ``clip_length(i)`` and ``get_frames(i, indices)`` (both data sources
  here do), only the sampled frames are produced or decoded, not the whole clip;
* skeleton images p^t are drawn from the keypoints with ``render_skeleton``;

* with ``tryon_share`` > 0 (generated clips only), that share of the samples are try-ons: the
  frames show the person wearing another clip's garment C (ground truth rendered by the
  generator), while h^s is the first frame in the person's own garment;
* with ``body_only_share`` > 0, that share of the samples keep the body keypoints only (hands
  and face unseen), as a body-only live pose estimator gives them;
* with ``source_move_share`` > 0, that share of the samples show frame 0's person (h^s and the
  frame-0 truth, with their masks and keypoints) moved elsewhere in the frame, as a person who
  walked from there (``source_move``);
* h^s's person layers for the keypoint prior: its person mask and its background filled behind
  the person (``pipeline.person_layer``);
* the output is a dict of tensors that the default collate stacks into a batch:

  ======================  ===================  =========================================
  key                     shape                meaning
  ======================  ===================  =========================================
  source                  (3, H, W) float      h^s (frames[0] unless a try-on sample)
  source_cloth_mask       (1, H, W) float      {0, 1}; the target of M_r
  source_person_mask      (1, H, W) float      {0, 1}
  background              (3, H, W) float      h^s with the person removed and filled
  frames                  (T, 3, H, W) float   h^t in [0, 1], wearing C
  skeletons               (T, 3, H, W) float   p^t in [0, 1]
  cloth_masks             (T, 1, H, W) float   {0, 1}; M_c^t, where C lies in frame t
  person_masks            (T, 1, H, W) float   {0, 1}
  keypoints               (T, 137, 3) float    x, y in pixels, confidence
  garment                 (3, H, W) float      C in [0, 1]
  garment_mask            (1, H, W) float      {0, 1}
  frame_indices           (T,) long            source frame numbers (gaps in 1..max_skip+1)
  clip_index              () long              which clip of the sequence
  garment_index           () long              whose garment C is (= clip_index unless a try-on)
  ======================  ===================  =========================================

It is a plain map-style dataset with ``__len__``, so ``DistributedSampler`` and shuffling
samplers work as usual. With persistent DataLoader workers, ``set_epoch`` does not reach the
workers' copies: create the iterator after calling it (the default, non-persistent workers do).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from torch.utils.data import Dataset

from fashionmirror_ros.data.source_move import draw_move, move_keypoints, move_mask, move_person
from fashionmirror_ros.data.synthetic import Clip
from fashionmirror_ros.pipeline.person_layer import fill_background
from fashionmirror_ros.pose.layout import NUM_BODY
from fashionmirror_ros.pose.skeleton import render_skeleton

FRAMES_PER_SAMPLE = 6
MAX_SKIP = 2
MOVE_STREAM = 1  # the source move's draws come from their own stream: the sample plan is unchanged


def sample_frame_indices(rng: np.random.Generator, clip_length: int,
                         frames_per_sample: int = FRAMES_PER_SAMPLE,
                         max_skip: int = MAX_SKIP) -> np.ndarray:
    """``frames_per_sample`` increasing frame numbers with 0..max_skip skipped frames between
    neighbours, placed uniformly in a clip of ``clip_length`` frames. When the clip is too short
    for the drawn skips they are shrunk (largest first) until the window fits."""
    if clip_length < frames_per_sample:
        raise ValueError(f"a clip of {clip_length} frames is shorter than {frames_per_sample} frames per sample")
    gaps = rng.integers(1, max_skip + 2, size=frames_per_sample - 1)
    while gaps.sum() + 1 > clip_length:
        gaps[int(np.argmax(gaps))] -= 1
    span = int(gaps.sum()) + 1
    start = int(rng.integers(0, clip_length - span + 1))
    return start + np.concatenate([[0], np.cumsum(gaps)]).astype(np.int64)


def _image_tensor(images: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W, 3) -> float (..., 3, H, W) in [0, 1]."""
    tensor = torch.from_numpy(np.ascontiguousarray(images))
    return tensor.movedim(-1, -3).float().div_(255.0)


def _mask_tensor(masks: np.ndarray) -> torch.Tensor:
    """uint8 (..., H, W) -> float (..., 1, H, W) in {0, 1}."""
    return torch.from_numpy((np.asarray(masks) > 0).astype(np.float32)).unsqueeze(-3)


class ClipSampleDataset(Dataset):
    """Map-style dataset of training samples (see the module docstring for the output)."""

    def __init__(self, clips: Sequence[Clip], frames_per_sample: int = FRAMES_PER_SAMPLE,
                 max_skip: int = MAX_SKIP, seed: int = 0, samples_per_clip: int = 1,
                 min_confidence: float = 0.1, tryon_share: float = 0.0, body_only_share: float = 0.0,
                 source_move_share: float = 0.0):
        if frames_per_sample < 1:
            raise ValueError(f"frames_per_sample must be at least 1, got {frames_per_sample}")
        if max_skip < 0:
            raise ValueError(f"max_skip must be non-negative, got {max_skip}")
        if samples_per_clip < 1:
            raise ValueError(f"samples_per_clip must be at least 1, got {samples_per_clip}")
        if not 0.0 <= tryon_share <= 1.0:
            raise ValueError(f"tryon_share must be in [0, 1], got {tryon_share}")
        if tryon_share > 0 and not hasattr(clips, "get_frames"):
            raise ValueError("try-on samples need clips that can swap garments (generated clips)")
        self.clips = clips
        self.frames_per_sample = int(frames_per_sample)
        self.max_skip = int(max_skip)
        self.seed = int(seed)
        self.samples_per_clip = int(samples_per_clip)
        self.min_confidence = float(min_confidence)
        self.tryon_share = float(tryon_share)
        if not 0.0 <= body_only_share <= 1.0:
            raise ValueError(f"body_only_share must be in [0, 1], got {body_only_share}")
        self.body_only_share = float(body_only_share)
        if not 0.0 <= source_move_share <= 1.0:
            raise ValueError(f"source_move_share must be in [0, 1], got {source_move_share}")
        self.source_move_share = float(source_move_share)
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Draw new skips and start frames for every item from now on."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.clips) * self.samples_per_clip

    def _rng(self, index: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.epoch, index])

    def _clip_length(self, clip_index: int) -> int:
        if hasattr(self.clips, "clip_length"):
            return int(self.clips.clip_length(clip_index))
        return len(self.clips[clip_index])

    def sample_plan(self, index: int) -> tuple[int, np.ndarray, int, bool]:
        """(clip index, frame numbers, garment's clip index, body only) of item ``index`` this
        epoch."""
        if not 0 <= index < len(self):
            raise IndexError(f"sample index {index} out of range for {len(self)} samples")
        clip_index = index // self.samples_per_clip
        rng = self._rng(index)
        frames = sample_frame_indices(rng, self._clip_length(clip_index),
                                      self.frames_per_sample, self.max_skip)
        garment_index = clip_index
        if len(self.clips) > 1 and rng.random() < self.tryon_share:
            garment_index = int((clip_index + rng.integers(1, len(self.clips))) % len(self.clips))
        return clip_index, frames, garment_index, bool(rng.random() < self.body_only_share)

    def source_move(self, index: int, person_mask: np.ndarray) -> np.ndarray | None:
        """The 2 x 3 move of frame 0's person in item ``index`` this epoch, or None."""
        rng = np.random.default_rng([self.seed, self.epoch, index, MOVE_STREAM])
        return draw_move(rng, person_mask) if rng.random() < self.source_move_share else None

    def _frames(self, clip_index: int, frame_indices: np.ndarray, garment_index: int | None = None):
        """(a Clip, positions of the wanted frames in it)."""
        if hasattr(self.clips, "get_frames"):
            swap = {} if garment_index is None else {"garment_index": garment_index}
            clip = self.clips.get_frames(clip_index, frame_indices.tolist(), **swap)
            return clip, np.arange(len(frame_indices))
        return self.clips[clip_index], frame_indices

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        if index < 0:
            index += len(self)
        clip_index, frame_indices, garment_index, body_only = self.sample_plan(index)
        tryon = garment_index != clip_index
        clip, rows = self._frames(clip_index, frame_indices, garment_index if tryon else None)
        source, source_rows = (self._frames(clip_index, frame_indices[:1]) if tryon
                               else (clip, rows[:1]))
        source_frame = source.frames[source_rows[0]]
        source_person = source.person_masks[source_rows[0]]
        source_cloth = source.cloth_masks[source_rows[0]]
        frames = clip.frames[rows]  # fancy indexing: copies, safe to move frame 0 in
        person_masks, cloth_masks = clip.person_masks[rows], clip.cloth_masks[rows]
        keypoints = clip.keypoints[rows].astype(np.float32)
        if body_only:  # a live pose estimator that gives the body only (no hands, no face)
            keypoints[:, NUM_BODY:, 2] = 0.0
        move = self.source_move(index, source_person)
        if move is not None:
            source_frame, source_person = move_person(source_frame, source_person, move)
            source_cloth = move_mask(source_cloth, move)
            frames[0], person_masks[0] = move_person(frames[0], person_masks[0], move)
            cloth_masks[0] = move_mask(cloth_masks[0], move)
            keypoints[0] = move_keypoints(keypoints[0], move)
        height, width = frames.shape[1:3]
        skeletons = np.stack([render_skeleton(points, height, width, self.min_confidence)
                              for points in keypoints])
        return {
            "source": _image_tensor(source_frame),
            "source_cloth_mask": _mask_tensor(source_cloth),
            "source_person_mask": _mask_tensor(source_person),
            "background": _image_tensor(fill_background(source_frame, source_person)),
            "frames": _image_tensor(frames),
            "skeletons": _image_tensor(skeletons),
            "cloth_masks": _mask_tensor(cloth_masks),
            "person_masks": _mask_tensor(person_masks),
            "keypoints": torch.from_numpy(keypoints),
            "garment": _image_tensor(clip.garment),
            "garment_mask": _mask_tensor(clip.garment_mask),
            "frame_indices": torch.from_numpy(frame_indices.astype(np.int64)),
            "clip_index": torch.tensor(clip_index, dtype=torch.long),
            "garment_index": torch.tensor(garment_index, dtype=torch.long),
        }
