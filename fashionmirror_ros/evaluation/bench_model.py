"""In-process timings of `fashionmirror bench`: what each node computes per frame, on this CPU.

- ``time_networks``: the networks the model nodes run per frame, in five variants (fp32 NCHW,
  channels_last, bf16 autocast, fp32 with BatchNorm folded into the convs as the nodes load the
  model: ``models.layers.fold_batch_norms``, and ``served``: as hsg_node runs them by default,
  folded, bf16 autocast, NCHW, the motion and the render traced: ``models/traced.py``) at 1 and
  2 threads, timed interleaved:
  ``cmn_multi`` (cmn_node after its first two frames), ``cmn_single`` (its first frames),
  ``step`` (hsg_node: ``FashionMirror.step`` with the session encodings cached, as
  ``GenerationSession`` keeps them), and the keypoint prior's new per-frame pieces on their own:
  ``prior_flows`` (``model.prior_flows``) and ``composition`` (``hsg.pixel_candidates`` +
  ``hsg.compose``: the full-resolution pixel warp of h^s, the placed garment and the blend).
- ``source_preparation``: what runs once per source image, not per frame: person segmentation
  (``PersonSegmenter``, MediaPipe Pose, at 256 x 256 and at 640 x 480) and ``fill_background``
  (at the model size).
- ``cmn_vs_parser``: CMN against a DeepLabv3/ResNet-101 human parser (the paper's baseline class).
- ``node_breakdown``: each node's per-frame work (decode, inference, encode, publish) with the
  nodes' own functions.

Inputs: a generated clip (keypoints, frames, garment) so the keypoint prior sees real poses (its
cost depends on which joints are found); the session's person mask, background and garment mask
are blank, as ``warm_up`` in pipeline/sessions.py builds them (the cost does not depend on them).
Figures are medians of repeated calls; machines here are shared, so compare within one run.
"""
from __future__ import annotations

import copy
import statistics
import time
from contextlib import nullcontext

import numpy as np

VARIANTS = ("fp32", "channels_last", "bf16_autocast", "fp32_folded", "served")
# Camera sizes at which the once-per-source person segmentation is timed (width, height).
SEGMENTATION_SIZES = ((256, 256), (640, 480))


# ---------------------------------------------------------------------------------------------
# Timing helpers
# ---------------------------------------------------------------------------------------------
def median_ms(fn, budget_s: float, min_repeats: int, warmup: int = 1, max_repeats: int = 200) -> dict:
    """Median call time after `warmup` calls; repeats until min_repeats or the budget is spent
    (at least one timed call)."""
    for _ in range(warmup):
        fn()
    times = []
    start = time.perf_counter()
    while len(times) < max_repeats:
        t0 = time.perf_counter()
        fn()
        times.append((time.perf_counter() - t0) * 1e3)
        if len(times) >= min_repeats or time.perf_counter() - start > budget_s:
            break
    return {"median_ms": round(statistics.median(times), 3), "min_ms": round(min(times), 3),
            "repeats": len(times)}


def interleaved_medians(calls: dict, budget_s: float, min_repeats: int, warmup: int = 1,
                        max_repeats: int = 200) -> dict:
    """Median ms of each call, timed round-robin (one call of each per round), so that a change
    of machine load during the measurement hits every candidate alike."""
    for _ in range(warmup):
        for fn in calls.values():
            fn()
    times = {name: [] for name in calls}
    start = time.perf_counter()
    rounds = 0
    while rounds < max_repeats:
        for name, fn in calls.items():
            t0 = time.perf_counter()
            fn()
            times[name].append((time.perf_counter() - t0) * 1e3)
        rounds += 1
        if rounds >= min_repeats or time.perf_counter() - start > budget_s:
            break
    return {name: {"median_ms": round(statistics.median(values), 3), "min_ms": round(min(values), 3),
                   "repeats": len(values)} for name, values in times.items()}


