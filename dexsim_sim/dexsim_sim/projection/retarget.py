"""Action-trajectory projection (paper Sec. 4.1): a human hand track -> parallel-gripper keyposes.

Steps: lift the 21 landmarks to 3-D (provided xyz, a depth image sampled with a robust window
median, or per-landmark depth) and into the robot base frame; interpolate dropped frames
linearly; smooth every landmark coordinate with a Savitzky-Golay filter (a local polynomial fit:
it removes pixel/depth noise but, unlike a moving average, keeps the knees of the motion where
the hand stops or the fingers close); retarget thumb tip + index tip to the gripper:

* position = midpoint of the two tips (the grasp centre),
* closing axis (gripper +y) = thumb tip -> index tip,
* approach axis (gripper +x) = wrist -> midpoint, made orthogonal to the closing axis,
* opening = tip distance clipped to the gripper stroke; closed/open by hysteresis on the
  aperture normalised over the demo.

The gripper frame follows ``robots/gripper.py`` (x approach, y closing). Keyposes: approach
(pre-grasp, ``approach_distance_m`` before the grasp along the path), grasp (the frame the
fingers reach the object), lift, place (last closed frame), release (first open frame).
Object tracking (:func:`estimate_object_track`) and :func:`refine_grasp` make the grasp close on
the object. :func:`load_joint_trajectory_bag` reads tele-operated joint trajectories instead.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..documents import load_document
from ..robots.gripper import DEFAULT_GRIPPER
from ..robots.transforms import matrix_to_quat, quat_to_matrix
from .hand_track import INDEX_MCP, INDEX_TIP, THUMB_TIP, WRIST, HandTrack, TrackError

KEYPOSE_LABELS = ("approach", "grasp", "lift", "place", "release")
KEYPOSE_FORMAT = "dexsim-keyposes"


class RetargetError(ValueError):
    """The demonstration cannot be retargeted (no grasp, too long a gap, missing depth...)."""


class BagError(ValueError):
    """A rosbag2 cannot be read as a joint trajectory."""


@dataclass(frozen=True)
class RetargetConfig:
    """Lengths in m; windows in frames or pixels."""

    depth_window_px: int = 5                   # median window when sampling a depth image
    smoothing_window: int = 9                  # Savitzky-Golay window (odd, frames)
    smoothing_order: int = 2                   # Savitzky-Golay polynomial order
    max_gap_frames: int = 15                   # longer runs of dropped frames -> RetargetError
    min_opening_m: float = 0.0
    max_opening_m: float = DEFAULT_GRIPPER.stroke
    close_level: float = 0.3                   # normalised aperture below -> closed
    open_level: float = 0.6                    # normalised aperture above -> open (hysteresis)
    contact_tolerance_m: float = 0.003         # an aperture change below this is no grasp at all
    knee_window_frames: int = 20               # search +- this around the hysteresis switches for the knees
    approach_distance_m: float = 0.08          # pre-grasp keypose: this far back along the path
    lift_height_m: float = 0.03                # lift keypose: grasp centre this much higher
    grasp_depth_tolerance_m: float = 0.02      # refine_grasp keeps |approach offset| to the object within this

    def __post_init__(self) -> None:
        if self.smoothing_window < 3 or self.smoothing_window % 2 == 0:
            raise ValueError(f"RetargetConfig.smoothing_window: must be odd and >= 3, got {self.smoothing_window}")
        if not 0 <= self.smoothing_order < self.smoothing_window:
            raise ValueError(f"RetargetConfig.smoothing_order: must be in [0, smoothing_window), got {self.smoothing_order}")
        if self.depth_window_px < 1 or self.depth_window_px % 2 == 0:
            raise ValueError(f"RetargetConfig.depth_window_px: must be odd and >= 1, got {self.depth_window_px}")
        if not 0.0 <= self.min_opening_m < self.max_opening_m:
            raise ValueError(f"RetargetConfig.min_opening_m: must be in [0, max_opening_m), got {self.min_opening_m}")
        if not 0.0 < self.close_level < self.open_level < 1.0:
            raise ValueError(f"RetargetConfig.close_level/open_level: need 0 < close < open < 1, "
                             f"got {self.close_level}, {self.open_level}")
        for name in ("max_gap_frames", "knee_window_frames", "contact_tolerance_m", "approach_distance_m", "lift_height_m",
                     "grasp_depth_tolerance_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"RetargetConfig.{name}: must be positive, got {getattr(self, name)!r}")


# ---------------------------------------------------------------- lifting to 3-D

def sample_depth(depth: np.ndarray, uv: np.ndarray, window_px: int) -> np.ndarray:
    """Median of the finite, positive depths (m) in a ``window_px`` square around each (u, v); NaN if none."""
    depth = np.asarray(depth, dtype=np.float32)
    h, w = depth.shape
    r = window_px // 2
    out = np.full(len(uv), np.nan)
    for i, (u, v) in enumerate(np.asarray(uv, dtype=float)):
        if not (np.isfinite(u) and np.isfinite(v)):
            continue
        ui, vi = int(round(u)), int(round(v))
        patch = depth[max(vi - r, 0):min(vi + r + 1, h), max(ui - r, 0):min(ui + r + 1, w)]
        patch = patch[np.isfinite(patch) & (patch > 0)]
        if patch.size:
            out[i] = float(np.median(patch))
    return out


def lift_track(track: HandTrack, base_from_optical: np.ndarray, depth_images: dict[int, np.ndarray] | None = None,
               config: RetargetConfig = RetargetConfig()) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Base-frame landmarks of the present frames: (frame indices, times s, points (N, 21, 3)).

    Per frame the 3-D source is, in order: ``xyz``, ``depth_images[frame]`` sampled at (u, v),
    the per-landmark ``depth``. Frames whose thumb tip, index tip or wrist stay NaN count as dropped.
    """
    base_from_optical = np.asarray(base_from_optical, dtype=float)
    idx, times, pts = [], [], []
    for f in track.frames:
        if not f.present:
            continue
        if f.xyz is not None:
            p = np.asarray(f.xyz, dtype=float)
            if track.points_frame == "camera_optical":
                p = p @ base_from_optical[:3, :3].T + base_from_optical[:3, 3]
        else:
            if track.K is None:
                raise TrackError(f"frame {f.frame}: camera.K is needed to lift (u, v, depth) to 3-D")
            if depth_images is not None and f.frame in depth_images:
                z = sample_depth(depth_images[f.frame], f.uv, config.depth_window_px)
            elif f.depth is not None:
                z = np.asarray(f.depth, dtype=float)
            else:
                raise TrackError(f"frame {f.frame}: depth missing (no xyz, depth image or per-landmark depth)")
            K = track.K
            x = (f.uv[:, 0] - K[0, 2]) / K[0, 0] * z
            y = (f.uv[:, 1] - K[1, 2]) / K[1, 1] * z
            p = np.stack([x, y, z], axis=1) @ base_from_optical[:3, :3].T + base_from_optical[:3, 3]
        if not np.all(np.isfinite(p[[WRIST, THUMB_TIP, INDEX_TIP]])):
            continue
        idx.append(f.frame)
        times.append(f.t)
        pts.append(p)
    if len(idx) < 2:
        raise RetargetError(f"only {len(idx)} usable frames in the track; need at least 2")
    return np.asarray(idx), np.asarray(times, dtype=float), np.asarray(pts)


