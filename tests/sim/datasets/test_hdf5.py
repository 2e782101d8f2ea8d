"""HDF5 writer/reader: round trip, sharding, crash safety and resume, card, layout validation."""
from __future__ import annotations

import json
import os

import h5py
import numpy as np
import pytest

from dexsim_sim.datasets.card import read_card, spec_hash
from dexsim_sim.datasets.hdf5 import (DatasetLayoutError, DatasetReader, DatasetWriter, DuplicateEpisodeError,
                                      EpisodeError, completed_seeds, validate_dataset)


def test_round_trip_shards_and_random_access(tmp_path, episode_factory):
    eps = [episode_factory(s, success=s % 2 == 0) for s in (7, 3, 11, 5, 2)]
    with DatasetWriter(tmp_path, episodes_per_shard=2, dr_spec={"name": "x"}) as w:
        for ep in eps:
            w.add_episode(ep)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["card.json", "shard_00000.h5", "shard_00001.h5",
                                                            "shard_00002.h5"]
    r = DatasetReader(tmp_path)
    assert len(r) == 5 and r.seeds == [2, 3, 5, 7, 11]
    assert [e.seed for e in r] == [7, 3, 11, 5, 2]          # shard order = write order
    back = r.episode(11)
    src = eps[2]
    for key, arr in src.obs.items():
        np.testing.assert_array_equal(back.obs[key], arr, err_msg=key)
        assert back.obs[key].dtype == arr.dtype
    np.testing.assert_array_equal(back.actions, src.actions)
    np.testing.assert_array_equal(back.dones, src.dones)
    assert back.action_names == src.action_names and back.camera == src.camera
    assert back.dr_sample == src.dr_sample and back.extra == src.extra and back.success is False
    with h5py.File(tmp_path / "shard_00000.h5", "r") as f:
        assert f.attrs["format"] == "dexsim-hdf5" and f.attrs["version"] == 1
        g = f["data/ep_00000007"]
        assert g["obs/left_rgb"].compression == "lzf" and g["obs/seg"].compression == "lzf"
        assert g["obs/points"].compression is None and g["actions"].compression is None
        assert list(g.attrs["image_size"]) == [12, 16]
        assert json.loads(g.attrs["action_names"])[0] == "joint_0"
    with pytest.raises(KeyError, match="seed 4"):
        r.episode(4)


def test_card_counts_and_failure_histogram(tmp_path, episode_factory):
    spec = {"name": "grasp_default", "factors": []}
    with DatasetWriter(tmp_path, episodes_per_shard=3, robot="wx250s", task="grasp", dr_spec=spec) as w:
        w.add_episode(episode_factory(0, T=3))
        w.add_episode(episode_factory(1, T=5, success=False, failure_reason="grasp_slipped"))
        w.add_episode(episode_factory(2, T=4, success=False, failure_reason="ik_failed"))
        w.add_episode(episode_factory(3, T=2, success=False, failure_reason="grasp_slipped"))
    card = read_card(tmp_path)
    assert card["num_episodes"] == 4 and card["num_shards"] == 2 and card["num_steps"] == 14
    assert card["success_rate"] == pytest.approx(0.25)
    assert card["failure_reasons"] == {"grasp_slipped": 2, "ik_failed": 1}
    assert card["image_size"] == [12, 16] and card["robot"] == "wx250s" and card["task"] == "grasp"
    assert card["dr_ranges"] == spec and card["dr_spec_hash"] == spec_hash(spec)
    assert card["created"].endswith("+00:00")


def test_crash_leaves_only_finalised_episodes_and_resume_has_no_duplicates(tmp_path, episode_factory):
    pid = os.fork()
    if pid == 0:   # child: write 3 episodes (one full shard of 2 + one open shard), then die abruptly
        try:
            w = DatasetWriter(tmp_path, episodes_per_shard=2)
            for s in range(3):
                w.add_episode(episode_factory(s))
        finally:
            os._exit(0)
    _, status = os.waitpid(pid, 0)
    assert os.WEXITSTATUS(status) == 0
    assert (tmp_path / "shard_00001.h5.partial").exists()
    assert not (tmp_path / "card.json").exists()
    assert completed_seeds(tmp_path) == {0, 1}
    assert not (tmp_path / "shard_00001.h5.partial").exists()    # leftover removed
    with DatasetWriter(tmp_path, episodes_per_shard=2) as w:
        with pytest.raises(DuplicateEpisodeError, match="seed 1"):
            w.add_episode(episode_factory(1))
        for s in range(5):
            if s not in w.seeds:
                w.add_episode(episode_factory(s))
    r = DatasetReader(tmp_path)
    assert sorted(e.seed for e in r) == [0, 1, 2, 3, 4]
    assert [p.name for p in r.shards] == ["shard_00000.h5", "shard_00001.h5", "shard_00002.h5"]
    assert read_card(tmp_path)["num_episodes"] == 5