# ---------------------------------------------------------------------------------------------
# The per-frame networks
# ---------------------------------------------------------------------------------------------
def network_calls(model, clip, channels_last: bool, autocast) -> dict:
    """name -> fn() for what the model nodes compute per frame, inputs prepared in the memory
    format of the variant (the session encodings under its autocast, as the nodes build them)."""
    import torch

    from fashionmirror_ros.models.hsg import SourceSide
    from fashionmirror_ros.models.prior import composite_layer
    from fashionmirror_ros.models.mirror import SessionInputs
    from fashionmirror_ros.models.placement import keypoint_placement
    from fashionmirror_ros.pose.skeleton import render_skeleton

    size = model.config.image_size
    memory_format = torch.channels_last if channels_last else torch.contiguous_format

    def image(rgb: np.ndarray):
        tensor = torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None].float().div(255.0)
        return tensor.contiguous(memory_format=memory_format)

    def keypoints(index: int):
        return torch.from_numpy(np.ascontiguousarray(clip.keypoints[index], np.float32))[None]

    def skeleton(index: int):
        return image(render_skeleton(clip.keypoints[index], size, size))

    blank = torch.zeros(1, 1, size, size)
    frames = [image(clip.frames[index]) for index in range(3)]
    garment = image(clip.garment)
    inputs = SessionInputs(frames[0], blank, garment, keypoints(0), skeleton(0), blank, frames[0], blank)
    with torch.inference_mode(), autocast():
        encoding = model.encode_session(inputs)
    state = model.first_state(inputs)
    next_keypoints, next_skeleton = keypoints(1), skeleton(1)
    calls = {
        "cmn_multi": lambda: model.cloth_mask_multi(frames[0], frames[1], frames[2], garment),
        "cmn_single": lambda: model.masks_single(frames[2], garment),
        "step": lambda: model.step(encoding, state, next_keypoints, next_skeleton, blank),
    }
    if model.uses_prior:
        calls["prior_flows"] = lambda: model.prior_flows(inputs.source_keypoints, state.keypoints,
                                                         next_keypoints, (size, size))
        with torch.inference_mode(), autocast():
            prior, source_flow = model.prior_flows(inputs.source_keypoints, state.keypoints,
                                                   next_keypoints, (size, size))
            placement = keypoint_placement(encoding.garment_landmarks, next_keypoints, size,
                                           model.config.prior.min_confidence)
        painted_and_logits = torch.rand(1, 6, size, size, generator=torch.Generator().manual_seed(0))
        pixels = encoding.pixels

        def composition():  # the pixel warp of h^s (HSG.source_side's part), the placed C, the blend
            person, alpha = composite_layer(pixels.person_layer, pixels.background, source_flow,
                                            prior.support)
            candidates = model.hsg.pixel_candidates(SourceSide({}, person, alpha), pixels, placement)
            return model.hsg.compose(painted_and_logits, candidates, blank)

        calls["composition"] = composition
    return calls


def time_networks(model, clip, gflops: dict, settings: dict, variants, threads_list) -> dict:
    """{network: {f"{variant}_t{threads}": {median_ms, gflop_per_s, ...}}}; the variants of one
    network are timed interleaved (a model copy per memory format)."""
    import torch

    from fashionmirror_ros.models.layers import fold_batch_norms
    from fashionmirror_ros.models.traced import trace_motion, trace_render

    previous = torch.get_num_threads()
    prepared = {}
    for variant in variants:
        channels_last = variant in ("channels_last", "bf16_autocast")
        model_copy = copy.deepcopy(model).to(
            memory_format=torch.channels_last if channels_last else torch.contiguous_format)
        if variant in ("fp32_folded", "served"):  # BatchNorm folded into the convs, as the nodes run
            fold_batch_norms(model_copy)
        bf16 = variant in ("bf16_autocast", "served")
        if variant == "served":
            trace_motion(model_copy, bf16=True)
            if model_copy.hsg.composes:
                trace_render(model_copy, bf16=True)
        autocast = (lambda: torch.autocast("cpu", dtype=torch.bfloat16)) if bf16 else nullcontext
        prepared[variant] = (network_calls(model_copy, clip, channels_last, autocast), autocast)
    names = list(prepared[variants[0]][0])
    results = {name: {"gflops": gflops.get(name)} for name in names}
    try:
        for threads in threads_list:
            torch.set_num_threads(threads)
            for name in names:
                candidates = {}
                for variant, (calls, autocast) in prepared.items():
                    def run(call=calls[name], autocast=autocast):
                        with torch.inference_mode(), autocast():
                            return call()
                    candidates[variant] = run
                timed = interleaved_medians(candidates, settings["timing_budget_s"] * len(candidates),
                                            settings["timing_min_repeats"])
                for variant, timing in timed.items():
                    flops = gflops.get(name)
                    timing["gflop_per_s"] = (round(flops / (timing["median_ms"] / 1e3), 2)
                                             if flops else None)
                    results[name][f"{variant}_t{threads}"] = timing
                    print(f"  {name:<12} {variant:<14} {threads} thread(s): {timing['median_ms']:9.2f} ms"
                          + (f"  {timing['gflop_per_s']:7.1f} GFLOP/s" if timing["gflop_per_s"] else ""),
                          flush=True)
    finally:
        torch.set_num_threads(previous)
    return results


