"""A camera that follows the woman walking through the Sports2D demo video (real media).

The demo video (1768 x 994, 30 fps; data/real_media.py) shows a woman walking past side-on, right
to left, over frames 55-195, small in a wide frame. A mirror's camera frames its user; so this
module plays the video as a camera panning with her: MediaPipe Pose (body only, tracking) finds
her box in each frame inside ``SEARCH_REGION`` (the lower half, away from the man on the box); a
straight line fitted to the box centres over time gives a steady pan (she walks at a constant
pace; a per-frame crop would shake with the pose); the window height covers her tallest box with
``PADDING`` above and below, the width follows the output's aspect ratio, and the window is
shifted (not shrunk) to stay inside the frame.

Used by `fashionmirror bench` (the live path on a real video at 640 x 480) and to build the
bundled real demo (assets/demo/real/, 256 x 256). Nothing is downloaded: the video must have
been fetched (`fashionmirror media fetch`), else MediaError.
"""
from __future__ import annotations

import os
from dataclasses import dataclass

import cv2
import numpy as np

from fashionmirror_ros.data.real_clips import iter_video_frames
from fashionmirror_ros.data.real_media import DEMO_VIDEO_SIZE, MediaError, demo_video_path

SEARCH_REGION = (0, 480, 1768, 994)  # x0, y0, x1, y1: where she walks, the man on the box is not
WALK_FIRST_FRAME = 60  # she is tracked from about frame 55 to 195 (measured)
WALK_LAST_FRAME = 185
PADDING = 0.18  # of her box height, above and below
LOCATE_MIN_CONFIDENCE = 0.5
MIN_TRACKED_SHARE = 0.8


@dataclass
class PanningClip:
    frames: np.ndarray  # uint8 (T, H, W, 3) RGB at the output size
    windows: np.ndarray  # int (T, 4): left, top, width, height in video pixels
    first_frame: int  # video frame of frames[0]
    tracked: int  # frames in which Pose found her


def track_boxes(frames: list[np.ndarray], region=SEARCH_REGION) -> list[tuple | None]:
    """Her keypoint box (x0, y0, x1, y1, video pixels) in each frame, None where not found."""
    from fashionmirror_ros.pose.estimators import keypoints_bbox, make_estimator

    x0, y0, x1, y1 = region
    boxes: list[tuple | None] = []
    with make_estimator("mediapipe_pose", static_image_mode=False) as estimator:
        for frame in frames:
            result = estimator.estimate(np.ascontiguousarray(frame[y0:y1, x0:x1]))
            box = keypoints_bbox(result.keypoints, LOCATE_MIN_CONFIDENCE) if result.person_found else None
            boxes.append(None if box is None else (box[0] + x0, box[1] + y0, box[2] + x0, box[3] + y0))
    return boxes


def panning_windows(boxes: list[tuple | None], aspect: float, frame_size=DEMO_VIDEO_SIZE,
                    padding: float = PADDING) -> np.ndarray:
    """(T, 4) windows (left, top, width, height) of a steady pan over the found boxes.

    aspect = output width / height. The centre moves along the least-squares line through the
    box centres; the height is the tallest box plus `padding` of it above and below."""
    found = [(index, box) for index, box in enumerate(boxes) if box is not None]
    if len(found) < 2:
        raise MediaError("the person was found in fewer than 2 frames: no pan to fit")
    times = np.array([index for index, _ in found], np.float64)
    centres = np.array([((b[0] + b[2]) / 2, (b[1] + b[3]) / 2) for _, b in found])
    tallest = max(b[3] - b[1] for _, b in found)
    width_limit, height_limit = frame_size
    height = min(int(round(tallest * (1 + 2 * padding))), height_limit)
    width = min(int(round(height * aspect)), width_limit)
    height = min(height, int(round(width / aspect)))
    slope, intercept = np.polyfit(times, centres[:, 0], 1)
    centre_y = float(np.median(centres[:, 1]))
    windows = []
    for index in range(len(boxes)):
        centre_x = slope * index + intercept
        left = int(round(min(max(centre_x - width / 2, 0), width_limit - width)))
        top = int(round(min(max(centre_y - height / 2, 0), height_limit - height)))
        windows.append((left, top, width, height))
    return np.asarray(windows, np.int64)


def walking_woman(size: tuple[int, int], first: int = WALK_FIRST_FRAME, count: int | None = None,
                  directory: str | os.PathLike | None = None) -> PanningClip:
    """Frames first .. first + count - 1 of the demo video as a camera panning with the woman,
    resized to `size` (width, height). count defaults to the rest of her walk."""
    count = (WALK_LAST_FRAME - first + 1) if count is None else count
    if count < 2 or first < 0 or first + count - 1 > WALK_LAST_FRAME:
        raise ValueError(f"frames {first}..{first + count - 1} leave her walk "
                         f"({WALK_FIRST_FRAME}..{WALK_LAST_FRAME})")
    video = demo_video_path(directory)
    frames = list(iter_video_frames(video, first, count))
    boxes = track_boxes(frames)
    tracked = sum(box is not None for box in boxes)
    if tracked < MIN_TRACKED_SHARE * count:
        raise MediaError(f"the walking person was found in only {tracked} of {count} frames")
    windows = panning_windows(boxes, size[0] / size[1])
    crops = [cv2.resize(np.ascontiguousarray(frame[top:top + height, left:left + width]), size,
                        interpolation=cv2.INTER_AREA)
             for frame, (left, top, width, height) in zip(frames, windows)]
    return PanningClip(np.stack(crops), windows, first, tracked)


def write_mp4(path, frames: np.ndarray, fps: float = 30.0) -> None:
    """RGB frames as an mp4 (mp4v) OpenCV and `fashionmirror camera` read back."""
    height, width = frames.shape[1:3]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), fps, (width, height))
    if not writer.isOpened():
        raise OSError(f"cannot write {path}")
    try:
        for frame in frames:
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()


SOURCE_FRAME = 100  # her source photo h^s: mid-walk, in the open, whole body
DEFAULT_GARMENT = "tshirt_red_print"  # a saleor product photo (real_media.GARMENT_PHOTOS)
SOURCE_PADDING = 0.12  # of her box's longer side, each side


def walking_woman_source(size: int = 256, frame: int = SOURCE_FRAME,
                         directory: str | os.PathLike | None = None) -> np.ndarray:
    """h^s: a square crop around her in video frame `frame`, resized to size x size."""
    from fashionmirror_ros.data.real_clips import square_crop

    image = next(iter_video_frames(demo_video_path(directory), frame, 1))
    box = track_boxes([image])[0]
    if box is None:
        raise MediaError(f"the walking person is not found in video frame {frame}")
    left, top, side = square_crop(box, DEMO_VIDEO_SIZE, SOURCE_PADDING)
    return cv2.resize(np.ascontiguousarray(image[top:top + side, left:left + side]), (size, size),
                      interpolation=cv2.INTER_AREA)


def real_garment(name: str = DEFAULT_GARMENT, size: int = 512,
                 directory: str | os.PathLike | None = None) -> np.ndarray:
    """A saleor product photo cut out as the garment catalogue does it (pipeline/garments.py)."""
    from fashionmirror_ros.data.real_media import real_garments
    from fashionmirror_ros.pipeline.garments import cut_out_garment

    photos = real_garments(directory, views=("front",))
    if name not in photos:
        raise ValueError(f"no garment photo '{name}'; there are {sorted(photos)}")
    return cut_out_garment(photos[name], size).rgb
