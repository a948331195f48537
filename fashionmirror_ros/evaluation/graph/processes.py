"""The process supervisor's side of a harness run: the graph started as `fashionmirror run`
starts it (GraphSupervisor, one process per node, logs in a folder) and a check() for every wait
that turns a node's death into an error naming it, with the end of its log."""
from __future__ import annotations

from pathlib import Path

from fashionmirror_ros.evaluation.graph.harness import GraphError


def model_parameters(checkpoint: str | None, device: str | None, preset: str | None = None,
                     threads: int | None = None, bf16: bool | None = None) -> dict:
    """The model nodes' parameters a command line chose (None: the node's default)."""
    chosen = {"checkpoint": checkpoint, "device": device, "preset": preset, "num_threads": threads,
              "bf16_autocast": bf16}
    return {key: value for key, value in chosen.items() if value is not None}


def start_graph(estimator: str, parameters: dict, log_dir: Path, params_file=None):
    """pose_node, cmn_node and hsg_node in three processes, without respawn (a measurement
    reports a death rather than hiding it)."""
    from fashionmirror_ros.nodes.supervisor import GraphSupervisor, graph_specs

    specs = graph_specs(None, estimator, parameters)
    return GraphSupervisor(specs, params_file, respawn=False, log_dir=log_dir).start()


def death_check(supervisor, log_dir: Path | None):
    """A check() for waits: raises GraphError naming the node that died and its last log lines."""
    def check() -> None:
        if supervisor is None:
            return
        dead = supervisor.dead()
        if dead:
            name, code = next(iter(dead.items()))
            tail = log_tail(log_dir / f"{name}.log") if log_dir else ""
            raise GraphError(f"{name} exited with code {code}" + (f":\n{tail}" if tail else ""))
    return check


def log_tail(path: Path, lines: int = 8) -> str:
    try:
        text = Path(path).read_text(errors="replace").strip().splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])