def optimisation_steps(timings: dict) -> dict:
    """Speed-ups (ratios of medians, > 1 = faster) of each variant over fp32 and of 2 threads over 1."""
    steps = {}
    for name, entry in timings.items():
        ratios = {}
        for key, value in entry.items():
            if not isinstance(value, dict):
                continue
            variant, threads = key.rsplit("_t", 1)
            base = entry.get(f"fp32_t{threads}")
            if variant != "fp32" and base:
                ratios[f"{variant}_vs_fp32_t{threads}"] = round(base["median_ms"] / value["median_ms"], 3)
            one = entry.get(f"{variant}_t1")
            if threads == "2" and one:
                ratios[f"{variant}_2_threads_vs_1"] = round(one["median_ms"] / value["median_ms"], 3)
        best = min(((k, v["median_ms"]) for k, v in entry.items() if isinstance(v, dict)),
                   key=lambda item: item[1], default=None)
        if best:
            ratios["fastest"] = best[0]
            ratios["fastest_median_ms"] = best[1]
        steps[name] = ratios
    return steps


# ---------------------------------------------------------------------------------------------
# Once per source: person segmentation and the background behind the person
# ---------------------------------------------------------------------------------------------
def source_preparation(clip, settings: dict) -> dict:
    """Median ms of PersonSegmenter.segment (a new source photo: static-image mode) at each of
    SEGMENTATION_SIZES, and of fill_background at the model size with the mask it found."""
    import cv2

    from fashionmirror_ros.pipeline.person_layer import fill_background
    from fashionmirror_ros.pose.segmentation import PersonSegmenter

    budget, repeats = settings["timing_budget_s"], settings["timing_min_repeats"]
    source = np.ascontiguousarray(clip.frames[0])
    result: dict = {"note": "once per source image (pose_node segments h^s, hsg_node fills the "
                            "background), not per camera frame"}
    with PersonSegmenter(static_image_mode=True) as segmenter:
        for width, height in SEGMENTATION_SIZES:
            photo = cv2.resize(source, (width, height), interpolation=cv2.INTER_LINEAR)
            timing = median_ms(lambda photo=photo: segmenter.segment(photo), budget, repeats)
            timing["person_found"] = bool(segmenter.segment(photo).person_found)
            result[f"segmentation_{width}x{height}"] = timing
        mask = segmenter.person_mask(source)
    size = source.shape[0]
    fill = median_ms(lambda: fill_background(source, mask), budget, repeats)
    fill["person_share"] = round(float(mask.mean()), 3)
    result[f"fill_background_{size}x{size}"] = fill
    return result


