"""Real clips of people for the evaluation's ``real`` protocol, cut from the fetched Sports2D demo
video (``data/real_media`` fetches and verifies it), and a contact sheet to look at them.

``real_clips`` returns three 20-frame ``Clip`` records (see ``REAL_CLIPS``): a fixed square crop
per clip around the person, MediaPipe Holistic keypoints, MediaPipe Pose person masks, the frame-0
upper-body clothes as garment C (as the paper takes C from a frontal frame of FashionVideo) and no
clothing masks (a real video has no parse); cached in the media folder.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import zipfile
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from fashionmirror_ros.data.real_media import (DEMO_VIDEO, DEMO_VIDEO_FRAMES, DEMO_VIDEO_SIZE, MediaError,
                                              demo_video_path, media_dir)
from fashionmirror_ros.data.synthetic import Clip
from fashionmirror_ros.pose.layout import BODY


# ----------------------------------------------------------------------------------------------
# Real clips
# ----------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RealClipSpec:
    """A time window of the demo video and the person in it.

    ``search_region`` (x0, y0, x1, y1, video pixels) holds this person and not the other one
    over the window, so the detector cannot switch people; ``last_frame`` ends the span in which
    MediaPipe tracks the person there (``num_frames`` may not reach past it).
    """

    name: str
    first_frame: int
    last_frame: int
    search_region: tuple[int, int, int, int]
    description: str


# Windows chosen where MediaPipe finds the person (measured at 20 frames: Pose locates the person
# in the search region on 19, 20 and 20 frames, Holistic on the crops finds a person on all 20
# of each). The woman walks across the frame, so a fixed crop over many more frames grows with
# her path (57 frames: a 767-pixel square instead of 474) and she becomes small in it.
REAL_CLIPS = (
    RealClipSpec(
        "woman_passing_trees", 70, 196, (0, 480, 1768, 994),
        "the woman walking past (right to left), side-on, whole body, grass and trees behind",
    ),
    RealClipSpec(
        "woman_passing_box", 140, 196, (0, 480, 1768, 994),
        "the same walk further on, in front of the grey box: another background and gait phase",
    ),
    RealClipSpec(
        "man_on_box", 10, 109, (300, 0, 1100, 560),
        "the man standing on the box, arms out and up (a jump), backlit by the sun; the other "
        "person and a frontal body",
    ),
)
DEMO_VIDEO_FPS = 30.0
LOCATE_MIN_CONFIDENCE = 0.5    # keypoints trusted for the person's extent
MIN_LOCATED_SHARE = 0.5        # a window where the person is found less often is refused
CROP_PADDING = 0.12            # of the extent's longer side, each side (head top, hands, feet)
GARMENT_MIN_CONFIDENCE = 0.5   # shoulders and hips needed for the frame-0 garment
TORSO_WIDEN = 0.2              # torso band widened by this times the torso length, each side
TORSO_EXTEND_TOP = 0.05        # ... and lengthened above the shoulders (collar)
TORSO_EXTEND_BOTTOM = 0.15     # ... and below the hip joints (a top's hem)
REAL_CLIP_GARMENT_TYPE = "real"
REAL_CLIP_SPLIT = "real"
REAL_CLIP_SEED = -1            # no generator seed, as for FashionVideo clips
# Bump when the clip construction changes, so stale caches are rebuilt.
CACHE_VERSION = 1
CACHE_FOLDER = "cache/real_clips"
_CACHED_ARRAYS = ("frames", "keypoints", "person_masks", "garment", "garment_mask")


def iter_video_frames(path: Path, first: int, count: int) -> Iterator[np.ndarray]:
    """RGB frames ``first`` .. ``first + count - 1`` of a video, decoded in order.

    Frames before ``first`` are decoded and dropped rather than sought: seeking in mp4 lands on
    key frames in some OpenCV builds, and a one-frame shift would silently change the clips.
    """
    capture = cv2.VideoCapture(str(path))
    if not capture.isOpened():
        raise MediaError(f"OpenCV cannot open {path}")
    try:
        for index in range(first + count):
            if index < first:
                grabbed = capture.grab()
                frame = None
            else:
                grabbed, frame = capture.read()
            if not grabbed:
                raise MediaError(f"{path} ended at frame {index}; frames {first}..{first + count - 1} needed")
            if frame is not None:
                yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB)
    finally:
        capture.release()


def locate_person(frames: Iterator[np.ndarray], region: tuple[int, int, int, int]) -> tuple[tuple[float, float, float, float], int, int]:
    """Union of the person's keypoint boxes over ``frames``, searched inside ``region``.

    MediaPipe Pose (body only, tracking: the frames are consecutive) on the region of each full
    frame. Returns (box in frame pixels, frames with a person, frames seen).
    """
    from fashionmirror_ros.pose.estimators import keypoints_bbox, make_estimator

    x0, y0, x1, y1 = region
    boxes, seen = [], 0
    with make_estimator("mediapipe_pose", static_image_mode=False) as estimator:
        for frame in frames:
            seen += 1
            result = estimator.estimate(frame[y0:y1, x0:x1])
            box = keypoints_bbox(result.keypoints, LOCATE_MIN_CONFIDENCE) if result.person_found else None
            if box is not None:
                boxes.append((box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0))
    if not boxes:
        return (0.0, 0.0, 0.0, 0.0), 0, seen
    stacked = np.asarray(boxes)
    union = (stacked[:, 0].min(), stacked[:, 1].min(), stacked[:, 2].max(), stacked[:, 3].max())
    return tuple(float(value) for value in union), len(boxes), seen


def square_crop(box: tuple[float, float, float, float], frame_size: tuple[int, int],
                padding: float = CROP_PADDING) -> tuple[int, int, int]:
    """(left, top, side) of a square around ``box`` grown by ``padding`` of its longer side on
    each side, shifted (not shrunk) to stay inside a frame of ``frame_size`` (width, height);
    only a square larger than the frame is shrunk to fit."""
    width, height = frame_size
    x0, y0, x1, y1 = box
    side = int(round(max(x1 - x0, y1 - y0) * (1.0 + 2.0 * padding)))
    side = max(1, min(side, width, height))
    left = int(round((x0 + x1) / 2.0 - side / 2.0))
    top = int(round((y0 + y1) / 2.0 - side / 2.0))
    return min(max(left, 0), width - side), min(max(top, 0), height - side), side


def upper_body_mask(keypoints: np.ndarray, person_mask: np.ndarray,
                    min_confidence: float = GARMENT_MIN_CONFIDENCE) -> np.ndarray:
    """uint8 {0, 1}: the person's upper-body clothing region, as the paper retrieves clothes from
    a frontal frame. Pixels of ``person_mask`` inside the torso band: the rectangle along the
    neck-to-mid-hip axis spanning the shoulders and hips, widened by ``TORSO_WIDEN`` times the
    torso length on each side (a side-on torso has both shoulders on one line) and lengthened a
    little above the shoulders and below the hips. Arms in front of the torso are included.

    ``keypoints``: (137, 3) in the mask's pixels. ValueError when a shoulder or hip is missing.
    """
    names = ("RShoulder", "LShoulder", "RHip", "LHip")
    points = np.array([keypoints[BODY[name]] for name in names], dtype=np.float64)
    missing = [name for name, point in zip(names, points) if point[2] < min_confidence]
    if missing:
        raise ValueError(f"upper-body region needs both shoulders and hips; missing {missing}")
    neck, hip = points[:2, :2].mean(axis=0), points[2:, :2].mean(axis=0)
    length = float(np.linalg.norm(hip - neck))
    if length == 0.0:
        raise ValueError("shoulders and hips coincide: no torso axis")
    along = (hip - neck) / length
    across = np.array([-along[1], along[0]])
    offsets = points[:, :2] - neck
    s_top = (offsets[:2] @ along).min() - TORSO_EXTEND_TOP * length
    s_bottom = (offsets[2:] @ along).max() + TORSO_EXTEND_BOTTOM * length
    t_low = (offsets @ across).min() - TORSO_WIDEN * length
    t_high = (offsets @ across).max() + TORSO_WIDEN * length
    corners = [neck + s * along + t * across
               for s, t in ((s_top, t_low), (s_top, t_high), (s_bottom, t_high), (s_bottom, t_low))]
    band = np.zeros(person_mask.shape[:2], np.uint8)
    cv2.fillConvexPoly(band, np.round(np.asarray(corners)).astype(np.int32), 1)
    return band & (np.asarray(person_mask) > 0).astype(np.uint8)


def _model_keypoints(keypoints: np.ndarray, letterbox) -> np.ndarray:
    mapped = letterbox.keypoints(keypoints)
    mapped[keypoints[:, 2] <= 0] = 0.0  # "not found" stays (0, 0, 0), as the layout says
    return mapped


def _frame_zero_garment(crop: np.ndarray, keypoints: np.ndarray, person_mask: np.ndarray,
                        image_size: int) -> tuple[np.ndarray, np.ndarray]:
    from fashionmirror_ros.data.fashionvideo import garment_from_frame

    clothing = upper_body_mask(keypoints, person_mask)
    if not clothing.any():
        raise MediaError("frame 0 of a real clip has no upper-body pixels to take the garment from")
    return garment_from_frame(crop, clothing, image_size)


def clip_crop(spec: RealClipSpec, video: Path, num_frames: int) -> tuple[int, int, int]:
    """(left, top, side) of the clip's fixed square crop: around the person over its frames."""
    box, located, seen = locate_person(
        iter_video_frames(video, spec.first_frame, num_frames), spec.search_region)
    if located < MIN_LOCATED_SHARE * seen:
        raise MediaError(f"real clip {spec.name}: person found on only {located} of {seen} frames")
    return square_crop(box, DEMO_VIDEO_SIZE)


