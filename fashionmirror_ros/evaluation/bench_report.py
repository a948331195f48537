"""The targets and bench.md of `fashionmirror bench` (from the report dict bench.json holds)."""
from __future__ import annotations

from fashionmirror_ros.evaluation.reporting import format_value

TARGET_FPS = 27.0
TARGET_LOST = 0.10
TARGET_P95_MS = 120.0
TARGET_INPUT_FPS = 30.0
TARGET_CAMERAS = ("256x256", "640x480")
NODES = ("pose_node", "cmn_node", "hsg_node")


def targets(report: dict) -> dict:
    """Issue 12: each live configuration at the target cameras against the targets."""
    live = report["presets"].get("realtime", {}).get("live", {})
    result = {"definition": f"realtime preset, live MediaPipe path, camera {TARGET_INPUT_FPS:g} fps "
                            f"({', '.join(TARGET_CAMERAS)}): /tryon/image >= {TARGET_FPS:g} fps, "
                            f"<= {TARGET_LOST:.0%} of frames lost, end-to-end p95 <= {TARGET_P95_MS:g} ms",
              "results": []}
    for entry in live.get("configurations", []):
        for camera, trial in entry.get("trials", {}).items():
            fps = trial.get("tryon_fps_over_input_duration")
            p95 = trial["end_to_end_ms"].get("p95")
            lost = trial.get("lost_fraction")
            met = bool(fps is not None and fps >= TARGET_FPS and p95 is not None and p95 <= TARGET_P95_MS
                       and lost is not None and lost <= TARGET_LOST)
            result["results"].append({"configuration": entry["graph"]["label"], "camera": camera,
                                      "tryon_fps": fps, "lost_fraction": lost, "end_to_end_p95_ms": p95,
                                      "met": met, "counts": camera in TARGET_CAMERAS})
    return result


def _cpu(trial: dict) -> str:
    cpu = trial.get("cpu_percent_by_node", {})
    text = "/".join(format_value(cpu.get(node), 0) for node in NODES)
    shared = [entry["cpu_percent_by_node"].get("shared") for entry in trial.get("processes", {}).values()
              if "cpu_percent_by_node" in entry]
    if shared:
        text += f" (+{format_value(shared[0], 0)} shared)"
    camera = trial.get("processes", {}).get("camera", {}).get("cpu_percent")
    if camera is not None:
        text += f"; camera {format_value(camera, 0)}"
    return text


def _rss(trial: dict) -> str:
    processes = trial.get("processes", {})
    if all(node in processes for node in NODES):
        return "/".join(format_value(processes[node].get("rss_mb_max"), 0) for node in NODES)
    grouped = [entry for name, entry in processes.items() if "cpu_percent_by_node" in entry]
    return f"{format_value(grouped[0].get('rss_mb_max'), 0)} (one process)" if grouped else "-"


def _trial_row(first: str, trial: dict) -> str:
    e2e, nodes = trial["end_to_end_ms"], trial.get("nodes", {})

    def node_p50(name):
        return format_value(nodes.get(name, {}).get("latency_ms", {}).get("p50"))
    return (f"| {first} | {trial['frames_sent']} | {format_value(100 * (trial['lost_fraction'] or 0))} | "
            f"{format_value(trial['tryon_fps_over_input_duration'])} | {format_value(e2e.get('p50'))} | "
            f"{format_value(e2e.get('p95'))} | {format_value(e2e.get('p99'))} | {node_p50('pose_node')} | "
            f"{node_p50('cmn_node')} | {node_p50('hsg_node')} | {_cpu(trial)} | {_rss(trial)} |")


TRIAL_HEADER = ["| frames sent | lost % | /tryon/image fps | e2e p50 ms | e2e p95 ms | e2e p99 ms | "
                "pose p50 | cmn p50 | hsg p50 | CPU % pose/cmn/hsg | RSS MB pose/cmn/hsg |",
                "|---|---|---|---|---|---|---|---|---|---|---|"]


def _peak_line(label: str, peak: dict) -> str:
    return (f"- {label}: **{format_value(peak.get('peak_rate_hz'), 2)} fps** (lowest failing "
            f"{format_value(peak.get('lowest_failing_rate_hz'), 2)}; trials "
            f"{[(t['rate_hz'], t['lost_fraction']) for t in peak.get('trials', [])]})")