def cmn_vs_parser(models: dict, settings: dict, threads_list=(1, 2)) -> dict:
    """CMN single-frame (the mask prediction) time against the DeepLab-style parser at
    256 x 256, fp32 channels_last, timed interleaved in this process at 1 and 2 threads."""
    import torch

    from fashionmirror_ros.evaluation.parsing_baseline import parsing_network

    previous = torch.get_num_threads()
    parser = parsing_network("paper").to(memory_format=torch.channels_last)
    image = torch.rand(1, 3, 256, 256).contiguous(memory_format=torch.channels_last)
    calls = {"parser": lambda: parser(image)}
    for preset, model in models.items():
        model.to(memory_format=torch.channels_last)
        size = model.config.image_size
        garment = torch.rand(1, 3, size, size).contiguous(memory_format=torch.channels_last)
        calls[f"cmn_single_{preset}"] = lambda model=model, garment=garment: model.masks_single(garment, garment)
    result = {"parser": "parsing_network('paper'): DeepLabv3, ResNet-101, output stride 8, random "
                        "weights (timing only)", "format": "fp32 channels_last, interleaved timing",
              "paper_reported_ratio": round(0.1983 / 0.3469, 4)}
    try:
        for threads in threads_list:
            torch.set_num_threads(threads)
            with torch.inference_mode():
                timed = interleaved_medians(calls, settings["timing_budget_s"] * 2,
                                            min(3, settings["timing_min_repeats"]))
            entry = dict(timed)
            for preset in models:
                ratio = timed[f"cmn_single_{preset}"]["median_ms"] / timed["parser"]["median_ms"]
                entry[f"ratio_cmn_{preset}_over_parser"] = round(ratio, 4)
                print(f"  {threads} thread(s): CMN ({preset}) {timed[f'cmn_single_{preset}']['median_ms']:.1f} ms "
                      f"vs parser {timed['parser']['median_ms']:.1f} ms: {ratio:.1%}", flush=True)
            result[f"threads_{threads}"] = entry
        return result
    finally:
        torch.set_num_threads(previous)


