"""`fashionmirror run`: the node graph of launch/mirror.launch.py without `ros2 launch`.

Each node runs in its own process (python -m fashionmirror_ros.nodes <name> --ros-args ...) with
the same parameters file; a node that dies is restarted after a delay, as the launch file's
respawn does. Used by the demo, the replay and the benchmark on pip-only machines.
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from fashionmirror_ros import topics
from fashionmirror_ros.nodes.graph_params import (GRAPH_NODES, RESPAWN_DELAY_S, RESPAWN_MAX_RETRIES,
                                                  NodeLaunch, graph_nodes, normalize_namespace)
from fashionmirror_ros.pipeline.assets import find_data

NODE_NAMES = GRAPH_NODES
MAX_RESPAWN_DELAY_S = 30.0
STABLE_RUN_S = 10.0  # a node that ran this long before dying is restarted after RESPAWN_DELAY_S
STOP_TIMEOUT_S = 10.0
SIGINT_GRACE_S = 3.0


def _default_sigint() -> None:
    """In the child: SIGINT back to default (a background shell job inherits it ignored)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _child_setup(cpus: tuple[int, ...]):
    """preexec_fn of a node process: SIGINT back to default, and the CPUs it may run on (every
    thread it starts inherits them: torch's OpenMP pool, MediaPipe's graph threads)."""
    def setup() -> None:
        _default_sigint()
        if cpus:
            os.sched_setaffinity(0, cpus)
    return setup


def parse_cpu_affinity(items) -> dict[str, tuple[int, ...]]:
    """['pose_node=0', 'hsg_node=1,2'] -> {'pose_node': (0,), 'hsg_node': (1, 2)}; ValueError
    naming the item for a bad node name, CPU list, or a CPU this machine does not have."""
    available = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else set(range(os.cpu_count() or 1))
    result = {}
    for item in items or []:
        name, _, cpus = str(item).partition("=")
        if name not in NODE_NAMES or not cpus:
            raise ValueError(f"--cpu-affinity '{item}': expected NODE=CPU[,CPU...] with NODE one of "
                             f"{', '.join(NODE_NAMES)}")
        try:
            chosen = tuple(sorted({int(cpu) for cpu in cpus.split(",")}))
        except ValueError:
            raise ValueError(f"--cpu-affinity '{item}': CPUs must be integers") from None
        missing = [cpu for cpu in chosen if cpu not in available]
        if missing:
            raise ValueError(f"--cpu-affinity '{item}': CPU {missing[0]} is not available here "
                             f"(CPUs {sorted(available)})")
        result[name] = chosen
    return result


def _interrupt(signum, frame) -> None:
    raise KeyboardInterrupt


def default_params_file() -> Path:
    return find_data("config/mirror.yaml")


@dataclass
class NodeSpec:
    name: str
    parameters: dict = field(default_factory=dict)
    remappings: dict = field(default_factory=dict)
    namespace: str = ""
    cpus: tuple[int, ...] = ()  # CPUs the process may run on (empty: any)

    @property
    def fully_qualified_name(self) -> str:
        return topics.absolute(self.name, self.namespace)

    def overrides_document(self) -> dict:
        """The parameters given on the command line as a params-file document.

        Keyed by the fully qualified node name, as launch_ros does for a Node's dict parameters:
        rclpy applies a later file's entry under a new key after the first file's entries, so it
        wins over the user's file whether that file says `/**`, `cmn_node` or `/**/cmn_node`
        (a `-p cmn_node:key:=value` rule does not match a node in a namespace, and a plain
        `-p key:=value` loses to the file's node-specific entries)."""
        return {self.fully_qualified_name: {"ros__parameters": dict(self.parameters)}}

    def command(self, params_file: Path, overrides_file: Path | None = None) -> list[str]:
        argv = [sys.executable, "-m", "fashionmirror_ros.nodes", self.name, "--ros-args",
                "--params-file", str(params_file)]
        if overrides_file is not None:
            argv += ["--params-file", str(overrides_file)]
        if self.namespace:
            argv += ["-r", f"__ns:={normalize_namespace(self.namespace)}"]
        for source, target in self.remappings.items():
            argv += ["-r", f"{source}:={target}"]
        return argv


