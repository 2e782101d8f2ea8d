#!/usr/bin/env bash
# Source ROS 2 and the DexSim workspace, then run the command (default: bash).
set -e
source /opt/ros/kilted/setup.bash
source /opt/dexsim/ros_ws/install/setup.bash
exec "$@"
