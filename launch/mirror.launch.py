"""Start the fashionmirror node graph: pose_node, cmn_node, hsg_node (respawned, boundedly).

    ros2 launch fashionmirror_ros mirror.launch.py namespace:=kiosk1 camera_topic:=/kiosk1/usb_cam/image_raw \
        source_image:=/path/me.png garment_catalog:=/path/shirts/ view:=true

Precedence, as in `fashionmirror run` (both use fashionmirror_ros.nodes.graph_params):
node default < params_file < an argument given on the command line. An argument left at its
default '' is not passed at all, so params_file can set checkpoint, device, source_image_path,
garment_image_path and estimator. All topic names are relative: namespace:=kiosk1 moves the
whole graph to /kiosk1/... (only /diagnostics stays global).
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, OpaqueFunction
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

from fashionmirror_ros.nodes.graph_params import LAUNCH_ARGUMENTS, graph_nodes, normalize_namespace

PACKAGE = "fashionmirror_ros"


def _nodes(context, *args, **kwargs):
    """Evaluated at launch time, when the arguments' values are known: only the arguments the user
    gave become parameters, placed after the params file so they win over it."""
    values = {name: LaunchConfiguration(name).perform(context) for name in LAUNCH_ARGUMENTS}
    params_file = LaunchConfiguration("params_file").perform(context)
    namespace = normalize_namespace(values["namespace"])
    respawn_delay = float(values["respawn_delay"])
    respawn_max_retries = int(values["respawn_max_retries"])
    actions = []
    for launch in graph_nodes(values):
        parameters = [params_file] + ([dict(launch.parameters)] if launch.parameters else [])
        actions.append(Node(package=PACKAGE, executable=launch.name, name=launch.name,
                            namespace=namespace, output="screen", emulate_tty=True,
                            parameters=parameters, remappings=list(launch.remappings.items()),
                            respawn=True, respawn_delay=respawn_delay,
                            respawn_max_retries=respawn_max_retries))
    return actions


def generate_launch_description() -> LaunchDescription:
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, (default, text) in LAUNCH_ARGUMENTS.items()]
    declared.append(DeclareLaunchArgument(
        "params_file", default_value=PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "mirror.yaml"]),
        description="node parameters (YAML); explicit launch arguments win over it"))
    return LaunchDescription(declared + [OpaqueFunction(function=_nodes)])
