"""Resumable training state without pickles: optimiser tensors in safetensors, the rest in JSON.

<run>/latest/ holds model.safetensors + config.json (a normal checkpoint the nodes can load),
optimizer.safetensors (Adam moments per parameter index) and trainer.json (step, stage,
hyper-parameters of the parameter groups, RNG seeds).
"""
from __future__ import annotations

import json
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

OPTIMIZER_FILE = "optimizer.safetensors"
TRAINER_FILE = "trainer.json"


def save_optimizer(directory: Path, optimizer: torch.optim.Optimizer) -> None:
    state = optimizer.state_dict()
    tensors = {}
    for index, values in state["state"].items():
        for name, value in values.items():
            tensor = value if torch.is_tensor(value) else torch.tensor(value)
            tensors[f"{index}.{name}"] = tensor.detach().cpu().contiguous()
    save_file(tensors, str(directory / OPTIMIZER_FILE))


def load_optimizer(directory: Path, optimizer: torch.optim.Optimizer, param_groups: list[dict]) -> None:
    tensors = load_file(str(directory / OPTIMIZER_FILE))
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, tensor in tensors.items():
        index, name = key.split(".", 1)
        state.setdefault(int(index), {})[name] = tensor
    optimizer.load_state_dict({"state": state, "param_groups": param_groups})


def save_trainer_state(directory: Path, optimizer: torch.optim.Optimizer, **fields) -> None:
    groups = optimizer.state_dict()["param_groups"]
    (directory / TRAINER_FILE).write_text(json.dumps({**fields, "param_groups": groups}, indent=2))


def load_trainer_state(directory: Path) -> dict:
    return json.loads((directory / TRAINER_FILE).read_text())
