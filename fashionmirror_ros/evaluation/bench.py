"""`fashionmirror bench --output out/bench`: latency, rate, FLOP and optimisation benchmark, one run.

Everything is measured in one run on this machine, so the figures can be compared with each
other (machines here are shared and noisy: compare ratios and medians of one run, and see the
load averages recorded in bench.json). The parts, by module:

- bench_model.py, in this process, per preset: GFLOPs per network (``model_info``), the median
  time of what each node computes per frame (CMN multi- and single-frame, hsg_node's recurrent
  ``step`` with cached session encodings, and the keypoint prior's pieces: prior flows and the
  full-resolution composition) in fp32 / channels_last / bf16 autocast at 1 and 2 threads
  beside a 3x3-conv peak measured in the same run; what runs once per source (person
  segmentation at 256 x 256 and 640 x 480, the background fill); each node's per-frame work
  with the nodes' own functions (decode, inference, encode, publish; Holistic and BlazePose on
  256 x 256 and 640 x 480 frames); CMN against a DeepLabv3/ResNet-101 human parser.
- bench_live.py + bench_graph.py, the node graph fed at fixed rates (``GraphSupervisor``, real
  processes over DDS): the networks with recorded keypoints at ``--rates`` and their peak rate
  (bench_peak.py: highest rate with <= 5 % of frames lost, ros2_benchmark's definition); the live
  path, MediaPipe in pose_node, camera at 30 fps: per pose estimator (Holistic, BlazePose), one
  process or three, torch threads per node, cameras of 256 x 256 and 640 x 480 and the real
  video (Sports2D, played by `fashionmirror camera`), its peak rate, and each step's gain.
- bench_report.py: the targets and bench.md.

Targets (issue 12): realtime preset, live MediaPipe path, camera at 30 fps, 256 x 256 and
640 x 480: /tryon/image >= 27 fps with <= 10 % of frames lost and end-to-end p95 <= 120 ms.

``--quick``: short durations, fewer repeats and trials (a CI-sized run of a few minutes).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
import traceback
from argparse import Namespace
from pathlib import Path

from fashionmirror_ros.evaluation.reporting import json_default

BENCH_CLIP_FRAMES = 60
BENCH_CLIP = ("test", 0)
ESTIMATORS = ("mediapipe", "mediapipe_pose")


def settings_for(args: Namespace) -> dict:
    quick = args.quick
    return {
        "quick": quick,
        "presets": [p for p in args.presets.split(",") if p],
        "rates": [float(r) for r in args.rates.split(",") if r],
        "duration_s": args.duration if args.duration else (4.0 if quick else 20.0),
        "warmup_s": 2.0 if quick else 4.0,
        "min_trial_frames": 8 if quick else 30,
        "max_trial_s": 30.0 if quick else 120.0,
        "peak_iterations": args.peak_iterations if args.peak_iterations is not None else (2 if quick else 4),
        "timing_budget_s": 1.0 if quick else 2.0,
        "timing_min_repeats": 3 if quick else 10,
        "live": not args.no_live,
        "live_estimators": [e for e in args.live_estimators.split(",") if e],
        "live_variants": not args.no_live_variants,
        "real_video": not args.no_real_video,
        "node_threads": args.threads,
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="out/bench", help="folder for bench.json and bench.md")
    parser.add_argument("--presets", default="realtime,paper", help="comma-separated presets")
    parser.add_argument("--rates", default="10,30,60", help="input rates of the networks' graph "
                        "(recorded keypoints) in fps, comma-separated")
    parser.add_argument("--duration", type=float, default=None,
                        help="seconds per trial (default 20, --quick 4)")
    parser.add_argument("--quick", action="store_true", help="short durations, fewer repeats (CI-sized)")
    parser.add_argument("--peak-iterations", type=int, default=None, help="trials of each peak search")
    parser.add_argument("--threads", type=int, default=None, help="torch threads of each model node "
                        "(default 1, as config/mirror.yaml)")
    parser.add_argument("--device", default=None, help="device of the model nodes (default auto)")
    parser.add_argument("--checkpoint", default=None, help="checkpoint of the model nodes (default: the "
                        "shipped one if it has the preset's architecture, else an untrained one)")
    parser.add_argument("--no-live", action="store_true", help="skip the live-path (MediaPipe) trials")
    parser.add_argument("--live-estimators", default=",".join(ESTIMATORS),
                        help="pose estimators of the live path (default mediapipe,mediapipe_pose)")
    parser.add_argument("--no-live-variants", action="store_true",
                        help="live path without the one-process and thread-placement variants")
    parser.add_argument("--no-real-video", action="store_true",
                        help="live path without the real video (Sports2D) as the camera")
    parser.add_argument("--no-graph", action="store_true", help="in-process measurements only")
    parser.add_argument("--skip-paper-graph", action="store_true",
                        help="no graph trials for the paper preset (seconds per frame on a CPU)")


def machine_info() -> dict:
    import torch

    info = {"platform": platform.platform(), "python": platform.python_version(),
            "cpu_count": os.cpu_count(), "torch": torch.__version__,
            "torch_threads_default": torch.get_num_threads(), "load_average_start": os.getloadavg(),
            "ros_domain_id": os.environ.get("ROS_DOMAIN_ID", "0"),
            "rmw": os.environ.get("RMW_IMPLEMENTATION")}
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            info["cpu_model"] = next((line.split(":", 1)[1].strip() for line in cpuinfo
                                      if line.startswith("model name")), None)
    except OSError:
        info["cpu_model"] = None  # no /proc/cpuinfo (not Linux): the report says unknown
    return info


def _guard(section: str, results: dict, key: str, fn):
    """Run one section; on failure keep its error in the JSON and go on."""
    try:
        results[key] = fn()
    except KeyboardInterrupt:
        raise
    except Exception as error:  # noqa: BLE001 - one broken section must not lose the others
        print(f"fashionmirror bench: {section} failed: {type(error).__name__}: {error}", file=sys.stderr,
              flush=True)
        results[key] = {"error": f"{type(error).__name__}: {error}",
                        "traceback": traceback.format_exc(limit=5)}
    return results[key]


def run(args: argparse.Namespace) -> int:
    from fashionmirror_ros.evaluation.bench_report import bench_markdown

    settings = settings_for(args)
    unknown = [p for p in settings["presets"] if p not in ("realtime", "paper")]
    if unknown or not settings["presets"]:
        print(f"fashionmirror bench: error: unknown presets {unknown}", file=sys.stderr)
        return 2
    if not settings["rates"] or min(settings["rates"]) <= 0:
        print("fashionmirror bench: error: --rates must be positive numbers", file=sys.stderr)
        return 2
    wrong = [e for e in settings["live_estimators"] if e not in ESTIMATORS]
    if wrong or (settings["live"] and not settings["live_estimators"]):
        print(f"fashionmirror bench: error: --live-estimators takes {', '.join(ESTIMATORS)}", file=sys.stderr)
        return 2
    if args.checkpoint and not Path(args.checkpoint).is_dir():
        print(f"fashionmirror bench: error: checkpoint '{args.checkpoint}' is not a folder", file=sys.stderr)
        return 2
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    try:
        report = benchmark(args, settings, output)
    except KeyboardInterrupt:
        print("fashionmirror bench: interrupted", file=sys.stderr)
        return 130
    report["wall_time_s"] = round(time.monotonic() - started, 1)
    report["machine"]["load_average_end"] = os.getloadavg()
    (output / "bench.json").write_text(json.dumps(report, indent=2, default=json_default) + "\n")
    (output / "bench.md").write_text(bench_markdown(report))
    print(f"fashionmirror bench: {output / 'bench.json'}, {output / 'bench.md'} "
          f"({report['wall_time_s']:.0f} s)")
    return 0


def benchmark(args: Namespace, settings: dict, output: Path) -> dict:
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.evaluation.bench_model import cmn_vs_parser
    from fashionmirror_ros.evaluation.bench_report import targets
    from fashionmirror_ros.evaluation.peak import measure_conv_peak

    from fashionmirror_ros.pose.native_logs import silence_native_logs

    silence_native_logs()  # MediaPipe's native chatter at each estimator start (this CLI owns stderr)
    report: dict = {"machine": machine_info(), "settings": settings, "presets": {}}
    print(f"fashionmirror bench: {'quick' if settings['quick'] else 'full'} run, presets "
          f"{settings['presets']}, rates {settings['rates']}", flush=True)
    print("conv peak (one 3x3 conv 256->256 on 64x64):", flush=True)
    peaks = {}
    for threads in (1, 2):
        peak = _guard(f"conv peak {threads} thread(s)", peaks, f"threads_{threads}",
                      lambda threads=threads: measure_conv_peak(threads=threads,
                                                                repeats=5 if settings["quick"] else 20))
        if "error" not in peak:
            print(f"  {threads} thread(s): fp32 {peak['fp32_gflops']:.0f}, channels_last "
                  f"{peak['fp32_channels_last_gflops']:.0f}, bf16 {peak.get('bf16_autocast_gflops') or 0:.0f} GFLOP/s",
                  flush=True)
    report["conv_peak"] = peaks
    clip = generate_clip(split_seed(*BENCH_CLIP), BENCH_CLIP_FRAMES, 256, 30.0)
    models = {}
    for preset in settings["presets"]:
        entry: dict = {}
        report["presets"][preset] = entry
        models[preset] = model_section(preset, clip, settings, peaks, entry)
    print("CMN vs parsing network (256x256):", flush=True)
    _guard("cmn vs parser", report, "cmn_vs_parser", lambda: cmn_vs_parser(models, settings))
    del models
    if not args.no_graph:
        with tempfile.TemporaryDirectory(prefix="fashionmirror_bench_") as scratch:
            for preset in settings["presets"]:
                if preset == "paper" and args.skip_paper_graph:
                    report["presets"][preset]["graph"] = {"skipped": "--skip-paper-graph"}
                    continue
                graph_sections(preset, clip, settings, output, args, Path(scratch), report["presets"][preset])
    report["targets"] = targets(report)
    return report


def model_section(preset: str, clip, settings: dict, peaks: dict, entry: dict):
    """In-process figures of one preset into `entry`; returns the model (for cmn_vs_parser)."""
    import torch

    from fashionmirror_ros.evaluation.bench_model import (VARIANTS, node_breakdown, optimisation_steps,
                                                          source_preparation, time_networks)
    from fashionmirror_ros.evaluation.bench_tracking import pose_tracking
    from fashionmirror_ros.models.info import model_info
    from fashionmirror_ros.models.mirror import FashionMirror

    print(f"[{preset}] model", flush=True)
    info = _guard(f"{preset} model_info", entry, "model_info", lambda: model_info(preset, 256))
    networks = info.get("networks", {}) if isinstance(info, dict) else {}
    gflops = {name: networks.get(key, {}).get("gflops")
              for name, key in (("cmn_multi", "cmn_multi"), ("cmn_single", "cmn_single"), ("step", "step"))}
    torch.manual_seed(0)
    model = FashionMirror.from_preset(preset).eval()
    entry["uses_keypoint_prior"] = model.uses_prior
    heavy = preset == "paper" and settings["quick"]
    variants = ("channels_last",) if heavy else VARIANTS
    timing_settings = dict(settings, timing_min_repeats=1) if heavy else settings
    print(f"[{preset}] in-process forward times ({', '.join(variants)}):", flush=True)
    # a quick (CI-sized) run times one thread: the 2-thread ratios are for full runs
    threads_list = (1,) if settings["quick"] else (1, 2)
    timings = _guard(f"{preset} forward timing", entry, "forward",
                     lambda: time_networks(model, clip, gflops, timing_settings, variants, threads_list))
    if "error" not in timings:
        entry["optimisation_steps"] = optimisation_steps(timings)
        for threads in (1, 2):
            peak = peaks.get(f"threads_{threads}", {})
            if "error" in peak:
                continue
            for value in timings.values():
                measured = value.get(f"channels_last_t{threads}")
                if measured and measured.get("gflop_per_s") and peak.get("fp32_channels_last_gflops"):
                    measured["fraction_of_conv_peak_channels_last"] = round(
                        measured["gflop_per_s"] / peak["fp32_channels_last_gflops"], 4)
    if preset == "realtime" or len(settings["presets"]) == 1:
        print(f"[{preset}] once per source: person segmentation, background fill:", flush=True)
        prepared = _guard(f"{preset} source preparation", entry, "source_preparation",
                          lambda: source_preparation(clip, settings))
        for key, value in prepared.items():
            if isinstance(value, dict) and "median_ms" in value:
                print(f"  {key}: {value['median_ms']:.2f} ms", flush=True)
        print(f"[{preset}] pose_node's tracking between BlazePose estimates (accuracy, ms):", flush=True)
        _guard(f"{preset} pose tracking", entry, "pose_tracking", lambda: pose_tracking(settings))
        print(f"[{preset}] per-frame breakdown of the nodes' work (1 thread):", flush=True)
        breakdown = _guard(f"{preset} breakdown", entry, "node_breakdown",
                           lambda: node_breakdown(model, clip, settings, threads=1))
        if "error" not in breakdown:
            for node, node_steps in breakdown.items():
                if isinstance(node_steps, dict):
                    print(f"  {node}: " + ", ".join(f"{k} {v['median_ms']:.2f} ms" for k, v in node_steps.items()
                                                    if isinstance(v, dict) and "median_ms" in v), flush=True)
    return model


def graph_sections(preset: str, clip, settings: dict, output: Path, args: Namespace, scratch: Path,
                   entry: dict) -> None:
    from fashionmirror_ros.evaluation.bench_live import live_section, networks_section
    from fashionmirror_ros.evaluation.graph import shipped_or_untrained

    checkpoint, weights = shipped_or_untrained(preset, scratch, args.checkpoint,
                                               note="untrained, written by fashionmirror bench for timing only")
    if weights.startswith("untrained"):
        weights = weights[:-1] + "; timing does not depend on the weights)"
    entry["graph_checkpoint"] = {"path": str(checkpoint), "weights": weights}
    print(f"[{preset}] graph checkpoint: {weights}", flush=True)
    _guard(f"{preset} graph", entry, "graph",
           lambda: networks_section(preset, checkpoint, clip, settings, output, args.device))
    if preset == "realtime" and settings["live"]:
        _guard(f"{preset} live path", entry, "live",
               lambda: live_section(preset, checkpoint, clip, settings, output, args.device))
