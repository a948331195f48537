"""Loader for the real FashionVideo (UBC Fashion) data set, for users who have it.

Expected layout under ``root``::

    fashion_train.txt, fashion_test.txt   one video per line: a URL or a file name; a line is
                                           matched to a video file by its stem
    train/<stem>.mp4, test/<stem>.mp4     the videos
    masks/<stem>/<frame:05d>.png          clothing masks from an external human parser
                                           (nonzero = clothes), one per frame
    keypoints/<stem>.npy                  optional: (T, 137, 3) OpenPose-layout keypoints in
                                           the video's own pixel coordinates
    person_masks/<stem>/<frame:05d>.png   optional: person masks (else estimated, see below)

Each video becomes the same ``Clip`` the generator makes, so training and evaluation code does
not care where clips come from:

* frames are letterboxed to ``image_size`` squared: scaled to fit, aspect kept, padded by
  repeating the border pixels (FashionVideo backgrounds are plain studio walls, so this is
  invisible); masks are scaled with nearest-neighbour and padded with 0; keypoints follow the
  same scale and offset;
* the garment image C is cut from the most frontal frame (widest shoulders with both eyes
  seen; frame 0 without keypoints): the masked clothes are cropped at the video's own
  resolution, scaled to fit and centred on white, which is what an in-shop photo looks like;
* without a keypoint file the keypoints are all zeros (confidence 0): run a pose estimator
  on the frames before training (the skeleton images would be empty); with one, frames past
  its length are not loaded (decoders often disagree by a frame at the end of a video);
* without person-mask files the person mask is estimated: pixels that differ from the median
  border colour, cleaned and united with the clothing mask (good on studio backgrounds only);
* the garment type is unknown ("unknown"); ``seed`` is -1 and ``split`` the list's split.

Missing lists, videos, masks and malformed keypoint files raise FileNotFoundError or
ValueError naming the file.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import cv2
import numpy as np

from fashionmirror_ros.data.synthetic import Clip
from fashionmirror_ros.pipeline.framing import Letterbox
from fashionmirror_ros.pose.layout import BODY, NUM_KEYPOINTS

VIDEO_SUFFIXES = (".mp4", ".MP4", ".mov", ".avi", ".mkv")
DEFAULT_FPS = 30.0
UNKNOWN_GARMENT = "unknown"


@dataclass(frozen=True)
class LoaderConfig:
    """Numbers of the loader in one place."""

    garment_fill: float = 0.86          # fraction of C covered by the garment's larger side
    frontal_candidates: int = 3         # originals kept for the garment crop while reading
    min_confidence: float = 0.1         # keypoint confidence counted as "seen"
    background_threshold: float = 30.0  # colour distance from the border colour = person
    mask_cleanup_fraction: float = 0.01 # morphology kernel, as a fraction of the image size


DEFAULT_LOADER_CONFIG = LoaderConfig()


def entry_stem(entry: str) -> str:
    """The video stem of a list line: a URL or a (path to a) file name."""
    entry = entry.strip()
    path = urlparse(entry).path if "://" in entry else entry
    return Path(path).stem


def read_video_list(root: Path, split: str) -> list[str]:
    """Stems listed in ``<root>/fashion_<split>.txt`` (blank lines and ``#`` comments skipped,
    duplicates dropped, order kept)."""
    list_path = Path(root) / f"fashion_{split}.txt"
    if not list_path.is_file():
        raise FileNotFoundError(f"FashionVideo list not found: {list_path}")
    stems: list[str] = []
    seen: set[str] = set()
    for line in list_path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        stem = entry_stem(line)
        if not stem:
            raise ValueError(f"cannot read a video name from line {line!r} of {list_path}")
        if stem not in seen:
            seen.add(stem)
            stems.append(stem)
    return stems


def find_video(root: Path, split: str, stem: str) -> Path:
    folder = Path(root) / split
    for suffix in VIDEO_SUFFIXES:
        candidate = folder / f"{stem}{suffix}"
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"video for {stem!r} not found: expected {folder / (stem + '.mp4')}")


def mask_path(root: Path, stem: str, frame_index: int, folder: str = "masks") -> Path:
    return Path(root) / folder / stem / f"{frame_index:05d}.png"


def read_mask(path: Path, height: int, width: int) -> np.ndarray:
    """A binary mask (nonzero = inside) resized to (height, width) with nearest neighbour."""
    if not path.is_file():
        raise FileNotFoundError(f"mask file not found: {path}")
    mask = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE)
    if mask is None:
        raise ValueError(f"cannot decode mask file: {path}")
    if mask.shape != (height, width):
        mask = cv2.resize(mask, (width, height), interpolation=cv2.INTER_NEAREST)
    return (mask > 0).astype(np.uint8)


def read_keypoints(root: Path, stem: str) -> np.ndarray | None:
    path = Path(root) / "keypoints" / f"{stem}.npy"
    if not path.is_file():
        return None
    keypoints = np.load(path, allow_pickle=False)
    if keypoints.ndim != 3 or keypoints.shape[1:] != (NUM_KEYPOINTS, 3):
        raise ValueError(f"keypoints in {path} must have shape (T, {NUM_KEYPOINTS}, 3), got {keypoints.shape}")
    return keypoints.astype(np.float32)


def frontality_scores(keypoints: np.ndarray, min_confidence: float = 0.1) -> np.ndarray:
    """Per frame: shoulder width (left shoulder x minus right shoulder x, positive when the
    person faces the camera) if both shoulders and both eyes are seen, else -inf."""
    right_shoulder = keypoints[:, BODY["RShoulder"]]
    left_shoulder = keypoints[:, BODY["LShoulder"]]
    needed = [BODY["RShoulder"], BODY["LShoulder"], BODY["REye"], BODY["LEye"]]
    seen = (keypoints[:, needed, 2] >= min_confidence).all(axis=1)
    width = left_shoulder[:, 0] - right_shoulder[:, 0]
    return np.where(seen & (width > 0), width, -np.inf)


def garment_from_frame(frame: np.ndarray, cloth_mask: np.ndarray, image_size: int,
                       fill: float = DEFAULT_LOADER_CONFIG.garment_fill) -> tuple[np.ndarray, np.ndarray]:
    """In-shop style image C: the masked clothes of ``frame`` cropped, scaled to fit
    ``fill`` of the square and centred on white; returns (image uint8 RGB, mask uint8)."""
    rows = np.flatnonzero(cloth_mask.any(axis=1))
    cols = np.flatnonzero(cloth_mask.any(axis=0))
    if rows.size == 0:
        raise ValueError("the clothing mask is empty")
    crop = frame[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    crop_mask = cloth_mask[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    height, width = crop_mask.shape
    scale = fill * image_size / max(height, width)
    new_width = max(1, int(round(width * scale)))
    new_height = max(1, int(round(height * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    crop = cv2.resize(crop, (new_width, new_height), interpolation=interpolation)
    crop_mask = cv2.resize(crop_mask, (new_width, new_height), interpolation=cv2.INTER_NEAREST)
    garment = np.full((image_size, image_size, 3), 255, np.uint8)
    mask = np.zeros((image_size, image_size), np.uint8)
    top = (image_size - new_height) // 2
    left = (image_size - new_width) // 2
    region = (slice(top, top + new_height), slice(left, left + new_width))
    np.copyto(garment[region], crop, where=crop_mask.astype(bool)[..., None])
    mask[region] = crop_mask
    return garment, mask


def estimate_person_mask(frame: np.ndarray, cloth_mask: np.ndarray,
                         config: LoaderConfig = DEFAULT_LOADER_CONFIG) -> np.ndarray:
    """Person mask on a plain background: pixels far from the median border colour, the
    largest connected region kept, joined with the clothing mask."""
    border = np.concatenate([frame[0], frame[-1], frame[:, 0], frame[:, -1]]).astype(np.float32)
    background = np.median(border, axis=0)
    distance = np.linalg.norm(frame.astype(np.float32) - background, axis=2)
    mask = (distance > config.background_threshold).astype(np.uint8) | cloth_mask
    kernel_size = max(3, int(round(config.mask_cleanup_fraction * max(frame.shape[:2]))) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size, kernel_size))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
    if count > 1:
        largest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
        mask = (labels == largest).astype(np.uint8)
    return mask | cloth_mask


def read_frames(video_path: Path, keep: set[int] | None = None, last: int | None = None):
    """Decode frames 0..``last`` of ``video_path`` (to the end when None), keeping those in
    ``keep`` (all when None; the others are skipped without colour conversion). Returns
    (frames by index as RGB, number of frames decoded, fps)."""
    capture = cv2.VideoCapture(str(video_path))
    if not capture.isOpened():
        raise ValueError(f"cannot open video file: {video_path}")
    kept: dict[int, np.ndarray] = {}
    decoded = 0
    try:
        fps = float(capture.get(cv2.CAP_PROP_FPS))
        if not np.isfinite(fps) or fps <= 0:
            fps = DEFAULT_FPS
        while last is None or decoded <= last:
            if keep is None or decoded in keep:
                ok, frame_bgr = capture.read()
                if not ok:
                    break
                kept[decoded] = cv2.cvtColor(frame_bgr, cv2.COLOR_BGR2RGB)
            elif not capture.grab():
                break
            decoded += 1
    finally:
        capture.release()
    return kept, decoded, fps


def load_fashionvideo_clip(root, split: str, stem: str, image_size: int = 256,
                           frame_indices=None, max_frames: int | None = None,
                           config: LoaderConfig = DEFAULT_LOADER_CONFIG) -> Clip:
    """One FashionVideo video as a Clip: all frames, the first ``max_frames``, or exactly
    ``frame_indices`` in that order. The garment image C is always taken from the most frontal
    frame of the whole video (within ``max_frames``), so it does not depend on which frames
    were asked for."""
    root = Path(root)
    video_path = find_video(root, split, stem)
    all_keypoints = read_keypoints(root, stem)
    limit = max_frames
    if all_keypoints is not None:
        limit = all_keypoints.shape[0] if limit is None else min(limit, all_keypoints.shape[0])
    candidates = _frontal_candidates(all_keypoints, limit, config)
    if frame_indices is None:
        kept, decoded, fps = read_frames(video_path, None, None if limit is None else limit - 1)
        order = sorted(kept)
    else:
        order = [int(i) for i in frame_indices]
        if not order or min(order) < 0:
            raise ValueError(f"frame_indices for {video_path} must be non-negative and not empty")
        needed = set(order) | set(candidates)
        kept, decoded, fps = read_frames(video_path, needed, max(needed))
    if not kept:
        raise ValueError(f"no frames could be read from {video_path}")
    missing = [i for i in order if i not in kept]
    if missing:
        raise ValueError(f"{video_path} has {decoded} frames; frame {missing[0]} was requested")
    if all_keypoints is not None and all_keypoints.shape[0] < max(order) + 1:
        raise ValueError(f"keypoints of {stem!r} cover {all_keypoints.shape[0]} frames, "
                         f"frame {max(order)} was requested")
    height, width = kept[order[0]].shape[:2]
    letterbox = Letterbox.fit(width, height, image_size)
    count = len(order)
    frames = np.empty((count, image_size, image_size, 3), np.uint8)
    cloth_masks = np.empty((count, image_size, image_size), np.uint8)
    person_masks = np.empty((count, image_size, image_size), np.uint8)
    for slot, frame_index in enumerate(order):
        frame = kept[frame_index]
        cloth = read_mask(mask_path(root, stem, frame_index), height, width)
        person_file = mask_path(root, stem, frame_index, "person_masks")
        if person_file.is_file():
            person = read_mask(person_file, height, width) | cloth
        else:
            person = estimate_person_mask(frame, cloth, config)
        frames[slot] = letterbox.image(frame, pad_value=None)  # repeat the studio wall
        cloth_masks[slot] = letterbox.mask(cloth)
        person_masks[slot] = letterbox.mask(person)
    if all_keypoints is None:
        keypoints = np.zeros((count, NUM_KEYPOINTS, 3), np.float32)
    else:
        keypoints = letterbox.keypoints(all_keypoints[order])
    garment, garment_mask = _pick_garment(root, stem, kept, candidates, order, frames, cloth_masks,
                                          image_size, config, video_path)
    return Clip(frames=frames, keypoints=keypoints, cloth_masks=cloth_masks,
                person_masks=person_masks, garment=garment, garment_mask=garment_mask,
                garment_type=UNKNOWN_GARMENT, fps=fps, seed=-1, split=split)


def _frontal_candidates(keypoints, limit, config: LoaderConfig) -> list[int]:
    """The most frontal frames, best first (at most ``config.frontal_candidates``), then frame
    0 as the fallback (the only candidate without keypoints)."""
    if keypoints is None:
        return [0]
    scores = frontality_scores(keypoints[:limit], config.min_confidence)
    best = [int(i) for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])]
    best = best[: config.frontal_candidates]
    return best + ([0] if 0 not in best else [])


def _pick_garment(root, stem, kept, candidates, order, frames, cloth_masks, image_size,
                  config: LoaderConfig, video_path):
    """C from the most frontal decoded candidate whose clothing mask is not empty, cropped at
    the video's own resolution; else from the loaded frame with the largest clothing area."""
    for frame_index in candidates:
        if frame_index not in kept:
            continue
        frame = kept[frame_index]
        mask = read_mask(mask_path(root, stem, frame_index), frame.shape[0], frame.shape[1])
        if mask.any():
            return garment_from_frame(frame, mask, image_size, config.garment_fill)
    areas = cloth_masks.reshape(len(order), -1).sum(axis=1)
    best = int(np.argmax(areas))
    if areas[best] == 0:
        raise ValueError(f"every clothing mask of {video_path} is empty; cannot build the garment image")
    return garment_from_frame(frames[best], cloth_masks[best], image_size, config.garment_fill)


