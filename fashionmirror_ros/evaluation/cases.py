"""The evaluation's protocols: what every answer is given and what it is compared with.

An ``EvalCase`` is one clip of one protocol: a source h^s (with its person mask and pose), a
garment C (with its mask), the driving poses p^1..p^{T-1} and the true frames h^1..h^{T-1} with
their person masks (and clothing masks where they are known).

- ``reconstruction`` (paper 4.3): a held-out generated clip; h^s = its first frame, C = the
  garment worn, poses = its keypoints; the truth is the clip itself.
- ``tryon``: the person and motion of one held-out clip wearing the garment of another; h^s is
  the first frame in the person's own garment, the truth is rendered by the generator
  (``tryon_clip``). Published video try-on work has no ground truth for this case; we do.
- ``real``: real videos of people (data/real_media: the Sports2D demo video), self-reconstruction
  from the first frame; keypoints from MediaPipe Holistic, person masks from MediaPipe Pose
  segmentation, C = the clothes retrieved from the first frame (as the paper does for
  FashionVideo). No clothing masks: garment-region figures are not defined there.
- ``photo``: a real photo of a person (skimage's astronaut) seen by a moving camera (a slow
  pan and zoom of the photo, 30 fps), wearing a real garment photo (data/real_media). The truth
  of the person region is the panned photo itself; the garment differs, so only the person's
  identity (face found) and pose following are meaningful there. Used for the picture sheet.
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from fashionmirror_ros.data.synthetic import SyntheticFashionVideo, generate_clip, split_seed, tryon_clip

PROTOCOLS = ("reconstruction", "tryon", "real")


@dataclass
class EvalCase:
    name: str
    protocol: str
    source: np.ndarray  # h^s (H, W, 3) uint8
    source_person_mask: np.ndarray  # (H, W) uint8 {0, 1}
    source_cloth_mask: np.ndarray | None  # true M_r, the clothes h^s wears (H, W) {0, 1}; None when unknown
    garment: np.ndarray  # C (H, W, 3) uint8
    garment_mask: np.ndarray  # (H, W) uint8 {0, 1}
    keypoints: np.ndarray  # (T, 137, 3): [0] = pose of h^s, [t] = driving pose of frame t
    frames: np.ndarray  # true h^1..h^{T-1} (T-1, H, W, 3)
    person_masks: np.ndarray  # true person masks of h^1..h^{T-1} (T-1, H, W)
    cloth_masks: np.ndarray | None  # true M_c^1..M_c^{T-1} (T-1, H, W), None when unknown
    background_plate: np.ndarray | None = None  # the static camera's empty view (H, W, 3), if any

    @property
    def steps(self) -> int:
        return len(self.frames)


def _from_clip(name: str, protocol: str, source_clip, target_clip) -> EvalCase:
    """Source = first frame of ``source_clip``; everything else from ``target_clip`` (the same
    person and motion; the garment may differ)."""
    known_cloth = target_clip.cloth_masks.any() or source_clip.cloth_masks.any()
    return EvalCase(
        name=name, protocol=protocol, source=source_clip.frames[0],
        source_person_mask=source_clip.person_masks[0],
        source_cloth_mask=source_clip.cloth_masks[0] if known_cloth else None,
        garment=target_clip.garment, garment_mask=target_clip.garment_mask,
        keypoints=target_clip.keypoints, frames=target_clip.frames[1:],
        person_masks=target_clip.person_masks[1:],
        cloth_masks=target_clip.cloth_masks[1:] if known_cloth else None)


def reconstruction_cases(count: int, frames: int, image_size: int = 256, first: int = 0) -> list[EvalCase]:
    clips = SyntheticFashionVideo("test", first + count, num_frames=frames, image_size=image_size)
    return [_from_clip(f"test{index}", "reconstruction", clips[index], clips[index])
            for index in range(first, first + count)]


def tryon_cases(count: int, frames: int, image_size: int = 256, first: int = 0) -> list[EvalCase]:
    """Person of test clip i wearing the garment of test clip i + TRYON_GARMENT_OFFSET."""
    cases = []
    for index in range(first, first + count):
        person, garment = split_seed("test", index), split_seed("test", index + TRYON_GARMENT_OFFSET)
        own = generate_clip(person, num_frames=1, image_size=image_size)
        swapped = tryon_clip(person, garment, num_frames=frames, image_size=image_size)
        cases.append(_from_clip(f"test{index}+garment{index + TRYON_GARMENT_OFFSET}", "tryon", own, swapped))
    return cases


# the garment comes from a clip far enough away that no two cases share a garment
TRYON_GARMENT_OFFSET = 1000


def real_cases(frames: int, image_size: int = 256) -> list[EvalCase]:
    """Self-reconstruction of the real clips (needs the fetched media; see data/real_media)."""
    from fashionmirror_ros.data.real_clips import REAL_CLIPS, clean_plates, real_clips

    plates = clean_plates(num_frames=frames, image_size=image_size)
    cases = []
    for spec, clip in zip(REAL_CLIPS, real_clips(num_frames=frames, image_size=image_size)):
        case = _from_clip(spec.name, "real", clip, clip)
        case.background_plate = plates.get(spec.name)
        cases.append(case)
    return cases


def real_available() -> tuple[bool, str]:
    from fashionmirror_ros.data.real_media import media_available

    return media_available()


# -- the photo case: a real photo under a moving camera ---------------------------------------
PAN_PIXELS = 0.06  # of the image side, peak to peak
ZOOM = 0.06  # peak-to-peak relative zoom


def camera_motion(image: np.ndarray, frames: int) -> list[np.ndarray]:
    """``frames`` views of ``image`` by a camera that pans sideways and zooms slowly (a person
    standing still in front of a moving kiosk camera is the same picture)."""
    height, width = image.shape[:2]
    views = []
    for t in range(frames):
        phase = 2.0 * np.pi * t / max(frames - 1, 1)
        scale = 1.0 + 0.5 * ZOOM * np.sin(phase)
        shift = 0.5 * PAN_PIXELS * width * np.sin(0.5 * phase)
        matrix = cv2.getRotationMatrix2D((width / 2, height / 2), 0.0, scale)
        matrix[0, 2] += shift
        views.append(cv2.warpAffine(image, matrix, (width, height), flags=cv2.INTER_LINEAR,
                                    borderMode=cv2.BORDER_REFLECT))
    return views


def photo_case(photo: np.ndarray, garment_photo: np.ndarray, frames: int, image_size: int = 256) -> EvalCase:
    """``photo`` (any size RGB) as h^s and as a moving camera stream, wearing ``garment_photo``
    (a product photo, cut out as the garment catalogue does); keypoints from MediaPipe Holistic,
    person masks from MediaPipe Pose segmentation, both as the nodes compute them."""
    from fashionmirror_ros.pipeline.garments import cut_out_garment
    from fashionmirror_ros.pipeline.framing import Letterbox
    from fashionmirror_ros.pose.estimators import make_estimator
    from fashionmirror_ros.pose.segmentation import PersonSegmenter

    box = Letterbox.fit(photo.shape[1], photo.shape[0], image_size)
    views = [box.image(view) for view in camera_motion(photo, frames)]
    with make_estimator("mediapipe") as estimator:
        keypoints = np.stack([estimator.estimate(view).keypoints for view in views])
    with PersonSegmenter(static_image_mode=True) as segmenter:
        masks = np.stack([segmenter.person_mask(view) for view in views]).astype(np.uint8)
    garment = cut_out_garment(garment_photo, image_size).rgb
    garment_mask = (garment.min(axis=2) < 250).astype(np.uint8)
    return EvalCase(name="astronaut", protocol="photo", source=views[0], source_person_mask=masks[0],
                    source_cloth_mask=None, garment=garment, garment_mask=garment_mask,
                    keypoints=keypoints, frames=np.stack(views[1:]), person_masks=masks[1:],
                    cloth_masks=None)


def cases_for(protocol: str, count: int, frames: int, image_size: int = 256) -> list[EvalCase]:
    if protocol == "reconstruction":
        return reconstruction_cases(count, frames, image_size)
    if protocol == "tryon":
        return tryon_cases(count, frames, image_size)
    if protocol == "real":
        return real_cases(frames, image_size)
    raise ValueError(f"unknown protocol {protocol!r}; expected one of {PROTOCOLS}")
