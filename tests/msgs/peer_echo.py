"""Peer process for the cross-process interface tests (run as a script, not collected).

- echoes every dexsim_msgs/SceneDescription from /dexsim_test/scene_in to /dexsim_test/scene_out;
- serves dexsim_msgs/action/GenerateDataset at /dexsim_test/generate: one feedback per
  "episode" every 50 ms, cancellable, result with the counts.
"""
import sys
import time

import rclpy
from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.executors import ExternalShutdownException, MultiThreadedExecutor

from dexsim_msgs.action import GenerateDataset
from dexsim_msgs.msg import SceneDescription


def main() -> int:
    rclpy.init()
    node = rclpy.create_node("dexsim_test_peer")
    pub = node.create_publisher(SceneDescription, "/dexsim_test/scene_out", 10)
    node.create_subscription(SceneDescription, "/dexsim_test/scene_in", pub.publish, 10)

    def execute(goal_handle):
        goal = goal_handle.request
        done = 0
        for _ in range(goal.episodes):
            if goal_handle.is_cancel_requested:
                goal_handle.canceled()
                return GenerateDataset.Result(success=False, message="canceled", episodes_done=done)
            time.sleep(0.05)
            done += 1
            goal_handle.publish_feedback(GenerateDataset.Feedback(
                episodes_done=done, episodes_failed=0, episodes_total=goal.episodes, rate_per_min=1200.0))
        goal_handle.succeed()
        return GenerateDataset.Result(success=True, message="ok", dataset_path=goal.output_dir,
                                      episodes_done=done, success_rate=1.0)

    ActionServer(node, GenerateDataset, "/dexsim_test/generate", execute_callback=execute,
                 goal_callback=lambda g: GoalResponse.ACCEPT if g.episodes > 0 else GoalResponse.REJECT,
                 cancel_callback=lambda g: CancelResponse.ACCEPT, callback_group=ReentrantCallbackGroup())
    executor = MultiThreadedExecutor(num_threads=2)
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        executor.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