def fill_gaps(frames: np.ndarray, times: np.ndarray, values: np.ndarray, max_gap: int
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Linear interpolation over dropped frames: every frame index from first to last."""
    dense = np.arange(frames[0], frames[-1] + 1)
    gaps = np.diff(frames) - 1
    if gaps.max(initial=0) > max_gap:
        k = int(np.argmax(gaps))
        raise RetargetError(f"frames {frames[k] + 1}..{frames[k + 1] - 1}: {gaps[k]} dropped frames in a row "
                            f"exceed max_gap_frames={max_gap}")
    flat = values.reshape(len(frames), -1)
    out = np.stack([np.interp(dense, frames, flat[:, j]) for j in range(flat.shape[1])], axis=1)
    return dense, np.interp(dense, frames, times), out.reshape((len(dense),) + values.shape[1:])


def savgol(values: np.ndarray, window: int, order: int) -> np.ndarray:
    """Savitzky-Golay smoothing along axis 0 (edges: the polynomial of the first/last full window)."""
    n = len(values)
    window = min(window, n if n % 2 else n - 1)
    if window < 3:
        return np.array(values, dtype=float)
    order = min(order, window - 1)
    offsets = np.arange(window) - window // 2
    vander = np.vander(offsets, order + 1, increasing=True)
    proj = vander @ np.linalg.pinv(vander)                 # row k: fitted value at window position k
    flat = values.reshape(n, -1).astype(float)
    out = np.empty_like(flat)
    half = window // 2
    for i in range(n):
        start = min(max(i - half, 0), n - window)
        out[i] = proj[i - start] @ flat[start:start + window]
    return out.reshape(values.shape)


# ---------------------------------------------------------------- retargeting

@dataclass
class KeyposeSequence:
    """Keyposes (base frame) and the dense end-effector trajectory they were cut from."""

    labels: list[str]
    frames: list[int]
    times: np.ndarray                  # (K,) s
    poses: np.ndarray                  # (K, 7) x y z qx qy qz qw
    openings: np.ndarray               # (K,) m
    dense_times: np.ndarray            # (T,) s
    dense_frames: np.ndarray           # (T,)
    dense_poses: np.ndarray            # (T, 7)
    dense_openings: np.ndarray         # (T,) m
    dense_closed: np.ndarray           # (T,) bool
    object_positions: np.ndarray | None = None    # (T, 3) when an object track was used
    meta: dict = field(default_factory=dict)

    def keypose(self, label: str) -> np.ndarray:
        if label not in self.labels:
            raise KeyError(f"keypose {label!r} not in {self.labels}")
        return self.poses[self.labels.index(label)]

    def to_dict(self) -> dict:
        def arr(a):
            return None if a is None else np.asarray(a).tolist()
        return {"format": KEYPOSE_FORMAT, "version": 1, "labels": self.labels, "frames": self.frames,
                "times": arr(self.times), "poses": arr(self.poses), "openings": arr(self.openings),
                "dense": {"times": arr(self.dense_times), "frames": arr(self.dense_frames),
                          "poses": arr(self.dense_poses), "openings": arr(self.dense_openings),
                          "closed": arr(self.dense_closed), "object_positions": arr(self.object_positions)},
                "meta": self.meta}

    @classmethod
    def from_dict(cls, data: dict) -> "KeyposeSequence":
        if not isinstance(data, dict) or data.get("format") != KEYPOSE_FORMAT:
            raise RetargetError(f"format: expected {KEYPOSE_FORMAT!r}, got "
                                f"{data.get('format') if isinstance(data, dict) else data!r}")
        d = data["dense"]
        obj = d.get("object_positions")
        return cls(list(data["labels"]), [int(v) for v in data["frames"]], np.asarray(data["times"], float),
                   np.asarray(data["poses"], float).reshape(-1, 7), np.asarray(data["openings"], float),
                   np.asarray(d["times"], float), np.asarray(d["frames"], int),
                   np.asarray(d["poses"], float).reshape(-1, 7), np.asarray(d["openings"], float),
                   np.asarray(d["closed"], bool), None if obj is None else np.asarray(obj, float),
                   dict(data.get("meta", {})))


def save_keyposes(seq: KeyposeSequence, path: str | Path) -> Path:
    path = Path(path)
    path.write_text(json.dumps(seq.to_dict()))
    return path


def load_keyposes(path: str | Path) -> KeyposeSequence:
    path = Path(path)
    if not path.is_file():
        raise RetargetError(f"path: keypose file not found: {str(path)!r}")
    return load_document(path, KeyposeSequence.from_dict, RetargetError, what="keyposes", fmt="json")


def _gripper_frames(pts: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(T, 21, 3) smoothed landmarks -> positions (T, 3), rotations (T, 3, 3), tip distances (T,)."""
    thumb, index, wrist = pts[:, THUMB_TIP], pts[:, INDEX_TIP], pts[:, WRIST]
    mid = (thumb + index) / 2
    closing = index - thumb
    dist = np.linalg.norm(closing, axis=1)
    y = closing / np.maximum(dist, 1e-9)[:, None]
    approach = mid - wrist
    # The wrist -> index MCP direction backs up the approach when the tips are near the wrist.
    approach = approach + 0.5 * (pts[:, INDEX_MCP] - wrist)
    x = approach - np.sum(approach * y, axis=1)[:, None] * y
    x /= np.maximum(np.linalg.norm(x, axis=1), 1e-9)[:, None]
    z = np.cross(x, y)
    return mid, np.stack([x, y, z], axis=2), dist


def _ramp(signal: np.ndarray, lo: int, hi: int) -> tuple[int, int]:
    """Start and end index of the ramp in ``signal[lo:hi]``: least-squares fit of a plateau-ramp-
    plateau ``a + b * clip(t, k1, k2)`` over every pair ``k1 < k2`` (the fingers closing onto the
    object, or opening)."""
    seg = np.asarray(signal[lo:hi], dtype=float)
    n = len(seg)
    t = np.arange(n, dtype=float)
    best, best_pair = math.inf, (lo, hi - 1)
    for k1 in range(n - 1):
        for k2 in range(k1 + 1, n):
            x = np.clip(t, k1, k2)
            xm = x - x.mean()
            b = float(xm @ (seg - seg.mean())) / float(xm @ xm)
            sse = float(np.sum((seg - seg.mean() - b * xm) ** 2))
            if sse < best:
                best, best_pair = sse, (lo + k1, lo + k2)
    return best_pair


def _hysteresis(norm: np.ndarray, close_level: float, open_level: float) -> np.ndarray:
    closed = np.zeros(len(norm), dtype=bool)
    state = bool(norm[0] < close_level)
    for i, a in enumerate(norm):
        if state and a > open_level:
            state = False
        elif not state and a < close_level:
            state = True
        closed[i] = state
    return closed


def retarget(track: HandTrack, base_from_optical: np.ndarray, config: RetargetConfig = RetargetConfig(),
             depth_images: dict[int, np.ndarray] | None = None) -> KeyposeSequence:
    """Hand track -> dense gripper trajectory and the five pick-and-place keyposes."""
    frames, times, pts = lift_track(track, base_from_optical, depth_images, config)
    dense_frames, dense_times, pts = fill_gaps(frames, times, pts, config.max_gap_frames)
    raw_dist = np.linalg.norm(pts[:, INDEX_TIP] - pts[:, THUMB_TIP], axis=1)
    pts = savgol(pts, config.smoothing_window, config.smoothing_order)
    pos, rot, dist = _gripper_frames(pts)
    opening = np.clip(dist, config.min_opening_m, config.max_opening_m)
    span = dist.max() - dist.min()
    if span < 2 * config.contact_tolerance_m:
        raise RetargetError(f"the thumb-index aperture varies by only {span * 1000:.1f} mm: no grasp in the demo")
    norm = (dist - dist.min()) / span
    closed = _hysteresis(norm, config.close_level, config.open_level)
    if not closed.any() or closed[0]:
        raise RetargetError("no open -> closed transition of the thumb-index aperture: no grasp in the demo")
    close_start = int(np.argmax(closed))
    after = np.flatnonzero(~closed[close_start:])
    release = close_start + int(after[0]) if len(after) else len(closed) - 1
    # Contact and release: the knees of the raw aperture (the smoothed one rounds them off).
    w = config.knee_window_frames
    grasp = _ramp(raw_dist, max(close_start - w, 0), min(close_start + w, release))[1]
    release = _ramp(raw_dist, max(release - w, grasp + 1), min(release + w, len(dist)))[0] + 1
    path = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(pos, axis=0), axis=1))])
    before = np.flatnonzero(path[:grasp + 1] <= path[grasp] - config.approach_distance_m)
    approach = int(before[-1]) if len(before) else 0
    risen = np.flatnonzero(pos[grasp:release, 2] >= pos[grasp, 2] + config.lift_height_m)
    lift = grasp + int(risen[0]) if len(risen) else grasp
    place = max(release - 1, lift)
    quats = np.array([matrix_to_quat(r) for r in rot])
    poses = np.concatenate([pos, quats], axis=1)
    key_idx = [approach, grasp, lift, place, release]
    return KeyposeSequence(list(KEYPOSE_LABELS), [int(dense_frames[i]) for i in key_idx], dense_times[key_idx],
                           poses[key_idx].copy(), opening[key_idx].copy(), dense_times, dense_frames, poses,
                           opening, closed, meta={"source": "hand_track", "grasp_index": grasp,
                                                  "release_index": release})


