"""A node that cannot start says why in one line and exits non-zero (no traceback, no hang).

Each case starts a real node process (python -m fashionmirror_ros.nodes.<node> --ros-args ...)
with a broken checkpoint or parameter; the cases run a few at a time, each under a time-out.
Every fault of the checkpoint file itself (no weights file, truncated, damaged header, invalid
config, non-finite values, missing keys, shape mismatch) raises the same CheckpointError with its
own message, tested in-process in test_checkpoint.py; here one of each way a node can fail to
start: a checkpoint error, a preset or device the checkpoint cannot serve, non-finite weights in
each model node, an unreadable image file, an invalid parameter.
"""
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import requires_ros
from graph_harness import untrained_checkpoint

NODE_TIMEOUT_S = 90
PARALLEL = 3


def make_checkpoints(root):
    """The broken checkpoints, each a variation of one valid untrained checkpoint."""
    import torch

    from fashionmirror_ros.models.checkpoint import WEIGHTS_FILE, save_checkpoint
    from fashionmirror_ros.models.config import get_preset
    from fashionmirror_ros.models.mirror import FashionMirror

    good = untrained_checkpoint(root / "good")
    paths = {"good": good, "missing": root / "does-not-exist"}

    def variant(name):
        path = root / name
        shutil.copytree(good, path)
        return path

    corrupt = variant("corrupt")
    data = bytearray((corrupt / WEIGHTS_FILE).read_bytes())
    data[len(data) // 2: len(data) // 2 + 64] = bytes(range(64))
    (corrupt / WEIGHTS_FILE).write_bytes(bytes(data))
    paths["corrupt"] = corrupt

    config = get_preset("realtime")
    model = FashionMirror(config)
    with torch.no_grad():
        next(model.hsg.parameters()).view(-1)[0] = float("nan")
    paths["nan_weights"] = save_checkpoint(root / "nan_weights", model, config)
    return paths


# (id, node, parameters (checkpoint names are replaced by their paths), words the line must hold)
CASES = [
    ("cmn-missing", "cmn_node", {"checkpoint": "missing"}, "checkpoint not found"),
    ("cmn-corrupt", "cmn_node", {"checkpoint": "corrupt"}, "SHA-256 differs"),
    ("cmn-wrong-preset", "cmn_node", {"checkpoint": "good", "preset": "paper"}, "preset mismatch"),
    ("cmn-no-cuda", "cmn_node", {"checkpoint": "good", "device": "cuda"}, "CUDA is not available"),
    ("hsg-missing", "hsg_node", {"checkpoint": "missing"}, "checkpoint not found"),
    ("hsg-nan-weights", "hsg_node", {"checkpoint": "nan_weights"}, "non-finite values"),
    ("hsg-missing-source-file", "hsg_node",
     {"checkpoint": "good", "source_image_path": "/nonexistent/me.png"}, "cannot read image file"),
    ("pose-bad-estimator", "pose_node", {"estimator": "openpose"}, "is not one of"),
]


def run_node(node, parameters, paths):
    argv = [sys.executable, "-m", f"fashionmirror_ros.nodes.{node}", "--ros-args"]
    for key, value in parameters.items():
        value = str(paths[value]) if key == "checkpoint" else value
        argv += ["-p", f"{key}:={value}"]
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=NODE_TIMEOUT_S)
    except subprocess.TimeoutExpired as expired:
        return None, f"{expired.stdout or ''}{expired.stderr or ''}"
    return done.returncode, done.stdout + done.stderr


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """Every case run once (a few processes at a time): id -> (exit code or None, output)."""
    paths = make_checkpoints(tmp_path_factory.mktemp("checkpoints"))
    with ThreadPoolExecutor(PARALLEL) as pool:
        futures = {case_id: pool.submit(run_node, node, parameters, paths)
                   for case_id, node, parameters, _ in CASES}
        return {case_id: future.result() for case_id, future in futures.items()}


@requires_ros
@pytest.mark.parametrize("case_id, node, parameters, words", CASES, ids=[case[0] for case in CASES])
def test_start_up_error_is_one_clear_line_and_a_non_zero_exit(outcomes, case_id, node, parameters, words):
    code, output = outcomes[case_id]
    assert code is not None, f"{node} did not exit within {NODE_TIMEOUT_S} s:\n{output}"
    assert code != 0, output
    fatal = [line for line in output.splitlines() if line.startswith("[fatal]")]
    assert len(fatal) == 1, output
    assert fatal[0].startswith(f"[fatal] {node}: "), fatal[0]
    assert words in fatal[0], fatal[0]
    assert "Traceback" not in output, output
    print(f"{case_id}: exit {code}: {fatal[0]}")


@requires_ros
def test_the_valid_checkpoint_of_these_cases_loads(tmp_path):
    """The variations above start from a checkpoint that does load (so each case tests one fault)."""
    from fashionmirror_ros.models.checkpoint import load_checkpoint

    model, config, _ = load_checkpoint(untrained_checkpoint(tmp_path / "good"), expected_preset="realtime")
    assert config.name == "realtime"
