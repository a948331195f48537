"""The quality evaluation: region metrics on known answers, the answers, and `fashionmirror eval`
end to end on tiny clips of every protocol."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from fashionmirror_ros.data.real_clips import PLATE_CLIPS
from fashionmirror_ros.evaluation.answers import copy_answer, keypoint_warp_answer
from fashionmirror_ros.evaluation.cases import (camera_motion, reconstruction_cases,
                                                real_available, tryon_cases)
from fashionmirror_ros.evaluation.metrics import PSNR_CAP_DB, mask_iou
from fashionmirror_ros.evaluation.region_metrics import masked_psnr, person_ssim, union_box
from fashionmirror_ros.evaluation.scoring import METRICS, score_case
from fashionmirror_ros.models.checkpoint import save_checkpoint
from fashionmirror_ros.models.config import tiny_config
from fashionmirror_ros.models.mirror import FashionMirror

SIZE = 64


def textured(seed: int = 0, size: int = SIZE) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (size, size, 3), dtype=np.uint8)


# -- region metrics -----------------------------------------------------------------------
def test_identical_images_score_perfectly_in_every_region():
    image = textured()
    person = np.zeros((SIZE, SIZE), np.uint8)
    person[10:40, 20:30] = 1
    assert person_ssim(image, image, person, person) == pytest.approx(1.0)
    assert masked_psnr(image, image, person) == PSNR_CAP_DB


def test_a_known_offset_gives_the_known_psnr_inside_the_mask_only():
    real = np.full((SIZE, SIZE, 3), 100, np.uint8)
    fake = real.copy()
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[:, :32] = 1
    fake[:, :32] = 110  # 10 levels off inside the mask
    fake[:, 32:] = 0  # anything outside does not count
    assert masked_psnr(fake, real, mask) == pytest.approx(20 * np.log10(255 / 10), abs=1e-9)
    assert np.isnan(masked_psnr(fake, real, np.zeros_like(mask)))


def test_person_box_is_the_union_of_both_masks_and_looks_only_there():
    source, target = np.zeros((SIZE, SIZE), np.uint8), np.zeros((SIZE, SIZE), np.uint8)
    source[5:20, 5:15] = 1
    target[40:60, 30:50] = 1  # no overlap with the source mask
    rows, columns = union_box(source, target)
    assert (rows.start, rows.stop, columns.start, columns.stop) == (5, 60, 5, 50)
    real = textured(1)
    fake = real.copy()
    fake[:, 55:] = 0  # outside the box: not seen
    assert person_ssim(fake, real, source, target) == pytest.approx(1.0)
    fake[30:35, 20:25] = 255 - fake[30:35, 20:25]  # inside the box: seen
    assert person_ssim(fake, real, source, target) < 1.0
    assert mask_iou(source, target) == 0.0


def test_a_tiny_person_box_grows_to_the_ssim_window():
    mask = np.zeros((SIZE, SIZE), np.uint8)
    mask[0, 0] = 1
    rows, columns = union_box(mask)
    assert rows.stop - rows.start >= 11 and columns.stop - columns.start >= 11
    assert np.isnan(person_ssim(textured(), textured(), np.zeros_like(mask), np.zeros_like(mask)))


# -- answers and protocols ----------------------------------------------------------------
def test_copy_and_keypoint_warp_answers_on_a_generated_clip():
    case = reconstruction_cases(1, 4, image_size=128)[0]
    copied = copy_answer(case)
    assert copied.frames.shape == case.frames.shape and (copied.frames == case.source).all()
    warped = keypoint_warp_answer(case)
    assert warped.frames.shape == case.frames.shape
    scores_copy, scores_warp = score_case(case, copied), score_case(case, warped)
    assert set(scores_copy) == set(METRICS)
    assert scores_copy["warping_error_self"] == 0.0  # a frozen clip does not flicker
    # the warp follows the pose: closer to the truth on the person than a frozen copy
    assert scores_warp["person_psnr"] > scores_copy["person_psnr"] - 0.5


def test_tryon_cases_wear_another_garment_with_its_own_ground_truth():
    case = tryon_cases(1, 3, image_size=96)[0]
    own = reconstruction_cases(1, 3, image_size=96)[0]
    assert (case.source == own.source).all()  # the person's own first frame
    assert not np.array_equal(case.garment, own.garment)
    assert not np.array_equal(case.frames, own.frames)  # rendered in the new garment
    assert case.cloth_masks is not None and case.source_cloth_mask is not None


def test_camera_motion_moves_the_photo():
    photo = textured(3, 96)
    views = camera_motion(photo, 5)
    assert len(views) == 5 and views[0].shape == photo.shape
    assert not np.array_equal(views[1], views[0]) and not np.array_equal(views[2], views[1])


# -- the command ----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_checkpoint(tmp_path_factory):
    torch.manual_seed(0)
    config = tiny_config(SIZE, prior=True)
    return save_checkpoint(tmp_path_factory.mktemp("tiny") / "ckpt", FashionMirror(config), config, {})


def run_eval(*args, env=None):
    return subprocess.run([sys.executable, "-m", "fashionmirror_ros.cli", "eval", *args],
                          capture_output=True, text=True, timeout=600, env=env)


def test_eval_scores_every_answer_on_generated_protocols(tiny_checkpoint, tmp_path):
    out = tmp_path / "eval"
    result = run_eval("--checkpoint", str(tiny_checkpoint), "--protocols", "reconstruction,tryon",
                      "--clips", "2", "--frames", "4", "--no-pose", "--threads", "1", "--masks-every", "2",
                      "--output", str(out))
    assert result.returncode == 0, result.stderr
    report = json.loads((out / "report.json").read_text())
    for protocol in ("reconstruction", "tryon"):
        answers = report["protocols"][protocol]["answers"]
        assert list(answers) == ["copy", "keypoint_warp", "untrained", "model", "model, masks_every 2"]
        for answer in answers.values():
            assert len(answer["per_case"]) == 2
            assert np.isfinite(answer["mean"]["person_psnr"]) and np.isfinite(answer["mean"]["garment_psnr"])
        assert np.isfinite(answers["model"]["mean"]["iou_cloth"])
    table = (out / "report.md").read_text()
    assert "| person_ssim (higher is better) |" in table and "keypoint_warp" in table
    assert (out / "sheet.png").stat().st_size > 0


def test_real_protocol_without_media_says_so_and_exits_2(tiny_checkpoint, tmp_path):
    env = {**os.environ, "FASHIONMIRROR_MEDIA": str(tmp_path / "no_media")}
    result = run_eval("--checkpoint", str(tiny_checkpoint), "--protocols", "real", "--no-pose",
                      "--output", str(tmp_path / "eval"), env=env)
    assert result.returncode == 2
    assert "real protocol needs the real media" in result.stderr


def test_eval_real_protocol_end_to_end(tiny_checkpoint, tmp_path):
    available, reason = real_available()
    if not available:
        pytest.skip(reason)
    out = tmp_path / "eval"
    result = run_eval("--checkpoint", str(tiny_checkpoint), "--protocols", "real", "--frames", "3",
                      "--threads", "1", "--output", str(out))
    assert result.returncode == 0, result.stderr
    real = json.loads((out / "report.json").read_text())["protocols"]["real"]
    assert len(real["cases"]) == 3
    copy = real["answers"]["copy"]["mean"]
    assert np.isfinite(copy["person_ssim"]) and np.isnan(copy["garment_psnr"])  # no cloth masks
    # MediaPipe ran on every answer and on the true frames (at 64 px it may find nobody)
    assert 0.0 <= copy["pose_found"] <= 1.0 and 0.0 <= real["pose_ceiling"]["pose_found"] <= 1.0
    # the walking woman's clips have a clean plate (the static camera's median view): behind her,
    # the true scene instead of the inpainted blur; the man on the box has none
    def per_case(answer):
        return {row["case"]: row for row in real["answers"][answer]["per_case"]}
    warp, warp_plate = per_case("keypoint_warp"), per_case("keypoint_warp, plate")
    model, model_plate = per_case("model"), per_case("model, plate")
    for name in PLATE_CLIPS:
        assert warp_plate[name]["psnr"] > warp[name]["psnr"], name
        assert model_plate[name]["psnr"] > model[name]["psnr"], name
    assert warp_plate["man_on_box"]["psnr"] == warp["man_on_box"]["psnr"]
