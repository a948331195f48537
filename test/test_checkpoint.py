"""Checkpoints: safetensors + config.json round trip and every failure mode."""
import json

import pytest
import torch

from fashionmirror_ros.models import (
    CheckpointError,
    CoAttentionMaskNetwork,
    FashionMirror,
    load_checkpoint,
    load_config,
    load_state_into,
    save_checkpoint,
    tiny_config,
)
from fashionmirror_ros.models.checkpoint import CONFIG_FILE, WEIGHTS_FILE
from fashionmirror_ros.models.mirror import SessionInputs

SIZE = 64


pytestmark = pytest.mark.usefixtures("single_torch_thread")


def _inputs():
    generator = torch.Generator().manual_seed(0)
    rand = lambda *shape: torch.rand(*shape, generator=generator)  # noqa: E731
    return {"image": rand(1, 3, SIZE, SIZE), "garment": rand(1, 3, SIZE, SIZE),
            "mask": rand(1, 1, SIZE, SIZE), "skeleton_a": rand(1, 3, SIZE, SIZE),
            "skeleton_b": rand(1, 3, SIZE, SIZE)}


def _outputs(model, x):
    inputs = SessionInputs(x["image"], x["mask"], x["garment"], torch.zeros(1, 137, 3), x["skeleton_a"],
                           x["mask"], x["image"], x["mask"])
    with torch.no_grad():
        masks = model.masks_single(x["image"], x["garment"])
        step, _ = model.step(model.encode_session(inputs), model.first_state(inputs),
                             torch.zeros(1, 137, 3), x["skeleton_b"], x["mask"])
    return (*masks, step.image)


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    config = tiny_config(SIZE)
    model = FashionMirror(config)
    # make BatchNorm statistics non-trivial so the round trip covers buffers too
    model.train()
    x = _inputs()
    with torch.no_grad():
        model.masks_single(x["image"], x["garment"])
    model.eval()
    directory = save_checkpoint(tmp_path / "ckpt", model, config, {"step": 12, "note": "unit test"})
    return directory, model, config


def test_round_trip_gives_identical_outputs_and_metadata(saved):
    directory, model, config = saved
    assert (directory / WEIGHTS_FILE).is_file() and (directory / CONFIG_FILE).is_file()
    for path in (directory, directory / WEIGHTS_FILE):
        loaded, loaded_config, metadata = load_checkpoint(path, expected_preset="tiny")
        assert loaded_config == config and not loaded.training
        assert metadata == {"step": 12, "note": "unit test"}
        for before, after in zip(_outputs(model, _inputs()), _outputs(loaded, _inputs())):
            assert torch.equal(before, after)


def test_safetensors_header_carries_preset_and_metadata(saved):
    from safetensors import safe_open

    directory, _, _ = saved
    with safe_open(str(directory / WEIGHTS_FILE), framework="pt") as handle:
        header = handle.metadata()
    assert header["preset"] == "tiny" and header["step"] == "12" and header["note"] == "unit test"


def test_partial_load_into_a_single_network(saved):
    directory, model, config = saved
    cmn = CoAttentionMaskNetwork(config.cmn).eval()
    load_state_into(cmn, directory, prefix="cmn.")
    x = _inputs()
    with torch.no_grad():
        assert torch.equal(cmn(x["image"], x["garment"])[1], model.cmn(x["image"], x["garment"])[1])
    assert load_config(directory)[0] == config
    with pytest.raises(CheckpointError, match="missing keys"):
        load_state_into(cmn, directory, prefix="hsg.")


def test_wrong_preset_raises(saved):
    directory, _, _ = saved
    with pytest.raises(CheckpointError, match="preset mismatch.*'tiny'.*'realtime'"):
        load_checkpoint(directory, expected_preset="realtime")


def test_missing_file_directory_and_config_raise(saved, tmp_path):
    directory, _, _ = saved
    with pytest.raises(CheckpointError, match="not found"):
        load_checkpoint(tmp_path / "nowhere")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="weights file not found"):
        load_checkpoint(empty)
    (directory / CONFIG_FILE).unlink()
    with pytest.raises(CheckpointError, match="config.json not found"):
        load_checkpoint(directory)


def test_invalid_config_json_raises(saved):
    directory, _, _ = saved
    (directory / CONFIG_FILE).write_text("{not json")
    with pytest.raises(CheckpointError, match="invalid checkpoint config"):
        load_checkpoint(directory)


def test_truncated_file_raises(saved):
    directory, _, _ = saved
    weights = directory / WEIGHTS_FILE
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(directory)


def _drop_checksum(directory):
    document = json.loads((directory / CONFIG_FILE).read_text())
    del document["weights_sha256"]
    (directory / CONFIG_FILE).write_text(json.dumps(document))


