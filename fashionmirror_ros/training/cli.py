"""`fashionmirror train`: stage cmn first, then end2end (paper 4.1). Works under torchrun.

The options are TrainConfig's fields (training/trainer.py), each written once there with its
help text: --field-name unless the field names another flag, and fields that say so are not
offered. A tuple field takes any number of values; a dict field takes repeated NAME=VALUE.
"""
from __future__ import annotations

import argparse
import dataclasses
import types
import typing

from fashionmirror_ros.training.trainer import TrainConfig, Trainer


def _name_and_number(text: str) -> tuple[str, float]:
    """NAME=VALUE -> (NAME, float(VALUE)): one entry of a dict field (a LossConfig weight)."""
    key, _, value = text.partition("=")
    if not value:
        raise argparse.ArgumentTypeError(f"expected NAME=VALUE, got {text!r}")
    return key, float(value)


def command_line_fields() -> list[tuple[dataclasses.Field, type]]:
    """TrainConfig's fields the command line offers, each with its type (None taken out of
    optional ones: `int | None` -> int)."""
    hints = typing.get_type_hints(TrainConfig)
    offered = []
    for config_field in dataclasses.fields(TrainConfig):
        if not config_field.metadata.get("on_command_line", True):
            continue
        field_type = hints[config_field.name]
        if isinstance(field_type, types.UnionType):
            field_type = next(arg for arg in typing.get_args(field_type) if arg is not type(None))
        offered.append((config_field, field_type))
    return offered


def flag_of(config_field: dataclasses.Field) -> str:
    return config_field.metadata.get("flag") or "--" + config_field.name.replace("_", "-")


def _argument_options(config_field: dataclasses.Field, field_type: type) -> dict:
    """add_argument's keywords for one field; dest is the field's name."""
    metadata = config_field.metadata
    options = {"dest": config_field.name, "help": metadata.get("help")}
    if metadata.get("required"):
        options["required"] = True
    if field_type is bool:
        return {**options, "action": "store_true"}
    if typing.get_origin(field_type) is tuple:
        return {**options, "nargs": "*", "default": [], "choices": metadata.get("choices")}
    if field_type is dict:
        return {**options, "type": _name_and_number, "action": "append", "default": [],
                "metavar": "NAME=VALUE"}
    default = config_field.default
    options.update(default=None if default is dataclasses.MISSING else default,
                   type=field_type if field_type in (int, float) else None)
    if metadata.get("choices"):
        return {**options, "choices": metadata["choices"]}
    # What argparse would show had dest stayed the flag's own name (--frames FRAMES).
    return {**options, "metavar": flag_of(config_field)[2:].replace("-", "_").upper()}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for config_field, field_type in command_line_fields():
        parser.add_argument(flag_of(config_field), **_argument_options(config_field, field_type))


def config_from_arguments(args: argparse.Namespace) -> TrainConfig:
    values = {}
    for config_field, field_type in command_line_fields():
        value = getattr(args, config_field.name)
        if typing.get_origin(field_type) is tuple:
            value = tuple(value)
        elif field_type is dict:
            value = dict(value)
        values[config_field.name] = value
    return TrainConfig(**values)


def run(args: argparse.Namespace) -> int:
    config = config_from_arguments(args)
    trainer = Trainer(config)
    try:
        final = trainer.train()
    finally:
        trainer.close()
    summary = {k: round(v, 5) for k, v in final.items()}
    print(f"train {config.stage}: done at step {trainer.step}: {summary}")
    return 0
