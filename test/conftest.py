"""Shared test set-up: an isolated DDS domain per test session, loopback-only discovery, and the
generated clip the node-graph tests stream."""
import os
import random

import pytest

# Each pytest session gets its own ROS domain so parallel runs on one machine do not cross-talk.
os.environ.setdefault("ROS_DOMAIN_ID", str(random.Random(os.getpid()).randint(1, 100)))
os.environ.setdefault("ROS_AUTOMATIC_DISCOVERY_RANGE", "LOCALHOST")
os.environ.setdefault("RMW_IMPLEMENTATION", "rmw_fastrtps_cpp")


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
