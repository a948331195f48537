"""pip install -e . : the fashionmirror_ros library and the `fashionmirror` command, without ROS.

The ROS 2 build (messages, node executables, launch files) is ament_cmake: see CMakeLists.txt.
"""
from setuptools import find_packages, setup

setup(
    name="fashionmirror_ros",
    version="0.1.0",
    description="Live virtual try-on (FashionMirror, ICCV 2021) as a ROS 2 node graph",
    license="Apache-2.0",
    python_requires=">=3.10",
    packages=find_packages(include=["fashionmirror_ros", "fashionmirror_ros.*"]),
    install_requires=["torch==2.13.0", "numpy<2", "safetensors", "opencv-contrib-python", "pyyaml"],
    entry_points={
        "console_scripts": [
            "fashionmirror = fashionmirror_ros.cli:main",
            "fashionmirror-pose-node = fashionmirror_ros.nodes.pose_node:main",
            "fashionmirror-cmn-node = fashionmirror_ros.nodes.cmn_node:main",
            "fashionmirror-hsg-node = fashionmirror_ros.nodes.hsg_node:main",
        ]
    },
)
