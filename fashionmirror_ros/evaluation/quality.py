"""`fashionmirror eval`: the quality yardstick. Every answer on the same clips, in one run.

For each protocol (evaluation/cases.py: ``reconstruction``, ``tryon``, ``real``) the same cases
are answered by ``copy`` and ``keypoint_warp`` (answers that need no model), the ``untrained``
model (the preset freshly initialised with seed 0) and the ``model`` (the checkpoint), plus any
``--extra NAME=CHECKPOINT`` (an ablation's variants) and, for each ``--masks-every N``, the model
with cmn_node's ``masks_every`` N (CMN on every Nth generated frame). The ``real`` clips are
fixed crops of a static camera: ``keypoint_warp, plate`` and ``model, plate`` put the crop's clean
plate (the view without the person, data/real_clips.py) behind the person, as hsg_node does with
``background_image``; the man on the box has no plate, so there they equal the plain answers.
evaluation/scoring.py computes the figures.
The pose-following ceiling (MediaPipe Pose on the true frames) is reported beside them.

Writes into ``--output``: report.json (means and per-case figures), report.md (one table per
protocol, answers side by side) and sheet.png (3 cases per protocol: truth / copy /
keypoint_warp / model at frames 1, 5, 10, 19, with ``model, plate`` where there is one, and a
real garment photo tried on a real person photo under a moving camera).

The ``real`` protocol needs the media fetched by ``fashionmirror media fetch`` (make media); when
they are missing and ``real`` is asked for, the command says so and exits 2.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from fashionmirror_ros.evaluation import cases as protocols
from fashionmirror_ros.evaluation.answers import (BASELINES, Answer, baseline_answer, keypoint_warp_answer,
                                                  model_answer)
from fashionmirror_ros.evaluation.reporting import json_default
from fashionmirror_ros.evaluation.scoring import METRICS, mean_scores, pose_scores, score_case, set_vfid
from fashionmirror_ros.evaluation.sheets import frames_at, panel, write_sheet
from fashionmirror_ros.models.checkpoint import load_checkpoint
from fashionmirror_ros.models.mirror import FashionMirror
from fashionmirror_ros.pipeline.assets import resolve_checkpoint
from fashionmirror_ros.pipeline.sessions import InferenceOptions, select_device

PROTOCOL_FRAMES = 20  # the paper evaluates 20-frame clips
SHEET_CASES = 3
# a garment whose top is its collar, as placement.py assumes (a hoodie's top is its hood)
PHOTO_GARMENT = "polo_black"
UNTRAINED_SEED = 0


def load_models(args: argparse.Namespace, device: torch.device) -> dict[str, FashionMirror]:
    """name -> model in eval mode: "untrained", "model", then the extras, in table order."""
    path = resolve_checkpoint(args.checkpoint, args.preset)
    # an explicit checkpoint is taken as it is; the shipped one must be of the asked preset
    model, config, _ = load_checkpoint(path, device=device,
                                       expected_preset=None if args.checkpoint else args.preset)
    models = {}
    if not args.no_untrained:
        torch.manual_seed(UNTRAINED_SEED)
        models["untrained"] = FashionMirror(config).to(device).eval()
    models["model"] = model
    for name, extra in args.extra:
        models[name] = load_checkpoint(extra, device=device)[0]
    return models


def masks_every_label(every: int) -> str:
    return f"model, masks_every {every}"


def answer_all(case, models: dict, options: InferenceOptions, masks_every: tuple[int, ...] = (),
               plates: bool = False) -> dict[str, Answer]:
    """Every answer to ``case``; ``plates`` (a protocol with clean plates): the keypoint warp and
    the model also with the plate behind the person (the same as without where a case has none)."""
    answers = {name: baseline_answer(name, case) for name in BASELINES}
    for name, model in models.items():
        answers[name] = model_answer(model, case, options)
    for every in masks_every:
        answers[masks_every_label(every)] = model_answer(models["model"], case, options, masks_every=every)
    if plates and case.background_plate is None:  # no plate: the plain answers, not run twice
        answers["keypoint_warp, plate"], answers["model, plate"] = answers["keypoint_warp"], answers["model"]
    elif plates:
        answers["keypoint_warp, plate"] = keypoint_warp_answer(case, with_plate=True)
        answers["model, plate"] = model_answer(models["model"], case, options, with_plate=True)
    return answers


def evaluate_protocol(name: str, cases: list, models: dict, options: InferenceOptions,
                      args: argparse.Namespace, estimator) -> tuple[dict, list[dict[str, Answer]]]:
    per_answer: dict[str, list[dict]] = {}
    ceiling = []
    all_answers = []
    plates = any(case.background_plate is not None for case in cases)
    for case in tqdm(cases, desc=f"eval {name}", dynamic_ncols=True):
        answers = answer_all(case, models, options, args.masks_every, plates)
        all_answers.append(answers)
        for answer_name, answer in answers.items():
            scores = score_case(case, answer, estimator, args.lpips_weights)
            per_answer.setdefault(answer_name, []).append({"case": case.name, **scores})
        if estimator is not None:
            ceiling.append(pose_scores(case.frames, case.keypoints[1:], estimator))
    result = {"cases": [case.name for case in cases], "answers": {}}
    for answer_name, rows in per_answer.items():
        means = mean_scores(rows)
        means["vfid"] = set_vfid(cases, [a[answer_name] for a in all_answers], args.vfid_weights)
        result["answers"][answer_name] = {"mean": means, "per_case": rows}
    if ceiling:
        result["pose_ceiling"] = {key: float(np.nanmean([c[key] for c in ceiling])) for key in ceiling[0]}
    return result, all_answers


def format_table(name: str, result: dict) -> str:
    columns = list(result["answers"])
    lines = [f"### {name} ({len(result['cases'])} cases)", "",
             "| metric | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    for metric, higher in {**METRICS, "vfid": False}.items():
        values = [result["answers"][column]["mean"][metric] for column in columns]
        if all(np.isnan(v) for v in values):
            continue
        best = np.nanargmax(values) if higher else np.nanargmin(values)
        cells = [("**%.4f**" if i == best else "%.4f") % v if not np.isnan(v) else "-" for i, v in enumerate(values)]
        lines.append(f"| {metric} ({'higher' if higher else 'lower'} is better) | " + " | ".join(cells) + " |")
    if "pose_ceiling" in result:
        ceiling = result["pose_ceiling"]
        lines.append("")
        lines.append(f"Pose-following ceiling (MediaPipe Pose on the true frames): found "
                     f"{ceiling['pose_found']:.3f}, PCK {ceiling['pose_pck']:.3f}.")
    return "\n".join(lines)


def protocol_panels(name: str, cases: list, answers: list[dict[str, Answer]]) -> list[np.ndarray]:
    panels = []
    for case, case_answers in list(zip(cases, answers))[:SHEET_CASES]:
        rows = [("truth", frames_at(case.frames))]
        rows += [(label, frames_at(case_answers[label].frames))
                 for label in ("copy", "keypoint_warp", "model", "model, plate") if label in case_answers]
        rows.append(("h^s | C", [case.source, case.garment]))
        panels.append(panel(f"{name}: {case.name}", rows))
    return panels


def photo_panel(models: dict, options: InferenceOptions, frames: int) -> np.ndarray:
    """A real garment photo on a real person photo under a moving camera (needs the media)."""
    from fashionmirror_ros.data.real_media import real_garments, real_photos
    from fashionmirror_ros.pose.segmentation import silenced_native_stderr

    garments = real_garments()
    garment_name = PHOTO_GARMENT if PHOTO_GARMENT in garments else sorted(garments)[0]
    with silenced_native_stderr():
        case = protocols.photo_case(real_photos()["astronaut"], garments[garment_name], frames,
                                    models["model"].config.image_size)
    rows = [("camera", frames_at(case.frames))]
    for label in ("keypoint_warp",):
        rows.append((label, frames_at(baseline_answer(label, case).frames)))
    kiosk = model_answer(models["model"], case, options, replace_worn_garment=True)
    rows.append(("model", frames_at(kiosk.frames)))
    rows.append(("h^s | C", [case.source, case.garment]))
    return panel(f"photo: astronaut wearing {garment_name} (a moving camera; hsg_node's kiosk "
                 f"default replace_worn_garment)", rows)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", default="", help="checkpoint directory (default: shipped)")
    parser.add_argument("--preset", default="realtime", choices=("realtime", "paper"))
    parser.add_argument("--protocols", default=",".join(protocols.PROTOCOLS),
                        help=f"comma-separated subset of {','.join(protocols.PROTOCOLS)}")
    parser.add_argument("--clips", type=int, default=12, help="cases per generated protocol")
    parser.add_argument("--frames", type=int, default=PROTOCOL_FRAMES)
    parser.add_argument("--extra", action="append", default=[], type=_named_checkpoint,
                        metavar="NAME=CHECKPOINT", help="another model to score beside (repeatable)")
    parser.add_argument("--masks-every", default=(), type=_mask_intervals, metavar="N[,N...]",
                        help="also score the model with cmn_node's masks_every N (N >= 2)")
    parser.add_argument("--no-untrained", action="store_true", help="skip the untrained model")
    parser.add_argument("--no-pose", action="store_true", help="skip the MediaPipe pose-following figures")
    parser.add_argument("--no-sheet", action="store_true", help="skip the picture sheet")
    parser.add_argument("--lpips-weights", default=None, help="local LPIPS weight file(s)")
    parser.add_argument("--vfid-weights", default=None, help="local R3D-18 weight file")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--output", default="out/eval", help="folder for report.json, report.md, sheet.png")


def _named_checkpoint(text: str) -> tuple[str, str]:
    name, _, path = text.partition("=")
    if not name or not path:
        raise argparse.ArgumentTypeError(f"expected NAME=CHECKPOINT, got {text!r}")
    return name, path


def _mask_intervals(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        values = ()
    if not values or any(value < 2 for value in values):
        raise argparse.ArgumentTypeError(f"expected integers >= 2 separated by commas, got {text!r}")
    return values


def _requested_protocols(text: str) -> list[str]:
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in protocols.PROTOCOLS]
    if unknown or not names:
        raise ValueError(f"unknown protocols {unknown}; choose from {','.join(protocols.PROTOCOLS)}")
    return names


def run(args: argparse.Namespace) -> int:
    names = _requested_protocols(args.protocols)
    if "real" in names:
        available, reason = protocols.real_available()
        if not available:
            print(f"fashionmirror eval: the real protocol needs the real media: {reason} "
                  f"(or leave it out: --protocols reconstruction,tryon)", file=sys.stderr)
            return 2
    if args.threads:
        torch.set_num_threads(args.threads)
    options = InferenceOptions(device=select_device(args.device), channels_last=False)
    models = load_models(args, options.device)
    output = Path(args.output)
    output.mkdir(parents=True, exist_ok=True)
    estimator = None
    if not args.no_pose:
        from fashionmirror_ros.evaluation.pose_following import default_estimator
        from fashionmirror_ros.pose.segmentation import silenced_native_stderr

        with silenced_native_stderr():
            estimator = default_estimator()
    report = {"checkpoint": str(resolve_checkpoint(args.checkpoint, args.preset)),
              "frames_per_case": args.frames, "protocols": {}}
    panels = []
    started = time.monotonic()
    try:
        for name in names:
            cases = protocols.cases_for(name, args.clips, args.frames, models["model"].config.image_size)
            result, answers = evaluate_protocol(name, cases, models, options, args, estimator)
            report["protocols"][name] = result
            panels += protocol_panels(name, cases, answers)
            print(format_table(name, result), flush=True)
        if not args.no_sheet and protocols.real_available()[0]:
            panels.append(photo_panel(models, options, args.frames))
    finally:
        if estimator is not None:
            estimator.close()
    report["seconds"] = round(time.monotonic() - started, 1)
    (output / "report.json").write_text(json.dumps(report, indent=2, default=json_default))
    (output / "report.md").write_text("\n\n".join(format_table(name, report["protocols"][name])
                                                   for name in names) + "\n")
    if not args.no_sheet and panels:
        print(f"picture sheet: {write_sheet(output / 'sheet.png', panels)}")
    print(f"report: {output / 'report.md'}, {output / 'report.json'}")
    return 0
