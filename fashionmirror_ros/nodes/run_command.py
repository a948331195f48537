"""`fashionmirror run`: the node graph, each node in its own process, restarted if it dies.

The same nodes and the same parameter precedence as launch/mirror.launch.py (both use
graph_params.graph_nodes): an option given here wins over the params file, an option not given
leaves the file's value in force.
"""
from __future__ import annotations

import argparse

from fashionmirror_ros.nodes.graph_params import RESPAWN_MAX_RETRIES
from fashionmirror_ros.nodes.supervisor import (GraphSupervisor, graph_specs, in_one_process,
                                                  parse_cpu_affinity, run_forever)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--params-file", default=None, help="parameters YAML (default config/mirror.yaml)")
    parser.add_argument("--namespace", default=None,
                        help="namespace of every node and topic (e.g. kiosk1: /kiosk1/tryon/image)")
    parser.add_argument("--camera-topic", default=None,
                        help="camera topic remapped onto camera/image_raw (default: not remapped)")
    parser.add_argument("--estimator", choices=("mediapipe", "mediapipe_pose", "recorded"), default=None)
    parser.add_argument("--checkpoint", default=None, help="checkpoint directory")
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--source-image", default=None, help="image file of the source human")
    parser.add_argument("--garment-image", default=None, help="image file of the garment")
    parser.add_argument("--background-image", default=None,
                        help="image file of the camera's view with nobody in it (clean plate)")
    parser.add_argument("--garment-catalog", default=None,
                        help="folder of garment photos: the first is published (latched) at start")
    parser.add_argument("--view", action="store_true", help="also start the mirror display")
    parser.add_argument("--single-process", action="store_true",
                        help="pose_node, cmn_node and hsg_node in one process with one executor "
                             "instead of three processes")
    parser.add_argument("--executor", choices=("single", "multi"), default="single",
                        help="with --single-process: SingleThreadedExecutor (default) or MultiThreadedExecutor")
    parser.add_argument("--cpu-affinity", nargs="+", default=None, metavar="NODE=CPUS",
                        help="CPUs a node's process may run on, e.g. pose_node=0 cmn_node=0 hsg_node=1 "
                             "(the threads it starts inherit them; not with --single-process)")
    parser.add_argument("--log-dir", default=None, help="write each node's output to <dir>/<node>.log")
    parser.add_argument("--no-respawn", action="store_true", help="do not restart nodes that die")
    parser.add_argument("--respawn-max-retries", type=int, default=RESPAWN_MAX_RETRIES,
                        help="give up on a node that died this many times in a row at start-up "
                             f"(default {RESPAWN_MAX_RETRIES})")


def launch_arguments(args: argparse.Namespace) -> dict:
    """The options as launch-argument names (graph_params.LAUNCH_ARGUMENTS); None = not given."""
    return {"camera_topic": args.camera_topic, "estimator": args.estimator,
            "checkpoint": args.checkpoint, "device": args.device,
            "source_image": args.source_image, "garment_image": args.garment_image,
            "background_image": args.background_image,
            "garment_catalog": args.garment_catalog, "view": "true" if args.view else "false"}


def run(args: argparse.Namespace) -> int:
    specs = graph_specs(namespace=args.namespace or "", arguments=launch_arguments(args))
    affinity = parse_cpu_affinity(args.cpu_affinity)
    if affinity and args.single_process:
        raise ValueError("--cpu-affinity places node processes: it does not apply with --single-process")
    for spec in specs:
        spec.cpus = affinity.get(spec.name, ())
    if args.single_process:
        specs = in_one_process(specs, executor=args.executor)
    supervisor = GraphSupervisor(specs, args.params_file, respawn=not args.no_respawn,
                                 log_dir=args.log_dir, respawn_max_retries=args.respawn_max_retries)
    return run_forever(supervisor)
