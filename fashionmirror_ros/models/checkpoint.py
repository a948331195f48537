"""Checkpoints: safetensors weights + config.json beside them. Nothing is ever unpickled.

Layout of a checkpoint directory:
    model.safetensors   all FashionMirror tensors (keys cmn.*, sfe.*, hsg.*), contiguous, CPU;
                        header metadata (strings): format, preset, and the caller's metadata
                        (values that are not strings are JSON-encoded)
    config.json         {"format_version": 1, "config": ModelConfig.to_dict(), "metadata": {...},
                         "weights_sha256": hex digest of model.safetensors}

``load_checkpoint`` accepts the directory or the .safetensors file (config.json must be in the
same directory) and raises ``CheckpointError`` (a RuntimeError) with a message that names the
problem: missing file or directory, missing or invalid config.json, corrupt or truncated
safetensors file (including a SHA-256 mismatch with config.json, which catches damaged tensor
bytes a header check cannot see, and non-finite weights), preset mismatch, missing/unexpected
keys, shape mismatch (first offending key with both shapes). ``load_state_into`` loads part of a
checkpoint into a single network (the ROS nodes hold only CMN, or only SFE + HSG) with the same
checks; ``load_config`` reads the config alone (to build that network first).
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import Tensor, nn

from .config import ModelConfig
from .mirror import FashionMirror

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
FORMAT_VERSION = 1
_RESERVED_METADATA = ("format", "preset", "format_version")


class CheckpointError(RuntimeError):
    """A checkpoint cannot be used; the message says why."""


def save_checkpoint(directory: str | Path, model: nn.Module, config: ModelConfig,
                    metadata: Mapping[str, Any] | None = None) -> Path:
    """Write <directory>/model.safetensors and <directory>/config.json; returns the directory."""
    from safetensors.torch import save_file

    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    metadata = dict(metadata or {})
    tensors = _contiguous_cpu_tensors(model.state_dict())
    header = {key: value if isinstance(value, str) else json.dumps(value)
              for key, value in metadata.items() if key not in _RESERVED_METADATA}
    header.update(format="pt", preset=config.name, format_version=str(FORMAT_VERSION))
    save_file(tensors, str(directory / WEIGHTS_FILE), metadata=header)
    document = {"format_version": FORMAT_VERSION, "config": config.to_dict(), "metadata": metadata,
                "weights_sha256": file_sha256(directory / WEIGHTS_FILE)}
    (directory / CONFIG_FILE).write_text(json.dumps(document, indent=2, sort_keys=True))
    return directory


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as stream:
        for block in iter(lambda: stream.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _contiguous_cpu_tensors(state: Mapping[str, Tensor]) -> dict[str, Tensor]:
    """safetensors refuses shared storage: tensors that share memory are cloned."""
    tensors: dict[str, Tensor] = {}
    seen: set[int] = set()
    for key, value in state.items():
        tensor = value.detach().to("cpu").contiguous()
        pointer = tensor.untyped_storage().data_ptr()
        if pointer in seen and tensor.numel() > 0:
            tensor = tensor.clone()
        seen.add(tensor.untyped_storage().data_ptr())
        tensors[key] = tensor
    return tensors


def resolve_paths(path: str | Path) -> tuple[Path, Path]:
    """(weights file, config.json) of a checkpoint directory or .safetensors file."""
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"checkpoint not found: {path}")
    weights = path / WEIGHTS_FILE if path.is_dir() else path
    if not weights.is_file():
        raise CheckpointError(f"checkpoint weights file not found: {weights}")
    config_path = weights.parent / CONFIG_FILE
    if not config_path.is_file():
        raise CheckpointError(f"checkpoint config.json not found beside {weights.name}: {config_path}")
    return weights, config_path


def _read_document(config_path: Path) -> dict[str, Any]:
    try:
        document = json.loads(config_path.read_text())
    except (OSError, ValueError) as error:
        raise CheckpointError(f"invalid checkpoint config {config_path}: {error}") from error
    if not isinstance(document, dict) or not isinstance(document.get("config"), dict):
        raise CheckpointError(f"invalid checkpoint config {config_path}: no 'config' section")
    return document


def load_config(path: str | Path) -> tuple[ModelConfig, dict[str, Any]]:
    """(ModelConfig, metadata) of a checkpoint, read from its config.json."""
    _, config_path = resolve_paths(path)
    document = _read_document(config_path)
    try:
        config = ModelConfig.from_dict(document["config"])
    except (ValueError, TypeError) as error:
        raise CheckpointError(f"invalid checkpoint config {config_path}: {error}") from error
    return config, dict(document.get("metadata") or {})


def read_tensors(path: str | Path) -> dict[str, Tensor]:
    """All tensors of a checkpoint's safetensors file.

    CheckpointError if the file is truncated or corrupt: unreadable header or sizes, a
    SHA-256 different from the one config.json recorded, or non-finite floating values.
    """
    from safetensors.torch import load_file

    weights, config_path = resolve_paths(path)
    recorded = _read_document(config_path).get("weights_sha256")
    if recorded is not None and file_sha256(weights) != recorded:
        raise CheckpointError(f"corrupt or truncated safetensors file {weights}: SHA-256 differs "
                              f"from the one recorded in {config_path.name}")
    try:
        tensors = load_file(str(weights), device="cpu")
    except Exception as error:  # safetensors raises its own error types for bad headers/sizes
        raise CheckpointError(f"corrupt or truncated safetensors file {weights}: {error}") from error
    for key, tensor in tensors.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            raise CheckpointError(f"corrupt safetensors file {weights}: non-finite values in {key!r}")
    return tensors


def check_state(module: nn.Module, tensors: Mapping[str, Tensor], source: str) -> None:
    """Raise CheckpointError unless ``tensors`` has exactly the module's keys and shapes."""
    expected = module.state_dict()
    missing = [key for key in expected if key not in tensors]
    unexpected = [key for key in tensors if key not in expected]
    if missing:
        raise CheckpointError(f"{source}: {len(missing)} missing keys, first: {missing[0]!r}")
    if unexpected:
        raise CheckpointError(f"{source}: {len(unexpected)} unexpected keys, first: {unexpected[0]!r}")
    for key, target in expected.items():
        if tuple(tensors[key].shape) != tuple(target.shape):
            raise CheckpointError(f"{source}: shape mismatch for {key!r}: checkpoint "
                                  f"{tuple(tensors[key].shape)}, model {tuple(target.shape)}")


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu",
                    expected_preset: str | None = None) -> tuple[FashionMirror, ModelConfig, dict[str, Any]]:
    """(model in eval mode on ``device``, its config, its metadata)."""
    config, metadata = load_config(path)
    if expected_preset is not None and config.name != expected_preset:
        raise CheckpointError(f"preset mismatch: checkpoint {path} holds preset {config.name!r}, "
                              f"expected {expected_preset!r}")
    tensors = read_tensors(path)
    model = FashionMirror(config)
    check_state(model, tensors, str(path))
    model.load_state_dict(tensors, strict=True)
    return model.to(device).eval(), config, metadata


def load_state_into(module: nn.Module, path: str | Path, prefix: str = "") -> None:
    """Load the tensors under ``prefix`` (e.g. "cmn.", "sfe.", "hsg.") into ``module``.

    The prefix is stripped; keys and shapes must match the module exactly.
    """
    tensors = read_tensors(path)
    selected = {key[len(prefix):]: value for key, value in tensors.items() if key.startswith(prefix)}
    check_state(module, selected, f"{path} [{prefix or 'all'}]")
    module.load_state_dict(selected, strict=True)
