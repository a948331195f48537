"""Builds the bundled real-person demo, assets/demo/real/ (run once by a maintainer, not at demo time).

    python -m fashionmirror_ros.evaluation.demo_assets [--output assets/demo/real] [--frames 90]

needs the real media (`fashionmirror media fetch`) and writes:
- bag/: a rosbag2 (MCAP, zstd chunks) of the Sports2D demo video as a 256 x 256 camera panning
  with the walking woman (data/real_video.py), frames REAL_DEMO_FIRST_FRAME.. at 30 fps, as JPEG
  on /camera/image_raw/compressed (quality JPEG_QUALITY: about 15 kB a frame instead of 100 kB
  of zstd-compressed raw pixels); her photo h^s (video frame 100) on /tryon/source_image; a saleor
  T-shirt photo cut out by the garment catalogue (pipeline/garments.py) on /tryon/garment_image;
  MediaPipe Holistic keypoints of each frame and of the photo on /camera/keypoints and
  /tryon/source_keypoints (estimates, not ground truth: `fashionmirror demo --estimator recorded`
  replays them); no ground truth (a real video has none);
- source.png, garment.png: the same photo and garment as files (`fashionmirror run
  --source-image ... --garment-image ...`).
Licences and attribution: assets/demo/NOTICE.
"""
from __future__ import annotations

import argparse
import shutil
import sys
from pathlib import Path

import numpy as np

REAL_DEMO_FIRST_FRAME = 80
REAL_DEMO_FRAMES = 90
REAL_DEMO_SIZE = 256
JPEG_QUALITY = 90
GARMENT_SIZE = 256


def holistic_keypoints(frames, static: bool) -> np.ndarray:
    """(T, 137, 3) MediaPipe Holistic keypoints of `frames` (tracking unless static)."""
    from fashionmirror_ros.pose.estimators import make_estimator

    with make_estimator("mediapipe", static_image_mode=static) as estimator:
        return np.stack([estimator.estimate(np.ascontiguousarray(frame)).keypoints for frame in frames])


def build_real_demo(output: Path, frames: int = REAL_DEMO_FRAMES, first: int = REAL_DEMO_FIRST_FRAME) -> dict:
    import cv2

    from fashionmirror_ros.data.real_video import (DEFAULT_GARMENT, SOURCE_FRAME, real_garment,
                                                   walking_woman, walking_woman_source)
    from fashionmirror_ros.data.synthetic import Clip
    from fashionmirror_ros.evaluation.bags import write_clip_bag

    size = (REAL_DEMO_SIZE, REAL_DEMO_SIZE)
    panning = walking_woman(size, first, frames)
    source = walking_woman_source(REAL_DEMO_SIZE)
    garment = real_garment(DEFAULT_GARMENT, GARMENT_SIZE)
    keypoints = holistic_keypoints(panning.frames, static=False)
    source_keypoints = holistic_keypoints([source], static=True)[0]
    blank = np.zeros(panning.frames.shape[:3], np.uint8)
    clip = Clip(frames=panning.frames, keypoints=keypoints.astype(np.float32), cloth_masks=blank,
                person_masks=blank, garment=garment, garment_mask=blank[0], garment_type="real",
                fps=30.0, seed=-1, split="real")
    bag_path = output / "bag"
    if bag_path.exists():
        shutil.rmtree(bag_path)
    output.mkdir(parents=True, exist_ok=True)
    written = write_clip_bag(
        bag_path, clip, source_image=source, source_keypoints=source_keypoints, garment=garment,
        ground_truth=False, start_ns=1_800_000_000_000_000_000, camera_jpeg_quality=JPEG_QUALITY,
        custom={"clip": f"Sports2D demo video frames {first}-{first + frames - 1}, a camera panning with "
                        f"the walking woman, {size[0]}x{size[1]}",
                "source": f"Sports2D demo video frame {SOURCE_FRAME}, square crop around her",
                "garment": f"saleor placeholder {DEFAULT_GARMENT}, cut out",
                "keypoints": "MediaPipe Holistic estimates (not ground truth)",
                "licence": "see assets/demo/NOTICE"})
    cv2.imwrite(str(output / "source.png"), cv2.cvtColor(source, cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(output / "garment.png"), cv2.cvtColor(garment, cv2.COLOR_RGB2BGR))
    found = int((keypoints[:, :, 2] > 0).any(axis=1).sum())
    return {"bag": str(bag_path), "frames": written.frames, "bag_bytes": written.size_bytes,
            "frames_with_a_person": found, "tracked_by_pose": panning.tracked}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashionmirror_ros.evaluation.demo_assets",
                                     description="build assets/demo/real from the real media")
    parser.add_argument("--output", default="assets/demo/real")
    parser.add_argument("--frames", type=int, default=REAL_DEMO_FRAMES)
    parser.add_argument("--first", type=int, default=REAL_DEMO_FIRST_FRAME)
    args = parser.parse_args(argv)
    from fashionmirror_ros.data.real_media import MediaError

    try:
        result = build_real_demo(Path(args.output), args.frames, args.first)
    except (MediaError, ValueError) as error:
        print(f"demo_assets: error: {error}", file=sys.stderr)
        return 2
    print(f"demo_assets: {result}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
