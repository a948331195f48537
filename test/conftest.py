"""Shared test set-up: an isolated DDS domain per test run and per xdist worker, loopback-only
discovery, and the generated clip the node-graph tests stream."""
import contextlib
import fcntl
import os
import random
import tempfile
from pathlib import Path

import pytest

MAX_WORKERS = 4  # pytest -n N (pytest-xdist) for N up to this gets a ROS domain per worker
XDIST_WORKER = os.environ.get("PYTEST_XDIST_WORKER")  # "gw0", "gw1", ... under pytest -n, else None
# The pytest run this process belongs to: its controller's pid (a worker is the controller's child)
RUN_ID = os.getppid() if XDIST_WORKER else os.getpid()


def isolated_domain_id() -> int:
    """A ROS domain for this pytest run, one per xdist worker: runs on one machine and the
    workers of one run must not cross-talk (each graph test starts its own nodes on the same
    topic names). A worker inherits the controller's environment, so it is told apart here."""
    first = random.Random(RUN_ID).randrange(1, 100 - MAX_WORKERS, MAX_WORKERS)
    return first + (int(XDIST_WORKER[2:]) % MAX_WORKERS if XDIST_WORKER else 0)


if XDIST_WORKER:
    os.environ["ROS_DOMAIN_ID"] = str(isolated_domain_id())
else:
    os.environ.setdefault("ROS_DOMAIN_ID", str(isolated_domain_id()))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


def pytest_configure(config):
    config.addinivalue_line("markers", "quiet_machine: the test measures a rate the spec sets "
                            "(frames delivered at 30 fps); under pytest -n it runs while no other "
                            "worker runs a test")


def pytest_unconfigure(config):
    if not XDIST_WORKER:  # the controller, after its workers are done
        for suffix in ("turnstile", "lock"):
            machine_lock_path(suffix).unlink(missing_ok=True)


def machine_lock_path(suffix: str) -> Path:
    return Path(tempfile.gettempdir()) / f"fashionmirror-tests-{RUN_ID}.{suffix}"


@contextlib.contextmanager
def machine_share(exclusive: bool):
    """A readers-writer lock over the workers of one pytest -n run: every test holds it shared,
    a quiet_machine test exclusively. A writer first takes the turnstile and keeps it while it
    waits, so readers queue behind it instead of overtaking it forever (flock is not fair)."""
    with open(machine_lock_path("turnstile"), "a") as turnstile, open(machine_lock_path("lock"), "a") as lock:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        if not exclusive:
            fcntl.flock(lock, fcntl.LOCK_SH)
            fcntl.flock(turnstile, fcntl.LOCK_UN)
        else:
            fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
            fcntl.flock(turnstile, fcntl.LOCK_UN)


@pytest.fixture(autouse=True)
def cpu_share(request):
    """Under pytest -n, a quiet_machine test waits until the other workers' tests are done and
    keeps them waiting while it runs; serially there is nothing to wait for."""
    if not XDIST_WORKER:
        yield
        return
    with machine_share(exclusive=request.node.get_closest_marker("quiet_machine") is not None):
        yield


def ros_messages_available() -> bool:
    try:
        from fashionmirror_ros.msg import NodeLatency  # noqa: F401
    except ImportError:
        return False
    return True


requires_ros = pytest.mark.skipif(
    os.environ.get("CI") is None and not ros_messages_available(),
    reason="fashionmirror_ros messages not built (run `make msgs` and `source scripts/env.sh`)",
)


@pytest.fixture(scope="module")
def single_torch_thread():
    """Tiny tensors run faster on one thread, and stay fast when other jobs share the 2 cores
    (measured: 10 s vs 34 s for the model tests under load); restored afterwards."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


STREAM_CLIP_FRAMES = 30  # camera frames after the source frame


@pytest.fixture(scope="session")
def stream_clip():
    """Generated test clip 0 at the graph's 256 px: frame 0 is the source h^s (with the garment
    C and the keypoints p^0), frames 1..STREAM_CLIP_FRAMES the camera stream."""
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed

    return generate_clip(split_seed("test", 0), num_frames=STREAM_CLIP_FRAMES + 1)


@pytest.fixture
def audio_only_file(tmp_path):
    """A WAV file of silence: a file that exists and opens, with no video stream in it."""
    import wave

    import numpy as np

    path = tmp_path / "sound.wav"
    with wave.open(str(path), "wb") as stream:
        stream.setnchannels(1)
        stream.setsampwidth(2)
        stream.setframerate(8000)
        stream.writeframes(np.zeros(800, np.int16).tobytes())
    return path