def _build_clip(spec: RealClipSpec, video: Path, num_frames: int, image_size: int) -> Clip:
    """Locate the person, crop, then pose, masks and garment on the crops (module docstring)."""
    from fashionmirror_ros.pipeline.framing import Letterbox
    from fashionmirror_ros.pose.estimators import make_estimator
    from fashionmirror_ros.pose.segmentation import PersonSegmenter, mask_from_probability

    left, top, side = clip_crop(spec, video, num_frames)
    letterbox = Letterbox.fit(side, side, image_size)
    frames, keypoints, person_masks = [], [], []
    with make_estimator("mediapipe", static_image_mode=False) as holistic, \
            PersonSegmenter(static_image_mode=False) as segmenter:
        for index, frame in enumerate(iter_video_frames(video, spec.first_frame, num_frames)):
            # Pose and masks on the full-resolution crop: sharper than on the downscaled frame.
            crop = np.ascontiguousarray(frame[top:top + side, left:left + side])
            crop_keypoints = holistic.estimate(crop).keypoints
            soft_mask = segmenter.segment(crop).mask
            frames.append(letterbox.image(crop))
            keypoints.append(_model_keypoints(crop_keypoints, letterbox))
            small_mask = cv2.resize(soft_mask, (image_size, image_size), interpolation=cv2.INTER_AREA)
            person_masks.append(mask_from_probability(small_mask))
            if index == 0:
                garment, garment_mask = _frame_zero_garment(
                    crop, crop_keypoints, mask_from_probability(soft_mask), image_size)
    person_masks = np.stack(person_masks)
    return Clip(
        frames=np.stack(frames),
        keypoints=np.stack(keypoints).astype(np.float32),
        cloth_masks=np.zeros_like(person_masks),
        person_masks=person_masks,
        garment=garment,
        garment_mask=garment_mask,
        garment_type=REAL_CLIP_GARMENT_TYPE,
        fps=DEMO_VIDEO_FPS,
        seed=REAL_CLIP_SEED,
        split=REAL_CLIP_SPLIT,
    )


