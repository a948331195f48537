"""A camera driver in its own OS process publishing 1920x1080 frames of a generated clip, with
their recorded keypoints (used by test_robustness with the large-frames Fast DDS profile).

    python big_frame_publisher.py STAMP_NS [STAMP_NS ...]
"""
import sys
import time

import cv2
import rclpy
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image
from std_msgs.msg import Header

from fashionmirror_ros.data.synthetic import generate_clip, split_seed
from fashionmirror_ros.msg import PoseKeypoints
from fashionmirror_ros.nodes.common import OUTPUT_QOS, SENSOR_QOS, image_msg
from fashionmirror_ros.nodes.pose_node import keypoints_msg

WIDTH, HEIGHT = 1920, 1080
INDEX = 7


def main(stamps) -> int:
    clip = generate_clip(split_seed("test", 0), num_frames=INDEX + 1)
    rgb = cv2.resize(clip.frames[INDEX], (WIDTH, HEIGHT), interpolation=cv2.INTER_LINEAR)
    keypoints = clip.keypoints[INDEX].copy()
    keypoints[:, 0] *= WIDTH / clip.frames.shape[2]
    keypoints[:, 1] *= HEIGHT / clip.frames.shape[1]
    rclpy.init()
    node = rclpy.create_node("big_frame_camera")
    camera = node.create_publisher(Image, "/camera/image_raw", SENSOR_QOS)
    recorded = node.create_publisher(PoseKeypoints, "/camera/keypoints", OUTPUT_QOS)
    deadline = time.monotonic() + 20
    while min(camera.get_subscription_count(), recorded.get_subscription_count()) < 1:
        if time.monotonic() > deadline:
            print("no pose_node subscribed", flush=True)
            return 1
        time.sleep(0.1)
    time.sleep(0.5)  # pose_node's side of the match
    for stamp_ns in stamps:
        header = Header(stamp=Time(sec=stamp_ns // 1_000_000_000, nanosec=stamp_ns % 1_000_000_000),
                        frame_id="camera")
        recorded.publish(keypoints_msg(keypoints, header, WIDTH, HEIGHT, True, "recorded"))
        camera.publish(image_msg(rgb, "rgb8", header))
        time.sleep(1.0)
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main([int(value) for value in sys.argv[1:]]))
