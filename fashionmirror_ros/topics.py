"""Every topic name of the node graph, in one place.

Names are relative, as ROS 2 expects of reusable nodes: they resolve inside the node's namespace,
so `fashionmirror run --namespace kiosk1` (or `namespace:=kiosk1` on the launch file) gives
/kiosk1/camera/image_raw, /kiosk1/tryon/image, ... and two mirrors share one ROS domain without
crosstalk. /diagnostics stays absolute: the ROS convention is one aggregated diagnostics topic,
and each status names its node with the namespace.

Bags store fully qualified names; `absolute()` gives the name a relative one has in the root
namespace (what recorded bags of this package carry).
"""
from __future__ import annotations

CAMERA_IMAGE = "camera/image_raw"            # sensor_msgs/Image from the camera driver
CAMERA_KEYPOINTS = "camera/keypoints"        # recorded PoseKeypoints (estimator:=recorded)
SOURCE_IMAGE = "tryon/source_image"          # h^s, latched
GARMENT_IMAGE = "tryon/garment_image"        # C, latched
SOURCE_KEYPOINTS = "tryon/source_keypoints"  # pose of h^s (p^0), latched
SOURCE_PERSON_MASK = "tryon/source_person_mask"  # person mask of h^s (mono8), latched
BACKGROUND_IMAGE = "tryon/background_image"  # the static camera's empty view (clean plate), latched
TRYON_IMAGE = "tryon/image"                  # the try-on, also fed back to cmn_node
POSE_KEYPOINTS = "pose/keypoints"
POSE_SKELETON = "pose/skeleton"
CMN_MASKS = "cmn/masks"
LATENCY = "fashionmirror/latency"
GROUND_TRUTH_IMAGE = "ground_truth/image"            # bags of generated clips only
GROUND_TRUTH_CLOTH_MASK = "ground_truth/cloth_mask"  # bags of generated clips only
DIAGNOSTICS = "/diagnostics"
# `fashionmirror bench`'s per-step breakdown times publishing on topics nobody else uses
BENCH_IMAGE = "/fashionmirror_bench/image"
BENCH_MASKS = "/fashionmirror_bench/masks"
BENCH_POSE = "/fashionmirror_bench/pose"
# the custom-message round trip between two processes (test/test_messages_dds.py)
TEST_POSE = "test/pose"
TEST_MASKS = "test/masks"
TEST_LATENCY = "test/latency"


def absolute(name: str, namespace: str = "") -> str:
    """The fully qualified name of `name` in `namespace` ('' or '/' = the root namespace)."""
    if name.startswith("/"):
        return name
    namespace = namespace.strip("/")
    return f"/{namespace}/{name}" if namespace else f"/{name}"
