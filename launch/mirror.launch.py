"""Start the fashionmirror node graph: pose_node, cmn_node, hsg_node (respawned if they die).

    ros2 launch fashionmirror_ros mirror.launch.py camera_topic:=/camera/image_raw \
        source_image:=/path/me.png garment_image:=/path/shirt.png device:=auto
"""
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration, PathJoinSubstitution
from launch_ros.actions import Node
from launch_ros.substitutions import FindPackageShare

PACKAGE = "fashionmirror_ros"
RESPAWN_DELAY_S = 1.0


def generate_launch_description() -> LaunchDescription:
    arguments = {
        "camera_topic": ("/camera/image_raw", "camera image topic (sensor_msgs/Image)"),
        "source_image": ("", "image file of the source human h^s (else /tryon/source_image)"),
        "garment_image": ("", "image file of the garment C (else /tryon/garment_image)"),
        "checkpoint": ("", "checkpoint directory; empty = the shipped realtime checkpoint"),
        "device": ("auto", "auto, cpu, cuda or cuda:N"),
        "params_file": (PathJoinSubstitution([FindPackageShare(PACKAGE), "config", "mirror.yaml"]),
                        "node parameters (YAML)"),
    }
    declared = [DeclareLaunchArgument(name, default_value=default, description=text)
                for name, (default, text) in arguments.items()]
    params_file = LaunchConfiguration("params_file")
    model_overrides = {
        "checkpoint": LaunchConfiguration("checkpoint"),
        "device": LaunchConfiguration("device"),
        "source_image_path": LaunchConfiguration("source_image"),
        "garment_image_path": LaunchConfiguration("garment_image"),
    }

    def node(executable: str, overrides: dict, remappings=()) -> Node:
        return Node(package=PACKAGE, executable=executable, name=executable, output="screen",
                    parameters=[params_file, overrides], remappings=list(remappings),
                    respawn=True, respawn_delay=RESPAWN_DELAY_S)

    return LaunchDescription(declared + [
        node("pose_node", {}, [("/camera/image_raw", LaunchConfiguration("camera_topic"))]),
        node("cmn_node", model_overrides),
        node("hsg_node", model_overrides),
    ])