# ---------------------------------------------------------------- object tracking and refinement

@dataclass
class ObjectTrack:
    positions: np.ndarray              # (T, 3) base frame, aligned with the sequence's dense frames
    in_hand_offset: np.ndarray         # object centre in the gripper frame while carried (m)


def estimate_object_track(seq: KeyposeSequence, observed: np.ndarray) -> ObjectTrack:
    """Object centre over the demo from noisy per-frame observations (``(T, 3)``, NaN = not seen),
    jointly with the gripper: static (median) before the grasp and after the release, rigidly
    attached to the gripper (median in-hand offset) in between."""
    observed = np.asarray(observed, dtype=float)
    if observed.shape != (len(seq.dense_frames), 3):
        raise RetargetError(f"observed: expected shape {(len(seq.dense_frames), 3)}, got {observed.shape}")
    g, r = seq.meta["grasp_index"], seq.meta["release_index"]
    seen = np.all(np.isfinite(observed), axis=1)

    def median(sl: slice, fallback: np.ndarray | None) -> np.ndarray:
        sel = observed[sl][seen[sl]]
        if len(sel) == 0:
            if fallback is None:
                raise RetargetError(f"observed: no object observation in frames {sl.start}..{sl.stop}")
            return fallback
        return np.median(sel, axis=0)

    rots = np.array([quat_to_matrix(q) for q in seq.dense_poses[:, 3:]])
    pos = seq.dense_poses[:, :3]
    carried = np.arange(len(observed))
    carried = (carried >= g) & (carried < r) & seen
    start = median(slice(0, g + 1), None)
    if carried.any():
        local = np.einsum("tji,tj->ti", rots[carried], observed[carried] - pos[carried])
        offset = np.median(local, axis=0)
    else:
        offset = rots[g].T @ (start - pos[g])
    out = np.empty_like(observed)
    out[:g] = start
    out[g:r] = pos[g:r] + np.einsum("tij,j->ti", rots[g:r], offset)
    out[r:] = median(slice(r, len(observed)), out[r - 1])
    return ObjectTrack(out, offset)


