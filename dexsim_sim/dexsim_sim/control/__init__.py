"""ROS-free controllers with ros2_control semantics: joint trajectories and a parallel gripper."""
