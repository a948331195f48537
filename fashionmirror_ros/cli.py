"""The `fashionmirror` command. Each subcommand lives in the module that owns the work and
provides add_arguments(parser) and run(args) -> int; only the chosen one is imported."""
from __future__ import annotations

import argparse
import importlib
import sys

COMMANDS = {
    "demo": ("fashionmirror_ros.evaluation.demo", "run the try-on graph on the bundled input"),
    "run": ("fashionmirror_ros.nodes.run_command", "start the node graph (pip-only machines)"),
    "camera": ("fashionmirror_ros.nodes.camera_command", "publish a video file or a V4L2 device as the camera"),
    "view": ("fashionmirror_ros.nodes.view_command", "the mirror display: try-on full screen, camera inset"),
    "garment": ("fashionmirror_ros.nodes.garment_command", "publish a garment photo (cut out) from a file or catalogue"),
    "record": ("fashionmirror_ros.evaluation.record", "write a rosbag2 of generated clips"),
    "replay": ("fashionmirror_ros.evaluation.replay", "replay a rosbag2 into the graph, report"),
    "bench": ("fashionmirror_ros.evaluation.bench", "latency/rate/FLOP benchmark (JSON)"),
    "soak": ("fashionmirror_ros.evaluation.soak", "minutes at camera rate: latency, drops, memory (JSON)"),
    "train": ("fashionmirror_ros.training.cli", "train CMN, then end-to-end"),
    "eval": ("fashionmirror_ros.evaluation.quality", "quality of the model beside the answers that need no model"),
    "media": ("fashionmirror_ros.data.real_media", "fetch, verify and look at the real media (video, garments)"),
    "model-info": ("fashionmirror_ros.models.info", "parameters and GFLOPs per network (JSON)"),
}


def _user_errors() -> tuple[type[BaseException], ...]:
    """Errors that mean bad input (a path, a file, a value): one line, exit 2, no traceback."""
    from fashionmirror_ros.models.checkpoint import CheckpointError

    return (CheckpointError, FileNotFoundError, NotADirectoryError, PermissionError, ValueError)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in COMMANDS:
        width = max(map(len, COMMANDS))
        lines = [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
        print("usage: fashionmirror COMMAND [options]\n\ncommands:\n" + "\n".join(lines))
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nfashionmirror: unknown command '{argv[0]}'", file=sys.stderr)
            return 2
        return 0
    name, rest = argv[0], argv[1:]
    module = importlib.import_module(COMMANDS[name][0])
    parser = argparse.ArgumentParser(prog=f"fashionmirror {name}", description=COMMANDS[name][1])
    module.add_arguments(parser)
    args = parser.parse_args(rest)
    try:
        return int(module.run(args) or 0)
    except _user_errors() as error:
        print(f"fashionmirror {name}: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