def refine_grasp(seq: KeyposeSequence, obj: ObjectTrack, config: RetargetConfig = RetargetConfig()
                 ) -> KeyposeSequence:
    """Shift the whole trajectory so the grasp centre lies on the object centre along the closing
    axis and within ``grasp_depth_tolerance_m`` of it along the approach axis (the human's
    off-centre pinch becomes a centred robot grasp; the object then moves the same way)."""
    g = seq.meta["grasp_index"]
    rot = quat_to_matrix(seq.dense_poses[g, 3:])
    approach_axis, closing_axis = rot[:, 0], rot[:, 1]
    offset = seq.dense_poses[g, :3] - obj.positions[g]
    along_closing = offset @ closing_axis
    along_approach = offset @ approach_axis
    clipped = float(np.clip(along_approach, -config.grasp_depth_tolerance_m, config.grasp_depth_tolerance_m))
    delta = -along_closing * closing_axis + (clipped - along_approach) * approach_axis
    dense = seq.dense_poses.copy()
    dense[:, :3] += delta
    poses = seq.poses.copy()
    poses[:, :3] += delta
    meta = dict(seq.meta, grasp_shift_m=np.round(delta, 6).tolist())
    return KeyposeSequence(seq.labels, seq.frames, seq.times, poses, seq.openings, seq.dense_times, seq.dense_frames,
                           dense, seq.dense_openings, seq.dense_closed, obj.positions.copy(), meta)