class FashionVideoDataset:
    """The videos of one split as Clips, loaded on demand (a sequence: len and indexing).

    ``max_frames`` bounds how many frames of each video are read (FashionVideo videos are about
    12 s long: 350 frames of 256x256 are 70 MB). ``get_frames`` reads only the frames asked for.
    """

    def __init__(self, root, split: str = "train", image_size: int = 256,
                 max_frames: int | None = None, config: LoaderConfig = DEFAULT_LOADER_CONFIG):
        self.root = Path(root)
        self.split = split
        self.image_size = int(image_size)
        self.max_frames = max_frames
        self.config = config
        self.stems = read_video_list(self.root, split)
        self.videos = [find_video(self.root, split, stem) for stem in self.stems]
        self._lengths: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.stems)

    def _index(self, index: int) -> int:
        if index < 0:
            index += len(self.stems)
        if not 0 <= index < len(self.stems):
            raise IndexError(f"video index {index} out of range for {len(self.stems)} videos")
        return index

    def __getitem__(self, index: int) -> Clip:
        index = self._index(index)
        return load_fashionvideo_clip(self.root, self.split, self.stems[index], self.image_size,
                                      max_frames=self.max_frames, config=self.config)

    def clip_length(self, index: int) -> int:
        """Number of frames of video ``index`` (counted by decoding once, then cached: the
        container's frame count is not always right)."""
        index = self._index(index)
        if index not in self._lengths:
            capture = cv2.VideoCapture(str(self.videos[index]))
            if not capture.isOpened():
                raise ValueError(f"cannot open video file: {self.videos[index]}")
            count = 0
            try:
                while capture.grab():
                    count += 1
            finally:
                capture.release()
            if self.max_frames is not None:
                count = min(count, self.max_frames)
            self._lengths[index] = count
        return self._lengths[index]

    def get_frames(self, index: int, frame_indices) -> Clip:
        index = self._index(index)
        return load_fashionvideo_clip(self.root, self.split, self.stems[index], self.image_size,
                                      frame_indices=frame_indices, config=self.config)
