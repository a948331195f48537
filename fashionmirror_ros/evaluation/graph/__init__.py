"""The one harness around the node graph: feed it, record what it publishes, measure it.

The roles are those of NVIDIA's ros2_benchmark, each in its module:
- player.py: the camera and the operator (source, garment, camera frames and their recorded
  keypoints; a bag's timing, a fixed rate, or a clip looped on a thread);
- recorder.py: subscriptions to the graph's outputs, kept with their arrival times;
- harness.py: GraphHarness = player + recorder on one node spun by a thread, and the waits on
  the graph's progress (up, masks there, last frame through);
- latency.py: the latency calculator (end to end, per node, per hop, a bench trial's figures);
- processes.py: the graph's processes under GraphSupervisor and a check that names a dead node;
- sampler.py: CPU share and resident memory of those processes;
- loop.py: the background thread of the looping camera and of the sampler;
- checkpoints.py: the shipped checkpoint or an untrained one, for runs that time the plumbing.

`fashionmirror replay`, `bench`, `soak` and `demo` and the graph tests compose these.
"""
from fashionmirror_ros.evaluation.graph.checkpoints import shipped_or_untrained, untrained_checkpoint
from fashionmirror_ros.evaluation.graph.harness import (NODE_NAMES, GraphError, GraphHarness,
                                                        own_context_harness)
from fashionmirror_ros.evaluation.graph.player import (ClipFeeder, Player, PreparedFrame, SentFrame,
                                                       now_stamp, prepare_frame, synthetic_stamp)
from fashionmirror_ros.evaluation.graph.processes import death_check, model_parameters, start_graph
from fashionmirror_ros.evaluation.graph.recorder import (Arrival, LatencyRecord, MaskRecord, PoseRecord,
                                                         Recorder)
from fashionmirror_ros.evaluation.graph.sampler import ProcessSampler, quarter_medians

__all__ = ["NODE_NAMES", "Arrival", "ClipFeeder", "GraphError", "GraphHarness", "LatencyRecord",
           "MaskRecord", "Player", "PoseRecord", "PreparedFrame", "ProcessSampler", "Recorder",
           "SentFrame", "death_check", "model_parameters", "now_stamp", "own_context_harness",
           "prepare_frame", "quarter_medians", "shipped_or_untrained", "start_graph", "synthetic_stamp",
           "untrained_checkpoint"]
