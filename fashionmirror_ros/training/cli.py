"""`fashionmirror train`: stage cmn first, then end2end (paper 4.1). Works under torchrun."""
from __future__ import annotations

import argparse

from fashionmirror_ros.models.config import ABLATIONS, PRESETS
from fashionmirror_ros.training.trainer import TrainConfig, Trainer


def _loss_override(text: str) -> tuple[str, float]:
    key, _, value = text.partition("=")
    if not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, float(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainConfig()
    parser.add_argument("--stage", choices=("cmn", "end2end"), required=True)
    parser.add_argument("--preset", default=defaults.preset,
                        choices=sorted(PRESETS) + sorted(ABLATIONS) + ["tiny"],
                        help="model preset; realtime_* are the ablation variants of issue 11 "
                             "('tiny': 64 px, for tests and smoke runs only)")
    parser.add_argument("--output", default=defaults.output, help="run folder (log, curve, checkpoints)")
    parser.add_argument("--steps", type=int, default=defaults.steps)
    parser.add_argument("--batch-size", type=int, default=defaults.batch_size)
    parser.add_argument("--frames", type=int, default=defaults.frames_per_sample,
                        help="frames per training sample (paper: 6)")
    parser.add_argument("--max-skip", type=int, default=defaults.max_skip)
    parser.add_argument("--lr", type=float, default=defaults.learning_rate)
    parser.add_argument("--data", default=defaults.data,
                        help="'synthetic' or the root folder of FashionVideo (UBC Fashion)")
    parser.add_argument("--train-clips", type=int, default=defaults.train_clips)
    parser.add_argument("--workers", type=int, default=defaults.workers)
    parser.add_argument("--log-every", type=int, default=defaults.log_every)
    parser.add_argument("--checkpoint-every", type=int, default=defaults.checkpoint_every)
    parser.add_argument("--init-from", default=None, help="checkpoint to start from")
    parser.add_argument("--init-networks", nargs="*", default=[], choices=("cmn", "sfe", "hsg"),
                        help="take only these networks from --init-from (default: all)")
    parser.add_argument("--tryon-share", type=float, default=defaults.tryon_share,
                        help="share of samples wearing another clip's garment (generated data)")
    parser.add_argument("--body-only-share", type=float, default=defaults.body_only_share,
                        help="share of samples with body keypoints only (no hands, no face)")
    parser.add_argument("--resume", action="store_true", help="continue from <output>/latest")
    parser.add_argument("--seed", type=int, default=defaults.seed)
    parser.add_argument("--device", default=defaults.device)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--vgg-weights", default=None, help="local torchvision VGG19 weight file")
    parser.add_argument("--loss", type=_loss_override, action="append", default=[],
                        metavar="NAME=VALUE", help="override a LossConfig weight (repeatable)")
    parser.add_argument("--max-minutes", type=float, default=None)


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(
        stage=args.stage, preset=args.preset, output=args.output, steps=args.steps,
        batch_size=args.batch_size, frames_per_sample=args.frames, max_skip=args.max_skip,
        learning_rate=args.lr, data=args.data, train_clips=args.train_clips, workers=args.workers,
        log_every=args.log_every, checkpoint_every=args.checkpoint_every, init_from=args.init_from,
        init_networks=tuple(args.init_networks), tryon_share=args.tryon_share,
        body_only_share=args.body_only_share,
        resume=args.resume, seed=args.seed, device=args.device, threads=args.threads,
        vgg_weights=args.vgg_weights, loss_overrides=dict(args.loss), max_minutes=args.max_minutes)
    trainer = Trainer(config)
    try:
        final = trainer.train()
    finally:
        trainer.close()
    summary = {k: round(v, 5) for k, v in final.items()}
    print(f"train {config.stage}: done at step {trainer.step}: {summary}")
    return 0


