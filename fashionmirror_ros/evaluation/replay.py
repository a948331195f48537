"""`fashionmirror replay BAG --output DIR`: play a rosbag2 camera recording into the running node
graph, record every output, and write a report (JSON, Markdown, PNG plots, mp4).

How a replay runs
-----------------
1. The graph (pose_node, cmn_node, hsg_node) starts in three processes with ``GraphSupervisor``
   (``--no-graph``: a graph already running on this ROS domain is used). Node logs go to
   DIR/logs/.
2. In this process the graph harness (evaluation/graph: a player and a recorder on one node)
   starts in its own rclpy context, spinning in a separate executor thread. The replay waits until /diagnostics shows all
   three nodes and the player's publishers are matched.
3. The source image, garment image (latched) and, with ``--estimator recorded``, the source's
   true keypoints (latched, stamped like the source image) are published; the replay waits for
   the first /cmn/masks (CMN's single-frame masks on the source).
4. /camera/image_raw is played with the bag's original timing scaled by ``--rate``, or at a fixed
   ``--fps``. Like a live camera, each frame is stamped with the wall-clock time it is due
   (header.stamp); with the recorded estimator its /camera/keypoints message, with the same
   stamp, goes out a few milliseconds before it. The replay keeps the map new stamp -> bag frame,
   so everything (ground truth included) is matched by header stamp.
5. The recorder keeps /tryon/image (with its receive time), /cmn/masks, /pose/keypoints,
   /fashionmirror/latency and /diagnostics until the last frame's output arrived (or nothing
   came for a while), then the graph is stopped and the report is written.

Report (DIR/report.json; DIR/summary.md is the same as tables)
-----------------------------------------------------------------
- per node, from NodeLatency: processing latency (receive to publish, ms) count/mean/min/max/
  p50/p95/p99/std, jitter (ms; as ros2_benchmark: |dt_i - dt_{i-1}| of consecutive publish
  intervals, max/min/mean/std), rate (Hz), frames dropped (the node's newest-wins counter during
  the run) and its last /diagnostics values;
- end to end: receive time of /tryon/image minus its header stamp (the camera frame's stamp), the
  same statistics, output fps, first-frame latency, a per-stage breakdown (camera -> pose_node,
  pose_node, pose -> hsg_node, hsg_node, hsg -> recorder) from the NodeLatency times;
- frames: sent, /tryon/image received, dropped (= sent - received), per node counters;
- feedback lag of CMN's masks: for each generated frame, the newest /cmn/masks published before
  hsg_node started on it (estimated from NodeLatency times: start = max(its receive time, its
  previous publish)); a mask stamped with camera frame j predicts frame j+1, so lag = k - (j+1)
  frames for frame k (0 = the paper's sequential schedule);
- metrics against ground truth (bags with /ground_truth/*): SSIM, PSNR (means over frames),
  warping error of the output itself and with the real frames' flow, mask IoU of each published
  M_c against /ground_truth/cloth_mask of the same stamp and of the frame it predicts; LPIPS and
  VFID only when ``--lpips-weights`` / ``--vfid-weights`` name local files.
Files: latency_histogram.png, latency_timeline.png, end_to_end.png, output.mp4 (the /tryon/image
stream in stamp order) and side_by_side.mp4 (camera | try-on).

Exit codes: 0 done; 1 the graph did not start or produced nothing; 2 the bag cannot be read or
the arguments are wrong (one clear line, no traceback).
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

from fashionmirror_ros import topics
from fashionmirror_ros.evaluation.bags import (GARMENT_TOPIC, KEYPOINTS_TOPIC, SOURCE_KEYPOINTS_TOPIC,
                                               SOURCE_TOPIC, BagError, ClipBag, read_clip_bag)
from fashionmirror_ros.evaluation.graph import (GraphError, PreparedFrame, death_check, model_parameters,
                                                own_context_harness, prepare_frame, start_graph)
from fashionmirror_ros.evaluation.replay_analysis import analyse
from fashionmirror_ros.evaluation.replay_report import write_outputs

ESTIMATORS = ("recorded", "mediapipe", "mediapipe_pose")
DEFAULT_STARTUP_TIMEOUT_S = 180.0
DEFAULT_DRAIN_TIMEOUT_S = 15.0


class ReplayError(GraphError):
    """The replay could not run (an input file is unreadable, the graph produced nothing)."""


def prepare_frames(bag: ClipBag, with_keypoints: bool) -> list[PreparedFrame]:
    """The messages of every camera frame of `bag` (and its keypoints), built before playing."""
    prepared = []
    for index, stamp in enumerate(bag.camera_stamps):
        keypoints = None
        if with_keypoints:
            if stamp not in bag.keypoints:
                raise BagError(bag.path, f"{KEYPOINTS_TOPIC} has no message for camera frame {index} "
                                         f"(stamp {stamp}); use --estimator mediapipe")
            keypoints = bag.keypoints[stamp]
        prepared.append(prepare_frame(index, bag.frames[stamp], keypoints, bag.keypoint_sizes.get(stamp)))
    return prepared


def schedule(bag: ClipBag, rate: float | None, fps: float | None) -> list[float]:
    """Play offsets (s) of the bag's frames: original timing / rate, or i / fps."""
    if fps:
        return [index / fps for index in range(bag.num_frames)]
    times = np.asarray(bag.camera_bag_times, np.float64)
    return list((times - times[0]) / 1e9 / (rate or 1.0))


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("bag", help="rosbag2 directory (or its .mcap / .db3 file) with /camera/image_raw")
    parser.add_argument("--output", default="out/replay", help="report folder (default out/replay)")
    timing = parser.add_mutually_exclusive_group()
    timing.add_argument("--rate", type=float, default=None,
                        help="play at the bag's original timing times this factor (default 1.0)")
    timing.add_argument("--fps", type=float, default=None, help="play at this fixed frame rate instead")
    parser.add_argument("--estimator", choices=ESTIMATORS, default=None,
                        help="pose source: recorded (/camera/keypoints of the bag; default when "
                             "the bag has it), mediapipe (Holistic) or mediapipe_pose (body only)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint directory (default: shipped)")
    parser.add_argument("--preset", choices=("realtime", "paper"), default=None)
    parser.add_argument("--device", default=None, help="auto, cpu, cuda, cuda:N")
    parser.add_argument("--threads", type=int, default=None, help="torch threads per model node")
    parser.add_argument("--bf16", action="store_true", default=None, help="bf16 autocast in the model nodes")
    parser.add_argument("--params-file", default=None, help="parameters YAML (default config/mirror.yaml)")
    parser.add_argument("--source-image", default=None,
                        help="image file of the source human (instead of the bag's /tryon/source_image)")
    parser.add_argument("--garment-image", default=None,
                        help="image file of the garment (instead of the bag's /tryon/garment_image)")
    parser.add_argument("--no-graph", action="store_true",
                        help="do not start the graph: use one already running on this ROS domain")
    parser.add_argument("--startup-timeout", type=float, default=DEFAULT_STARTUP_TIMEOUT_S)
    parser.add_argument("--drain-timeout", type=float, default=DEFAULT_DRAIN_TIMEOUT_S)
    parser.add_argument("--lpips-weights", nargs="+", default=None, help="local LPIPS weight file(s)")
    parser.add_argument("--vfid-weights", default=None, help="local R3D-18 weight file for VFID")
    parser.add_argument("--no-video", action="store_true", help="skip output.mp4 and side_by_side.mp4")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _error(message: str) -> None:
    print(f"fashionmirror replay: error: {message}", file=sys.stderr, flush=True)