def live_markdown(live: dict) -> list[str]:
    lines = ["## Live path: MediaPipe in pose_node, camera at 30 fps", "",
             f"Real video: {live.get('real_video')}", "",
             "CPU % = CPU seconds / wall seconds over the trial (100 = one core); in one process, per "
             "node from its threads' CPU time (shared = executor, DDS, unnamed threads).", "",
             "| configuration | camera " + TRIAL_HEADER[0], "|---|---" + TRIAL_HEADER[1]]
    peaks = []
    for entry in live.get("configurations", []):
        label = entry["graph"]["label"]
        if "error" in entry:
            lines.append(f"| {label} | failed: {entry['error']} |")
            continue
        for camera, trial in entry.get("trials", {}).items():
            lines.append(_trial_row(f"{label} | {camera}", trial))
        if entry.get("peak"):
            peaks.append(_peak_line(f"{label}, {entry['peak'].get('camera')}", entry["peak"]))
        startup = entry.get("startup_s")
        if startup is not None:
            peaks.append(f"- {label}: start-up (processes up, masks and source pose in) {startup} s")
    lines += ["", "Peak rate with <= 5 % of frames lost, and start-up:", ""] + peaks
    steps = live.get("steps", [])
    if steps:
        lines += ["", "## Each step's gain (trials of this run)", "",
                  "| step | camera | before: fps / lost % / p95 ms | after: fps / lost % / p95 ms | fps ratio | p95 change ms |",
                  "|---|---|---|---|---|---|"]
        for step in steps:
            before, after = step["before"], step["after"]
            lines.append(
                f"| {step['step']} | {step['camera']} | {format_value(before['tryon_fps'])} / "
                f"{format_value(before['lost_percent'])} / {format_value(before['end_to_end_p95_ms'])} | "
                f"{format_value(after['tryon_fps'])} / {format_value(after['lost_percent'])} / "
                f"{format_value(after['end_to_end_p95_ms'])} | {format_value(step['fps_ratio'], 2)} | "
                f"{format_value(step['p95_change_ms'])} |")
    return lines


def model_markdown(preset: str, entry: dict) -> list[str]:
    lines = ["", f"## Preset {preset}: in-process timings", ""]
    forward = entry.get("forward", {})
    if forward and "error" not in forward:
        lines += ["What the model nodes compute per frame (step = hsg_node's FashionMirror.step with "
                  "cached session encodings; prior_flows and composition are parts of it):", "",
                  "| network | GFLOPs | variant/threads | median ms | GFLOP/s |", "|---|---|---|---|---|"]
        for name, value in forward.items():
            for key, timing in value.items():
                if isinstance(timing, dict):
                    lines.append(f"| {name} | {format_value(value.get('gflops'), 3)} | {key} | "
                                 f"{format_value(timing['median_ms'], 2)} | {format_value(timing.get('gflop_per_s'))} |")
        lines += ["", "Optimisation steps (speed-up, > 1 = faster): "
                  + "; ".join(f"{name}: " + ", ".join(f"{k} {v}" for k, v in steps.items())
                              for name, steps in entry.get("optimisation_steps", {}).items()), ""]
    prepared = entry.get("source_preparation")
    if prepared and "error" not in prepared:
        lines += ["Once per source image (median ms): " + ", ".join(
            f"{key} {format_value(value.get('median_ms'), 2)}" for key, value in prepared.items()
            if isinstance(value, dict) and "median_ms" in value), ""]
    lines += tracking_markdown(entry.get("pose_tracking"))
    breakdown = entry.get("node_breakdown")
    if breakdown and "error" not in breakdown:
        lines += ["Per-frame work of each node in-process (median ms, 1 thread):", ""]
        for node, steps in breakdown.items():
            if isinstance(steps, dict):
                lines.append(f"- {node}: " + ", ".join(f"{k} {format_value(v.get('median_ms'), 2)}"
                                                      for k, v in steps.items()
                                                      if isinstance(v, dict) and "median_ms" in v))
    return lines


def tracking_markdown(tracking: dict | None) -> list[str]:
    """pose_node's estimate_every: PCK against the reference, and ms per frame (bench_tracking)."""
    if not tracking or "error" in tracking:
        return []
    generated, real = tracking["generated"], tracking["real"]
    lines = ["pose_node's keypoints with BlazePose on every Nth frame and optical flow between "
             f"(estimate_every N; pose/tracking.py): {generated['clips']} generated test clips of "
             f"{generated['frames_per_clip']} frames at {generated['size']}x{generated['size']} against "
             "their true keypoints; the real video (640x480) "
             + (f"against {real['reference']}" if "reference" in real else f"{real.get('skipped')}")
             + "; PCK (torso) at 0.2 / 0.1 / 0.05, all frames (tracked frames alone):", "",
             "| estimate_every | generated PCK | real PCK | estimated frame ms | tracked frame ms | frames tracked |",
             "|---|---|---|---|---|---|"]

    def pcks(scores: dict | None) -> str:
        if not scores:
            return "-"
        return " / ".join(f"{format_value(scores[f'pck_{t}'], 3)}"
                          + (f" ({format_value(scores[f'pck_{t}_tracked_frames'], 3)})"
                             if f"pck_{t}_tracked_frames" in scores else "") for t in ("0.2", "0.1", "0.05"))

    for every, entry in tracking["intervals"].items():
        lines.append(f"| {every} | {pcks(entry.get('generated'))} | {pcks(entry.get('real'))} | "
                     f"{format_value(entry.get('estimated_frame_ms'), 2)} | "
                     f"{format_value(entry.get('tracked_frame_ms'), 2)} | "
                     f"{format_value(100 * entry['tracked_share'], 0)} % |")
    return lines + [""]


