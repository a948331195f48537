"""`fashionmirror run`: the node graph, each node in its own process, restarted if it dies."""
from __future__ import annotations

import argparse

from fashionmirror_ros.nodes.supervisor import GraphSupervisor, graph_specs, run_forever


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params-file", default=None, help="parameters YAML (default config/mirror.yaml)")
    parser.add_argument("--camera-topic", default="/camera/image_raw")
    parser.add_argument("--estimator", choices=("mediapipe", "recorded"), default=None)
    parser.add_argument("--checkpoint", default=None, help="checkpoint directory")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--source-image", default=None, help="image file of the source human")
    parser.add_argument("--garment-image", default=None, help="image file of the garment")
    parser.add_argument("--no-respawn", action="store_true", help="do not restart nodes that die")


def model_parameters(args: argparse.Namespace) -> dict:
    chosen = {"checkpoint": args.checkpoint, "device": args.device,
              "source_image_path": args.source_image, "garment_image_path": args.garment_image}
    return {key: value for key, value in chosen.items() if value is not None}


def run(args: argparse.Namespace) -> int:
    specs = graph_specs(args.camera_topic, args.estimator, model_parameters(args))
    return run_forever(GraphSupervisor(specs, args.params_file, respawn=not args.no_respawn))
