"""The player role: publishes what a camera and an operator give the graph.

- the operator's inputs (latched): source image h^s, garment image C and, for the recorded pose
  source, the source's keypoints, all with one stamp so the nodes pair them;
- camera frames (camera/image_raw) and, for the recorded pose source, their keypoints on
  camera/keypoints a few milliseconds before each frame, with the frame's stamp;
- `play`: prepared frames at given offsets (a bag's timing, or a fixed rate), each stamped with the
  wall-clock time it is due, as a live camera stamps its frames;
- `ClipFeeder`: a clip looped at a rate on a thread, for as long as a test or a soak runs.
"""
from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from fashionmirror_ros import topics
from fashionmirror_ros.evaluation.graph.loop import BackgroundLoop
from fashionmirror_ros.messages import (header, image_msg, keypoints_msg, person_in, rgb_image_msg,
                                        stamp_ns, time_msg)

KEYPOINTS_LEAD_S = 0.003  # camera/keypoints goes out this long before its frame
CAMERA_FRAME_ID = "camera"


def now_stamp():
    """The wall clock as a stamp (what a camera driver puts in its header)."""
    return time_msg(time.time_ns())


def synthetic_stamp(index: int, fps: float, base_s: int = 1000):
    """Frame `index` of a stream at `fps` starting at base_s seconds (stamps a test chooses)."""
    return time_msg(base_s * 1_000_000_000 + int(round(index / fps * 1e9)))


@dataclass
class PreparedFrame:
    """A camera frame's messages, built before playing (building one costs milliseconds a
    rate-keeping player does not have); the stamp is set when it goes out."""

    index: int
    image_msg: object
    keypoints_msg: object | None


@dataclass
class SentFrame:
    stamp_ns: int  # header stamp given at play time
    index: int  # which prepared frame
    published_ns: int  # when the frame message actually went out


def prepare_frame(index: int, rgb: np.ndarray, keypoints: np.ndarray | None,
                  keypoints_size: tuple[int, int] | None = None) -> PreparedFrame:
    """keypoints_size: (width, height) the keypoints are in pixels of (default: the frame's)."""
    width, height = keypoints_size or (rgb.shape[1], rgb.shape[0])
    pose = None if keypoints is None else keypoints_msg(keypoints, header(0, CAMERA_FRAME_ID), width, height)
    return PreparedFrame(index, rgb_image_msg(rgb, header(0, CAMERA_FRAME_ID)), pose)


