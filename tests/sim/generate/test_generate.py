"""The data engine: AI/SA invariance of actions, regeneration, HDF5 layout, failures, ADR,
worker-count invariance, and resuming after SIGKILL."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import h5py
import numpy as np
import pytest
import yaml

from dexsim_sim.datasets.card import read_card
from dexsim_sim.datasets.hdf5 import DatasetReader, validate_dataset
from dexsim_sim.scaling.adr import ADRConfig
from dexsim_sim.scaling.dr import DRSample, DRSampler, Kind, load_dr_spec
from dexsim_sim.scaling.generate import (ADR_PLOT_FILE, ADR_STATE_FILE, FRAME_GRID_FILE, EpisodeRunner, GenerateError,
                                         episode_seed, generate)

SMALL = (48, 64)
COMMAND_COLUMNS = slice(0, 14)      # joint targets | ee pose (base) | gripper
CAMERA_COLUMNS = slice(14, 21)      # ee pose in the left camera optical frame
KW = dict(image_size=SMALL, renderer="tiny", progress=False)


@pytest.fixture(scope="module")
def runner():
    spec = load_dr_spec("grasp")
    r = EpisodeRunner("sr3", "grasp", spec.to_dict(), SMALL, renderer="tiny")
    yield r, spec
    r.close()


def _mixed(spec, seed: int, kind: Kind) -> dict:
    """Factors of ``kind`` drawn for ``seed``, every other factor at nominal."""
    drawn, nominal = DRSampler(spec).sample(seed), DRSampler(spec).nominal()
    values = {f.name: (drawn if f.kind == kind else nominal).values[f.name] for f in spec.factors}
    return DRSample(seed, spec.spec_hash(), values).to_dict()


def test_ai_dr_keeps_commands_sa_dr_changes_them(runner):
    r, spec = runner
    seed = 3
    nominal = r.run(0, seed, DRSampler(spec).nominal().to_dict())
    ai = r.run(0, seed, _mixed(spec, seed, Kind.AI))
    assert nominal.success and ai.success, (nominal.reason, ai.reason)
    assert ai.sample["values"]["distractors"], "pick a seed whose AI sample has distractors"
    assert np.array_equal(ai.episode.actions[:, COMMAND_COLUMNS], nominal.episode.actions[:, COMMAND_COLUMNS])
    assert not np.array_equal(ai.episode.actions[:, CAMERA_COLUMNS], nominal.episode.actions[:, CAMERA_COLUMNS])
    assert not np.array_equal(ai.episode.obs["left_rgb"], nominal.episode.obs["left_rgb"])
    sa = r.run(0, seed, _mixed(spec, seed, Kind.SA))
    assert sa.success, sa.reason
    n = min(len(sa.episode.actions), len(nominal.episode.actions))
    assert not np.allclose(sa.episode.actions[:n, COMMAND_COLUMNS], nominal.episode.actions[:n, COMMAND_COLUMNS])


def test_regeneration_is_identical_and_layout_reads_back(tmp_path):
    cards = [generate("sr3", "grasp", None, 3, tmp_path / name, seed=4, episodes_per_shard=2, **KW)
             for name in ("a", "b")]
    a, b = DatasetReader(tmp_path / "a"), DatasetReader(tmp_path / "b")
    assert a.seeds == b.seeds and len(a.seeds) == cards[0].num_episodes >= 2
    assert a.seeds[0] >= episode_seed(4, 0)
    for s in a.seeds:
        ea, eb = a.episode(s), b.episode(s)
        assert np.array_equal(ea.actions, eb.actions)
        for key in ea.obs:
            assert np.array_equal(ea.obs[key], eb.obs[key]), key
    assert validate_dataset(tmp_path / "a") == cards[0].num_episodes
    shard = sorted((tmp_path / "a").glob("shard_*.h5"))[0]
    with h5py.File(shard, "r") as f:
        assert f.attrs["format"] == "dexsim-hdf5"
        g = next(iter(f["data"].values()))
        T = int(g.attrs["num_steps"])
        assert g["obs/left_rgb"].shape == (T, *SMALL, 3) and g["obs/left_rgb"].dtype == np.uint8
        assert g["obs/depth"].shape == (T, *SMALL) and g["obs/seg"].dtype == np.int32
        assert g["obs/points"].shape == (T, 1024, 3) and g["obs/joint_pos"].shape == (T, 6)
        assert g["actions"].shape == (T, 21) and g["dones"][-1] and not g["dones"][0]
        assert len(json.loads(g.attrs["action_names"])) == 21
        assert json.loads(g.attrs["dr_sample"])["seed"] == int(g.attrs["seed"])
        assert len(json.loads(g.attrs["camera"])["K"]) == 3
        pts = g["obs/points"][0]
        assert np.ptp(pts[:, 2]) > 0.01          # a real object cloud, not zeros
    card = read_card(tmp_path / "a")
    assert card["extra"]["attempted"] == 3 and card["extra"]["seed_skill"]["task"] == "grasp"
    assert (tmp_path / "a" / FRAME_GRID_FILE).stat().st_size > 0


def test_failures_are_discarded_and_counted(tmp_path):
    spec = load_dr_spec("grasp").subset(["object_shift", "light_intensity"]).to_dict()
    shift = next(f for f in spec["factors"] if f["name"] == "object_shift")
    shift.update(low=[0.0, 0.0], high=[1.0, 0.0])        # up to 1 m away: mostly out of reach
    spec_file = tmp_path / "far.yaml"
    spec_file.write_text(yaml.safe_dump(spec))
    card = generate("sr3", "grasp", spec_file, 5, tmp_path / "out", **KW)
    failed = card.extra["failed"]
    assert failed >= 1 and card.num_episodes + failed == 5
    assert set(card.extra["failures"]) <= {"unreachable", "planning_failed", "physics_failed"}
    assert all(ep.success for ep in DatasetReader(tmp_path / "out"))
    lines = (tmp_path / "out" / "failures.jsonl").read_text().splitlines()
    assert len(lines) == failed


def test_adr_mode_widens_on_verified_success_and_saves_history(tmp_path):
    spec = load_dr_spec("grasp").subset(["object_rotation", "light_intensity"])
    card = generate("sr3", "grasp", spec, 3, tmp_path / "adr", adr=ADRConfig(buffer_size=1, p_boundary=1.0), **KW)
    state = json.loads((tmp_path / "adr" / ADR_STATE_FILE).read_text())["state"]
    assert state["iteration"] == 3
    widened = [h for h in state["history"] if h["change"] is not None]
    assert len(widened) == card.num_episodes          # every verified success widened its pinned boundary
    assert (tmp_path / "adr" / ADR_PLOT_FILE).stat().st_size > 0
    assert card.extra["adr"] is True


def test_bad_requests_raise_one_clear_error(tmp_path):
    with pytest.raises(GenerateError, match="robot: unknown robot 'r2d2'"):
        generate("r2d2", "grasp", None, 1, tmp_path, **KW)
    with pytest.raises(GenerateError, match="task: unknown 'fly'"):
        generate("sr3", "fly", None, 1, tmp_path, **KW)
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\ntask: grasp\nfactors: [{name: a, param: nope, kind: AI, distribution: uniform, nominal: 0}]")
    with pytest.raises(GenerateError, match="spec: .*unknown 'nope'"):
        generate("sr3", "grasp", bad, 1, tmp_path, **KW)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(GenerateError, match="out_dir: cannot write"):
        generate("sr3", "grasp", None, 1, blocker / "sub", **KW)


def test_two_workers_give_the_same_dataset_even_when_workers_are_killed(tmp_path, caplog):
    """Two worker processes give one worker's dataset; workers SIGKILLed mid-run (after the first
    episode, with the others in flight) are replaced and their in-flight episodes run again, so the
    dataset is still the same (nothing lost or doubled)."""
    import logging
    import multiprocessing

    one = generate("wx250s", "grasp", None, 3, tmp_path / "one", seed=2, **KW)
    killed = []

    def kill_the_workers(progress):
        if not killed:
            for proc in multiprocessing.active_children():
                proc.kill()
                killed.append(proc.pid)

    with caplog.at_level(logging.WARNING, logger="dexsim_sim.scaling.generate"):
        two = generate("wx250s", "grasp", None, 3, tmp_path / "two", seed=2, workers=2, on_progress=kill_the_workers,
                       **KW)
    assert len(killed) == 2 and "restarting it and re-running episodes" in caplog.text
    a, b = DatasetReader(tmp_path / "one"), DatasetReader(tmp_path / "two")
    assert a.seeds == b.seeds and one.num_episodes == two.num_episodes
    for s in a.seeds:
        ea, eb = a.episode(s), b.episode(s)
        assert np.array_equal(ea.actions, eb.actions) and np.array_equal(ea.obs["left_rgb"], eb.obs["left_rgb"])


KILLED_RUN = """
import sys
from dexsim_sim.scaling.generate import generate
generate("sr3", "grasp", None, 8, sys.argv[1], episodes_per_shard=1, image_size=(48, 64), renderer="tiny",
         progress=False)
"""


def test_sigkill_then_resume_completes_without_duplicates(tmp_path):
    out = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(out)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (out / "shard_00001.h5").exists():
            assert proc.poll() is None, "the run ended before it could be killed"
            assert time.monotonic() < deadline
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    before = DatasetReader(out).seeds          # finalised shards only; a .partial may lie there
    assert 2 <= len(before) < 8
    card = generate("sr3", "grasp", None, 8, out, episodes_per_shard=1, **KW)
    assert not list(out.glob("*.partial"))
    groups = []
    for shard in sorted(out.glob("shard_*.h5")):
        with h5py.File(shard, "r") as f:
            groups += [int(g.attrs["seed"]) for g in f["data"].values()]
    assert len(groups) == len(set(groups)) == card.num_episodes
    assert set(before) <= set(groups)
    assert card.num_episodes + card.extra["failed"] == 8
    assert validate_dataset(out) == card.num_episodes