# ---------------------------------------------------------------- tele-operation bags

@dataclass
class JointTrajectoryRecord:
    names: list[str]
    times: np.ndarray                  # (T,) s, from the message header stamps (relative to the first)
    positions: np.ndarray              # (T, n) rad or m, columns in ``names`` order
    velocities: np.ndarray | None      # (T, n) or None when the messages carry none


def load_joint_trajectory_bag(path: str | Path, topic: str = "/joint_states") -> JointTrajectoryRecord:
    """Read sensor_msgs/JointState messages from a rosbag2 (sqlite3 or MCAP) with ``rosbags``.

    Joint names are the union over messages (first-seen order); a joint missing from a message is
    NaN in that row. Header stamps give the times; a zero stamp falls back to the bag time.
    """
    from rosbags.highlevel import AnyReader  # noqa: PLC0415 - pure python, only needed here

    path = Path(path)
    if not path.exists():
        raise BagError(f"path: bag not found: {str(path)!r}")
    try:
        reader = AnyReader([path])
        reader.open()
    except Exception as exc:  # rosbags raises several unrelated types for unreadable bags
        raise BagError(f"path: cannot open {str(path)!r} as a rosbag2 ({exc})") from exc
    try:
        conns = [c for c in reader.connections if c.topic == topic]
        if not conns:
            raise BagError(f"topic: {topic!r} not in the bag (topics: {sorted({c.topic for c in reader.connections})})")
        if any(c.msgtype != "sensor_msgs/msg/JointState" for c in conns):
            raise BagError(f"topic: {topic!r} carries {conns[0].msgtype}, not sensor_msgs/msg/JointState")
        rows = []
        for conn, bag_time_ns, raw in reader.messages(connections=conns):
            msg = reader.deserialize(raw, conn.msgtype)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            rows.append((stamp if stamp > 0 else bag_time_ns * 1e-9, list(msg.name), np.asarray(msg.position, float),
                         np.asarray(msg.velocity, float)))
    finally:
        reader.close()
    if not rows:
        raise BagError(f"topic: {topic!r} has no messages")
    names: list[str] = []
    for _, n, _, _ in rows:
        names += [j for j in n if j not in names]
    col = {n: i for i, n in enumerate(names)}
    pos = np.full((len(rows), len(names)), np.nan)
    vel = np.full((len(rows), len(names)), np.nan)
    has_vel = False
    for r, (_, n, p, v) in enumerate(rows):
        if len(p) != len(n):
            raise BagError(f"message {r}: {len(n)} names but {len(p)} positions")
        pos[r, [col[j] for j in n]] = p
        if len(v) == len(n):
            vel[r, [col[j] for j in n]] = v
            has_vel = True
    times = np.array([t for t, _, _, _ in rows])
    order = np.argsort(times, kind="stable")
    return JointTrajectoryRecord(names, times[order] - times[order[0]], pos[order], vel[order] if has_vel else None)
