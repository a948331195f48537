"""The trainer: owns the model, the optimiser, the data, the log and the checkpoints.

Runs the same under `torchrun --nproc_per_node N` (DistributedDataParallel; gloo on CPU, nccl on
CUDA): each process draws its share of the samples, gradients are averaged in backward, and
rank 0 alone writes logs and checkpoints. Progress: a tqdm bar with loss and samples/s;
<output>/log.csv one row per logged step; <output>/loss_curve.png; <output>/latest/ a loadable
checkpoint plus optimiser state for --resume; <output>/final/ when the run ends.
"""
from __future__ import annotations

import csv
import dataclasses
import json
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel
from torch.utils.data import DataLoader, DistributedSampler, RandomSampler
from tqdm import tqdm

from fashionmirror_ros.data.clips import FRAMES_PER_SAMPLE, MAX_SKIP, ClipSampleDataset
from fashionmirror_ros.models.checkpoint import load_state_into, save_checkpoint
from fashionmirror_ros.models.config import ABLATIONS, PRESETS, ModelConfig, get_preset, tiny_config
from fashionmirror_ros.models.mirror import FashionMirror
from fashionmirror_ros.pipeline.sessions import select_device
from fashionmirror_ros.training.state import (load_optimizer, load_trainer_state, save_optimizer,
                                              save_trainer_state)
from fashionmirror_ros.training.steps import STAGES, EndToEndStep, trainable_parameters

NETWORKS = ("cmn", "sfe", "hsg")
LATEST = "latest"
FINAL = "final"
SMOKE_PRESET = "tiny"  # tests and smoke runs only: tiny_config() at 64 px


def option(default=dataclasses.MISSING, *, default_factory=dataclasses.MISSING, help: str | None = None,
           flag: str | None = None, choices: tuple | None = None, required: bool = False,
           on_command_line: bool = True):
    """A TrainConfig field with what `fashionmirror train` needs to offer it (training/cli.py
    builds its options from these): help text, a flag other than --field-name, choices, whether
    the command line must give it, or that the command line does not offer it at all."""
    metadata = {"help": help, "flag": flag, "choices": choices, "required": required,
                "on_command_line": on_command_line}
    return field(default=default, default_factory=default_factory, metadata=metadata)


@dataclass
class TrainConfig:
    stage: str = option("cmn", choices=tuple(STAGES), required=True)  # "cmn" or "end2end"
    preset: str = option("realtime", choices=tuple(sorted(PRESETS)) + tuple(sorted(ABLATIONS)) + (SMOKE_PRESET,),
                         help="model preset; realtime_* are the ablation variants of issue 11 "
                              "('tiny': 64 px, for tests and smoke runs only)")
    output: str = option("runs/realtime", help="run folder (log, curve, checkpoints)")
    steps: int = 1000
    batch_size: int = 4  # per process; the paper: 4 on two GPUs
    frames_per_sample: int = option(FRAMES_PER_SAMPLE, flag="--frames",
                                    help="frames per training sample (paper: 6)")
    max_skip: int = MAX_SKIP  # the paper: 0-2 random skips between consecutive frames
    learning_rate: float = option(1e-4, flag="--lr")  # the paper: Adam, 1e-4
    data: str = option("synthetic", help="'synthetic' or the root folder of FashionVideo (UBC Fashion)")
    train_clips: int = 2000
    clip_frames: int = option(60, on_command_line=False)  # frames of each generated clip
    workers: int = 0
    log_every: int = 10
    checkpoint_every: int = 200
    init_from: str | None = option(None, help="checkpoint to start from")  # e.g. the cmn stage's final
    init_networks: tuple[str, ...] = option(
        (), choices=NETWORKS, help="take only these networks from --init-from (default: all)")
    fresh_modules: tuple[str, ...] = option(
        (), help="submodules (e.g. hsg.stn.theta) that keep their fresh initialisation after "
                 "--init-from")
    tryon_share: float = option(
        0.0, help="share of samples wearing another clip's garment (generated data)")
    # as the live path's body-only pose estimator gives them
    body_only_share: float = option(
        0.0, help="share of samples with body keypoints only (no hands, no face)")
    source_move_share: float = option(
        0.0, help="share of samples whose frame-0 person stands elsewhere (data/source_move.py)")
    resume: bool = option(False, help="continue from <output>/latest")
    seed: int = 0
    device: str = "auto"
    threads: int | None = None
    # for the perceptual losses
    vgg_weights: str | None = option(None, help="local torchvision VGG19 weight file")
    # LossConfig fields, e.g. human_style=0
    loss_overrides: dict = option(default_factory=dict, flag="--loss",
                                  help="override a LossConfig weight (repeatable)")
    max_minutes: float | None = None  # stop (and checkpoint) after this much wall time

    def __post_init__(self) -> None:
        if self.stage not in STAGES:
            raise ValueError(f"stage must be one of {sorted(STAGES)}, got {self.stage!r}")
        unknown = sorted(set(self.init_networks) - set(NETWORKS))
        if unknown:
            raise ValueError(f"init_networks: unknown networks {unknown}; valid: {list(NETWORKS)}")