SINGLE_PROCESS_NAME = "mirror_graph"


@dataclass
class ProcessGroupSpec:
    """Several nodes in one process with one rclpy executor (`fashionmirror run --single-process`).

    Each node keeps its own name, parameters (its overrides document is keyed by its fully
    qualified name, as in separate processes) and remappings (given as node-specific rules,
    `pose_node:camera/image_raw:=...`, so a remap meant for one node leaves the others alone)."""

    members: list[NodeSpec]
    name: str = SINGLE_PROCESS_NAME
    cpus: tuple[int, ...] = ()
    executor: str = "single"  # common.spin_nodes: SingleThreadedExecutor, or "multi"

    @property
    def namespace(self) -> str:
        return self.members[0].namespace if self.members else ""

    @property
    def parameters(self) -> dict:
        """Non-empty when any member has parameters (the supervisor then writes the overrides)."""
        return {member.name: member.parameters for member in self.members if member.parameters}

    def overrides_document(self) -> dict:
        document = {}
        for member in self.members:
            if member.parameters:
                document.update(member.overrides_document())
        return document

    def command(self, params_file: Path, overrides_file: Path | None = None) -> list[str]:
        argv = [sys.executable, "-m", "fashionmirror_ros.nodes", "graph",
                ",".join(member.name for member in self.members), "--executor", self.executor,
                "--ros-args", "--params-file", str(params_file)]
        if overrides_file is not None:
            argv += ["--params-file", str(overrides_file)]
        if self.namespace:
            argv += ["-r", f"__ns:={normalize_namespace(self.namespace)}"]
        for member in self.members:
            for source, target in member.remappings.items():
                argv += ["-r", f"{member.name}:{source}:={target}"]
        return argv


def in_one_process(specs: list[NodeSpec], names=GRAPH_NODES, executor: str = "single") -> list:
    """The three graph nodes of `specs` as one ProcessGroupSpec (first, in their order), the
    other nodes (mirror_view, garment_catalog) still in their own processes."""
    members = [spec for spec in specs if spec.name in names]
    others = [spec for spec in specs if spec.name not in names]
    return ([ProcessGroupSpec(members, executor=executor)] if members else []) + others


def parameter_value(value):
    """A launch-style string value ('true', '2', '0.5', 'cpu') as the typed YAML value a node
    expects; other values pass unchanged."""
    if not isinstance(value, str) or value == "":
        return value
    parsed = yaml.safe_load(value)
    return parsed if isinstance(parsed, (bool, int, float)) else value


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
    quick_deaths: int = 0  # deaths in a row within STABLE_RUN_S of starting
    gave_up: bool = False


class GraphSupervisor:
    """Starts, watches, restarts and stops the node processes."""

    def __init__(self, specs: list, params_file: Path | None = None, respawn: bool = True,
                 log_dir: Path | None = None, env: dict | None = None,
                 respawn_max_retries: int | None = RESPAWN_MAX_RETRIES):
        self.specs = specs
        self.params_file = Path(params_file) if params_file else default_params_file()
        self.respawn = respawn
        self.respawn_max_retries = respawn_max_retries  # None: restart for ever
        self._overrides_dir: Path | None = None
        self.log_dir = Path(log_dir) if log_dir else None
        self.env = dict(os.environ if env is None else env)
        self.nodes: dict[str, RunningNode] = {}
        self._watching: threading.Event | None = None
        self._lock = threading.Lock()  # poll() from a watcher thread and the caller's thread

    def _overrides_file(self, spec: NodeSpec) -> Path | None:
        if not spec.parameters:
            return None
        if self._overrides_dir is None:
            self._overrides_dir = Path(tempfile.mkdtemp(prefix="fashionmirror-run-"))
        path = self._overrides_dir / f"{spec.name}.yaml"
        path.write_text(yaml.safe_dump(spec.overrides_document()))
        return path

    def _spawn(self, spec: NodeSpec) -> subprocess.Popen:
        command = spec.command(self.params_file, self._overrides_file(spec))
        if self.log_dir is None:
            return subprocess.Popen(command, env=self.env, preexec_fn=_child_setup(spec.cpus))
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log_dir / f"{spec.name}.log", "ab") as output:  # the child keeps its copy
            return subprocess.Popen(command, env=self.env, stdout=output, stderr=subprocess.STDOUT,
                                    preexec_fn=_child_setup(spec.cpus))

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
        if node.process.poll() is None or not self.respawn or node.gave_up:
            return False
        if node.died_at is None:
            node.died_at = now
            # A node that dies soon after starting (a bad checkpoint, a bad parameter) is
            # restarted ever more slowly, and not at all after respawn_max_retries such deaths in
            # a row, so a configuration error does not become a busy loop loading torch.
            lived = now - (node.restart_times[-1] if node.restart_times else node.started)
            quick = lived < STABLE_RUN_S
            node.quick_deaths = node.quick_deaths + 1 if quick else 0
            node.respawn_delay = (min(node.respawn_delay * 2, MAX_RESPAWN_DELAY_S)
                                  if quick else RESPAWN_DELAY_S)
            if self.respawn_max_retries is not None and node.quick_deaths > self.respawn_max_retries:
                node.gave_up = True
                return False
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

    def given_up(self) -> list[str]:
        """Nodes that died at start-up respawn_max_retries + 1 times in a row: not restarted."""
        return [name for name, node in self.nodes.items() if node.gave_up]

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
            codes = self._stop_all()
        if self._overrides_dir is not None:
            shutil.rmtree(self._overrides_dir, ignore_errors=True)
        return codes

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


