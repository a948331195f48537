#!/usr/bin/env bash
# Build the package's rosidl messages with colcon into ./install (pip-only machines).
#
# The venv lives inside the source tree (.venv), and CMake refuses exported include paths that
# lie inside the source directory (numpy's headers do), so colcon builds a staged copy of the
# package under build/stage. The library itself is imported from the source tree (scripts/env.sh
# puts it first on PYTHONPATH); the install prefix contributes the generated fashionmirror_ros.msg.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/env.sh
python scripts/fix_rosidl_paths.py
stage=build/stage/fashionmirror_ros
rm -rf "$stage" && mkdir -p "$stage"
mkdir -p "$stage/docs"
cp -a package.xml CMakeLists.txt msg fashionmirror_ros scripts launch config checkpoints assets "$stage/"
cp -a docs/bench "$stage/docs/"
find "$stage" -name '__pycache__' -prune -exec rm -rf {} +
colcon --log-base log build --base-paths build/stage --build-base build/colcon \
  --install-base install \
  --cmake-args -DBUILD_TESTING=OFF -DPython3_EXECUTABLE="$VIRTUAL_ENV/bin/python" \
  --event-handlers console_cohesion-