def run(args: argparse.Namespace) -> int:
    if args.rate is not None and not args.rate > 0:
        _error("--rate must be positive")
        return 2
    if args.fps is not None and not args.fps > 0:
        _error("--fps must be positive")
        return 2
    for weights in (args.lpips_weights or []) + ([args.vfid_weights] if args.vfid_weights else []):
        if not Path(weights).is_file():
            _error(f"weight file '{weights}' does not exist")
            return 2
    for option in ("source_image", "garment_image"):
        path = getattr(args, option, None)
        if path:
            try:
                read_rgb(path)
            except ReplayError as error:
                _error(str(error))
                return 2
    try:
        result = replay(args)
    except BagError as error:
        _error(str(error))
        return 2
    except GraphError as error:
        _error(str(error))
        return 1
    except KeyboardInterrupt:
        _error("interrupted")
        return 130
    output = Path(args.output)
    print(f"fashionmirror replay: report {output / 'summary.md'}, {output / 'report.json'}")
    if "output_video" in result["files"]:
        print(f"fashionmirror replay: video {output / 'output.mp4'}, {output / 'side_by_side.mp4'}")
    return 0


def load_bag(args: argparse.Namespace) -> tuple[ClipBag, str]:
    """The bag with the inputs `args` replace, and the pose estimator; BagError if the replay
    cannot start from them."""
    bag_path = Path(args.bag)
    bag = read_clip_bag(bag_path)
    estimator = args.estimator or ("recorded" if bag.keypoints else "mediapipe")
    if estimator == "recorded" and not bag.keypoints:
        raise BagError(bag_path, f"has no {KEYPOINTS_TOPIC}; use --estimator mediapipe")
    for attribute, option in (("source_image", "source_image"), ("garment_image", "garment_image")):
        path = getattr(args, option, None)
        if path:
            setattr(bag, attribute, read_rgb(path))
            if attribute == "source_image":  # the bag's source pose belongs to the bag's source
                bag.source_keypoints = None
    if getattr(args, "source_image", None) or getattr(args, "garment_image", None):
        # the bag's ground truth shows its own source and garment, not these files
        bag.gt_images.clear()
        bag.gt_cloth_masks.clear()
    if bag.source_image is None or bag.garment_image is None:
        raise BagError(bag_path, f"has no {SOURCE_TOPIC} or {GARMENT_TOPIC} to start the "
                                 "try-on; give --source-image and --garment-image files")
    if estimator == "recorded" and bag.source_keypoints is None:
        raise BagError(bag_path, f"has no {SOURCE_KEYPOINTS_TOPIC} for this source (needed with the "
                                 "recorded estimator); use --estimator mediapipe")
    return bag, estimator


