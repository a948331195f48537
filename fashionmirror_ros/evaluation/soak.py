"""Soak run: the node graph fed a looping camera stream for minutes; does anything drift?

    python -m fashionmirror_ros.evaluation.soak --minutes 5 --fps 60 --output out/soak.json
    fashionmirror soak --minutes 5 --fps 60 --output out/soak.json

The three nodes run in their own processes under GraphSupervisor (as `fashionmirror run`, with
respawn); pose_node replays the generated clip's true keypoints (estimator recorded), so the
camera rate is not bounded by pose estimation. Every `--window-s` seconds of camera time the
report has: end-to-end latency (receive time of /tryon/image minus the camera stamp) p50/p95/max,
output fps, per-node processing latency (NodeLatency) and frames dropped, and resident memory of
each node process (psutil). Totals: RSS at start and end, first vs last third of latency,
restarts. Exit code 1 if a node had to be restarted or no try-on frame came out.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from fashionmirror_ros.evaluation.graph import ClipFeeder, GraphHarness, ProcessSampler, quarter_medians
from fashionmirror_ros.pipeline.stats import summarize, suffixed

NODES = ("pose_node", "cmn_node", "hsg_node")
STARTUP_TIMEOUT_S = 120
CLIP_FRAMES = 60


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--minutes", type=float, default=5.0, help="length of the camera stream")
    parser.add_argument("--fps", type=float, default=60.0, help="camera rate")
    parser.add_argument("--output", type=Path, default=Path("out/soak.json"), help="JSON report")
    parser.add_argument("--checkpoint", default=None,
                        help="checkpoint directory (default: the shipped one, else an untrained one)")
    parser.add_argument("--params-file", default=None, help="parameters YAML (default config/mirror.yaml)")
    parser.add_argument("--window-s", type=float, default=30.0, help="length of a report window")
    parser.add_argument("--memory-period-s", type=float, default=1.0, help="RSS sampling period")


def soak_summary(latencies_ms) -> dict:
    """count, p50_ms, p95_ms, max_ms: the soak report's keys; NaN where there were no values (as
    the report always had it, and the progress lines print it)."""
    return {key: float("nan") if value is None else value
            for key, value in suffixed(summarize(latencies_ms)).items()}


def node_figures(latency, node: str) -> dict:
    """Processing latency and frames dropped (the node's counter over the records) of `node`."""
    records = [record for record in latency if record.node == node]
    dropped = [record.frames_dropped for record in records]
    return {"processing": soak_summary([record.duration_ms for record in records]),
            "frames_processed": len(records), "dropped": (max(dropped) - min(dropped)) if dropped else 0}


def window_report(arrivals, latency, published, start_ns: int, window_s: float) -> list[dict]:
    """Figures per window of camera time."""
    window_ns = int(window_s * 1e9)
    if not published:
        return []
    end_ns = max(published) + 1
    count = max(1, (end_ns - start_ns) // window_ns)  # a short remainder joins the last window
    windows = []
    for index in range(count):
        low = start_ns + index * window_ns
        high = end_ns if index == count - 1 else low + window_ns
        inside = [a for a in arrivals if low <= a.stamp_ns < high]
        sent = sum(1 for stamp in published if low <= stamp < high)
        entry = {"start_s": index * window_s, "camera_frames": sent,
                 "tryon_frames": len(inside), "output_fps": len(inside) / ((high - low) / 1e9),
                 "end_to_end": soak_summary([a.latency_ms for a in inside]), "nodes": {}}
        inside_latency = [record for record in latency if low <= record.stamp_ns < high]
        for node in NODES:
            figures = node_figures(inside_latency, node)
            entry["nodes"][node] = {"processing": figures["processing"], "dropped": figures["dropped"]}
        windows.append(entry)
    return windows


def memory_report(samples: dict) -> dict:
    report = {}
    for node, series in samples.items():
        values = [rss for _, rss in series]
        first, last = quarter_medians(values)
        report[node] = {"start_mb": values[0], "end_mb": values[-1], "max_mb": max(values),
                        "first_quarter_median_mb": first, "last_quarter_median_mb": last,
                        "samples": len(values)}
    return report


def run(args: argparse.Namespace) -> int:
    import rclpy
    from rclpy.context import Context

    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.evaluation.graph import shipped_or_untrained
    from fashionmirror_ros.nodes.supervisor import GraphSupervisor, graph_specs

    args.output.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix="fashionmirror-soak-"))
    log_dir = args.output.with_suffix("").with_name(args.output.stem + "_logs")
    checkpoint, checkpoint_origin = shipped_or_untrained("realtime", scratch, args.checkpoint,
                                                         note="untrained, for a soak run")
    checkpoint = str(checkpoint)  # a node parameter and a JSON value
    clip = generate_clip(split_seed("test", 0), num_frames=CLIP_FRAMES + 1)

    restarts: list[tuple[float, str]] = []
    specs = graph_specs(estimator="recorded", model_parameters={"checkpoint": checkpoint})
    supervisor = GraphSupervisor(specs, args.params_file, respawn=True, log_dir=log_dir)
    context = Context()
    rclpy.init(context=context)
    driver = None
    try:
        supervisor.start().watch(on_restart=lambda name: restarts.append((time.monotonic(), name)))
        driver = GraphHarness("fashionmirror_soak", context=context, keep_images=False)
        if not driver.wait_for(lambda: set(NODES) <= set(driver.statuses()), STARTUP_TIMEOUT_S):
            print(f"soak: nodes did not come up ({supervisor.dead()}), see {log_dir}", file=sys.stderr)
            return 1
        driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], driver.now_stamp())
        driver.wait_for(lambda: driver.count("masks") > 0, 30)

        sampler = ProcessSampler(supervisor.pids, args.memory_period_s).start()
        feeder = ClipFeeder(driver, clip.frames[1:], clip.keypoints[1:], args.fps)
        start_ns, stream_start = time.time_ns(), time.monotonic()
        duration_s = args.minutes * 60
        print(f"soak: {args.minutes:g} min at {args.fps:g} fps, checkpoint {checkpoint} ({checkpoint_origin}), "
              f"logs in {log_dir}", flush=True)
        with feeder:
            deadline = time.monotonic() + duration_s
            while time.monotonic() < deadline:
                time.sleep(min(args.window_s, max(0.0, deadline - time.monotonic())))
                recent = [a for a in driver.snapshot("arrivals")
                          if a.receive_ns > time.time_ns() - int(args.window_s * 1e9)]
                rss = {name: f"{series[-1][1]:.0f}" for name, series in sampler.samples.items()}
                print(f"  t={(time.time_ns() - start_ns) / 1e9:5.0f} s  output {len(recent) / args.window_s:5.1f} fps"
                      f"  e2e {soak_summary([a.latency_ms for a in recent])['p95_ms']:6.1f} ms p95"
                      f"  RSS MB {rss}  restarts {len(restarts)}", flush=True)
        time.sleep(2.0)  # the last frames through
        sampler.stop()

        published = list(feeder.published)
        published_set = set(published)
        arrivals = sorted((a for a in driver.snapshot("arrivals") if a.stamp_ns in published_set),
                          key=lambda a: a.stamp_ns)
        latency = [record for record in driver.snapshot("latency") if record.stamp_ns >= start_ns]
        third = max(1, len(arrivals) // 3)
        camera_s = (published[-1] - published[0]) / 1e9 if len(published) > 1 else 0.0
        per_node = {}
        for node in NODES:
            figures = node_figures(latency, node)
            per_node[node] = {"processing": figures["processing"], "frames_processed": figures["frames_processed"],
                              "frames_dropped": figures["dropped"], "restarts": supervisor.nodes[node].restarts}
        report = {
            "command": " ".join(sys.argv),
            "minutes": args.minutes, "fps": args.fps, "checkpoint": checkpoint,
            "checkpoint_origin": checkpoint_origin,
            "camera_frames": len(published), "camera_fps": len(published) / camera_s if camera_s else 0.0,
            "tryon_frames": len(arrivals), "output_fps": len(arrivals) / camera_s if camera_s else 0.0,
            "end_to_end": soak_summary([a.latency_ms for a in arrivals]),
            "end_to_end_first_third": soak_summary([a.latency_ms for a in arrivals[:third]]),
            "end_to_end_last_third": soak_summary([a.latency_ms for a in arrivals[-third:]]),
            "nodes": per_node,
            "memory": memory_report(sampler.samples),
            "restarts": [{"after_s": round(t - stream_start, 1), "node": name} for t, name in restarts],
            "windows": window_report(arrivals, latency, published, start_ns, args.window_s),
        }
        args.output.write_text(json.dumps(report, indent=2))
        print_summary(report, args.output)
        return 0 if arrivals and not restarts else 1
    finally:
        if driver is not None:
            driver.close()
        rclpy.try_shutdown(context=context)
        supervisor.stop()


def print_summary(report: dict, path: Path) -> None:
    e2e, first, last = report["end_to_end"], report["end_to_end_first_third"], report["end_to_end_last_third"]
    print(f"\nsoak: {report['camera_frames']} camera frames ({report['camera_fps']:.1f} fps) -> "
          f"{report['tryon_frames']} try-on frames ({report['output_fps']:.1f} fps)")
    print(f"end-to-end ms p50/p95/max: {e2e['p50_ms']:.1f}/{e2e['p95_ms']:.1f}/{e2e['max_ms']:.1f}; "
          f"p95 first third {first['p95_ms']:.1f}, last third {last['p95_ms']:.1f}")
    print(f"{'node':<10} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8} {'dropped':>8} {'RSS start':>10} "
          f"{'RSS end':>8} {'RSS max':>8} {'restarts':>8}")
    for node, figures in report["nodes"].items():
        memory = report["memory"].get(node, {})
        processing = figures["processing"]
        print(f"{node:<10} {processing['p50_ms']:8.1f} {processing['p95_ms']:8.1f} {processing['max_ms']:8.1f} "
              f"{figures['frames_dropped']:8d} {memory.get('start_mb', float('nan')):10.0f} "
              f"{memory.get('end_mb', float('nan')):8.0f} {memory.get('max_mb', float('nan')):8.0f} "
              f"{figures['restarts']:8d}")
    print(f"report: {path}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashionmirror_ros.evaluation.soak",
                                     description=__doc__.splitlines()[0])
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
