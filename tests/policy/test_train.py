import json

import pytest

from dexsim_policy.checkpoint import load_checkpoint
from dexsim_policy.errors import CheckpointError, DatasetError
from dexsim_policy.models import DiffusionConfig
from dexsim_policy.train import TrainConfig, train

SMALL = dict(image_keys=("left_rgb",), backbone_widths=(8, 16), backbone_blocks=(1, 1), down_dims=(16, 32),
             step_embed_dim=16, horizon=8, n_action_steps=4)


def test_train_checkpoints_and_resume(tiny_dataset, tmp_path):
    out = tmp_path / "run"
    cfg = TrainConfig(batch_size=4, val_fraction=0.25, max_val_batches=2, progress=False)
    s1 = train(tiny_dataset, DiffusionConfig(**SMALL), out, steps=6, val_every=3, seed=1, config=cfg)
    assert s1["steps"] == 6 and s1["start_step"] == 0 and s1["device"] == "cpu"
    assert s1["num_train_episodes"] == 3 and s1["num_val_episodes"] == 1
    assert s1["best_step"] in (3, 6) and s1["best_val_loss"] > 0
    for name in ("latest/model.safetensors", "latest/train_state.safetensors", "best/policy.json",
                 "loss_curve.png", "history.json"):
        assert (out / name).is_file(), name
    assert (out / "loss_curve.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    ckpt = load_checkpoint(out / "latest")
    assert ckpt.step == 6 and ckpt.action_names == ["a0", "a1", "a2", "a3", "a4", "a5", "a13"]
    assert ckpt.dataset_info["image_size"] == [48, 64] and len(ckpt.dataset_info["val_episodes"]) == 1
    s2 = train(tiny_dataset, DiffusionConfig(**SMALL), out, steps=9, val_every=3, seed=1, config=cfg)
    assert s2["start_step"] == 6 and s2["steps"] == 9
    assert len(json.loads((out / "history.json").read_text())["train"]) == 9
    with pytest.raises(CheckpointError, match="different policy config"):
        train(tiny_dataset, DiffusionConfig(**{**SMALL, "horizon": 16}), out, steps=12, config=cfg)


def test_train_is_seeded(tiny_dataset, tmp_path):
    cfg = TrainConfig(batch_size=4, val_fraction=0.25, max_val_batches=1, progress=False)
    a = train(tiny_dataset, DiffusionConfig(**SMALL), tmp_path / "a", steps=3, val_every=3, seed=4, config=cfg)
    b = train(tiny_dataset, DiffusionConfig(**SMALL), tmp_path / "b", steps=3, val_every=3, seed=4, config=cfg)
    assert a["final_train_loss"] == b["final_train_loss"] and a["best_val_loss"] == b["best_val_loss"]


def test_state_width_mismatch_is_named(tiny_dataset, tmp_path):
    with pytest.raises(DatasetError, match="state_dim=9"):
        train(tiny_dataset, DiffusionConfig(**SMALL, state_dim=9), tmp_path, steps=1,
              config=TrainConfig(progress=False))


def test_a_bimanual_dataset_trains_a_policy_for_both_arms(synthetic_dataset, tmp_path):
    """A multi-arm dataset (42 action columns) trains each arm's joints and gripper from every arm's
    state by default, and the runtime takes the observation the node and the evaluation build."""
    import numpy as np

    from dexsim_policy.controller import policy_observation
    from dexsim_policy.runtime import PolicyRuntime

    data = synthetic_dataset(tmp_path / "bi", n_episodes=2, n_steps=12, arms=2)
    out = tmp_path / "run"
    train(data, DiffusionConfig(**SMALL), out, steps=2, val_every=2,
          config=TrainConfig(batch_size=2, val_fraction=0.0, progress=False))
    ckpt = load_checkpoint(out / "latest")
    cfg = ckpt.policy.config
    assert cfg.action_indices == (0, 1, 2, 3, 4, 5, 13, 21, 22, 23, 24, 25, 26, 34)
    assert cfg.state_keys == ("joint_pos", "gripper_arms") and cfg.state_dim == 14
    assert ckpt.action_names[6:8] == ["arm0/a13", "arm1/a0"] and ckpt.dataset_info["num_arms"] == 2
    runtime = PolicyRuntime.load(out / "latest")
    img = np.zeros((48, 64, 3), np.uint8)
    chunk = runtime.act_chunk(policy_observation(img, img, [np.zeros(6), np.zeros(6)], [0.05, 0.05]))
    assert chunk.shape == (SMALL["n_action_steps"], 14) and np.isfinite(chunk).all()
