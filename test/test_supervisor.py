"""GraphSupervisor's command lines and restart policy, without starting real nodes."""
from pathlib import Path

from fashionmirror_ros.nodes.supervisor import (MAX_RESPAWN_DELAY_S, RESPAWN_DELAY_S, GraphSupervisor,
                                                NodeSpec, RunningNode, graph_specs)


class DeadProcess:
    returncode = 1
    pid = 0

    def poll(self):
        return self.returncode


def test_overrides_are_node_specific_and_remaps_are_passed():
    specs = graph_specs("/my/camera", "recorded", {"checkpoint": "", "num_threads": 2})
    pose, cmn, _ = (spec.command(Path("mirror.yaml")) for spec in specs)
    assert pose[pose.index("--params-file") + 1] == "mirror.yaml"
    assert "pose_node:estimator:=recorded" in pose
    assert "/camera/image_raw:=/my/camera" in pose
    assert "cmn_node:checkpoint:=''" in cmn and "cmn_node:num_threads:=2" in cmn


def test_a_node_that_keeps_dying_at_start_up_is_restarted_ever_more_slowly(monkeypatch):
    supervisor = GraphSupervisor([NodeSpec("cmn_node")], params_file=Path("mirror.yaml"))
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
    assert delays[:4] == [1.0, 2.0, 4.0, 8.0]
    assert max(delays) <= MAX_RESPAWN_DELAY_S + 0.1 and delays[-1] == MAX_RESPAWN_DELAY_S


def test_a_node_that_ran_for_a_while_is_restarted_after_the_short_delay(monkeypatch):
    supervisor = GraphSupervisor([NodeSpec("hsg_node")], params_file=Path("mirror.yaml"))
    monkeypatch.setattr(supervisor, "_spawn", lambda spec: DeadProcess())
    node = RunningNode(NodeSpec("hsg_node"), DeadProcess(), started=0.0, respawn_delay=16.0)
    assert not supervisor._restart_if_dead(node, 100.0)
    assert supervisor._restart_if_dead(node, 100.0 + RESPAWN_DELAY_S)
    assert node.restarts == 1 and node.exit_codes == [1]
