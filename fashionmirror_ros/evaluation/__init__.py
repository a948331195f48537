"""Evaluation of fashionmirror_ros: metrics, reports, and the runs of the node graph.

What lives here (each module's docstring carries its exact definitions):

- ``metrics``: SSIM and PSNR on uint8 RGB images, mask IoU, temporal warping error (classical
  DIS optical flow), the optional learned metrics LPIPS and VFID (3D-ResNet-18) that run only from
  local weight files, and the Frechet distance (the summary of a series is ``pipeline.stats.summarize``).
- ``video``: mp4 writing and reading with OpenCV, contact sheets for quick visual checks.
- ``plots``: latency histograms and timelines, the end-to-end latency plot, loss curves (PNG, Agg).
- ``pose_following``: MediaPipe Pose on generated frames: share of frames with a person and
  PCK@0.2 torso against the driving keypoints (the pure PCK is testable without MediaPipe).
- ``peak``: the measured 3x3-convolution peak (GFLOP/s) that achieved model throughput is compared
  against in the benchmark report.
- ``parsing_baseline``: a randomly initialised DeepLabv3-class human-parsing network, the
  runtime baseline that the co-attention mask network (CMN) is timed against (paper section 4.3).

Those import no ROS, and nothing here downloads anything: learned metrics read weight files the
caller supplies and return ``None`` when none is given. The commands that run the node graph
(``replay`` with ``replay_analysis`` and ``replay_report``, ``bench*``, ``soak``, ``demo``) drive it
through ``graph``, the one harness (player, recorder, latency calculator, processes, sampler).
"""
