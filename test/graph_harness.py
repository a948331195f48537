"""Test harness: the graph started as `fashionmirror run` starts it, with the library's graph
harness (fashionmirror_ros.evaluation.graph) feeding and watching it; this module keeps the names
the tests import."""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from fashionmirror_ros.evaluation.graph import (Arrival, ClipFeeder, GraphHarness, ProcessSampler,
                                                quarter_medians, untrained_checkpoint)
from fashionmirror_ros.messages import stamp_ns
from fashionmirror_ros.pipeline.stats import summarize

__all__ = ["Arrival", "ClipFeeder", "GraphHarness", "ProcessSampler", "quarter_medians", "running_graph",
           "short_fault_hold_params", "stamp_ns", "summarize", "untrained_checkpoint"]

# Three processes importing torch and warming up their networks on a shared 2-core machine.
STARTUP_TIMEOUT_S = 90


def short_fault_hold_params(directory: Path, fault_hold_s: float) -> Path:
    """config/mirror.yaml with a short fault hold, so recovery to OK fits in a test."""
    import yaml

    from fashionmirror_ros.nodes.supervisor import default_params_file

    parameters = yaml.safe_load(default_params_file().read_text())
    parameters["/**"]["ros__parameters"]["fault_hold_s"] = fault_hold_s
    path = directory / "params.yaml"
    path.write_text(yaml.safe_dump(parameters))
    return path


@contextmanager
def running_graph(directory: Path, specs=None, *, params_file: Path | None = None,
                  driver_name: str = "graph_driver", watch: bool = False, respawn: bool = True,
                  domain_id: int | None = None):
    """Nodes started by GraphSupervisor (as `fashionmirror run` does) and a GraphHarness, once
    every node reports on /diagnostics; yields (harness, supervisor) and stops both afterwards.

    specs defaults to the graph `fashionmirror run` starts, with recorded keypoints and an
    untrained checkpoint written to `directory`. Logs go to <directory>/logs. `watch` restarts
    dead nodes from a background thread; `domain_id` runs nodes and harness in a DDS domain
    of their own (a second graph beside another one).
    """
    import rclpy
    from rclpy.context import Context

    from fashionmirror_ros.nodes.supervisor import GraphSupervisor, graph_specs

    if specs is None:
        checkpoint = untrained_checkpoint(directory / "checkpoint")
        specs = graph_specs(estimator="recorded", model_parameters={"checkpoint": str(checkpoint)})
    env = None if domain_id is None else dict(os.environ, ROS_DOMAIN_ID=str(domain_id))
    log_dir = directory / "logs"
    supervisor = GraphSupervisor(specs, params_file, respawn=respawn, log_dir=log_dir, env=env).start()
    if watch:
        supervisor.watch()
    context = None if domain_id is None else Context()
    rclpy.init(context=context, domain_id=domain_id)
    driver = GraphHarness(driver_name, context=context)
    try:
        names = {spec.name for spec in specs}
        up = driver.wait_for(lambda: names <= set(driver.statuses()), STARTUP_TIMEOUT_S)
        assert up, f"nodes did not come up: {supervisor.dead()}, see {log_dir}"
        yield driver, supervisor
    finally:
        driver.close()
        rclpy.try_shutdown(context=context)
        supervisor.stop()
