"""A camera driver in its own OS process: frames of a generated clip at a real camera's size,
with their recorded keypoints, published as a camera driver does by default (reliable QoS).

    python big_frame_publisher.py --stamps STAMP_NS [STAMP_NS ...] [--width 1920 --height 1080]
        one frame per stamp, a second apart (test_robustness: large frames through the graph)
    python big_frame_publisher.py --count 150 --fps 30 --width 640 --height 480 --encoding bgr8
        a stream at a fixed rate, stamped with the wall clock (test_camera_qos: delivery)
    --qos best_effort publishes with the sensor-data profile instead (incompatible with a
    reliable subscriber); --namespace puts the camera in a namespace.
Prints "sent N" at the end; exit 1 if no subscriber matched within 30 s.
"""
import argparse
import sys
import time

import cv2
import rclpy
from sensor_msgs.msg import Image

from fashionmirror_ros import topics
from fashionmirror_ros.data.synthetic import generate_clip, split_seed
from fashionmirror_ros.msg import PoseKeypoints
from fashionmirror_ros.messages import header, image_msg, keypoints_msg
from fashionmirror_ros.nodes.common import OUTPUT_QOS, SENSOR_QOS

INDEX = 7
MATCH_TIMEOUT_S = 30


def header_at(stamp_ns: int):
    return header(stamp_ns, "camera")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--stamps", type=int, nargs="*", default=None)
    parser.add_argument("--count", type=int, default=0)
    parser.add_argument("--fps", type=float, default=30.0)
    parser.add_argument("--width", type=int, default=1920)
    parser.add_argument("--height", type=int, default=1080)
    parser.add_argument("--encoding", choices=("rgb8", "bgr8"), default="rgb8")
    parser.add_argument("--qos", choices=("reliable", "best_effort"), default="reliable")
    parser.add_argument("--namespace", default="")
    parser.add_argument("--no-keypoints", action="store_true", help="camera frames only")
    args = parser.parse_args()

    clip = generate_clip(split_seed("test", 0), num_frames=INDEX + 1)
    rgb = cv2.resize(clip.frames[INDEX], (args.width, args.height), interpolation=cv2.INTER_LINEAR)
    pixels = rgb if args.encoding == "rgb8" else cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR)
    keypoints = clip.keypoints[INDEX].copy()
    keypoints[:, 0] *= args.width / clip.frames.shape[2]
    keypoints[:, 1] *= args.height / clip.frames.shape[1]

    rclpy.init()
    node = rclpy.create_node("big_frame_camera", namespace=args.namespace or None)
    camera = node.create_publisher(Image, topics.CAMERA_IMAGE,
                                   OUTPUT_QOS if args.qos == "reliable" else SENSOR_QOS)
    recorded = None if args.no_keypoints else node.create_publisher(
        PoseKeypoints, topics.CAMERA_KEYPOINTS, OUTPUT_QOS)
    deadline = time.monotonic() + MATCH_TIMEOUT_S
    publishers = [camera] + ([recorded] if recorded else [])
    while min(publisher.get_subscription_count() for publisher in publishers) < 1:
        if time.monotonic() > deadline:
            print("no subscriber matched", flush=True)
            return 1
        time.sleep(0.05)
    time.sleep(0.5)  # the subscriber's side of the match, which this side cannot see

    def send(stamp_ns: int) -> None:
        header = header_at(stamp_ns)
        if recorded is not None:
            recorded.publish(keypoints_msg(keypoints, header, args.width, args.height, True, "recorded"))
        camera.publish(image_msg(pixels, args.encoding, header))

    sent = 0
    if args.stamps:
        for stamp_ns in args.stamps:
            send(stamp_ns)
            sent += 1
            time.sleep(1.0)
    period = 1.0 / args.fps
    start = time.monotonic()
    for index in range(args.count):
        send(time.time_ns())
        sent += 1
        delay = start + (index + 1) * period - time.monotonic()
        if delay > 0:
            time.sleep(delay)
    print(f"sent {sent} in {time.monotonic() - start:.2f} s", flush=True)
    time.sleep(0.5)  # reliable delivery of the last frames before the writer goes away
    node.destroy_node()
    rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