def networks_markdown(graph: dict) -> list[str]:
    if not graph.get("rates"):
        return [f"Graph: {graph}"] if graph else []
    lines = ["", f"## Networks: recorded keypoints, three processes, generated 256x256 clip "
                 f"(start-up {graph.get('startup_s')} s)", "",
             "| input fps " + TRIAL_HEADER[0], "|---" + TRIAL_HEADER[1]]
    for rate, trial in graph["rates"].items():
        lines.append(_trial_row(rate, trial))
    lines += ["", _peak_line("peak rate (<= 5 % lost), recorded keypoints", graph.get("peak", {}))]
    for key, parameter in (("in_line", "prepare_motion_ahead false"), ("eager_motion", "trace_motion false"),
                           ("eager_render", "trace_render false")):
        variant = graph.get(key, {})
        if "trial" in variant:
            lines += ["", f"Same graph, {variant['what']} ({parameter}):", "",
                      "| input fps " + TRIAL_HEADER[0], "|---" + TRIAL_HEADER[1],
                      _trial_row(variant["rate"], variant["trial"])]
    return lines


def bench_markdown(report: dict) -> str:
    machine = report["machine"]
    settings = report["settings"]
    lines = ["# fashionmirror bench", "",
             f"- machine: {machine.get('cpu_model')}, {machine.get('cpu_count')} cores, torch {machine.get('torch')}; "
             f"load average at start {', '.join(f'{v:.2f}' for v in machine['load_average_start'])}, at end "
             f"{', '.join(f'{v:.2f}' for v in machine.get('load_average_end', []))}",
             f"- settings: {'quick' if settings['quick'] else 'full'}, {settings['duration_s']:g} s per trial; "
             f"wall time {report.get('wall_time_s')} s"]
    for preset, entry in report["presets"].items():
        checkpoint = entry.get("graph_checkpoint")
        if checkpoint:
            lines.append(f"- {preset} graph checkpoint: {checkpoint['weights']} (`{checkpoint['path']}`); "
                         f"keypoint prior: {entry.get('uses_keypoint_prior')}")
    lines.append("")
    target = report.get("targets", {})
    if target.get("results"):
        lines += ["## Targets (issue 12)", "", target["definition"], "",
                  "| configuration | camera | /tryon/image fps | lost % | p95 ms | met |", "|---|---|---|---|---|---|"]
        for row in target["results"]:
            lines.append(f"| {row['configuration']} | {row['camera']} | {format_value(row['tryon_fps'])} | "
                         f"{format_value(100 * (row['lost_fraction'] or 0))} | {format_value(row['end_to_end_p95_ms'])} | "
                         f"{'yes' if row['met'] else 'no'}{'' if row['counts'] else ' (not a target camera)'} |")
        lines.append("")
    live = report["presets"].get("realtime", {}).get("live")
    if live and "error" not in live:
        lines += live_markdown(live)
    elif live:
        lines.append(f"Live path failed: {live['error']}")
    for preset, entry in report["presets"].items():
        lines += networks_markdown(entry.get("graph", {}))
        lines += model_markdown(preset, entry)
    peaks = report.get("conv_peak", {})
    lines += ["", "## Conv peak (3x3 conv 256->256, 64x64), GFLOP/s", "", "| threads | fp32 | channels_last | bf16 |",
              "|---|---|---|---|"]
    for peak in peaks.values():
        if "error" not in peak:
            lines.append(f"| {peak['threads']} | {format_value(peak['fp32_gflops'])} | "
                         f"{format_value(peak['fp32_channels_last_gflops'])} | {format_value(peak.get('bf16_autocast_gflops'))} |")
    parser = report.get("cmn_vs_parser", {})
    if parser and "error" not in parser:
        lines += ["", "## CMN vs parsing network (256x256, fp32 channels_last, interleaved)", ""]
        for key, entry in parser.items():
            if key.startswith("threads_"):
                lines.append(f"- {key.replace('_', ' ')}: parser (DeepLabv3 ResNet-101 OS8) "
                             f"{format_value(entry['parser']['median_ms'])} ms; " + "; ".join(
                                 f"{name} {value:.1%}" for name, value in entry.items() if name.startswith("ratio_"))
                             + f" (paper: {parser['paper_reported_ratio']:.1%})")
    return "\n".join(lines) + "\n"
