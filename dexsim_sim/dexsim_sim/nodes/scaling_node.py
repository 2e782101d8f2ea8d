"""Thin ROS 2 node serving the data engine: ``dexsim_msgs/action/GenerateDataset`` at
``/dexsim/generate_dataset``.

Generation (:func:`dexsim_sim.scaling.generate.generate`) runs in a worker thread; the action's
execute callback only relays progress as feedback (episodes done / failed / total, rate per minute)
and turns a cancel request into the generator's stop flag. A cancelled goal leaves a valid partial
dataset (finished episodes in finalised shards) and reports it in the result.

Parameters: :data:`PARAMS` (the defaults of goals that leave robot, task, output_dir or workers
empty; stored image size, shard size, renderer, control rate).
Result counts: ``episodes_done`` = episodes finished (written or failed), ``episodes_failed`` = failed.
"""
from __future__ import annotations

import sys

import threading
from pathlib import Path
import time

from rclpy.action import ActionServer, CancelResponse, GoalResponse
from rclpy.callback_groups import ReentrantCallbackGroup
from rclpy.node import Node

from dexsim_msgs.action import GenerateDataset
from dexsim_sim.ros.node_main import run_node
from dexsim_sim.ros.params import NodeParams, Param, declare
from dexsim_sim.world.camera import RENDERERS

ACTION_NAME = "/dexsim/generate_dataset"
POLL_PERIOD_S = 0.1          # how often the execute callback relays progress and checks for cancel
DEFAULT_TASK = "grasp"


PARAMS = NodeParams("scaling_node", (
    Param("robot", "", "robot of goals that leave 'robot' empty ('' = the task's default robot)"),
    Param("task", DEFAULT_TASK, "task of goals that leave 'task' empty"),
    Param("output_dir", "", "folder a goal's relative output_dir is resolved against (and the dataset folder of a "
          "goal that leaves it empty: <output_dir>/<task>_<seed>)"),
    Param("workers", 1, "worker processes of goals that leave 'workers' 0", low=1),
    Param("image_height", 128, "stored image height, pixels", low=8, high=4096),
    Param("image_width", 160, "stored image width, pixels", low=8, high=4096),
    Param("episodes_per_shard", 50, "episodes per HDF5 shard", low=1),
    Param("renderer", "auto", "auto (EGL when it loads, else tiny) | egl | tiny", choices=RENDERERS),
    Param("control_hz", 10.0, "recorded control rate, Hz of sim time", above=0.0),
))


class ScalingNode(Node):
    def __init__(self) -> None:
        super().__init__("dexsim_scaling")
        self.p = declare(self, PARAMS)
        self._busy = threading.Lock()
        self._server = ActionServer(self, GenerateDataset, ACTION_NAME, execute_callback=self._execute,
                                    goal_callback=self._on_goal, cancel_callback=lambda _: CancelResponse.ACCEPT,
                                    callback_group=ReentrantCallbackGroup())

    def _output_dir(self, goal) -> str:
        """The goal's dataset folder: its output_dir (relative ones under the output_dir parameter),
        or <output_dir parameter>/<task>_<seed>; '' when neither is set."""
        root = self.p["output_dir"]
        if goal.output_dir:
            path = Path(goal.output_dir)
            return str(path if path.is_absolute() or not root else Path(root) / path)
        return str(Path(root) / f"{goal.task or self.p['task']}_{goal.seed}") if root else ""

    def _on_goal(self, goal: GenerateDataset.Goal) -> GoalResponse:
        if goal.episodes == 0 or not self._output_dir(goal):
            self.get_logger().warning("rejected goal: episodes must be > 0 and output_dir set (in the goal or "
                                      "as the node's output_dir parameter)")
            return GoalResponse.REJECT
        if self._busy.locked():
            self.get_logger().warning("rejected goal: a generation is already running")
            return GoalResponse.REJECT
        return GoalResponse.ACCEPT

    def _execute(self, goal_handle) -> GenerateDataset.Result:
        from dexsim_sim.scaling.generate import GenerateError, generate
        from dexsim_sim.skills.keypose import SkillError

        goal = goal_handle.request
        robot, task, out_dir = goal.robot or self.p["robot"] or None, goal.task or self.p["task"], self._output_dir(goal)
        stop = threading.Event()
        progress: list = []
        outcome: dict = {}

        def work() -> None:
            try:
                skill, scene = None, goal.scene_file or None
                if goal.skill_file:      # a projected scene without a target: the object the demonstration grasps
                    from dexsim_sim.skills.seed import prepare_seed

                    skill, scene = prepare_seed(goal.skill_file, robot, task, scene, out_dir)
                outcome["card"] = generate(
                    robot, task, goal.spec_file or None, int(goal.episodes),
                    out_dir, workers=int(goal.workers) or self.p["workers"], seed=int(goal.seed),
                    image_size=(self.p["image_height"], self.p["image_width"]),
                    episodes_per_shard=self.p["episodes_per_shard"], renderer=self.p["renderer"],
                    control_hz=self.p["control_hz"], progress=False, on_progress=progress.append,
                    should_stop=stop.is_set, skill=skill, scene=scene)
            except GenerateError as exc:
                outcome["error"] = str(exc)
            except SkillError as exc:
                outcome["error"] = f"skill_file: {exc.detail}"
            except Exception as exc:  # noqa: BLE001 - any failure must end the goal with a message
                outcome["error"] = f"{type(exc).__name__}: {exc}"

        with self._busy:
            t0 = time.monotonic()
            worker = threading.Thread(target=work, name="dexsim_generate", daemon=True)
            worker.start()
            sent = 0
            while True:
                alive = worker.is_alive()
                if goal_handle.is_cancel_requested and not stop.is_set():
                    stop.set()
                for p in progress[sent:]:
                    goal_handle.publish_feedback(GenerateDataset.Feedback(
                        episodes_done=p.done, episodes_failed=p.failed, episodes_total=p.total,
                        rate_per_min=float(p.rate_per_min)))
                    sent += 1
                if not alive:
                    break
                worker.join(POLL_PERIOD_S)
            return self._finish(goal_handle, goal, out_dir, outcome, progress, stop.is_set(), time.monotonic() - t0)

    def _finish(self, goal_handle, goal, out_dir: str, outcome: dict, progress: list, cancelled: bool,
                wall_s: float) -> GenerateDataset.Result:
        import json

        result = GenerateDataset.Result(dataset_path=out_dir, wall_time_s=wall_s)
        if progress:
            result.episodes_done, result.episodes_failed = progress[-1].done, progress[-1].failed
        if "error" in outcome:
            result.message = outcome["error"]
            goal_handle.abort()
            return result
        card = outcome["card"]
        result.episodes_done = int(card.extra.get("attempted", result.episodes_done))
        result.episodes_failed = int(card.extra.get("failed", result.episodes_failed))
        done = result.episodes_done
        result.success_rate = (done - result.episodes_failed) / done if done else 0.0
        result.card_json = json.dumps(card.to_dict())
        if cancelled:
            result.message = (f"cancelled: partial dataset with {card.num_episodes} episodes "
                              f"({done} of {goal.episodes} attempted)")
            goal_handle.canceled()
        else:
            result.success = True
            result.message = f"{card.num_episodes} episodes written, {result.episodes_failed} failed"
            goal_handle.succeed()
        return result


def main(args: list[str] | None = None) -> int:
    return run_node(ScalingNode, name="scaling_node", num_threads=3, args=args)


if __name__ == "__main__":
    sys.exit(main())
