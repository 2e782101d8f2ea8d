# DexSim, full ROS 2 mode: the official ROS 2 Kilted image, the distro's launch/rosbag2/tf2/
# ros2_control interfaces/RViz from apt, DexSim's Python dependencies from pip, and the
# workspace built with colcon. (Pip mode needs none of this: see README.)
#   docker build -t dexsim .
#   docker run --rm -it --net=host dexsim ros2 launch dexsim_bringup sim.launch.py robot:=wx250s
FROM ros:kilted-ros-base

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
ENV DEBIAN_FRONTEND=noninteractive \
    PIP_NO_CACHE_DIR=1 \
    PIP_BREAK_SYSTEM_PACKAGES=1 \
    RMW_IMPLEMENTATION=rmw_fastrtps_cpp

# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends \
        python3-pip \
        ros-kilted-launch-ros \
        ros-kilted-rosbag2 \
        ros-kilted-rosbag2-storage-mcap \
        ros-kilted-tf2-ros \
        ros-kilted-tf2-msgs \
        ros-kilted-control-msgs \
        ros-kilted-robot-state-publisher \
        ros-kilted-rviz2 \
        ros-kilted-foxglove-bridge \
        libegl1 libegl-mesa0 libgl1-mesa-dri \
    && rm -rf /var/lib/apt/lists/*

WORKDIR /opt/dexsim
# CPU build of torch from PyTorch's index (PyPI's default build pulls several GB of CUDA).
COPY requirements-sim.txt requirements-nodeps.txt ./
RUN pip3 install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r requirements-sim.txt \
 && pip3 install --no-cache-dir --no-deps -r requirements-nodeps.txt

# The distro's control_msgs / tf2_msgs are used here: interfaces_pip/ is for pip mode only.
COPY . .
WORKDIR /opt/dexsim/ros_ws
RUN . /opt/ros/kilted/setup.bash \
    && colcon build --symlink-install --event-handlers console_direct- \
    && rm -rf build log
WORKDIR /opt/dexsim

ENTRYPOINT ["/opt/dexsim/docker/entrypoint.sh"]
CMD ["bash"]
