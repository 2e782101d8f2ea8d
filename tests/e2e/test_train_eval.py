"""End to end, on held-out seeds: the data engine generates a small grasp dataset (wx250s, the nominal
spec: the task's own placement, any yaw, with DART skill noise), a small ACT trains on it with the
shipped recipe, and the policy is evaluated closed loop on evaluation seeds it never saw, in
process (through the policy node's controller) and over ROS (smoke).

Thresholds, stated honestly (measured on this 2-core machine; see the module constants): the
untrained policy (same architecture, random weights, the dataset's normalizer) is measured on the
same seeds and succeeds 0 times; the trained one must reach MIN_HELD_OUT_SUCCESSES of
HELD_OUT_EPISODES, far above it.
"""
from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow
ROBOT, TASK = "wx250s", "grasp"
EPISODES = 40
IMAGE_HW = (64, 80)
TRAIN_STEPS = 1000
HELD_OUT_EPISODES = 10
MIN_HELD_OUT_SUCCESSES = 4       # measured: see the README's "Policies that do the task"
MAX_UNTRAINED_SUCCESSES = 0


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    import torch

    from dexsim_policy.models import ACTConfig
    from dexsim_policy.train import TrainConfig, train
    from dexsim_sim.scaling.generate import generate

    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("e2e")
    card = generate(ROBOT, TASK, "nominal/grasp", EPISODES, root / "data", image_size=IMAGE_HW, renderer="tiny",
                    progress=False)
    assert card.num_episodes >= EPISODES * 0.8
    config = ACTConfig(image_size=IMAGE_HW)
    summary = train(root / "data", config, root / "run", config=TrainConfig(
        steps=TRAIN_STEPS, batch_size=32, lr=3e-4, warmup_steps=100, progress=False, val_every=TRAIN_STEPS, seed=0))
    assert summary["final_train_loss"] < 0.5 * summary["initial_train_loss"]
    untrained = train(root / "data", config, root / "untrained", config=TrainConfig(
        steps=1, lr=1e-12, warmup_steps=0, ema_decay=0.0, progress=False, val_every=1, seed=0))
    assert untrained["steps"] == 1
    return root / "run" / "best", root / "untrained" / "best"


def test_trained_act_grasps_held_out_seeds(trained):
    from dexsim_policy.evaluation import eval_seed, evaluate_in_process

    policy, untrained = trained
    held_out = evaluate_in_process(policy, episodes=HELD_OUT_EPISODES, renderer="tiny")
    baseline = evaluate_in_process(untrained, episodes=HELD_OUT_EPISODES, renderer="tiny")
    c, b = held_out["conditions"]["nominal"], baseline["conditions"]["nominal"]
    print(f"held-out seeds: trained {c['successes']}/{c['rated']}, untrained {b['successes']}/{b['rated']}")
    assert [e["seed"] for e in held_out["episodes"]] == [eval_seed(0, i) for i in range(HELD_OUT_EPISODES)]
    assert min(e["seed"] for e in held_out["episodes"]) >= 10 ** 9 > EPISODES   # never a training seed
    assert b["successes"] <= MAX_UNTRAINED_SUCCESSES
    assert c["successes"] >= MIN_HELD_OUT_SUCCESSES, held_out["episodes"]
    assert held_out["safety"]["refused"] == 0


@pytest.mark.ros
def test_closed_loop_over_ros_smoke(trained):
    from dexsim_bringup.ros_evaluation import evaluate_over_ros

    policy, _ = trained
    result = evaluate_over_ros(policy, ROBOT, TASK, episodes=1, episode_sim_s=3.0, real_time_factor=1.0,
                               renderer="tiny")
    [episode] = result["episodes"]
    # rated by the sim node's task check on /dexsim/episode; an episode ends early on success
    assert result["mode"] == "ros" and isinstance(episode["success"], bool)
    assert result["conditions"]["nominal"]["rated"] == 1
    assert episode["success"] or episode["info"]["sim_s"] >= 3.0
    assert episode["info"]["goals_sent_episode"] >= 5
    assert episode["info"]["refused"] == "0"
