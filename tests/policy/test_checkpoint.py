import json
import pickle

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from dexsim_policy.bench import _identity_stats
from dexsim_policy.checkpoint import META_FILE, MODEL_FILE, load_checkpoint, save_checkpoint
from dexsim_policy.errors import CheckpointError, ObservationError
from dexsim_policy.models import ACTConfig, DiffusionConfig, PointCloudDiffusionConfig, make_policy
from dexsim_policy.runtime import PolicyRuntime

TINY = {
    "act": ACTConfig(color_jitter=None),
    "diffusion": DiffusionConfig(image_keys=("left_rgb",)),
    "pointcloud_diffusion": PointCloudDiffusionConfig(num_points=64),
}


def _obs(rng, size=(60, 80)):
    return {"left_rgb": rng.integers(0, 256, (*size, 3), dtype=np.uint8),
            "right_rgb": rng.integers(0, 256, (*size, 3), dtype=np.uint8),
            "joint_pos": rng.uniform(-1, 1, 6), "gripper": np.array([0.04]),
            "points": rng.normal(0, 0.1, (1024, 3))}


def _saved(tmp_path, kind="diffusion"):
    torch.manual_seed(0)
    policy = make_policy(TINY[kind])
    _identity_stats(policy)
    return save_checkpoint(tmp_path / kind, policy, step=7, dataset_info={"robot": "sr3"},
                           action_names=[f"a{i}" for i in range(7)]), policy


@pytest.mark.parametrize("kind", sorted(TINY))
def test_roundtrip_gives_bit_identical_actions(tmp_path, kind):
    path, policy = _saved(tmp_path, kind)
    meta = json.loads((path / META_FILE).read_text())
    assert meta["policy_type"] == kind and meta["step"] == 7 and len(meta["model_sha256"]) == 64
    runtimes = [PolicyRuntime(policy, seed=3), PolicyRuntime.load(path, seed=3)]
    assert runtimes[1].action_names == [f"a{i}" for i in range(7)]
    outs = []
    for rt in runtimes:
        rng = np.random.default_rng(0)  # raw 60x80 images are resized to the trained 48x64
        outs.append(np.stack([rt.act(_obs(rng)) for _ in range(3)] + [rt.act_chunk(_obs(rng))[0]]))
    assert outs[0].shape == (4, 7) and np.isfinite(outs[0]).all()
    assert np.array_equal(outs[0], outs[1])
    runtimes[1].reset()
    rng = np.random.default_rng(0)
    assert np.array_equal(runtimes[1].act(_obs(rng)), outs[1][0])  # reset re-seeds: reproducible episode


def test_pickle_checkpoints_are_refused(tmp_path):
    policy = make_policy(TINY["act"])
    torch.save(policy.state_dict(), tmp_path / "policy.pt")
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(tmp_path / "policy.pt")
    path, _ = _saved(tmp_path)
    with open(path / MODEL_FILE, "wb") as f:  # a pickle disguised under the safetensors name
        pickle.dump({"x": 1}, f)
    with pytest.raises(CheckpointError, match="pickle"):
        load_checkpoint(path)


def test_tampered_weights_are_refused(tmp_path):
    path, _ = _saved(tmp_path)
    tensors = load_file(str(path / MODEL_FILE))
    key = next(iter(tensors))
    tensors[key] = tensors[key] + 1.0
    save_file(tensors, str(path / MODEL_FILE), metadata={"format": "dexsim-policy"})
    with pytest.raises(CheckpointError, match="SHA-256"):
        load_checkpoint(path)


def test_config_mismatch_and_tensor_mismatch_are_refused(tmp_path):
    path, _ = _saved(tmp_path)
    meta = json.loads((path / META_FILE).read_text())
    meta["config"]["num_inference_steps"] = 5
    (path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="does not match"):
        load_checkpoint(path)
    meta["config"]["num_inference_steps"] = -1
    (path / META_FILE).write_text(json.dumps(meta))
    with pytest.raises(CheckpointError, match="num_inference_steps"):
        load_checkpoint(path)
    # a checkpoint whose tensors lack one entry (hash and config consistent) is refused too
    path2, policy = _saved(tmp_path / "b")
    state = {k: v.contiguous() for k, v in policy.state_dict().items()}
    state.pop("normalizer.action_mean")
    from safetensors import safe_open
    with safe_open(str(path2 / MODEL_FILE), framework="pt") as f:
        header = f.metadata()
    save_file(state, str(path2 / MODEL_FILE), metadata=header)
    from dexsim_policy.checkpoint import sha256_file
    meta2 = json.loads((path2 / META_FILE).read_text())
    meta2["model_sha256"] = sha256_file(path2 / MODEL_FILE)
    (path2 / META_FILE).write_text(json.dumps(meta2))
    with pytest.raises(CheckpointError, match="missing.*normalizer.action_mean"):
        load_checkpoint(path2)


def test_runtime_rejects_bad_observations(tmp_path):
    path, _ = _saved(tmp_path)
    rt = PolicyRuntime.load(path)
    obs = _obs(np.random.default_rng(0))
    with pytest.raises(ObservationError, match="uint8"):
        rt.act({**obs, "left_rgb": obs["left_rgb"].astype(np.float32)})
    with pytest.raises(ObservationError, match="state"):
        rt.act({**obs, "joint_pos": np.full(6, np.nan)})


def test_the_shipped_checkpoint_loads_after_config_fields_were_added():
    """The demo checkpoint was saved before ACTConfig.inference_latent existed: it still loads, with
    the new field at its default (the prior mean, as ACT)."""
    from pathlib import Path

    import dexsim_bringup

    ckpt = load_checkpoint(Path(dexsim_bringup.__file__).parent / "resources" / "demo_policy")
    assert ckpt.policy.config.inference_latent == "zero"


def test_the_dataset_scene_travels_with_the_checkpoint(tmp_path):
    """save_checkpoint copies the dataset's scene file; evaluation defaults use the copy, so a
    checkpoint moved away from its dataset (or shipped) rebuilds the world it was trained in."""
    import shutil
    from pathlib import Path

    import dexsim_bringup
    from dexsim_policy.checkpoint import checkpoint_scene
    from dexsim_policy.evaluation import checkpoint_defaults
    from dexsim_sim.world.scene import load_scene

    shipped = Path(dexsim_bringup.__file__).parent / "resources" / "demo_policy"
    scene = tmp_path / "data" / "generation_scene.yaml"
    scene.parent.mkdir()
    shutil.copy(shipped / "scene.yaml", scene)
    torch.manual_seed(0)
    policy = make_policy(TINY["act"])
    _identity_stats(policy)
    path = save_checkpoint(tmp_path / "ckpt", policy, dataset_info={"robot": "wx250s", "scene_file": str(scene)})
    shutil.rmtree(scene.parent)                               # the dataset is gone
    assert checkpoint_scene(path) == path / "scene.yaml"
    assert checkpoint_defaults(path)["scene_file"] == str(path / "scene.yaml")
    assert load_scene(checkpoint_defaults(shipped)["scene_file"]).robot.name == "wx250s"
    assert checkpoint_scene(_saved(tmp_path)[0]) is None        # no scene recorded: the task's default