# ---------------------------------------------------------------------------------------------
# Per-frame breakdown of the nodes' work, in-process with the nodes' own functions
# ---------------------------------------------------------------------------------------------
def node_breakdown(model, clip, settings: dict, threads: int = 1, with_mediapipe: bool = True) -> dict:
    """Median ms of each step a node does per frame (decode, inference, encode, publish).

    publish = rclpy publish of the message on a topic without subscribers (serialisation and
    the copy into the middleware; a lower bound of the cost with a subscriber). pose_node's
    estimators are timed on the clip's frames at 256 x 256 and upscaled to 640 x 480 (they
    downscale to max_input_side 320 first, as pose_node does)."""
    import cv2
    import rclpy
    import torch
    from rclpy.context import Context
    from rclpy.signals import SignalHandlerOptions
    from sensor_msgs.msg import Image
    from std_msgs.msg import Header

    from fashionmirror_ros.msg import PoseKeypoints, TryOnMasks
    from fashionmirror_ros import topics
    from fashionmirror_ros.messages import image_msg, keypoints_array, keypoints_msg
    from fashionmirror_ros.pipeline.framing import Letterbox
    from fashionmirror_ros.pipeline.images import RawImage, decode_color
    from fashionmirror_ros.pipeline.sessions import (GenerationSession, InferenceOptions, Masks,
                                                     MaskSession)
    from fashionmirror_ros.pose.skeleton import render_skeleton

    budget, repeats = settings["timing_budget_s"], settings["timing_min_repeats"]
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    size = model.config.image_size
    frame = np.ascontiguousarray(clip.frames[1])
    keypoints = clip.keypoints[1]
    header = Header(frame_id="camera")
    result = {"threads": threads, "note": "publish = rclpy publish without subscribers (lower bound)"}
    context = Context()
    rclpy.init(context=context, signal_handler_options=SignalHandlerOptions.NO)
    try:
        node = rclpy.create_node("fashionmirror_bench_breakdown", context=context,
                                 start_parameter_services=False)
        image_pub = node.create_publisher(Image, topics.BENCH_IMAGE, 10)
        masks_pub = node.create_publisher(TryOnMasks, topics.BENCH_MASKS, 10)
        pose_pub = node.create_publisher(PoseKeypoints, topics.BENCH_POSE, 10)
        camera_msg = image_msg(frame, "rgb8", header)
        box = Letterbox.fit(frame.shape[1], frame.shape[0], size)
        options = InferenceOptions(device=torch.device("cpu"))
        model.to(memory_format=torch.channels_last)

        def decode():
            return box.image(decode_color(RawImage.from_msg(camera_msg)))

        # cmn_node: decode the fed-back frame, CMN multi-frame, two mono8 images, publish
        masks_session = MaskSession(model, options)
        masks_session.set_source(frame)
        masks_session.set_garment(np.ascontiguousarray(clip.garment))
        for _ in range(3):
            masks = masks_session.on_generated(frame)

        def encode_masks():
            msg = TryOnMasks(header=header, multi_frame=True, source_crc=1, garment_crc=2)
            msg.removed_mask = image_msg(masks.removed, "mono8", header)
            msg.cloth_mask = image_msg(masks.cloth, "mono8", header)
            return msg
        masks_msg = encode_masks()
        result["cmn_node"] = {
            "decode_fit": median_ms(decode, budget, repeats),
            "inference": median_ms(lambda: masks_session.on_generated(frame), budget, repeats),
            "encode": median_ms(encode_masks, budget, repeats),
            "publish": median_ms(lambda: masks_pub.publish(masks_msg), budget, repeats),
        }
        # hsg_node: keypoints -> model frame, skeleton p^t, the model's step, rgb8 image, publish
        session = GenerationSession(model, options, size)
        session.set_source(np.ascontiguousarray(clip.frames[0]), clip.person_masks[0])
        session.set_source_pose(clip.keypoints[0])
        session.set_garment(np.ascontiguousarray(clip.garment))
        session.offer_masks(Masks(masks.removed, masks.cloth, True, session.source_crc, session.garment_crc))
        pose_msg = keypoints_msg(keypoints, header, frame.shape[1], frame.shape[0], True, "recorded")
        model_keypoints = box.keypoints(keypoints_array(pose_msg))
        session.step(model_keypoints)
        output = session.step(model_keypoints)
        tryon_msg = image_msg(output, "rgb8", header)
        result["hsg_node"] = {
            "decode_keypoints": median_ms(lambda: box.keypoints(keypoints_array(pose_msg)), budget, repeats),
            "render_skeleton": median_ms(lambda: render_skeleton(model_keypoints, size, size), budget, repeats),
            "inference_step": median_ms(lambda: session.step(model_keypoints), budget, repeats),
            "encode": median_ms(lambda: image_msg(output, "rgb8", header), budget, repeats),
            "publish": median_ms(lambda: image_pub.publish(tryon_msg), budget, repeats),
        }
        result["hsg_node"]["inference_step"]["note"] = ("GenerationSession.step: skeleton, tensors, "
                                                        "prior flows, SFE, HSG, composition, uint8")
        # pose_node: decode, estimate (MediaPipe), keypoints message, skeleton image
        pose_entry = {
            "decode": median_ms(lambda: decode_color(RawImage.from_msg(camera_msg)), budget, repeats),
            "keypoints_msg": median_ms(lambda: keypoints_msg(keypoints, header, 256, 256, True, "x"),
                                       budget, repeats),
            "publish_keypoints": median_ms(lambda: pose_pub.publish(pose_msg), budget, repeats),
            "render_skeleton": median_ms(lambda: render_skeleton(model_keypoints, size, size), budget, repeats),
            "publish_skeleton": median_ms(lambda: image_pub.publish(tryon_msg), budget, repeats),
        }
        if with_mediapipe:
            for estimator_name in ("mediapipe", "mediapipe_pose"):
                for width, height in SEGMENTATION_SIZES:
                    frames = [cv2.resize(np.ascontiguousarray(f), (width, height)) for f in clip.frames[:30]]
                    key = f"{estimator_name}_estimate_{width}x{height}"
                    pose_entry[key] = _estimator_timing(estimator_name, frames, budget, repeats)
        result["pose_node"] = pose_entry
        node.destroy_node()
    finally:
        rclpy.try_shutdown(context=context)
        torch.set_num_threads(previous)
    return result


def _estimator_timing(name: str, frames: list, budget: float, repeats: int) -> dict:
    """Median ms of a tracking-mode estimator (pose_node's settings) over consecutive frames."""
    from fashionmirror_ros.pose.estimators import make_estimator

    try:
        with make_estimator(name, model_complexity=1, max_input_side=320) as estimator:
            counter = iter(range(10**9))
            return median_ms(lambda: estimator.estimate(frames[next(counter) % len(frames)]),
                             budget, repeats, warmup=3)
    except Exception as error:  # noqa: BLE001 - report, do not abort the benchmark
        return {"error": f"{type(error).__name__}: {error}"}