def _cache_key(spec: RealClipSpec, num_frames: int, image_size: int) -> str:
    """Hash of everything the clip depends on: a changed input never reuses an old cache."""
    # The installed version from package metadata: importing mediapipe costs about 0.5 s.
    from importlib.metadata import version

    inputs = {
        "version": CACHE_VERSION,
        "video": DEMO_VIDEO.sha256,
        "spec": dataclasses.asdict(spec),
        "num_frames": num_frames,
        "image_size": image_size,
        "tunables": [LOCATE_MIN_CONFIDENCE, MIN_LOCATED_SHARE, CROP_PADDING, GARMENT_MIN_CONFIDENCE,
                     TORSO_WIDEN, TORSO_EXTEND_TOP, TORSO_EXTEND_BOTTOM],
        "mediapipe": version("mediapipe"),
        "opencv": cv2.__version__,
        "numpy": np.__version__,
    }
    return hashlib.sha256(json.dumps(inputs, sort_keys=True).encode()).hexdigest()[:16]


def _cache_path(spec: RealClipSpec, num_frames: int, image_size: int, folder: Path) -> Path:
    return folder / CACHE_FOLDER / f"{spec.name}-{_cache_key(spec, num_frames, image_size)}.npz"


def _save_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write a cache file whole or not at all (a scratch file renamed into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    scratch = path.with_name(f".{path.name}.partial")
    with open(scratch, "wb") as stream:
        np.savez_compressed(stream, **arrays)
    os.replace(scratch, path)


def _load_arrays(path: Path, names: Sequence[str]) -> dict[str, np.ndarray] | None:
    """The cached arrays, or None when the file is missing or unreadable (it is then rebuilt)."""
    if not path.is_file():
        return None
    try:
        # allow_pickle stays False: the cache holds plain arrays only.
        with np.load(path, allow_pickle=False) as stored:
            return {name: stored[name] for name in names}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile):
        return None


