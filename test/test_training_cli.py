"""`fashionmirror train`'s options come from TrainConfig's fields: the same flags as before they
were derived, and a command line gives the TrainConfig it spells out."""
import argparse

import pytest

from fashionmirror_ros.training.cli import add_arguments, config_from_arguments
from fashionmirror_ros.training.trainer import TrainConfig

# The flags `fashionmirror train` offered when each one was still written out by hand, and those
# added since (--source-move-share, --fresh-modules).
FLAGS = {"--source-move-share", "--fresh-modules", "--stage", "--preset", "--output", "--steps", "--batch-size", "--frames", "--max-skip", "--lr",
         "--data", "--train-clips", "--workers", "--log-every", "--checkpoint-every", "--init-from",
         "--init-networks", "--tryon-share", "--body-only-share", "--resume", "--seed", "--device",
         "--threads", "--vgg-weights", "--loss", "--max-minutes"}


def parser() -> argparse.ArgumentParser:
    made = argparse.ArgumentParser(prog="fashionmirror train")
    add_arguments(made)
    return made


def parse(*words: str) -> TrainConfig:
    return config_from_arguments(parser().parse_args(list(words)))


def test_the_flags_are_the_ones_written_out_before():
    offered = {flag for action in parser()._actions for flag in action.option_strings}
    assert offered - {"-h", "--help"} == FLAGS


def test_a_full_command_line_gives_the_config_it_spells_out():
    config = parse(
        "--stage", "end2end", "--preset", "tiny", "--output", "runs/x", "--steps", "7",
        "--batch-size", "3", "--frames", "5", "--max-skip", "1", "--lr", "0.002", "--data", "/data/ubc",
        "--train-clips", "40", "--workers", "2", "--log-every", "4", "--checkpoint-every", "9",
        "--init-from", "runs/cmn/final", "--init-networks", "cmn", "hsg", "--fresh-modules", "hsg.stn.theta", "--tryon-share", "0.25",
        "--body-only-share", "0.5", "--source-move-share", "0.4", "--resume", "--seed", "11", "--device", "cpu", "--threads", "2",
        "--vgg-weights", "/w/vgg19.pth", "--loss", "human_style=0", "--loss", "cloth_l1=2.5",
        "--max-minutes", "1.5")
    assert config == TrainConfig(
        stage="end2end", preset="tiny", output="runs/x", steps=7, batch_size=3, frames_per_sample=5,
        max_skip=1, learning_rate=0.002, data="/data/ubc", train_clips=40, workers=2, log_every=4,
        checkpoint_every=9, init_from="runs/cmn/final", init_networks=("cmn", "hsg"),
        fresh_modules=("hsg.stn.theta",), tryon_share=0.25, body_only_share=0.5, source_move_share=0.4, resume=True, seed=11, device="cpu", threads=2,
        vgg_weights="/w/vgg19.pth", loss_overrides={"human_style": 0.0, "cloth_l1": 2.5},
        max_minutes=1.5)
    assert isinstance(config.init_networks, tuple) and isinstance(config.steps, int)


def test_flags_left_out_keep_the_config_defaults():
    assert parse("--stage", "cmn") == TrainConfig(stage="cmn")
    assert parse("--stage", "end2end", "--init-networks").init_networks == ()


@pytest.mark.parametrize("words", [
    [],  # --stage is required
    ["--stage", "gan"],
    ["--stage", "cmn", "--preset", "huge"],
    ["--stage", "cmn", "--init-networks", "vgg"],
    ["--stage", "cmn", "--loss", "human_style"],
    ["--stage", "cmn", "--steps", "many"],
    ["--stage", "cmn", "--clip-frames", "12"],  # not offered on the command line
])
def test_bad_command_lines_are_refused(words, capsys):
    with pytest.raises(SystemExit) as refused:
        parser().parse_args(words)
    assert refused.value.code == 2
    assert "error:" in capsys.readouterr().err