def graph_specs(camera_topic: str | None = None, estimator: str | None = None,
                model_parameters: dict | None = None, namespace: str = "",
                arguments: dict | None = None) -> list[NodeSpec]:
    """The nodes `fashionmirror run` starts, from graph_params.graph_nodes (the launch file's rule).

    camera_topic, estimator and model_parameters (checkpoint, device, ... for cmn_node and
    hsg_node) are the callers' usual overrides; `arguments` takes launch-argument names
    (garment_catalog, view, source_image, ...). Values None or '' are not given."""
    arguments = dict(arguments or {})
    arguments.setdefault("camera_topic", camera_topic)
    arguments.setdefault("estimator", estimator)
    specs = []
    for launch in graph_nodes(arguments):
        parameters = {key: parameter_value(value) for key, value in launch.parameters.items()}
        if launch.name in ("cmn_node", "hsg_node"):
            parameters.update(model_parameters or {})
        specs.append(NodeSpec(launch.name, parameters, dict(launch.remappings),
                              normalize_namespace(namespace)))
    return specs


def run_forever(supervisor: GraphSupervisor, poll_s: float = 0.2) -> int:
    """`fashionmirror run`: supervise until Ctrl-C or SIGTERM (exit 0), or until a node gave up
    restarting (exit 1: a graph without one of its nodes only looks alive)."""
    signal.signal(signal.SIGTERM, _interrupt)
    # The terminal's Ctrl-C reaches the whole process group: the nodes get it directly, and
    # stop() sends its own; a second Ctrl-C while stopping must not cut the clean-up short.
    signal.signal(signal.SIGINT, _interrupt_once)
    supervisor.start()
    print(f"fashionmirror run: started {supervisor.pids()} with {supervisor.params_file}", flush=True)
    code = 0
    try:
        while True:
            for name in supervisor.poll():
                print(f"fashionmirror run: {name} exited, restarted", flush=True)
            given_up = supervisor.given_up()
            if given_up:
                logs = f" (logs in {supervisor.log_dir})" if supervisor.log_dir else ""
                print(f"fashionmirror run: {', '.join(given_up)} died at start-up "
                      f"{supervisor.respawn_max_retries + 1} times in a row, not restarted; "
                      f"stopping the graph{logs}", file=sys.stderr, flush=True)
                code = 1
                break
            time.sleep(poll_s)
    except KeyboardInterrupt:
        pass  # Ctrl-C is how a user stops the graph: the finally below stops the nodes and reports their exit codes
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        codes = supervisor.stop()
        print(f"fashionmirror run: stopped, exit codes {codes}", flush=True)
    return code


def _interrupt_once(signum, frame) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    raise KeyboardInterrupt
