"""`fashionmirror camera SOURCE`: a video file or a V4L2 device (/dev/videoN) as the camera.

Publishes sensor_msgs/Image (rgb8, or --encoding bgr8) on camera/image_raw (relative: it
resolves in --namespace; --topic names another) with the default reliable QoS a camera driver
uses, header stamp = the time of publication, frame_id "camera". A file plays at its own frame
rate (or --fps), once or --loop; a device at the rate it delivers (--fps lower skips frames).
A progress line on stderr shows the frames sent and the rate; the last line on stdout is the
summary (`sent N frames in T s (F fps)`).

Reading and pacing are pipeline/camera_source.py (no ROS); this module only publishes. A missing
device, an unreadable file or a file with no video stream: one line on stderr, exit 2, nothing
published.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

from fashionmirror_ros import topics

PROGRESS_PERIOD_S = 0.5
FRAME_ID = "camera"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", help="a video file, or a V4L2 device such as /dev/video0")
    parser.add_argument("--fps", type=float, default=None,
                        help="publish rate (default: the source's own, 30 if it does not say)")
    parser.add_argument("--loop", action="store_true", help="play a file again from the start at its end")
    parser.add_argument("--topic", default=topics.CAMERA_IMAGE,
                        help=f"image topic (default {topics.CAMERA_IMAGE}, relative to --namespace)")
    parser.add_argument("--namespace", default="", help="namespace of the camera (e.g. kiosk1)")
    parser.add_argument("--width", type=int, default=None, help="frame width (resized; for a device "
                        "also requested from the driver); with --height")
    parser.add_argument("--height", type=int, default=None, help="frame height; with --width")
    parser.add_argument("--encoding", choices=("rgb8", "bgr8"), default="rgb8")
    parser.add_argument("--frames", type=int, default=None, help="stop after this many frames")
    parser.add_argument("--wait-for-subscriber", type=float, default=0.0, metavar="SECONDS",
                        help="before the first frame, wait up to this long for a subscriber "
                             "(default 0: publish at once, as a camera driver does)")
    parser.add_argument("--quiet", action="store_true", help="no progress line")


def _error(message: str) -> int:
    print(f"fashionmirror camera: error: {message}", file=sys.stderr, flush=True)
    return 2


def run(args: argparse.Namespace) -> int:
    # FFmpeg (inside OpenCV) prints its own complaint about a damaged file ("moov atom not
    # found") straight to stderr; the error line below says it for the user. Read at FFmpeg's
    # first use, so set before any capture is opened; a user's own setting wins.
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    from fashionmirror_ros.pipeline.camera_source import CameraSourceError, open_source

    if args.fps is not None and not args.fps > 0:
        return _error("--fps must be positive")
    if args.frames is not None and args.frames < 1:
        return _error("--frames must be at least 1")
    try:
        source = open_source(args.source, args.width, args.height, args.encoding, args.loop)
    except CameraSourceError as error:
        return _error(str(error))
    with source:
        return _publish(source, args)


def _publish(source, args: argparse.Namespace) -> int:
    import rclpy
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fashionmirror_ros.messages import image_msg
    from fashionmirror_ros.nodes.common import OUTPUT_QOS
    from fashionmirror_ros.nodes.graph_params import normalize_namespace
    from fashionmirror_ros.nodes.interrupts import ignore_interrupts, install_interrupt_guard
    from fashionmirror_ros.pipeline.camera_source import Pacer, RateMeter

    info = source.info
    fps = args.fps or info.fps
    install_interrupt_guard()
    rclpy.init()
    node = rclpy.create_node("fashionmirror_camera", namespace=normalize_namespace(args.namespace) or None,
                             start_parameter_services=False)
    publisher = node.create_publisher(Image, args.topic, OUTPUT_QOS)
    topic = node.resolve_topic_name(args.topic)
    clock = node.get_clock()
    kind = "device" if info.is_device else "file"
    print(f"fashionmirror camera: {kind} {info.source}, {info.width}x{info.height} {args.encoding} at "
          f"{fps:g} fps" + (f" (source {info.fps:g} fps)" if args.fps else "") + f" on {topic}",
          flush=True)
    sent, started, code = 0, None, 0
    meter = RateMeter()
    try:
        if args.wait_for_subscriber > 0:
            deadline = time.monotonic() + args.wait_for_subscriber
            while publisher.get_subscription_count() < 1 and time.monotonic() < deadline:
                time.sleep(0.02)
        pacer = Pacer(fps)
        last_progress = 0.0
        while args.frames is None or sent < args.frames:
            frame = source.read()
            if frame is None:
                break
            if info.is_device:
                if not pacer.due():
                    continue  # the device is faster than --fps: this frame is skipped
            else:
                pacer.wait()
            header = Header(stamp=clock.now().to_msg(), frame_id=FRAME_ID)
            publisher.publish(image_msg(frame, args.encoding, header))
            sent += 1
            meter.tick()
            started = started or time.monotonic()
            if not args.quiet and time.monotonic() - last_progress > PROGRESS_PERIOD_S:
                last_progress = time.monotonic()
                print(f"\rfashionmirror camera: {sent} frames sent, {meter.rate():5.1f} fps ",
                      end="", file=sys.stderr, flush=True)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a device stream ends: the summary below is printed as for a file
    finally:
        ignore_interrupts()
        elapsed = time.monotonic() - started if started else 0.0
        if not args.quiet and sent:
            print(file=sys.stderr, flush=True)
        rate = (sent - 1) / elapsed if sent > 1 and elapsed > 0 else 0.0
        print(f"fashionmirror camera: sent {sent} frames in {elapsed:.2f} s ({rate:.2f} fps)", flush=True)
        time.sleep(0.3)  # let reliable delivery of the last frames finish before the writer goes
        node.destroy_node()
        rclpy.try_shutdown()
    if info.is_device and sent == 0:
        code = _error(f"device {info.source} delivered no frame")
    return code