def _save_clip(path: Path, clip: Clip) -> None:
    _save_arrays(path, {name: getattr(clip, name) for name in _CACHED_ARRAYS})


def _load_clip(path: Path) -> Clip | None:
    arrays = _load_arrays(path, _CACHED_ARRAYS)
    if arrays is None:
        return None
    return Clip(
        cloth_masks=np.zeros_like(arrays["person_masks"]),
        garment_type=REAL_CLIP_GARMENT_TYPE,
        fps=DEMO_VIDEO_FPS,
        seed=REAL_CLIP_SEED,
        split=REAL_CLIP_SPLIT,
        **arrays,
    )


def _check_clip_request(num_frames: int, image_size: int) -> None:
    for name, value in (("num_frames", num_frames), ("image_size", image_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    too_long = [spec for spec in REAL_CLIPS if spec.first_frame + num_frames - 1 > spec.last_frame]
    if too_long:
        limit = min(spec.last_frame - spec.first_frame + 1 for spec in REAL_CLIPS)
        raise ValueError(f"num_frames={num_frames} runs past the tracked span of "
                         f"{[spec.name for spec in too_long]}; at most {limit}")


def real_clips(num_frames: int = 20, image_size: int = 256,
               directory: str | os.PathLike | None = None, use_cache: bool = True) -> list[Clip]:
    """The ``REAL_CLIPS`` of the Sports2D demo video as ``Clip`` records, in that order.

    Per clip: MediaPipe Pose locates the person in the clip's search region of the full video
    frames; a FIXED square crop (the camera is static) spans the union of the person's keypoint
    boxes over the clip, padded by ``CROP_PADDING``, and is resized to ``image_size``.
    On the full-resolution crops: ``keypoints`` from MediaPipe Holistic (the project's default
    estimator, 137-point layout, tracking mode) mapped to ``image_size`` pixels; ``person_masks``
    from MediaPipe Pose segmentation (``PersonSegmenter``, tracking mode). ``cloth_masks`` are
    all zeros: a real video has no clothing parse (use ``upper_body_mask`` on a frame's
    keypoints and person mask where a removed-clothes mask M_r is needed). ``garment`` C: the
    upper-body clothing region of frame 0 (``upper_body_mask``), cut out at crop resolution and
    centred on a white square, as the paper takes clothes from a frontal frame of FashionVideo
    (the frames here are side-on or backlit: C is what the person wears, not a catalogue photo).
    ``garment_type`` and ``split`` are "real", ``seed`` -1, ``fps`` 30.

    Results are cached under ``<media>/cache/real_clips`` (npz, no pickles) keyed by a hash of
    the video, the clip window, the sizes, the tunables and the library versions; deterministic.
    MediaError when the media are not fetched (nothing is downloaded here).
    """
    _check_clip_request(num_frames, image_size)
    folder = media_dir(directory)
    video = demo_video_path(folder)
    clips = []
    for spec in REAL_CLIPS:
        path = _cache_path(spec, num_frames, image_size, folder)
        clip = _load_clip(path) if use_cache else None
        if clip is None:
            clip = _build_clip(spec, video, num_frames, image_size)
            _save_clip(path, clip)
        clips.append(clip)
    return clips


# ----------------------------------------------------------------------------------------------
# Clean plates: each clip's fixed crop without the person (a static kiosk camera's empty view)
# ----------------------------------------------------------------------------------------------
# The woman walks through her clips' crops, so the per-pixel median of a crop over the whole video
# is the scene without her (measured: 2.3-2.8 grey levels from her clips' first frames outside
# her). The man stays on the box for the whole video: his crop has no empty view.
PLATE_CLIPS = ("woman_passing_trees", "woman_passing_box")


def clean_plates(num_frames: int = 20, image_size: int = 256,
                 directory: str | os.PathLike | None = None, use_cache: bool = True) -> dict[str, np.ndarray]:
    """{clip name: (S, S, 3) uint8 plate} for the ``PLATE_CLIPS``, framed exactly as the clip of
    ``real_clips(num_frames, image_size)`` (the same fixed crop), cached beside it."""
    _check_clip_request(num_frames, image_size)
    folder = media_dir(directory)
    video = demo_video_path(folder)
    plates = {}
    for spec in REAL_CLIPS:
        if spec.name not in PLATE_CLIPS:
            continue
        path = _cache_path(spec, num_frames, image_size, folder).with_suffix(".plate.npz")
        cached = _load_arrays(path, ("plate",)) if use_cache else None
        if cached is None:
            cached = {"plate": _median_plate(spec, video, num_frames, image_size)}
            _save_arrays(path, cached)
        plates[spec.name] = cached["plate"]
    return plates


def _median_plate(spec: RealClipSpec, video: Path, num_frames: int, image_size: int) -> np.ndarray:
    from fashionmirror_ros.pipeline.framing import Letterbox

    left, top, side = clip_crop(spec, video, num_frames)
    letterbox = Letterbox.fit(side, side, image_size)
    crops = [letterbox.image(np.ascontiguousarray(frame[top:top + side, left:left + side]))
             for frame in iter_video_frames(video, 0, DEMO_VIDEO_FRAMES)]
    return np.median(np.stack(crops), axis=0).astype(np.uint8)


# ----------------------------------------------------------------------------------------------
# Contact sheet (to look at what the clips and garments are)
# ----------------------------------------------------------------------------------------------
MASK_TINT = np.array([0, 255, 120], np.float32)
MASK_TINT_WEIGHT = 0.35
SHEET_TILE = 256
SHEET_GARMENTS_PER_ROW = 6


def overlay_frame(clip: Clip, index: int) -> np.ndarray:
    """Frame ``index`` with its person mask tinted and its skeleton drawn on top."""
    from fashionmirror_ros.pose.skeleton import render_skeleton

    frame = clip.frames[index].astype(np.float32)
    inside = clip.person_masks[index].astype(bool)
    frame[inside] = (1 - MASK_TINT_WEIGHT) * frame[inside] + MASK_TINT_WEIGHT * MASK_TINT
    height, width = frame.shape[:2]
    skeleton = render_skeleton(clip.keypoints[index], height, width)
    drawn = skeleton.any(axis=2)
    frame[drawn] = skeleton[drawn]
    return frame.astype(np.uint8)


def on_white(rgba: np.ndarray) -> np.ndarray:
    """RGBA -> RGB composited over white."""
    alpha = rgba[..., 3:4].astype(np.float32) / 255.0
    return (rgba[..., :3] * alpha + 255.0 * (1.0 - alpha)).round().astype(np.uint8)


def media_sheet(clips: Sequence[Clip], garments: dict[str, np.ndarray]) -> np.ndarray:
    """One RGB image: per clip its first, middle and last frame (mask + skeleton), garment C and
    garment mask; then the garment photos (on white) in ``real_garments`` order."""
    from fashionmirror_ros.evaluation.video import contact_sheet

    rows, labels = [], []
    for spec, clip in zip(REAL_CLIPS, clips):
        picks = (0, len(clip) // 2, len(clip) - 1)
        rows.append([overlay_frame(clip, index) for index in picks] + [clip.garment, clip.garment_mask * 255])
        labels.append(spec.name)
    photos = [cv2.resize(on_white(image), (SHEET_TILE, SHEET_TILE), interpolation=cv2.INTER_AREA)
              for image in garments.values()]
    for start in range(0, len(photos), SHEET_GARMENTS_PER_ROW):
        row = photos[start:start + SHEET_GARMENTS_PER_ROW]
        rows.append(row)
        labels.append(f"garments {start + 1}-{start + len(row)}")
    return contact_sheet(rows, labels=labels, tile_size=(SHEET_TILE, SHEET_TILE))