def test_truncated_or_corrupt_file_raises_without_a_recorded_checksum(saved):
    directory, _, _ = saved
    _drop_checksum(directory)
    weights = directory / WEIGHTS_FILE
    data = weights.read_bytes()
    weights.write_bytes(data[:-100])
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(directory)
    weights.write_bytes(b"\xff" * 8 + data[8:])  # header length field destroyed
    with pytest.raises(CheckpointError, match="corrupt or truncated"):
        load_checkpoint(directory)


def test_corrupt_tensor_bytes_are_caught_by_the_checksum(saved):
    directory, _, _ = saved
    weights = directory / WEIGHTS_FILE
    data = bytearray(weights.read_bytes())
    data[-16:] = b"\x00" * 16  # plausible floats, wrong values
    weights.write_bytes(bytes(data))
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(directory)


def test_non_finite_weights_raise(tmp_path):
    config = tiny_config(SIZE)
    model = FashionMirror(config)
    with torch.no_grad():
        model.hsg.to_rgb.bias.fill_(float("nan"))
    directory = save_checkpoint(tmp_path / "nan", model, config, {})
    with pytest.raises(CheckpointError, match="non-finite.*hsg.to_rgb.bias"):
        load_checkpoint(directory)


def _edit_config(directory, section, key, value):
    document = json.loads((directory / CONFIG_FILE).read_text())
    document["config"][section][key] = value
    (directory / CONFIG_FILE).write_text(json.dumps(document))


def test_shape_mismatch_names_the_key_and_both_shapes(saved):
    directory, _, _ = saved
    _edit_config(directory, "hsg", "stn_hidden", 12)
    with pytest.raises(CheckpointError, match=r"shape mismatch for 'hsg\.stn\.localization\.0\.0\.weight'"
                                              r": checkpoint \(8, 32, 3, 3\), model \(12, 32, 3, 3\)"):
        load_checkpoint(directory)


def test_missing_keys_raise(saved):
    directory, _, _ = saved
    _edit_config(directory, "cmn", "stage_blocks", [2, 1, 1, 1])  # the model gains a block
    with pytest.raises(CheckpointError, match=r"missing keys, first: 'cmn\.encoder\.backbone\.layer1\.1\."):
        load_checkpoint(directory)


def test_unexpected_keys_raise(tmp_path):
    import dataclasses

    base = tiny_config(SIZE)
    deeper = dataclasses.replace(base, cmn=dataclasses.replace(base.cmn, stage_blocks=(2, 1, 1, 1)))
    directory = save_checkpoint(tmp_path / "deeper", FashionMirror(deeper), deeper, {})
    _edit_config(directory, "cmn", "stage_blocks", [1, 1, 1, 1])  # the model lacks that block
    with pytest.raises(CheckpointError, match=r"unexpected keys, first: 'cmn\.encoder\.backbone\.layer1\.1\."):
        load_checkpoint(directory)


def test_zeroed_parts_switch_back_exactly_the_named_part(tmp_path):
    """scripts/zeroed_parts.py: each variant equals the checkpoint except the part it names, which
    is at its untrained start (residual heads zero, logits zero, STN at the identity)."""
    import subprocess
    import sys
    from pathlib import Path

    config = tiny_config(prior=True)
    torch.manual_seed(0)
    model = FashionMirror(config)
    with torch.no_grad():  # a "trained" model: no parameter at its initial value
        for parameter in model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.1)
    save_checkpoint(tmp_path / "trained", model, config)
    script = Path(__file__).resolve().parents[1] / "scripts" / "zeroed_parts.py"
    done = subprocess.run([sys.executable, str(script), str(tmp_path / "trained"), str(tmp_path / "zeroed")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    original = model.state_dict()
    changed_by = {
        "no_residual": ("sfe.heads.8.flow.", "sfe.heads.8.source_flow.", "sfe.heads.4.flow.",
                        "sfe.heads.4.source_flow."),
        "no_logits": ("hsg.to_rgb.",),
        "no_stn": ("hsg.stn.theta.",),
    }
    for name, prefixes in changed_by.items():
        variant, _, _ = load_checkpoint(tmp_path / "zeroed" / name)
        state = variant.state_dict()
        changed = {key for key in original if not torch.equal(original[key], state[key])}
        assert changed and all(key.startswith(prefixes) for key in changed), (name, sorted(changed))
    state = load_checkpoint(tmp_path / "zeroed" / "none_learned")[0].state_dict()
    assert torch.count_nonzero(state["sfe.heads.4.flow.weight"]) == 0
    logits = state["hsg.to_rgb.weight"].view(6, -1, *state["hsg.to_rgb.weight"].shape[1:])[3:]
    assert torch.count_nonzero(logits) == 0 and torch.equal(state["hsg.to_rgb.weight"][:12],
                                                            original["hsg.to_rgb.weight"][:12])
    assert state["hsg.stn.theta.bias"].tolist() == [1.0, 0.0, 0.0, 0.0, 1.0, 0.0]