class Player:
    """The graph's camera and operator: publishers on `node`."""

    def __init__(self, node):
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import Image

        from fashionmirror_ros.msg import PoseKeypoints
        from fashionmirror_ros.nodes.common import LATCHED_QOS, OUTPUT_QOS

        # The camera publishes as a camera driver does by default: reliable, keep-last 10.
        self.camera = node.create_publisher(Image, topics.CAMERA_IMAGE, OUTPUT_QOS)
        # Keypoints lead their frames; a deep queue keeps a slow reader from losing the pairing.
        deep = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=200, reliability=ReliabilityPolicy.RELIABLE)
        self.keypoints = node.create_publisher(PoseKeypoints, topics.CAMERA_KEYPOINTS, deep)
        self.source = node.create_publisher(Image, topics.SOURCE_IMAGE, LATCHED_QOS)
        self.garment = node.create_publisher(Image, topics.GARMENT_IMAGE, LATCHED_QOS)
        self.source_pose = node.create_publisher(PoseKeypoints, topics.SOURCE_KEYPOINTS, LATCHED_QOS)

    def publish_inputs(self, source_rgb: np.ndarray | None, garment_rgb: np.ndarray | None,
                       source_keypoints: np.ndarray | None = None, stamp=None,
                       keypoints_size: tuple[int, int] | None = None) -> int:
        """The operator's inputs (latched), stamped `stamp` (default: now); None leaves an input
        unpublished; the source pose goes out only with a source. Returns the stamp in ns."""
        stamp = now_stamp() if stamp is None else stamp
        if source_rgb is not None:
            source_header = header(stamp_ns(stamp), "source")
            self.source.publish(rgb_image_msg(source_rgb, source_header))
            if source_keypoints is not None:
                width, height = keypoints_size or (source_rgb.shape[1], source_rgb.shape[0])
                self.source_pose.publish(keypoints_msg(source_keypoints, source_header, width, height))
        if garment_rgb is not None:
            self.garment.publish(rgb_image_msg(garment_rgb, header(stamp_ns(stamp), "garment")))
        return stamp_ns(stamp)

    def publish_frame(self, rgb: np.ndarray, keypoints: np.ndarray | None, stamp,
                      encoding: str = "rgb8") -> None:
        """A camera frame and, before it, its recorded keypoints (all-zero confidence = no person)."""
        frame_header = header(stamp_ns(stamp), CAMERA_FRAME_ID)
        height, width = rgb.shape[:2]
        if keypoints is not None:
            self.keypoints.publish(keypoints_msg(keypoints, frame_header, width, height, person_in(keypoints)))
        self.camera.publish(image_msg(rgb, encoding, frame_header))

    def play(self, frames: list[PreparedFrame], offsets_s: list[float], progress=None, check=None,
             stop_at: float | None = None) -> list[SentFrame]:
        """Publish frames[i] at start + offsets_s[i] (wall clock), stamped with its due time.
        progress(count) after each frame; check() every half second (may raise); stop_at: a
        time.perf_counter() after which no more frames go out."""
        sent: list[SentFrame] = []
        lead = KEYPOINTS_LEAD_S if any(f.keypoints_msg is not None for f in frames) else 0.0
        start_perf = time.perf_counter() + 0.05 + lead
        start_wall = time.time_ns() + int((start_perf - time.perf_counter()) * 1e9)
        last_check = time.monotonic()
        for frame, offset in zip(frames, offsets_s):
            due = start_perf + offset
            stamp = time_msg(start_wall + int(round(offset * 1e9)))
            if frame.keypoints_msg is not None:
                _sleep_until(due - lead)
                frame.keypoints_msg.header.stamp = stamp
                self.keypoints.publish(frame.keypoints_msg)
            _sleep_until(due)
            frame.image_msg.header.stamp = stamp
            self.camera.publish(frame.image_msg)
            sent.append(SentFrame(stamp_ns(stamp), frame.index, time.time_ns()))
            if progress is not None:
                progress(len(sent))
            if check is not None and time.monotonic() - last_check > 0.5:
                check()
                last_check = time.monotonic()
            if stop_at is not None and time.perf_counter() > stop_at:
                break
        return sent


def _sleep_until(due_perf: float) -> None:
    """Sleep to a perf_counter time; the last 2 ms are spun, as sleep() overshoots by about 1 ms."""
    while True:
        remaining = due_perf - time.perf_counter()
        if remaining <= 0:
            return
        time.sleep(remaining - 0.0005 if remaining > 0.002 else remaining)


class ClipFeeder(BackgroundLoop):
    """A camera on a thread: a clip's frames looped at `fps`, stamped with the wall clock;
    `present=False` sends the frames with nobody in view (keypoints of zero confidence)."""

    thread_name = "clip-feeder"

    def __init__(self, player: Player, frames, keypoints, fps: float):
        super().__init__()
        self.player = getattr(player, "player", player)  # a GraphHarness or its Player
        self.frames = list(frames)
        self.keypoints = list(keypoints)
        self.fps = fps
        self.present = True
        self.published: list[int] = []  # stamps (ns) of the frames sent

    def _run(self) -> None:
        period = 1.0 / self.fps
        start = time.monotonic()
        index = 0
        while not self._stopping.is_set():
            frame = index % len(self.frames)
            keypoints = self.keypoints[frame] if self.present else np.zeros_like(self.keypoints[frame])
            stamp = now_stamp()
            self.player.publish_frame(self.frames[frame], keypoints, stamp)
            self.published.append(stamp_ns(stamp))
            index += 1
            delay = start + index * period - time.monotonic()
            if delay > 0:
                self._stopping.wait(delay)
            elif delay < -1.0:  # fell far behind (a stalled machine): keep the rate, skip the debt
                start = time.monotonic() - index * period
