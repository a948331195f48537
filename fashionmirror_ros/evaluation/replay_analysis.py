"""The figures of a replay report from what the harness recorded: end to end and per node
(graph/latency.py), the feedback lag of CMN's masks, and quality against the bag's ground truth.
The definitions are in replay.py's docstring."""
from __future__ import annotations

import numpy as np

from fashionmirror_ros.evaluation.bags import ClipBag
from fashionmirror_ros.evaluation.graph.latency import (jitter_ms, node_statistics, rate_hz, rounded,
                                                        stage_breakdown, summary_ms)
from fashionmirror_ros.evaluation.graph.player import SentFrame
from fashionmirror_ros.messages import decode_mask, decode_rgb
from fashionmirror_ros.pipeline.stats import summarize

VFID_SEGMENT_FRAMES = 16


def received_frames(arrivals, index_of: dict[int, int]) -> list[tuple[int, int, np.ndarray]]:
    """(bag frame index, stamp, RGB image) of each try-on frame kept, in frame order, once per stamp."""
    frames, seen = [], set()
    for arrival in sorted(arrivals, key=lambda a: a.stamp_ns):
        if arrival.stamp_ns in index_of and arrival.msg is not None and arrival.stamp_ns not in seen:
            seen.add(arrival.stamp_ns)
            frames.append((index_of[arrival.stamp_ns], arrival.stamp_ns, decode_rgb(arrival.msg)))
    return sorted(frames, key=lambda item: item[0])


def feedback_lag(latency, masks, index_of: dict[int, int]) -> dict:
    """Frames between the camera frame a used mask was predicted for and the frame it served."""
    cmn_publish = {r.stamp_ns: r.publish_ns for r in latency if r.node == "cmn_node"}
    masks = sorted(((cmn_publish.get(m.stamp_ns, m.receive_ns), m.stamp_ns, m.multi_frame) for m in masks),
                   key=lambda m: m[0])
    hsg = sorted(((r.publish_ns, r.receive_ns, r.stamp_ns) for r in latency
                  if r.node == "hsg_node" and r.stamp_ns in index_of), key=lambda r: r[0])
    if not hsg or not masks:
        return {"frames": 0, "note": "no generated frames or masks to compare"}
    mask_times = np.asarray([m[0] for m in masks], np.int64)
    lags, from_source, multi_used = [], 0, 0
    previous_publish = None
    for publish, receive, stamp in hsg:
        start = receive if previous_publish is None else max(receive, previous_publish)
        previous_publish = publish
        position = int(np.searchsorted(mask_times, start, side="right")) - 1
        if position < 0:
            continue
        _, mask_stamp, multi = masks[position]
        multi_used += int(multi)
        if mask_stamp not in index_of:
            from_source += 1
            continue
        lags.append(index_of[stamp] - (index_of[mask_stamp] + 1))
    values, counts = np.unique(np.asarray(lags, np.int64), return_counts=True) if lags else ([], [])
    return {
        "frames": len(hsg),
        "frames_using_source_masks": from_source,
        "frames_using_multi_frame_masks": multi_used,
        "lag_frames": summarize(lags, digits=3) if lags else None,
        "lag_histogram": {str(int(v)): int(c) for v, c in zip(values, counts)},
        "fraction_lag_0": round(float(np.mean(np.asarray(lags) <= 0)), 4) if lags else None,
        "definition": "lag = k - (j + 1) for generated frame k using the newest mask (stamped with "
                      "camera frame j, predicting j+1) that cmn_node had published when hsg_node "
                      "started on frame k (estimated from NodeLatency times); 0 = sequential "
                      "schedule of the paper",
    }


def fit_square(image: np.ndarray, size: int) -> np.ndarray:
    from fashionmirror_ros.pipeline.framing import Letterbox

    if image.ndim == 2:
        return fit_square(np.repeat(image[:, :, None], 3, axis=2), size)[:, :, 0]
    return Letterbox.fit(image.shape[1], image.shape[0], size).image(image)


