"""`fashionmirror run --single-process`: pose_node, cmn_node and hsg_node in one process and one
executor (SingleThreadedExecutor by default), started by the same supervisor: the try-on stream arrives with the camera stamps, each
node reports on /diagnostics under its own name, each node's threads carry its name (per-node
CPU in one process), and Ctrl-C ends the process with exit code 0."""
import time
from pathlib import Path

import pytest

from conftest import requires_ros
from fashionmirror_ros.messages import stamp_ns
from graph_harness import GraphHarness, untrained_checkpoint

FPS = 10.0
FRAMES = 20
NODES = {"pose_node", "cmn_node", "hsg_node"}
STARTUP_TIMEOUT_S = 120
ROOT = Path(__file__).resolve().parents[1]


def test_the_group_command_holds_every_node_with_its_parameters_and_remaps(tmp_path):
    import yaml

    from fashionmirror_ros.nodes.supervisor import (GraphSupervisor, ProcessGroupSpec, graph_specs,
                                                    in_one_process)

    specs = in_one_process(graph_specs("/my/camera", "recorded", {"num_threads": 2}, namespace="kiosk1",
                                       arguments={"view": "true"}))
    assert [type(spec).__name__ for spec in specs] == ["ProcessGroupSpec", "NodeSpec"]
    group, view = specs
    assert isinstance(group, ProcessGroupSpec) and view.name == "mirror_view"
    supervisor = GraphSupervisor(specs, params_file=Path("mirror.yaml"))
    command = group.command(Path("mirror.yaml"), supervisor._overrides_file(group))
    assert command[3:7] == ["graph", "pose_node,cmn_node,hsg_node", "--executor", "single"]
    assert in_one_process(graph_specs(), executor="multi")[0].command(Path("m.yaml"))[5:7] == ["--executor", "multi"]
    assert "__ns:=/kiosk1" in command
    assert "pose_node:camera/image_raw:=/my/camera" in command, "the remap is pose_node's only"
    overrides = [command[index + 1] for index, word in enumerate(command) if word == "--params-file"][1]
    document = yaml.safe_load(Path(overrides).read_text())
    assert document["/kiosk1/pose_node"]["ros__parameters"] == {"estimator": "recorded"}
    assert document["/kiosk1/hsg_node"]["ros__parameters"]["num_threads"] == 2
    assert document["/kiosk1/cmn_node"]["ros__parameters"]["num_threads"] == 2
    supervisor.stop()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """The shipped realtime checkpoint when it exists, else an untrained one of that preset."""
    shipped = ROOT / "checkpoints" / "realtime"
    if (shipped / "model.safetensors").exists():
        return shipped
    return untrained_checkpoint(tmp_path_factory.mktemp("ckpt") / "realtime")


@requires_ros
@pytest.mark.timeout(300)
def test_one_process_serves_the_try_on_stream(tmp_path, checkpoint):
    import psutil
    import rclpy

    from fashionmirror_ros.data.synthetic import generate_clip, split_seed
    from fashionmirror_ros.nodes.supervisor import GraphSupervisor, graph_specs, in_one_process

    clip = generate_clip(split_seed("test", 2), num_frames=FRAMES + 1)
    specs = in_one_process(graph_specs(estimator="recorded", model_parameters={"checkpoint": str(checkpoint)}))
    supervisor = GraphSupervisor(specs, respawn=False, log_dir=tmp_path / "logs").start()
    rclpy.init()
    driver = GraphHarness()
    try:
        assert list(supervisor.pids()) == ["mirror_graph"], "one process"
        up = driver.wait_for(lambda: NODES <= set(driver.statuses()), STARTUP_TIMEOUT_S)
        assert up, f"nodes did not come up: {supervisor.dead()}, see {tmp_path / 'logs'}"
        driver.publish_inputs(clip.frames[0], clip.garment, clip.keypoints[0], driver.stamp(0, FPS, base_s=500))
        assert driver.wait_for(lambda: driver.snapshot("masks"), 60), "cmn_node published no masks"
        stamps = []
        for index in range(1, FRAMES + 1):
            stamp = driver.stamp(index, FPS, base_s=510)
            driver.publish_frame(clip.frames[index], clip.keypoints[index], stamp)
            stamps.append(stamp_ns(stamp))
            time.sleep(1.0 / FPS)
        assert driver.wait_for(lambda: driver.count("arrivals") >= FRAMES // 2, 30), driver.statuses()
        arrivals = driver.snapshot("arrivals")
        assert {arrival.stamp_ns for arrival in arrivals} <= set(stamps), "try-on frames keep camera stamps"
        latency_nodes = {record.node for record in driver.snapshot("latency")}
        assert NODES <= latency_nodes, latency_nodes

        pid = supervisor.pids()["mirror_graph"]
        names = {Path(f"/proc/{pid}/task/{thread.id}/comm").read_text().strip()
                 for thread in psutil.Process(pid).threads()}
        for node in NODES:
            assert any(name.startswith(node) for name in names), (node, sorted(names))
    finally:
        driver.close()
        rclpy.try_shutdown()
        codes = supervisor.stop()
    log = (tmp_path / "logs" / "mirror_graph.log").read_text()
    assert codes == {"mirror_graph": 0}, (codes, log[-3000:])
    assert "Traceback" not in log, log[-3000:]
