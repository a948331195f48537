"""The one codec between this package's arrays and its ROS messages, for the nodes and the harness.

- stamps: header stamps (builtin_interfaces/Time, or any message with sec/nanosec: a Duration, a
  rosbags Time) <-> integer nanoseconds. Everything in the package compares stamps as int ns,
  because the graph pairs messages by equal stamps and floats would round them apart.
- images: sensor_msgs/Image from uint8 arrays (rgb8 / bgr8 for (H, W, 3), mono8 for (H, W)), and
  decoded back, validated as the nodes validate input (fashionmirror_ros.pipeline.images).
- keypoints: fashionmirror_ros/PoseKeypoints <-> (137, 3) float32 arrays (x, y, confidence).
- masks: the mono8 images of fashionmirror_ros/TryOnMasks (decode_mask).

Message types are imported where they are built, so the stamp arithmetic works in processes that
only read bags (rosbags, no rclpy).
"""
from __future__ import annotations

import numpy as np

NS_PER_S = 1_000_000_000
_bridge = None


# ---- stamps ---------------------------------------------------------------------------------
def stamp_ns(stamp) -> int:
    """Nanoseconds of a Time or Duration message (fields sec, nanosec)."""
    return int(stamp.sec) * NS_PER_S + int(stamp.nanosec)


def split_ns(nanoseconds: int) -> tuple[int, int]:
    """(sec, nanosec) of a time in nanoseconds, as Time and Duration messages carry it."""
    nanoseconds = int(nanoseconds)
    return nanoseconds // NS_PER_S, nanoseconds % NS_PER_S


def time_msg(nanoseconds: int):
    from builtin_interfaces.msg import Time

    sec, nanosec = split_ns(nanoseconds)
    return Time(sec=sec, nanosec=nanosec)


def duration_msg(nanoseconds: int):
    from builtin_interfaces.msg import Duration

    sec, nanosec = split_ns(nanoseconds)
    return Duration(sec=sec, nanosec=nanosec)


def header(nanoseconds: int, frame_id: str = ""):
    from std_msgs.msg import Header

    return Header(stamp=time_msg(nanoseconds), frame_id=frame_id)


# ---- images ---------------------------------------------------------------------------------
def image_msg(pixels: np.ndarray, encoding: str, msg_header):
    """sensor_msgs/Image of `pixels` in `encoding`, carrying `msg_header` (the camera stamp)
    unchanged. Built by cv_bridge, as the nodes have always built their images: it checks that
    the array's channels and dtype match the encoding and sets step = width * channels."""
    global _bridge
    if _bridge is None:
        from cv_bridge import CvBridge

        _bridge = CvBridge()
    msg = _bridge.cv2_to_imgmsg(np.ascontiguousarray(pixels, np.uint8), encoding=encoding)
    msg.header = msg_header
    return msg


def rgb_image_msg(rgb: np.ndarray, msg_header):
    return image_msg(rgb, "rgb8", msg_header)


def mono_image_msg(mask: np.ndarray, msg_header):
    return image_msg(mask, "mono8", msg_header)


def decode_rgb(msg) -> np.ndarray:
    """RGB (H, W, 3) copy of a colour image message; ImageRejected if it is not one."""
    from fashionmirror_ros.pipeline.images import RawImage, decode_color

    return np.array(decode_color(RawImage.from_msg(msg)))


def decode_mask(msg) -> np.ndarray:
    """(H, W) uint8 copy of a mono8 image message (a mask); ImageRejected if it is not one."""
    from fashionmirror_ros.pipeline.images import RawImage, decode_mono

    return np.array(decode_mono(RawImage.from_msg(msg)))


# ---- keypoints ------------------------------------------------------------------------------
def person_in(keypoints: np.ndarray) -> bool:
    """A pose with any confident point is a person (all-zero confidence = nobody in view)."""
    return bool((np.asarray(keypoints)[:, 2] > 0).any())


def keypoints_msg(keypoints: np.ndarray, msg_header, width: int, height: int,
                  found: bool | None = None, estimator: str = "recorded"):
    """PoseKeypoints of (N, 3) keypoints in pixels of a width x height image; `found` defaults to
    whether any point is confident."""
    from fashionmirror_ros.msg import PoseKeypoints

    keypoints = np.asarray(keypoints, np.float32)
    msg = PoseKeypoints(header=msg_header, image_width=int(width), image_height=int(height),
                        person_found=person_in(keypoints) if found is None else bool(found),
                        estimator=estimator)
    msg.x, msg.y, msg.confidence = (np.ascontiguousarray(keypoints[:, i]) for i in range(3))
    return msg


def keypoints_array(msg) -> np.ndarray:
    """(N, 3) float32 x, y, confidence of a PoseKeypoints message."""
    return np.stack([np.asarray(msg.x, np.float32), np.asarray(msg.y, np.float32),
                     np.asarray(msg.confidence, np.float32)], axis=1)