def quality_metrics(bag: ClipBag, frames, masks, index_of: dict[int, int],
                    lpips_weights=None, vfid_weights=None) -> dict:
    """Metrics of the received frames/masks against the bag's ground truth (matched by stamp)."""
    from fashionmirror_ros.evaluation import metrics

    if not bag.has_ground_truth:
        return {"available": False, "note": "no ground truth: the bag has no /ground_truth/* topics, "
                                            "or --source-image/--garment-image replaced its inputs"}
    result: dict = {"available": True, "frames_compared": len(frames)}
    generated, real = [], []
    for index, _, image in frames:
        truth = bag.gt_images.get(bag.camera_stamps[index])
        if truth is None:
            continue
        generated.append(image)
        real.append(fit_square(truth, image.shape[0]))
    if generated:
        ssim = [metrics.ssim(g, r) for g, r in zip(generated, real)]
        psnr = [metrics.psnr(g, r) for g, r in zip(generated, real)]
        result["ssim"] = rounded(np.mean(ssim), 4)
        result["psnr_db"] = rounded(np.mean(psnr), 3)
        result["ssim_per_frame"] = summarize(ssim, digits=3)
        result["psnr_per_frame_db"] = summarize(psnr, digits=3)
        video, truth_video = np.stack(generated), np.stack(real)
        if len(generated) >= 2:
            result["warping_error_self"] = rounded(metrics.warping_error(video), 4)
            result["warping_error_real_flow"] = rounded(metrics.warping_error_against(video, truth_video), 4)
            result["warping_error_ground_truth"] = rounded(metrics.warping_error(truth_video), 4)
        result["lpips"] = (rounded(metrics.lpips(video, truth_video, lpips_weights), 4)
                           if lpips_weights else None)
        result["vfid"] = None
        if vfid_weights:
            segments = len(generated) // VFID_SEGMENT_FRAMES
            if segments >= 2:
                cut = segments * VFID_SEGMENT_FRAMES
                result["vfid"] = rounded(metrics.vfid(
                    list(truth_video[:cut].reshape(segments, VFID_SEGMENT_FRAMES, *video.shape[1:])),
                    list(video[:cut].reshape(segments, VFID_SEGMENT_FRAMES, *video.shape[1:])),
                    vfid_weights), 4)
                result["vfid_segments"] = segments
            else:
                result["vfid_note"] = f"needs >= {2 * VFID_SEGMENT_FRAMES} received frames"
    same, following, removed = [], [], []
    source_index = int(bag.custom.get("source_index", 0)) if bag.custom.get("source_index", "").isdigit() else 0
    for mask in masks:
        if mask.msg is None:
            continue
        stamp, cloth, removed_mask = mask.stamp_ns, decode_mask(mask.msg.cloth_mask), decode_mask(mask.msg.removed_mask)
        if stamp in index_of:
            index = index_of[stamp]
            truth = bag.gt_cloth_masks.get(bag.camera_stamps[index])
            if truth is not None:
                same.append(metrics.mask_iou(cloth, fit_square(truth, cloth.shape[0])))
            if index + 1 < bag.num_frames:
                truth = bag.gt_cloth_masks.get(bag.camera_stamps[index + 1])
                if truth is not None:
                    following.append(metrics.mask_iou(cloth, fit_square(truth, cloth.shape[0])))
        elif (removed_mask is not None and 0 <= source_index < bag.num_frames and not removed
              and bag.custom.get("protocol", "reconstruction") == "reconstruction"):
            # M_r is the source's own garment: ground truth only when the bag's garment is it
            truth = bag.gt_cloth_masks.get(bag.camera_stamps[source_index])
            if truth is not None:
                removed.append(metrics.mask_iou(removed_mask, fit_square(truth, removed_mask.shape[0])))
    result["mask_iou"] = rounded(np.mean(same), 4) if same else None
    result["mask_iou_next_frame"] = rounded(np.mean(following), 4) if following else None
    result["masks_compared"] = len(same)
    result["removed_mask_iou_source"] = rounded(removed[0], 4) if removed else None
    return result


def analyse(bag: ClipBag, recorder, sent: list[SentFrame], run_info: dict,
            lpips_weights=None, vfid_weights=None) -> dict:
    """The report of a replay: `sent` frames of `bag`, the recorder's streams."""
    arrivals, latency, masks = (recorder.snapshot(name) for name in ("arrivals", "latency", "masks"))
    pose = recorder.snapshot("pose")
    sent_by_stamp = {frame.stamp_ns: frame for frame in sent}
    index_of = {frame.stamp_ns: frame.index for frame in sent}
    stamps = set(sent_by_stamp)
    tryon = [(arrival.stamp_ns, arrival.receive_ns) for arrival in arrivals]
    matched = [(stamp, received) for stamp, received in tryon if stamp in stamps]
    unmatched = len(tryon) - len(matched)
    unique_received = {stamp for stamp, _ in matched}
    end_to_end = [(received - stamp) / 1e6 for stamp, received in matched]
    receive_times = [received for _, received in matched]
    first_latency = None
    if matched and sent:
        first_latency = rounded((min(receive_times) - sent[0].stamp_ns) / 1e6)
    duration_s = ((sent[-1].stamp_ns - sent[0].stamp_ns) / 1e9) if len(sent) > 1 else 0.0
    frames = {
        "sent": len(sent),
        "tryon_received": len(unique_received),
        "dropped": len(sent) - len(unique_received),
        "drop_fraction": rounded((len(sent) - len(unique_received)) / len(sent), 4) if sent else None,
        "pose_keypoints_received": sum(1 for record in pose if record.stamp_ns in stamps),
        "pose_person_found": sum(1 for record in pose if record.stamp_ns in stamps and record.person_found),
        "masks_received": len(masks),
        "tryon_with_unknown_stamp": unmatched,
    }
    report = {
        "bag": {"path": str(bag.path), "frames": bag.num_frames, "fps": rounded(bag.fps),
                "topics": {name: {"type": t, "count": c} for name, (t, c) in sorted(bag.topics.items())},
                "custom": bag.custom, "ground_truth": bag.has_ground_truth},
        "run": run_info,
        "frames": frames,
        "input_fps": rate_hz(frame.stamp_ns for frame in sent),
        "output_fps": rate_hz(receive_times),
        "output_fps_over_input_duration": rounded(len(unique_received) / duration_s) if duration_s else None,
        "end_to_end_latency_ms": summary_ms(end_to_end),
        "end_to_end_jitter_ms": jitter_ms(receive_times),
        "first_frame_latency_ms": first_latency,
        "stages_ms": stage_breakdown(latency, arrivals, {s: frame.published_ns for s, frame in sent_by_stamp.items()}),
        "nodes": node_statistics(latency, stamps, recorder.statuses()),
        "stamps": {"tryon_stamps_equal_camera_stamps": unmatched == 0 and bool(matched),
                   "tryon_in_stamp_order": [s for s, _ in tryon] == sorted(s for s, _ in tryon)},
        "feedback_lag": feedback_lag(latency, masks, index_of),
        "metrics": quality_metrics(bag, received_frames(arrivals, index_of), masks, index_of,
                                   lpips_weights, vfid_weights),
    }
    return report


