"""Test harness: a checkpoint for the nodes, a driver node that feeds and watches the graph, and
the graph itself started as `fashionmirror run` starts it.

The driver lives in the library (fashionmirror_ros.evaluation.driver) because the soak run uses
it too; this module keeps the names the tests import.
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

from fashionmirror_ros.evaluation.driver import (Arrival, ClipFeeder, GraphDriver, MemorySampler,
                                                 percentiles_ms, quarter_medians, time_ns_of,
                                                 untrained_checkpoint)

__all__ = ["Arrival", "ClipFeeder", "GraphDriver", "MemorySampler", "percentiles_ms", "quarter_medians",
           "running_graph", "time_ns_of", "untrained_checkpoint"]

# Three processes importing torch and warming up their networks on a shared 2-core machine.
STARTUP_TIMEOUT_S = 90


@contextmanager
def running_graph(directory: Path, specs=None, *, params_file: Path | None = None,
                  driver_name: str = "graph_driver", watch: bool = False, respawn: bool = True,
                  domain_id: int | None = None):
    """Nodes started by GraphSupervisor (as `fashionmirror run` does) and a GraphDriver, once
    every node reports on /diagnostics; yields (driver, supervisor) and stops both afterwards.

    specs defaults to the graph `fashionmirror run` starts, with recorded keypoints and an
    untrained checkpoint written to `directory`. Logs go to <directory>/logs. `watch` restarts
    dead nodes from a background thread; `domain_id` runs nodes and driver in a DDS domain
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
    driver = GraphDriver(driver_name, context=context)
    try:
        names = {spec.name for spec in specs}
        up = driver.wait_for(lambda: names <= set(driver.statuses()), STARTUP_TIMEOUT_S)
        assert up, f"nodes did not come up: {supervisor.dead()}, see {log_dir}"
        yield driver, supervisor
    finally:
        driver.close()
        rclpy.try_shutdown(context=context)
        supervisor.stop()