def test_validation_names_missing_dataset_and_attribute(tmp_path, episode_factory):
    with DatasetWriter(tmp_path, episodes_per_shard=1) as w:
        w.add_episode(episode_factory(0))
        w.add_episode(episode_factory(1))
    assert validate_dataset(tmp_path) == 2
    with h5py.File(tmp_path / "shard_00000.h5", "a") as f:
        del f["data/ep_00000000/obs/points"]
    with pytest.raises(DatasetLayoutError, match=r"shard_00000.h5:/data/ep_00000000/obs/points: missing dataset"):
        validate_dataset(tmp_path)
    (tmp_path / "shard_00000.h5").unlink()
    with h5py.File(tmp_path / "shard_00001.h5", "a") as f:
        del f["data/ep_00000001"].attrs["camera"]
    with pytest.raises(DatasetLayoutError, match=r"shard_00001.h5:/data/ep_00000001: attribute 'camera' missing"):
        DatasetReader(tmp_path)


def test_episode_validation_names_the_array(episode_factory):
    ep = episode_factory(0)
    bad = dict(ep.obs, points=np.zeros((4, 512, 3), np.float32))
    with pytest.raises(EpisodeError, match=r"obs/points: expected \(T, 1024, 3\)"):
        type(ep)(**{**ep.__dict__, "obs": bad})
    with pytest.raises(EpisodeError, match="obs/left_rgb: expected uint8"):
        type(ep)(**{**ep.__dict__, "obs": dict(ep.obs, left_rgb=ep.obs["left_rgb"].astype(np.float32))})
    with pytest.raises(EpisodeError, match=r"obs: missing \['seg'\]"):
        type(ep)(**{**ep.__dict__, "obs": {k: v for k, v in ep.obs.items() if k != "seg"}})
    with pytest.raises(EpisodeError, match="21 columns but 20 action_names"):
        type(ep)(**{**ep.__dict__, "action_names": ep.action_names[:20]})


def test_a_full_disk_during_a_shard_write_loses_and_corrupts_nothing(tmp_path, episode_factory):
    """The writer's process hits a file-size limit (EFBIG, as a full disk gives ENOSPC) in the middle
    of a shard: the run fails, every finalised shard stays valid (shards are written as .partial and
    renamed when complete), and a resume with room to write completes the dataset without duplicates."""
    import resource
    import signal

    with DatasetWriter(tmp_path / "probe", episodes_per_shard=1) as w:
        w.add_episode(episode_factory(0))
    shard_bytes = (tmp_path / "probe" / "shard_00000.h5").stat().st_size
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:   # child: one full shard written, then the "disk" fills while the next one grows
        code = 3
        try:
            os.close(read)
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)          # a write past the limit fails with EFBIG
            w = DatasetWriter(tmp_path / "ds", episodes_per_shard=2)
            for s in range(8):
                if s == 2:
                    limit = int(shard_bytes * 1.2)                # room for less than two episodes per file
                    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
                w.add_episode(episode_factory(s))
            w.close()
            code = 0
        except OSError as exc:
            os.write(write, f"{type(exc).__name__}: {exc}".encode()[:500])
            code = 1
        finally:
            os._exit(code)
    os.close(write)
    _, status = os.waitpid(pid, 0)
    message = os.read(read, 1000).decode()
    os.close(read)
    # the write fails: the writer raises OSError, or libhdf5 crashes the process while unwinding
    # (observed: SIGSEGV after "file write failed"); either way the run must not claim success
    assert os.WIFSIGNALED(status) or (os.WEXITSTATUS(status) == 1 and message), (status, message)
    done = completed_seeds(tmp_path / "ds")            # finalised shards only; a .partial is removed
    assert done and done == set(range(len(done))), done
    assert len(DatasetReader(tmp_path / "ds", validate=True)) == len(done)   # what was finalised is intact
    with DatasetWriter(tmp_path / "ds", episodes_per_shard=2) as w:
        for s in range(8):
            if s not in w.seeds:
                w.add_episode(episode_factory(s))
    assert sorted(e.seed for e in DatasetReader(tmp_path / "ds")) == list(range(8))
    assert validate_dataset(tmp_path / "ds") == 8
