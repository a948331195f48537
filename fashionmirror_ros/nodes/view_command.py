"""`fashionmirror view`: the mirror display (the mirror_view node) with a window.

    fashionmirror view --namespace kiosk1 --garment-catalog ~/shirts        (full screen)
    fashionmirror view --windowed --size 1280x720
"""
from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--namespace", default="", help="the mirror's namespace (e.g. kiosk1)")
    parser.add_argument("--garment-catalog", default="", help="folder of garment photos for the n/p keys")
    parser.add_argument("--camera-topic", default="", help="camera topic remapped onto camera/image_raw")
    parser.add_argument("--windowed", action="store_true", help="a window instead of full screen")
    parser.add_argument("--size", default="1280x720", help="window size WxH when --windowed")
    parser.add_argument("--inset", type=float, default=0.25, help="camera inset width / screen width")


def ros_arguments(args: argparse.Namespace) -> list[str]:
    from fashionmirror_ros import topics
    from fashionmirror_ros.nodes.graph_params import normalize_namespace

    width, height = (int(value) for value in args.size.lower().split("x"))
    argv = ["--ros-args", "-p", f"fullscreen:={'false' if args.windowed else 'true'}",
            "-p", f"window_width:={width}", "-p", f"window_height:={height}",
            "-p", f"inset_fraction:={args.inset}"]
    if args.garment_catalog:
        argv += ["-p", f"garment_catalog:={args.garment_catalog}"]
    if args.namespace:
        argv += ["-r", f"__ns:={normalize_namespace(args.namespace)}"]
    if args.camera_topic:
        argv += ["-r", f"{topics.CAMERA_IMAGE}:={args.camera_topic}"]
    return argv


def run(args: argparse.Namespace) -> int:
    from fashionmirror_ros.nodes.mirror_view import main

    return main(["fashionmirror-view", *ros_arguments(args)])
