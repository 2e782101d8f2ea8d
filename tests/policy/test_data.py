import h5py
import numpy as np
import pytest

from dexsim_policy.data import (DEFAULT_ACTION_INDICES, WindowDataset, WindowSpec, dataset_info, list_episodes,
                                split_episodes)
from dexsim_policy.errors import DatasetError


def test_windows_shapes_and_end_padding(tiny_dataset):
    eps = list_episodes(tiny_dataset)
    assert len(eps) == 4 and all(e.num_steps == 20 for e in eps)
    ds = WindowDataset(eps, WindowSpec.from_horizons(2, -1, 8), load_points=True)
    assert len(ds) == 80
    s = ds[19]  # last step of episode 0: 8 actions starting one step back, 6 beyond the end
    assert s["left_rgb"].shape == (2, 3, 48, 64) and s["left_rgb"].dtype.is_floating_point
    assert 0.0 <= float(s["left_rgb"].min()) and float(s["left_rgb"].max()) <= 1.0
    assert s["points"].shape == (2, 1024, 3)
    assert s["state"].shape == (2, 7)
    assert s["action"].shape == (8, len(DEFAULT_ACTION_INDICES))
    assert s["action_is_pad"].tolist() == [False, False] + [True] * 6
    with h5py.File(eps[0].shard) as f:
        actions = f["data"][eps[0].key]["actions"][...]
    np.testing.assert_allclose(s["action"][:2].numpy(), actions[18:20][:, list(DEFAULT_ACTION_INDICES)])
    np.testing.assert_allclose(s["action"][-1].numpy(), actions[19][list(DEFAULT_ACTION_INDICES)])  # edge value
    first = ds[0]  # start: history repeats frame 0, the action before the start is padding
    assert bool((first["state"][0] == first["state"][1]).all())
    assert first["action_is_pad"][0] and not first["action_is_pad"][1]


def test_split_is_by_episode_and_seeded(tiny_dataset):
    eps = list_episodes(tiny_dataset)
    a = split_episodes(eps, 0.25, seed=3)
    assert a == split_episodes(eps, 0.25, seed=3)
    train, val = a
    assert len(val) == 1 and len(train) == 3 and not {e.key for e in train} & {e.key for e in val}


def test_dataset_info(tiny_dataset):
    info = dataset_info(tiny_dataset)
    assert info["image_size"] == [48, 64] and info["num_joints"] == 6 and info["num_points"] == 1024
    assert info["num_episodes"] == 4 and len(info["action_names"]) == 21


def test_bad_dataset_is_refused(tmp_path):
    with pytest.raises(DatasetError, match="no shard_"):
        list_episodes(tmp_path)
    with h5py.File(tmp_path / "shard_00000.h5", "w") as f:
        f.attrs["format"] = "something-else"
    with pytest.raises(DatasetError, match="format"):
        list_episodes(tmp_path)
