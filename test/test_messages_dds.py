"""Each custom message crosses real DDS between two OS processes with its field values intact."""
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from conftest import requires_ros
from fashionmirror_ros import topics

PUBLISHER = Path(__file__).with_name("dds_message_publisher.py")


@requires_ros
def test_custom_messages_cross_processes_intact():
    import rclpy
    from fashionmirror_ros.msg import NodeLatency, PoseKeypoints, TryOnMasks

    publisher = subprocess.Popen([sys.executable, str(PUBLISHER), "30"], env=dict(os.environ))
    received = {}
    rclpy.init()
    try:
        node = rclpy.create_node("dds_message_receiver")
        for msg_type, topic in ((PoseKeypoints, topics.TEST_POSE), (TryOnMasks, topics.TEST_MASKS),
                                (NodeLatency, topics.TEST_LATENCY)):
            node.create_subscription(msg_type, topic,
                                     lambda msg, topic=topic: received.setdefault(topic, msg), 10)
        deadline = time.monotonic() + 25
        while len(received) < 3 and time.monotonic() < deadline:
            rclpy.spin_once(node, timeout_sec=0.1)
        node.destroy_node()
    finally:
        rclpy.shutdown()
        publisher.terminate()
        publisher.wait(timeout=10)

    assert set(received) == {topics.TEST_POSE, topics.TEST_MASKS, topics.TEST_LATENCY}, received.keys()

    pose = received[topics.TEST_POSE]
    assert (pose.header.stamp.sec, pose.header.stamp.nanosec) == (1234, 567)
    assert pose.header.frame_id == "camera"
    assert (pose.image_width, pose.image_height, pose.person_found) == (256, 192, True)
    np.testing.assert_array_equal(np.asarray(pose.x), np.arange(137, dtype=np.float32))
    np.testing.assert_array_equal(np.asarray(pose.y), np.arange(137, dtype=np.float32) * 2)
    assert pose.confidence[-1] == pytest.approx(1.0) and pose.confidence[0] == 0.0

    masks = received[topics.TEST_MASKS]
    assert masks.multi_frame and (masks.source_crc, masks.garment_crc) == (7, 0xFFFFFFFF)
    for image, offset in ((masks.removed_mask, 0), (masks.cloth_mask, 1)):
        assert (image.height, image.width, image.encoding) == (4, 6, "mono8")
        expected = (np.arange(24) * 10 + offset) % 256
        np.testing.assert_array_equal(np.frombuffer(bytes(image.data), np.uint8), expected)

    latency = received[topics.TEST_LATENCY]
    assert latency.node_name == "hsg_node"
    assert latency.processing_duration.nanosec == 41_000_000
    assert (latency.publish_time.sec, latency.publish_time.nanosec) == (1234, 41_000_600)
    assert latency.frames_dropped == 3
