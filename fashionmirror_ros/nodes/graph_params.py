"""Which nodes the mirror graph starts and with which parameters: one rule for both launchers.

launch/mirror.launch.py (real ROS 2) and `fashionmirror run` (pip-only machines) both call
graph_nodes() with the arguments the user gave, so they start the same nodes with the same
precedence:

    node default  <  params file  <  an argument the user gave explicitly

An argument that is '' or None was not given: nothing is passed for it, and the params file
(or the node's default) decides. The launch file's old behaviour, always passing
checkpoint:='' and device:=auto after the params file, silently overrode the user's file.
This module imports nothing from ROS, so the launch file can use it on any install.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping

from fashionmirror_ros import topics

GRAPH_NODES = ("pose_node", "cmn_node", "hsg_node")
VIEW_NODE = "mirror_view"
CATALOG_NODE = "garment_catalog"

# A node that dies is restarted after RESPAWN_DELAY_S, at most RESPAWN_MAX_RETRIES times in a row
# (launch_ros counts every restart; `fashionmirror run` counts restarts of a node that died within
# its first seconds, see supervisor.py), so a bad checkpoint does not restart torch forever.
RESPAWN_DELAY_S = 1.0
RESPAWN_MAX_RETRIES = 5

# argument -> (parameter name, nodes that take it)
PARAMETER_ARGUMENTS: dict[str, tuple[str, tuple[str, ...]]] = {
    "checkpoint": ("checkpoint", ("cmn_node", "hsg_node")),
    "device": ("device", ("cmn_node", "hsg_node")),
    # pose_node computes the source pose p^0 from the same file.
    "source_image": ("source_image_path", ("pose_node", "cmn_node", "hsg_node")),
    "garment_image": ("garment_image_path", ("cmn_node", "hsg_node")),
    "background_image": ("background_image_path", ("hsg_node",)),
    "estimator": ("estimator", ("pose_node",)),
}

# The launch file's arguments: name -> (default, description). '' means "not given".
LAUNCH_ARGUMENTS: dict[str, tuple[str, str]] = {
    "namespace": ("", "namespace of every node and topic (two mirrors side by side: kiosk1, kiosk2)"),
    "camera_topic": ("", f"camera topic remapped onto {topics.CAMERA_IMAGE} (relative names "
                         "resolve in the namespace); empty = not remapped"),
    "source_image": ("", "image file of the source human h^s; empty = params file / "
                         f"{topics.SOURCE_IMAGE}"),
    "garment_image": ("", "image file of the garment C; empty = params file / "
                          f"{topics.GARMENT_IMAGE}"),
    "background_image": ("", "image file of the camera's view with nobody in it (a clean plate, "
                             "same camera and framing as h^s): shown behind the person instead of "
                             f"the inpainted background; empty = params file / {topics.BACKGROUND_IMAGE}"),
    "checkpoint": ("", "checkpoint directory; empty = params file, else the shipped checkpoint"),
    "device": ("", "auto, cpu, cuda or cuda:N; empty = params file (auto)"),
    "estimator": ("", "pose source of pose_node; empty = params file (mediapipe_pose)"),
    "garment_catalog": ("", "folder of garment photos published on the latched garment topic "
                            "(first one at start; n/p in the mirror view switch)"),
    "view": ("false", "true: also start the full-screen mirror display (mirror_view)"),
    "respawn_delay": (str(RESPAWN_DELAY_S), "seconds before a node that died is restarted"),
    "respawn_max_retries": (str(RESPAWN_MAX_RETRIES), "restarts of a node before giving up"),
}


@dataclass(frozen=True)
class NodeLaunch:
    """One node to start: its executable (= node name), overrides and remappings."""

    name: str
    parameters: dict = field(default_factory=dict)
    remappings: dict = field(default_factory=dict)


def given(value) -> bool:
    return value is not None and str(value).strip() != ""


def is_true(value) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


def normalize_namespace(namespace: str | None) -> str:
    """'' for the root namespace, else '/a/b' (accepts 'kiosk1', '/kiosk1', 'kiosk1/')."""
    if not given(namespace):
        return ""
    return "/" + namespace.strip().strip("/")


def graph_nodes(arguments: Mapping[str, object]) -> list[NodeLaunch]:
    """The nodes for these arguments, with only the parameters the user actually gave.

    `arguments` uses the launch argument names (LAUNCH_ARGUMENTS); missing, None and '' mean
    "not given". Parameter values stay strings for the launch file, as ros2 launch passes them.
    """
    overrides: dict[str, dict] = {name: {} for name in GRAPH_NODES}
    for argument, (parameter, nodes) in PARAMETER_ARGUMENTS.items():
        value = arguments.get(argument)
        if given(value):
            for node in nodes:
                overrides[node][parameter] = value
    camera_remap = {}
    if given(arguments.get("camera_topic")) and arguments["camera_topic"] != topics.CAMERA_IMAGE:
        camera_remap = {topics.CAMERA_IMAGE: arguments["camera_topic"]}
    launches = [NodeLaunch(name, overrides[name], camera_remap if name == "pose_node" else {})
                for name in GRAPH_NODES]
    catalog = arguments.get("garment_catalog")
    if is_true(arguments.get("view", "false")):
        view_parameters = {"garment_catalog": catalog} if given(catalog) else {}
        launches.append(NodeLaunch(VIEW_NODE, view_parameters, camera_remap))
    elif given(catalog):
        # Without a display, a headless catalogue node holds the first garment on the latched topic.
        launches.append(NodeLaunch(CATALOG_NODE, {"catalog": catalog}))
    return launches
