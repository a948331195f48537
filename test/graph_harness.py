"""Test harness: a checkpoint for the nodes, and a driver node that feeds and watches the graph.

The driver lives in the library (fashionmirror_ros.evaluation.driver) because the soak run uses
it too; this module keeps the names the tests import.
"""
from __future__ import annotations

from fashionmirror_ros.evaluation.driver import (Arrival, ClipFeeder, GraphDriver, MemorySampler,
                                                 percentiles_ms, quarter_medians, time_ns_of,
                                                 untrained_checkpoint)

__all__ = ["Arrival", "ClipFeeder", "GraphDriver", "MemorySampler", "percentiles_ms",
           "quarter_medians", "time_ns_of", "untrained_checkpoint"]
