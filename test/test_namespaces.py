"""Two mirrors side by side on one ROS domain, in namespaces kiosk1 and kiosk2, each started by
`fashionmirror run --namespace`: each /kioskN/tryon/image carries only its own camera's stamps."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from conftest import requires_ros
from fashionmirror_ros.messages import stamp_ns
from graph_harness import GraphHarness, untrained_checkpoint

pytestmark = requires_ros

KIOSKS = ("kiosk1", "kiosk2")
STARTUP_TIMEOUT_S = 150
FRAMES = 15
FPS = 8.0


@pytest.fixture(scope="module")
def clip():
    from fashionmirror_ros.data.synthetic import generate_clip, split_seed

    return generate_clip(split_seed("test", 2), num_frames=FRAMES + 1)


def test_two_kiosks_do_not_cross_talk(tmp_path, clip):
    import rclpy

    checkpoint = untrained_checkpoint(tmp_path / "checkpoint")
    runs = {kiosk: subprocess.Popen([sys.executable, "-m", "fashionmirror_ros.cli", "run", "--namespace", kiosk,
                                     "--estimator", "recorded", "--checkpoint", str(checkpoint),
                                     "--log-dir", str(tmp_path / kiosk)],
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            for kiosk in KIOSKS}
    rclpy.init()
    drivers = {kiosk: GraphHarness(f"{kiosk}_driver", namespace=kiosk) for kiosk in KIOSKS}
    try:
        for kiosk, driver in drivers.items():
            # /diagnostics is shared: each status names its node with the namespace.
            assert driver.wait_for(lambda: {f"fashionmirror/{kiosk}/{node}" for node in ("pose_node", "cmn_node", "hsg_node")}
                                   <= {status.name for array in driver.snapshot("diagnostics") for status in array.status},
                                   STARTUP_TIMEOUT_S), f"{kiosk} did not come up, see {tmp_path / kiosk}"
            # and its nodes subscribe to this harness's topics: frames sent before discovery
            # matched them would be lost (the camera topic is not latched)
            driver.wait_for_graph(STARTUP_TIMEOUT_S)
        for offset, (kiosk, driver) in enumerate(drivers.items()):
            driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], driver.stamp(0, FPS, base_s=500 + offset))
        for kiosk, driver in drivers.items():
            assert driver.wait_for(lambda: driver.snapshot("masks"), 60), f"{kiosk}: no masks"
            driver.wait_for_node_ready("hsg_node", 60)  # e.g. pose_node's source person mask
        sent = {kiosk: set() for kiosk in KIOSKS}
        for index in range(1, FRAMES + 1):
            for offset, (kiosk, driver) in enumerate(drivers.items()):
                stamp = driver.stamp(index, FPS, base_s=1000 + 100 * offset)  # disjoint stamps per kiosk
                sent[kiosk].add(stamp_ns(stamp))
                driver.publish_frame(clip.frames[index], clip.keypoints[index], stamp)
            time.sleep(1.0 / FPS)
        for kiosk, driver in drivers.items():
            driver.wait_for(lambda: len(driver.snapshot("arrivals")) >= FRAMES // 2, 30)
        for kiosk, driver in drivers.items():
            stamps = {arrival.stamp_ns for arrival in driver.snapshot("arrivals")}
            other = next(k for k in KIOSKS if k != kiosk)
            print(f"/{kiosk}/tryon/image: {len(stamps)} frames of {FRAMES} sent")
            assert stamps, f"/{kiosk}/tryon/image carried nothing"
            assert stamps <= sent[kiosk], f"/{kiosk}/tryon/image carried frames of {other}'s camera"
    finally:
        for driver in drivers.values():
            driver.close()
        rclpy.try_shutdown()
        for run in runs.values():
            run.send_signal(signal.SIGINT)
        for kiosk, run in runs.items():
            output, _ = run.communicate(timeout=60)
            assert run.returncode == 0, f"{kiosk}: {output}"
