"""GraphSupervisor's command lines and restart policy, without starting real nodes."""
from pathlib import Path

from fashionmirror_ros import topics
from fashionmirror_ros.nodes.supervisor import (MAX_RESPAWN_DELAY_S, RESPAWN_DELAY_S, GraphSupervisor,
                                                NodeSpec, RunningNode, graph_specs)


class DeadProcess:
    returncode = 1
    pid = 0

    def poll(self):
        return self.returncode


def test_overrides_go_in_a_later_params_file_keyed_by_the_node_and_remaps_are_passed(tmp_path):
    import yaml

    specs = graph_specs("/my/camera", "recorded", {"checkpoint": "", "num_threads": 2})
    supervisor = GraphSupervisor(specs, params_file=Path("mirror.yaml"))
    pose, cmn, _ = (spec.command(Path("mirror.yaml"), supervisor._overrides_file(spec)) for spec in specs)
    files = [pose[index + 1] for index, word in enumerate(pose) if word == "--params-file"]
    assert files[0] == "mirror.yaml" and len(files) == 2, "the user's file first, the overrides after"
    assert yaml.safe_load(Path(files[1]).read_text()) == {"/pose_node": {"ros__parameters": {"estimator": "recorded"}}}
    assert f"{topics.CAMERA_IMAGE}:=/my/camera" in pose
    cmn_overrides = [cmn[index + 1] for index, word in enumerate(cmn) if word == "--params-file"][1]
    assert yaml.safe_load(Path(cmn_overrides).read_text()) == {
        "/cmn_node": {"ros__parameters": {"checkpoint": "", "num_threads": 2}}}
    supervisor.stop()
    assert not Path(cmn_overrides).exists(), "the overrides files are removed with the graph"


def test_namespace_goes_into_the_node_name_key_and_the_command_line():
    spec = graph_specs(namespace="kiosk1", arguments={"checkpoint": "/ck"})[1]
    assert spec.overrides_document() == {"/kiosk1/cmn_node": {"ros__parameters": {"checkpoint": "/ck"}}}
    assert "__ns:=/kiosk1" in spec.command(Path("mirror.yaml"))


def test_a_node_that_keeps_dying_at_start_up_is_restarted_ever_more_slowly(monkeypatch):
    supervisor = GraphSupervisor([NodeSpec("cmn_node")], params_file=Path("mirror.yaml"),
                                 respawn_max_retries=None)
    monkeypatch.setattr(supervisor, "_spawn", lambda spec: DeadProcess())
    node = RunningNode(NodeSpec("cmn_node"), DeadProcess(), started=0.0)
    now, delays = 0.5, []
    while now < 200:
        died = now
        while not supervisor._restart_if_dead(node, now):
            now += 0.05
        delays.append(round(now - died, 1))
        now += 0.5  # each restarted process dies half a second after starting
    assert delays[0] == RESPAWN_DELAY_S
    assert delays[:4] == [RESPAWN_DELAY_S * factor for factor in (1, 2, 4, 8)]
    assert max(delays) <= MAX_RESPAWN_DELAY_S + 0.1 and delays[-1] == MAX_RESPAWN_DELAY_S


def test_a_node_that_keeps_dying_at_start_up_is_given_up_after_the_retries(monkeypatch):
    supervisor = GraphSupervisor([NodeSpec("cmn_node")], params_file=Path("mirror.yaml"),
                                 respawn_max_retries=3)
    monkeypatch.setattr(supervisor, "_spawn", lambda spec: DeadProcess())
    node = supervisor.nodes["cmn_node"] = RunningNode(NodeSpec("cmn_node"), DeadProcess(), started=0.0)
    now = 0.5
    while now < 100 and not node.gave_up:
        if supervisor._restart_if_dead(node, now):
            now += 0.5  # dies half a second after each start
        now += 0.05
    assert node.restarts == 3 and node.gave_up
    assert supervisor.given_up() == ["cmn_node"]


def test_a_node_that_ran_for_a_while_is_restarted_after_the_short_delay(monkeypatch):
    supervisor = GraphSupervisor([NodeSpec("hsg_node")], params_file=Path("mirror.yaml"))
    monkeypatch.setattr(supervisor, "_spawn", lambda spec: DeadProcess())
    node = RunningNode(NodeSpec("hsg_node"), DeadProcess(), started=0.0, respawn_delay=16.0)
    assert not supervisor._restart_if_dead(node, 100.0)
    assert supervisor._restart_if_dead(node, 100.0 + RESPAWN_DELAY_S)
    assert node.restarts == 1 and node.exit_codes == [1]


def test_cpu_affinity_is_parsed_checked_and_given_to_the_node_process():
    import os
    import subprocess
    import sys

    import pytest

    from fashionmirror_ros.nodes.supervisor import _child_setup, parse_cpu_affinity

    assert parse_cpu_affinity(["pose_node=0", "hsg_node=0,0"]) == {"pose_node": (0,), "hsg_node": (0,)}
    for bad, reason in (("view=0", "NODE one of"), ("hsg_node=a", "integers"), ("cmn_node=", "NODE=CPU"),
                        ("hsg_node=4096", "not available")):
        with pytest.raises(ValueError, match=reason):
            parse_cpu_affinity([bad])
    cpu = min(os.sched_getaffinity(0))
    child = subprocess.run([sys.executable, "-c", "import os; print(sorted(os.sched_getaffinity(0)))"],
                           capture_output=True, text=True, preexec_fn=_child_setup((cpu,)), check=True)
    assert child.stdout.strip() == f"[{cpu}]"
