"""`fashionmirror run`: the node graph of launch/mirror.launch.py without `ros2 launch`.

Each node runs in its own process (python -m fashionmirror_ros.nodes.<name> --ros-args ...) with
the same parameters file; a node that dies is restarted after a delay, as the launch file's
respawn does. Used by the demo, the replay and the benchmark on pip-only machines.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from fashionmirror_ros.pipeline.assets import find_data

NODE_NAMES = ("pose_node", "cmn_node", "hsg_node")
RESPAWN_DELAY_S = 1.0
MAX_RESPAWN_DELAY_S = 30.0
STABLE_RUN_S = 10.0  # a node that ran this long before dying is restarted after RESPAWN_DELAY_S
STOP_TIMEOUT_S = 10.0
SIGINT_GRACE_S = 3.0


def _default_sigint() -> None:
    """In the child: SIGINT back to default (a background shell job inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def default_params_file() -> Path:
    return find_data("config/mirror.yaml")


@dataclass
class NodeSpec:
    name: str
    parameters: dict = field(default_factory=dict)
    remappings: dict = field(default_factory=dict)

    def command(self, params_file: Path) -> list[str]:
        argv = [sys.executable, "-m", f"fashionmirror_ros.nodes.{self.name}", "--ros-args",
                "--params-file", str(params_file)]
        for key, value in self.parameters.items():
            # Prefixed with the node name: a plain "-p key:=value" is a /** rule, and rcl lets the
            # params file's node-specific entries (pose_node: estimator: ...) win over it.
            argv += ["-p", f"{self.name}:{key}:={format_parameter(value)}"]
        for source, target in self.remappings.items():
            argv += ["-r", f"{source}:={target}"]
        return argv


def format_parameter(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str) and value == "":
        return "''"
    return str(value)


@dataclass
class RunningNode:
    spec: NodeSpec
    process: subprocess.Popen
    started: float
    restarts: int = 0
    died_at: float | None = None
    respawn_delay: float = RESPAWN_DELAY_S / 2  # doubled to RESPAWN_DELAY_S at the first death
    exit_codes: list = field(default_factory=list)
    restart_times: list = field(default_factory=list)


class GraphSupervisor:
    """Starts, watches, restarts and stops the node processes."""

    def __init__(self, specs: list[NodeSpec], params_file: Path | None = None, respawn: bool = True,
                 log_dir: Path | None = None, env: dict | None = None):
        self.specs = specs
        self.params_file = Path(params_file) if params_file else default_params_file()
        self.respawn = respawn
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = dict(os.environ if env is None else env)
        self.nodes: dict[str, RunningNode] = {}
        self._watching: threading.Event | None = None
        self._lock = threading.Lock()  # poll() from a watcher thread and the caller's thread

    def _spawn(self, spec: NodeSpec) -> subprocess.Popen:
        command = spec.command(self.params_file)
        if self.log_dir is None:
            return subprocess.Popen(command, env=self.env, preexec_fn=_default_sigint)
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{spec.name}.log", "ab") as output:  # the child keeps its copy
            return subprocess.Popen(command, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                                    preexec_fn=_default_sigint)

    def start(self) -> "GraphSupervisor":
        for spec in self.specs:
            self.nodes[spec.name] = RunningNode(spec, self._spawn(spec), time.monotonic())
        return self

    def poll(self) -> list[str]:
        """Restart nodes that exited (after RESPAWN_DELAY_S); returns the names restarted now."""
        restarted = []
        with self._lock:
            now = time.monotonic()
            for node in self.nodes.values():
                if self._restart_if_dead(node, now):
                    restarted.append(node.spec.name)
        return restarted

    def _restart_if_dead(self, node: RunningNode, now: float) -> bool:
        if node.process.poll() is None or not self.respawn:
            return False
        if node.died_at is None:
            node.died_at = now
            # A node that dies soon after starting (a bad checkpoint, a bad parameter) is
            # restarted ever more slowly, so a configuration error does not become a busy loop.
            lived = now - (node.restart_times[-1] if node.restart_times else node.started)
            node.respawn_delay = (min(node.respawn_delay * 2, MAX_RESPAWN_DELAY_S)
                                  if lived < STABLE_RUN_S else RESPAWN_DELAY_S)
        if now - node.died_at < node.respawn_delay:
            return False
        node.exit_codes.append(node.process.returncode)
        node.process = self._spawn(node.spec)
        node.died_at = None
        node.restarts += 1
        node.restart_times.append(now)
        return True

    def watch(self, poll_s: float = 0.2, on_restart=None) -> "GraphSupervisor":
        """poll() on a background thread until stop(), as `fashionmirror run` does in its loop;
        on_restart(name) is called for each node restarted."""
        stop = self._watching = threading.Event()

        def run():
            while not stop.wait(poll_s):
                for name in self.poll():
                    if on_restart is not None:
                        on_restart(name)

        threading.Thread(target=run, name="graph-supervisor", daemon=True).start()
        return self

    def dead(self) -> dict[str, int]:
        return {name: node.process.returncode for name, node in self.nodes.items()
                if node.process.poll() is not None}

    def pids(self) -> dict[str, int]:
        return {name: node.process.pid for name, node in self.nodes.items()}

    def stop(self) -> dict[str, int]:
        """Stop every node cleanly if it can (see _stop_all); returns the exit codes."""
        if self._watching is not None:
            self._watching.set()  # a node stopping now must not be respawned
        with self._lock:
            return self._stop_all()

    def _stop_all(self) -> dict[str, int]:
        """SIGINT, then SIGTERM after SIGINT_GRACE_S, then SIGKILL at STOP_TIMEOUT_S."""
        for node in self.nodes.values():
            if node.process.poll() is None:
                node.process.send_signal(signal.SIGINT)
        if not self._all_exited(SIGINT_GRACE_S):
            for node in self.nodes.values():
                if node.process.poll() is None:
                    node.process.terminate()
        self._all_exited(STOP_TIMEOUT_S - SIGINT_GRACE_S)
        codes = {}
        for name, node in self.nodes.items():
            if node.process.poll() is None:
                node.process.kill()
            codes[name] = node.process.wait()
        return codes

    def _all_exited(self, timeout_s: float) -> bool:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if all(node.process.poll() is not None for node in self.nodes.values()):
                return True
            time.sleep(0.05)
        return False

    def __enter__(self) -> "GraphSupervisor":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def graph_specs(camera_topic: str = "/camera/image_raw", estimator: str | None = None,
                model_parameters: dict | None = None) -> list[NodeSpec]:
    """The three nodes with the usual overrides (camera remap, pose source, model parameters)."""
    pose_parameters = {"estimator": estimator} if estimator else {}
    remap = {"/camera/image_raw": camera_topic} if camera_topic != "/camera/image_raw" else {}
    model_parameters = model_parameters or {}
    return [NodeSpec("pose_node", pose_parameters, remap),
            NodeSpec("cmn_node", dict(model_parameters)),
            NodeSpec("hsg_node", dict(model_parameters))]


def run_forever(supervisor: GraphSupervisor, poll_s: float = 0.2) -> int:
    """`fashionmirror run`: supervise until Ctrl-C or SIGTERM."""
    signal.signal(signal.SIGTERM, _interrupt)
    supervisor.start()
    print(f"fashionmirror run: started {supervisor.pids()} with {supervisor.params_file}", flush=True)
    try:
        while True:
            for name in supervisor.poll():
                print(f"fashionmirror run: {name} exited, restarted", flush=True)
            time.sleep(poll_s)
    except KeyboardInterrupt:
        pass
    finally:
        supervisor.stop()
    return 0
