"""launch/mirror.launch.py is a standard launch_ros file; checked where launch_ros exists."""
import importlib.util
from pathlib import Path

import pytest

LAUNCH_FILE = Path(__file__).resolve().parents[1] / "launch" / "mirror.launch.py"


def test_launch_file_is_valid_python_declaring_the_three_nodes():
    source = LAUNCH_FILE.read_text()
    compile(source, str(LAUNCH_FILE), "exec")
    for executable in ("pose_node", "cmn_node", "hsg_node"):
        assert f'"{executable}"' in source
    for argument in ("camera_topic", "source_image", "garment_image", "checkpoint", "device",
                     "params_file"):
        assert f'"{argument}"' in source
    assert "respawn=True" in source


def test_launch_description_builds():
    pytest.importorskip("launch_ros", reason="launch_ros is not installable from PyPI here")
    spec = importlib.util.spec_from_file_location("mirror_launch", LAUNCH_FILE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    from launch_ros.actions import Node

    description = module.generate_launch_description()
    nodes = [entity for entity in description.entities if isinstance(entity, Node)]
    assert len(nodes) == 3
