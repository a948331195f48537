"""Publishes one of each custom message, repeatedly, from its own OS process (used by tests)."""
import sys
import time

import numpy as np
import rclpy
from builtin_interfaces.msg import Duration, Time
from sensor_msgs.msg import Image

from fashionmirror_ros import topics
from fashionmirror_ros.msg import NodeLatency, PoseKeypoints, TryOnMasks

STAMP = Time(sec=1234, nanosec=567)


def make_pose() -> PoseKeypoints:
    msg = PoseKeypoints()
    msg.header.stamp = STAMP
    msg.header.frame_id = "camera"
    msg.image_width, msg.image_height = 256, 192
    msg.person_found = True
    msg.estimator = "test"
    msg.x = np.arange(137, dtype=np.float32)
    msg.y = np.arange(137, dtype=np.float32) * 2.0
    msg.confidence = np.linspace(0.0, 1.0, 137, dtype=np.float32)
    return msg


def make_mask(value_offset: int) -> Image:
    mask = Image(height=4, width=6, encoding="mono8", step=6, is_bigendian=0)
    mask.header.stamp = STAMP
    mask.data = ((np.arange(24) * 10 + value_offset) % 256).astype(np.uint8).tobytes()
    return mask


def make_masks() -> TryOnMasks:
    msg = TryOnMasks()
    msg.header.stamp = STAMP
    msg.removed_mask = make_mask(0)
    msg.cloth_mask = make_mask(1)
    msg.multi_frame = True
    msg.source_crc = 7
    msg.garment_crc = 0xFFFFFFFF
    return msg


def make_latency() -> NodeLatency:
    msg = NodeLatency()
    msg.header.stamp = STAMP
    msg.node_name = "hsg_node"
    msg.receive_time = Time(sec=1234, nanosec=600)
    msg.processing_duration = Duration(sec=0, nanosec=41_000_000)
    msg.publish_time = Time(sec=1234, nanosec=41_000_600)
    msg.frames_dropped = 3
    return msg


def main() -> int:
    rclpy.init()
    node = rclpy.create_node("dds_message_publisher")
    publishers = [
        (node.create_publisher(PoseKeypoints, topics.TEST_POSE, 10), make_pose()),
        (node.create_publisher(TryOnMasks, topics.TEST_MASKS, 10), make_masks()),
        (node.create_publisher(NodeLatency, topics.TEST_LATENCY, 10), make_latency()),
    ]
    deadline = time.monotonic() + float(sys.argv[1] if len(sys.argv) > 1 else 30)
    # rclpy's SIGTERM handler shuts the context down: stop publishing once it is gone.
    while rclpy.ok() and time.monotonic() < deadline:
        for publisher, msg in publishers:
            publisher.publish(msg)
        time.sleep(0.05)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
