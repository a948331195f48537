# Source this file for a shell where the venv, the colcon-built messages and ROS 2 work:
#   source scripts/env.sh
# (colcon's local_setup.sh does not export PYTHONPATH/LD_LIBRARY_PATH for a venv prefix.)
_fm_root="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export FASHIONMIRROR_ROOT="$_fm_root"
export VIRTUAL_ENV="$_fm_root/.venv"
export PATH="$VIRTUAL_ENV/bin:$PATH"
_fm_install="$_fm_root/install/fashionmirror_ros"
_fm_site="$_fm_install/lib/python3.11/site-packages"
export PYTHONPATH="$_fm_root:$_fm_site${PYTHONPATH:+:$PYTHONPATH}"
export LD_LIBRARY_PATH="$_fm_install/lib:$VIRTUAL_ENV/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export AMENT_PREFIX_PATH="$_fm_install:$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
export RMW_IMPLEMENTATION="${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}"
# Loopback only: no DDS traffic leaves the machine unless the user says otherwise.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
unset _fm_root _fm_install _fm_site