def replay(args: argparse.Namespace) -> dict:
    """Run a replay as `args` say; returns the report (also written to args.output)."""
    quiet = getattr(args, "quiet", False)
    bag, estimator = load_bag(args)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    log_dir = output / "logs"
    offsets = schedule(bag, args.rate, args.fps)
    prepared = prepare_frames(bag, with_keypoints=estimator == "recorded")
    playback = (f"fixed {args.fps:g} fps" if args.fps else f"original timing x{args.rate or 1.0:g}")
    parameters = model_parameters(args.checkpoint, args.device, getattr(args, "preset", None),
                                  getattr(args, "threads", None), getattr(args, "bf16", None))
    run_info = {"estimator": estimator, "playback": playback,
                "graph": "external (--no-graph)" if args.no_graph else "3 processes (GraphSupervisor)",
                "checkpoint": args.checkpoint, "device": args.device or "auto",
                "model_parameters": parameters, "ros_domain_id": os.environ.get("ROS_DOMAIN_ID", "0"),
                "rmw": os.environ.get("RMW_IMPLEMENTATION"), "started_at": time.strftime("%Y-%m-%dT%H:%M:%S")}

    supervisor = None
    try:
        if not args.no_graph:
            supervisor = start_graph(estimator, parameters, log_dir, args.params_file)
            run_info["node_pids"] = supervisor.pids()
        with own_context_harness("fashionmirror_replay", estimator=estimator) as harness:
            if not quiet:
                print(f"fashionmirror replay: waiting for the node graph (logs in {log_dir})", flush=True)
            sent = play_bag(harness, bag, prepared, offsets, args, death_check(supervisor, log_dir), run_info)
    finally:
        if supervisor is not None:
            run_info["exit_codes"] = supervisor.stop()
    if not harness.count("arrivals"):
        raise ReplayError(f"no {topics.absolute(topics.TRYON_IMAGE)} received for {len(sent)} frames "
                          f"sent; see the node logs in {log_dir}")
    run_info["duration_s"] = round((sent[-1].stamp_ns - sent[0].stamp_ns) / 1e9, 3)
    report = analyse(bag, harness.recorder, sent, run_info, args.lpips_weights, args.vfid_weights)
    write_outputs(output, bag, harness.recorder, sent, report, video=not getattr(args, "no_video", False))
    return report


def play_bag(harness, bag: ClipBag, prepared: list, offsets: list[float], args, check,
             run_info: dict) -> list:
    """Steps 2 to 5 of a replay (module docstring) with the harness; returns the frames sent."""
    from tqdm import tqdm

    quiet = getattr(args, "quiet", False)
    run_info["startup_s"] = round(harness.wait_for_graph(args.startup_timeout, check), 2)
    recorded = harness.estimator == "recorded"
    inputs_ns = harness.publish_inputs(bag.source_image, bag.garment_image,
                                       bag.source_keypoints if recorded else None,
                                       keypoints_size=bag.source_keypoints_size)
    harness.wait_for_masks(inputs_ns, args.startup_timeout, check)
    if not recorded:
        harness.wait_for_source_pose(inputs_ns, check)
    harness.clear(keep_masks_after_ns=inputs_ns)
    bar = tqdm(total=len(prepared), desc="replay", unit="frame", disable=quiet, leave=False)

    def progress(count: int) -> None:
        bar.n = count
        bar.set_postfix(received=harness.count("arrivals"), refresh=False)
        bar.refresh()

    sent = harness.player.play(prepared, offsets, progress, check)
    harness.drain(sent[-1].stamp_ns, args.drain_timeout)
    bar.close()
    check()
    return sent


def read_rgb(path) -> np.ndarray:
    import cv2

    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise ReplayError(f"cannot read image file '{path}'")
    return cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