def fresh_state(model: torch.nn.Module, modules: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """Copies of the parameters and buffers of ``modules`` (dotted names) as constructed."""
    named = dict(model.named_modules())
    unknown = [name for name in modules if name not in named]
    if unknown:
        raise ValueError(f"fresh_modules: no submodule named {unknown}")
    return {f"{name}.{key}": value.detach().clone()
            for name in modules for key, value in named[name].state_dict().items()}


def model_config(config: TrainConfig) -> ModelConfig:
    preset = tiny_config() if config.preset == SMOKE_PRESET else get_preset(config.preset)
    loss = dataclasses.replace(preset.loss, **config.loss_overrides)
    return dataclasses.replace(preset, loss=loss)


def training_clips(config: TrainConfig, image_size: int):
    if config.data == "synthetic":
        from fashionmirror_ros.data.synthetic import SyntheticFashionVideo

        return SyntheticFashionVideo("train", config.train_clips, num_frames=config.clip_frames,
                                     image_size=image_size)
    from fashionmirror_ros.data.fashionvideo import FashionVideoDataset

    return FashionVideoDataset(config.data, "train", image_size=image_size)


def plot_losses(log_path: Path, png_path: Path) -> None:
    """The curve of each logged total (the run's and each stage part's), against the step."""
    from fashionmirror_ros.evaluation.plots import loss_curve

    with log_path.open() as handle:
        rows = list(csv.DictReader(handle))
    columns = [name for name in (rows[0] if rows else {}) if name.endswith("total")]
    series = {name: ([int(r["step"]) for r in rows], [float(r[name]) for r in rows]) for name in columns}
    loss_curve(series, png_path, log_y=True)


def forget_logged_steps_after(log_path: Path, step: int) -> None:
    """Drop the log rows of steps after ``step``: a resumed run repeats them from its checkpoint,
    and the log must read as one run."""
    if not log_path.exists():
        return
    with log_path.open() as handle:
        rows = list(csv.reader(handle))
    if not rows:
        return
    kept = [rows[0]] + [row for row in rows[1:] if row and int(row[0]) <= step]
    if len(kept) != len(rows):
        with log_path.open("w", newline="") as handle:
            csv.writer(handle).writerows(kept)


class Distributed:
    """torchrun's environment, or a single process."""

    def __init__(self, device_name: str):
        self.world_size = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank = int(os.environ.get("RANK", "0"))
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        self.device = select_device(device_name)
        if self.device.type == "cuda" and self.device.index is None:
            self.device = torch.device("cuda", local_rank)
        if self.world_size > 1 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def gather(self, value: float) -> list[float]:
        if self.world_size == 1:
            return [value]
        values = [torch.zeros(1, dtype=torch.float64) for _ in range(self.world_size)]
        dist.all_gather(values, torch.tensor([value], dtype=torch.float64))
        return [float(v.item()) for v in values]

    def mean(self, value: float) -> float:
        if self.world_size == 1:
            return value
        tensor = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(tensor)
        return float(tensor.item()) / self.world_size

    def close(self) -> None:
        if self.world_size > 1 and dist.is_initialized():
            # rank 0 still writes the final checkpoint when the others get here; tearing gloo down
            # under it aborted a rank ("terminate called without an active exception", CI)
            dist.barrier()
            dist.destroy_process_group()


class Trainer:
    def __init__(self, config: TrainConfig):
        self.config = config
        if config.threads:
            torch.set_num_threads(config.threads)
        torch.manual_seed(config.seed)
        self.dist = Distributed(config.device)
        self.output = Path(config.output)
        self.model_config = model_config(config)
        self.model = FashionMirror(self.model_config).to(self.dist.device)
        fresh = fresh_state(self.model, config.fresh_modules)
        if config.init_from and not config.init_networks:
            load_state_into(self.model, config.init_from)
        for name in config.init_networks if config.init_from else ():
            load_state_into(getattr(self.model, name), config.init_from, prefix=f"{name}.")
        self.model.load_state_dict(fresh, strict=False)
        parameters = trainable_parameters(self.model, config.stage)
        self.step_module = (EndToEndStep(self.model, config.vgg_weights) if config.stage == "end2end"
                            else STAGES[config.stage](self.model)).to(self.dist.device)
        self.runner = (DistributedDataParallel(self.step_module) if self.dist.world_size > 1
                       else self.step_module)
        self.optimizer = torch.optim.Adam(parameters, lr=config.learning_rate)
        self.dataset = ClipSampleDataset(training_clips(config, self.model_config.image_size),
                                         config.frames_per_sample, config.max_skip, seed=config.seed,
                                         tryon_share=config.tryon_share if config.data == "synthetic" else 0.0,
                                         body_only_share=config.body_only_share,
                                         source_move_share=config.source_move_share)
        self.step = 0
        if config.resume and (self.output / LATEST).exists():
            self._resume(self.output / LATEST)

    # ---- data ---------------------------------------------------------------------------
    def _loader(self, epoch: int) -> DataLoader:
        self.dataset.set_epoch(epoch)
        if self.dist.world_size > 1:
            sampler = DistributedSampler(self.dataset, self.dist.world_size, self.dist.rank,
                                         shuffle=True, seed=self.config.seed)
            sampler.set_epoch(epoch)
        else:
            generator = torch.Generator().manual_seed(self.config.seed + epoch)
            sampler = RandomSampler(self.dataset, generator=generator)
        return DataLoader(self.dataset, batch_size=self.config.batch_size, sampler=sampler,
                          num_workers=self.config.workers, drop_last=True)

    def batches(self):
        samples_per_epoch = len(self.dataset) // max(1, self.dist.world_size)
        epoch = self.step * self.config.batch_size // max(1, samples_per_epoch)
        while True:
            for batch in self._loader(epoch):
                yield {key: value.to(self.dist.device, non_blocking=True) for key, value in batch.items()}
            epoch += 1

    # ---- checkpoints --------------------------------------------------------------------
    def replica_checksum(self) -> float:
        """A position-weighted sum of all weights: equal on every process iff replicas agree."""
        with torch.no_grad():
            return float(sum(p.double().flatten().mul(torch.arange(1, p.numel() + 1, dtype=torch.float64)
                                                      .remainder(7).add(1)).sum()
                             for p in self.model.parameters()))

    def save(self, name: str) -> Path:
        directory = self.output / name
        checksums = self.dist.gather(self.replica_checksum())  # every rank takes part
        if not self.dist.is_main:
            return directory
        staging = self.output / f".{name}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        save_checkpoint(staging, self.model, self.model_config,
                        {"stage": self.config.stage, "step": self.step,
                         "train_config": json.dumps(dataclasses.asdict(self.config))})
        save_optimizer(staging, self.optimizer)
        save_trainer_state(staging, self.optimizer, step=self.step, stage=self.config.stage,
                           seed=self.config.seed, world_size=self.dist.world_size,
                           replica_checksums=checksums)
        shutil.rmtree(directory, ignore_errors=True)
        staging.rename(directory)  # a crash mid-save never leaves a half-written checkpoint
        return directory

    def _resume(self, directory: Path) -> None:
        state = load_trainer_state(directory)
        if state["stage"] != self.config.stage:
            raise ValueError(f"{directory} holds stage {state['stage']!r}, not {self.config.stage!r}")
        load_state_into(self.model, directory)
        load_optimizer(directory, self.optimizer, state["param_groups"])
        self.step = int(state["step"])
        if self.dist.is_main:
            forget_logged_steps_after(self.output / "log.csv", self.step)

    # ---- the loop -----------------------------------------------------------------------
    def train(self) -> dict[str, float]:
        config = self.config
        self.output.mkdir(parents=True, exist_ok=True)
        log_path = self.output / "log.csv"
        started = time.monotonic()
        progress = tqdm(total=config.steps, initial=self.step, disable=not self.dist.is_main,
                        desc=f"train {config.stage}", dynamic_ncols=True)
        window_start, window_samples, last = time.monotonic(), 0, {}
        self.runner.train()
        for batch in self.batches():
            if self.step >= config.steps:
                break
            losses = self.runner(batch)
            if not torch.isfinite(losses["total"]):
                raise FloatingPointError(f"loss is {losses['total'].item()} at step {self.step}")
            self.optimizer.zero_grad(set_to_none=True)
            losses["total"].backward()
            self.optimizer.step()
            self.step += 1
            window_samples += config.batch_size * self.dist.world_size
            if self.step % config.log_every == 0 or self.step == config.steps:
                elapsed = time.monotonic() - window_start
                last = {key: self.dist.mean(float(value.detach())) for key, value in losses.items()}
                last["samples_per_s"] = window_samples / max(elapsed, 1e-9)
                if self.dist.is_main:
                    self._log_row(log_path, last, time.monotonic() - started)
                    progress.set_postfix(loss=f"{last['total']:.4f}", sps=f"{last['samples_per_s']:.2f}")
                window_start, window_samples = time.monotonic(), 0
            progress.update(1)
            if self.step % config.checkpoint_every == 0:
                self.save(LATEST)
                self.plot(log_path)
            if config.max_minutes and (time.monotonic() - started) / 60 > config.max_minutes:
                break
        progress.close()
        self.save(LATEST)
        final = self.save(FINAL)
        self.plot(log_path)
        if self.dist.is_main:
            print(f"saved {final} at step {self.step}", flush=True)
        return last

    def _log_row(self, path: Path, values: dict[str, float], elapsed_s: float) -> None:
        row = {"step": self.step, "elapsed_s": round(elapsed_s, 2), **values}
        new = not path.exists()
        if not new:
            with path.open() as handle:
                header = next(csv.reader(handle), [])
            if header != list(row):
                new = True  # a changed set of terms (e.g. a new stage) starts a fresh file
                path.rename(path.with_suffix(f".{int(time.time())}.csv"))
        with path.open("a", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=list(row))
            if new:
                writer.writeheader()
            writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) and math.isfinite(v) else v)
                             for k, v in row.items()})

    def plot(self, log_path: Path) -> None:
        if not self.dist.is_main or not log_path.exists():
            return
        plot_losses(log_path, self.output / "loss_curve.png")

    def close(self) -> None:
        self.dist.close()
