"""The trainer: loss goes down, artefacts are written, resume continues, torchrun replicas agree."""
import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from fashionmirror_ros.models.checkpoint import load_checkpoint, save_checkpoint
from fashionmirror_ros.models.hsg import GarmentSTN
from fashionmirror_ros.models.mirror import FashionMirror
from fashionmirror_ros.training.trainer import TrainConfig, Trainer, model_config

SMOKE = dict(preset="tiny", batch_size=2, frames_per_sample=4, train_clips=4, clip_frames=12,
             log_every=1, checkpoint_every=1000, threads=1)


def log_rows(path):
    with open(path) as handle:
        return list(csv.DictReader(handle))


def train(tmp_path, **overrides):
    trainer = Trainer(TrainConfig(output=str(tmp_path), **{**SMOKE, **overrides}))
    try:
        trainer.train()
    finally:
        trainer.close()
    return trainer


def test_cmn_stage_lowers_its_loss_and_writes_log_curve_and_checkpoints(tmp_path):
    train(tmp_path, stage="cmn", steps=25, learning_rate=3e-3)
    rows = log_rows(tmp_path / "log.csv")
    assert len(rows) == 25
    first = sum(float(r["total"]) for r in rows[:5]) / 5
    last = sum(float(r["total"]) for r in rows[-5:]) / 5
    assert last < 0.9 * first, (first, last)
    assert (tmp_path / "loss_curve.png").stat().st_size > 1000
    model, config, metadata = load_checkpoint(tmp_path / "final")
    assert config.image_size == 64 and metadata["stage"] == "cmn"


def test_end2end_stage_runs_from_a_cmn_checkpoint_and_resumes(tmp_path):
    train(tmp_path / "cmn", stage="cmn", steps=2)
    run = tmp_path / "e2e"
    common = dict(stage="end2end", init_from=str(tmp_path / "cmn" / "final"),
                  loss_overrides={"human_style": 0.0})
    train(run, steps=2, **common)
    resumed = train(run, steps=4, resume=True, **common)
    assert resumed.step == 4
    state = json.loads((run / "latest" / "trainer.json").read_text())
    assert state["step"] == 4 and state["stage"] == "end2end"
    assert [int(r["step"]) for r in log_rows(run / "log.csv")] == [1, 2, 3, 4]


def test_fresh_modules_keep_their_initialisation_after_init_from(tmp_path):
    constructed = FashionMirror(model_config(TrainConfig(stage="end2end", **SMOKE)))
    donor = FashionMirror(constructed.config)
    with torch.no_grad():
        for parameter in donor.parameters():
            parameter.add_(1.0)
    save_checkpoint(tmp_path / "donor", donor, donor.config)
    trainer = Trainer(TrainConfig(output=str(tmp_path / "run"), stage="end2end", steps=1,
                                  init_from=str(tmp_path / "donor"), fresh_modules=("hsg.stn.theta",),
                                  **SMOKE))
    try:
        state, donated = trainer.model.state_dict(), donor.state_dict()
        assert torch.equal(state["hsg.stn.theta.weight"], torch.zeros_like(donated["hsg.stn.theta.weight"]))
        assert torch.equal(state["hsg.stn.theta.bias"], torch.tensor(GarmentSTN.IDENTITY))
        for key in ("hsg.stn.localization.0.0.weight", "sfe.encoder_prev.layers.0.0.weight"):
            assert torch.equal(state[key], donated[key]), key
    finally:
        trainer.close()
    with pytest.raises(ValueError, match="no submodule named"):
        Trainer(TrainConfig(output=str(tmp_path / "bad"), stage="end2end", init_from=str(tmp_path / "donor"),
                            fresh_modules=("hsg.nothing",), **SMOKE))


def test_resume_refuses_another_stage(tmp_path):
    train(tmp_path, stage="cmn", steps=1)
    with pytest.raises(ValueError, match="stage 'cmn'"):
        Trainer(TrainConfig(output=str(tmp_path), stage="end2end", resume=True, steps=2, **{
            k: v for k, v in SMOKE.items()}))


def test_torchrun_two_cpu_processes_on_gloo_keep_identical_replicas(tmp_path):
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
               "--master_port", str(29500 + os.getpid() % 1000), "-m", "fashionmirror_ros.cli",
               "train", "--stage", "cmn", "--preset", "tiny", "--steps", "3", "--batch-size", "2",
               "--frames", "4", "--train-clips", "8", "--threads", "1", "--log-every", "1",
               "--output", str(tmp_path)]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert result.returncode == 0, result.stderr[-3000:]
    state = json.loads((tmp_path / "final" / "trainer.json").read_text())
    assert state["world_size"] == 2 and state["step"] == 3
    first, second = state["replica_checksums"]
    assert first == pytest.approx(second, rel=1e-12, abs=1e-9)
    assert len(log_rows(tmp_path / "log.csv")) == 3  # rank 0 alone logs


def test_a_resumed_log_forgets_the_steps_after_its_checkpoint(tmp_path):
    from fashionmirror_ros.training.trainer import forget_logged_steps_after

    log = tmp_path / "log.csv"
    log.write_text("step,total\n10,1.0\n20,0.9\n30,0.8\n")
    forget_logged_steps_after(log, 20)
    assert log.read_text().splitlines() == ["step,total", "10,1.0", "20,0.9"]
