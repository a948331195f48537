"""The latency calculator: figures of a run from what the recorder kept (as ros2_benchmark's
monitor/calculator split: recording does no statistics, these functions do no ROS).

- end to end: receive time of /tryon/image minus its header stamp (the camera frame's stamp);
- per node, from NodeLatency: processing latency (receive to publish), jitter (|dt_i - dt_{i-1}|
  of consecutive publish intervals, ros2_benchmark's definition), rate, frames dropped (the
  difference of the node's newest-wins counter over the run);
- per hop of a frame: camera -> pose_node -> hsg_node -> recorder.
Every summary is pipeline.stats.summarize (ms, rounded to 3 digits).
"""
from __future__ import annotations

import math
from collections import defaultdict

import numpy as np

from fashionmirror_ros.evaluation.graph.harness import NODE_NAMES
from fashionmirror_ros.evaluation.graph.recorder import diagnostic_level, status_values
from fashionmirror_ros.pipeline import stats

DIGITS = 3


def summary_ms(values) -> dict:
    return stats.summarize(values, digits=DIGITS)


def rounded(value, digits: int = DIGITS):
    """value rounded, or None when there is none or it is not finite (JSON has no NaN)."""
    return None if value is None or not math.isfinite(float(value)) else round(float(value), digits)


def jitter_ms(times_ns) -> dict:
    """ros2_benchmark's jitter: |dt_i - dt_{i-1}| of consecutive event intervals, in ms."""
    times = np.sort(np.asarray(list(times_ns), np.float64))
    if times.size < 3:
        return {"max": None, "min": None, "mean": None, "std": None}
    jitters = np.abs(np.diff(np.diff(times))) / 1e6
    return {"max": rounded(jitters.max()), "min": rounded(jitters.min()),
            "mean": rounded(jitters.mean()), "std": rounded(jitters.std())}


def rate_hz(times_ns) -> float | None:
    """Events per second over the span of their times (ns)."""
    return rounded(stats.rate_hz(np.asarray(list(times_ns), np.float64) / 1e9))


def end_to_end_ms(arrivals, stamps: set[int]) -> list[float]:
    return [arrival.latency_ms for arrival in arrivals if arrival.stamp_ns in stamps]


def node_statistics(latency, stamps: set[int] | None, statuses: dict | None = None) -> dict:
    """Per node: latency summary, jitter, rate, drops over the frames stamped `stamps` (None:
    all), and its newest /diagnostics values when `statuses` are given."""
    per_node = defaultdict(list)
    for record in latency:
        if stamps is None or record.stamp_ns in stamps:
            per_node[record.node].append(record)
    result = {}
    for name in sorted(set(per_node) | set(NODE_NAMES)):
        records = sorted(per_node.get(name, []), key=lambda r: r.publish_ns)
        publishes = [r.publish_ns for r in records]
        dropped = [r.frames_dropped for r in records]
        entry = {
            "frames": len(records),
            "latency_ms": summary_ms([r.duration_ms for r in records]),
            "jitter_ms": jitter_ms(publishes),
            "rate_hz": rate_hz(publishes),
            "frames_dropped": (dropped[-1] - dropped[0]) if dropped else None,
        }
        status = (statuses or {}).get(name)
        if status is not None:
            entry["diagnostics"] = {"level": diagnostic_level(status), "message": status.message,
                                    **status_values(status)}
        result[name] = entry
    return result


def stage_breakdown(latency, arrivals, published_ns: dict[int, int]) -> dict:
    """Median/p95 of the hops of a frame: camera -> pose_node -> hsg_node -> recorder (ms), for
    the frames stamped as the keys of published_ns (stamp -> when the player published it).

    The nodes take NodeLatency.publish_time after publish() returned, so a hop that starts at a
    publish (pose_node_to_hsg_node, hsg_node_to_recorder) is the delivery time minus the rest of
    the publish call, and can be slightly negative when delivery beats the return."""
    by_node = defaultdict(dict)
    for record in latency:
        by_node[record.node][record.stamp_ns] = (record.receive_ns, record.publish_ns)
    tryon_receive = {arrival.stamp_ns: arrival.receive_ns for arrival in arrivals}
    hops = defaultdict(list)
    for stamp, published in published_ns.items():
        pose = by_node["pose_node"].get(stamp)
        hsg = by_node["hsg_node"].get(stamp)
        if pose:
            hops["camera_to_pose_node"].append((pose[0] - stamp) / 1e6)
            hops["pose_node_processing"].append((pose[1] - pose[0]) / 1e6)
        if pose and hsg:
            hops["pose_node_to_hsg_node"].append((hsg[0] - pose[1]) / 1e6)
        if hsg:
            hops["hsg_node_processing"].append((hsg[1] - hsg[0]) / 1e6)
            if stamp in tryon_receive:
                hops["hsg_node_to_recorder"].append((tryon_receive[stamp] - hsg[1]) / 1e6)
        hops["stamp_to_publish"].append((published - stamp) / 1e6)
    result = {}
    for name, values in hops.items():
        summary = summary_ms(values)
        result[name] = {key: summary[key] for key in ("p50", "p95", "mean", "count")}
    return result


def trial_statistics(recorder, sent_stamps: list[int], rate: float, frames_sent: int | None = None) -> dict:
    """The figures of one bench trial from what the recorder kept; frames_sent overrides the
    count of sent_stamps (a camera process that reports its own count)."""
    stamps = set(sent_stamps)
    matched = {}
    for arrival in recorder.snapshot("arrivals"):
        if arrival.stamp_ns in stamps and arrival.stamp_ns not in matched:
            matched[arrival.stamp_ns] = arrival.receive_ns
    pose = [record.person_found for record in recorder.snapshot("pose") if record.stamp_ns in stamps]
    sent_count = frames_sent if frames_sent is not None else len(sent_stamps)
    received_times = sorted(matched.values())
    ordered = sorted(sent_stamps)
    duration = (ordered[-1] - ordered[0]) / 1e9 if len(ordered) > 1 else 0.0
    if frames_sent is not None and rate > 0:
        duration = max(frames_sent - 1, 0) / rate
    lost = max(sent_count - len(matched), 0)
    return {
        "input_rate_hz": rate,
        "duration_s": round(duration, 3),
        "frames_sent": sent_count,
        "frames_received": len(matched),
        "frames_lost": lost,
        "lost_fraction": round(lost / sent_count, 4) if sent_count else None,
        "tryon_fps": rate_hz(received_times),
        "tryon_fps_over_input_duration": round(len(matched) / duration, 3) if duration else None,
        "end_to_end_ms": summary_ms([(received - stamp) / 1e6 for stamp, received in matched.items()]),
        "end_to_end_jitter_ms": jitter_ms(received_times),
        "pose_keypoints_received": len(pose),
        "pose_person_found": sum(pose),
        "nodes": node_statistics(recorder.snapshot("latency"), stamps),
    }
