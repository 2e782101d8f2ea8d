"""Policy checkpoints as safetensors + JSON. Loading never unpickles.

A checkpoint is a directory:
  ``model.safetensors``        every tensor of ``policy.state_dict()`` (weights + normalizer
                               stats); header metadata: format, policy_type, config_sha256
  ``policy.json``              format/version, policy_type, config (dataclass as dict),
                               dataset_info, action_names, step, sha256 of each safetensors file
  ``train_state.safetensors``  optional: the optimizer state flattened to tensors
                               (``optimizer.state.<param>.<key>``), the torch CPU RNG state, and
                               the optimizer's param_groups as JSON metadata (for resuming)

:func:`load_checkpoint` refuses (with :class:`CheckpointError` naming the problem) a pickle
file (.pt/.pth/.pkl/.ckpt or pickle/zip magic bytes), a missing file, a SHA-256 mismatch
(tampering), a config that does not validate or does not match the weights' metadata, and
missing, extra or wrongly shaped tensors.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from .errors import CheckpointError, PolicyConfigError
from .models import BasePolicy, make_policy, policy_class

CHECKPOINT_FORMAT = "dexsim-policy"
CHECKPOINT_VERSION = 1
MODEL_FILE = "model.safetensors"
META_FILE = "policy.json"
TRAIN_STATE_FILE = "train_state.safetensors"
SCENE_STEM = "scene"               # scene.yaml/.json: the dataset's scene, copied so the checkpoint travels with it
PICKLE_SUFFIXES = (".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".tar")
PICKLE_MAGIC = (b"\x80", b"PK\x03\x04")  # pickle protocol >= 2; torch.save zip archive
SAFETENSORS_HEADER_LEN_BYTES = 8
MAX_HEADER_BYTES = 100 * 1024 * 1024
HASH_CHUNK_BYTES = 1 << 20
OPT_PREFIX = "optimizer.state."
RNG_KEY = "rng.torch_cpu"


@dataclass
class LoadedCheckpoint:
    policy: BasePolicy
    step: int
    dataset_info: dict = field(default_factory=dict)
    action_names: list[str] = field(default_factory=list)
    meta: dict = field(default_factory=dict)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(HASH_CHUNK_BYTES), b""):
            h.update(chunk)
    return h.hexdigest()


def config_sha256(config_dict: dict) -> str:
    return hashlib.sha256(json.dumps(config_dict, sort_keys=True).encode()).hexdigest()


def _flatten_optimizer(optimizer: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], str]:
    sd = optimizer.state_dict()
    tensors: dict[str, torch.Tensor] = {}
    scalars: dict[str, Any] = {}
    for pid, state in sd["state"].items():
        for key, value in state.items():
            name = f"{OPT_PREFIX}{pid}.{key}"
            if torch.is_tensor(value):
                tensors[name] = value.detach().cpu().contiguous()
            else:
                scalars[name] = value
    return tensors, json.dumps({"param_groups": sd["param_groups"], "scalars": scalars})


def save_checkpoint(directory: str | os.PathLike, policy: BasePolicy, *, step: int = 0,
                    dataset_info: dict | None = None, action_names: list[str] | None = None,
                    optimizer: torch.optim.Optimizer | None = None, extra: dict | None = None) -> Path:
    """Write the checkpoint atomically (into ``<dir>.tmp`` then renamed over ``<dir>``)."""
    final = Path(directory)
    tmp = final.with_name(final.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    cfg = policy.config.to_dict()
    state = {k: v.detach().cpu().contiguous() for k, v in policy.state_dict().items()}
    save_file(state, tmp / MODEL_FILE, metadata={"format": CHECKPOINT_FORMAT, "policy_type": policy.config.policy_type,
                                                 "config_sha256": config_sha256(cfg)})
    meta = {"format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "policy_type": policy.config.policy_type,
            "config": cfg, "dataset_info": dataset_info or {}, "action_names": list(action_names or []),
            "step": int(step), "model_sha256": sha256_file(tmp / MODEL_FILE), "extra": extra or {}}
    if optimizer is not None:
        tensors, opt_json = _flatten_optimizer(optimizer)
        tensors[RNG_KEY] = torch.get_rng_state()
        save_file(tensors, tmp / TRAIN_STATE_FILE, metadata={"format": CHECKPOINT_FORMAT, "optimizer": opt_json})
        meta["train_state_sha256"] = sha256_file(tmp / TRAIN_STATE_FILE)
    (tmp / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=True))
    scene = Path((dataset_info or {}).get("scene_file") or "")
    if scene.name and scene.is_file():
        shutil.copyfile(scene, tmp / (SCENE_STEM + scene.suffix))
    if final.exists():
        shutil.rmtree(final)
    tmp.rename(final)
    return final


def _check_safetensors_file(path: Path, expected_sha: str | None) -> None:
    """Refuse pickles and malformed headers before anything parses the file; verify its hash."""
    if not path.is_file():
        raise CheckpointError(f"{path}: missing")
    with open(path, "rb") as f:
        head = f.read(SAFETENSORS_HEADER_LEN_BYTES)
        if any(head.startswith(m) for m in PICKLE_MAGIC):
            raise CheckpointError(f"{path}: is a pickle/torch.save archive; refusing to unpickle")
        if len(head) != SAFETENSORS_HEADER_LEN_BYTES:
            raise CheckpointError(f"{path}: truncated (no safetensors header)")
        (n,) = struct.unpack("<Q", head)
        if not 0 < n <= MAX_HEADER_BYTES:
            raise CheckpointError(f"{path}: not a safetensors file (header length {n})")
        try:
            json.loads(f.read(n))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise CheckpointError(f"{path}: not a safetensors file (bad header: {exc})") from exc
    if expected_sha is None:
        raise CheckpointError(f"{path}: {META_FILE} records no SHA-256 for it")
    actual = sha256_file(path)
    if actual != expected_sha:
        raise CheckpointError(f"{path}: SHA-256 mismatch (file {actual[:12]}..., {META_FILE} {expected_sha[:12]}...); "
                              "the file was modified or replaced")


def checkpoint_scene(directory: str | os.PathLike) -> Path | None:
    """The scene file saved with the checkpoint (its dataset's scene), or None (the task's default scene)."""
    found = sorted(Path(directory).glob(SCENE_STEM + ".*"))
    return found[0] if found else None


def read_meta(directory: str | os.PathLike) -> dict:
    """The checkpoint's JSON, after refusing pickle paths."""
    path = Path(directory)
    if path.suffix.lower() in PICKLE_SUFFIXES or (path.is_file() and path.suffix != ".json"):
        raise CheckpointError(f"{path}: pickle-based or single-file checkpoints are refused; "
                              f"expected a directory with {MODEL_FILE} and {META_FILE}")
    meta_path = path / META_FILE
    if not meta_path.is_file():
        raise CheckpointError(f"{path}: no {META_FILE} (not a dexsim policy checkpoint)")
    try:
        meta = json.loads(meta_path.read_text())
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{meta_path}: invalid JSON ({exc})") from exc
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{meta_path}: format={meta.get('format')!r}, expected {CHECKPOINT_FORMAT!r}")
    if meta.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(f"{meta_path}: version={meta.get('version')!r}, expected {CHECKPOINT_VERSION}")
    return meta


def load_checkpoint(directory: str | os.PathLike, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Rebuild the policy from its config and load its tensors (eval mode, on ``device``)."""
    path = Path(directory)
    meta = read_meta(path)
    model_path = path / MODEL_FILE
    _check_safetensors_file(model_path, meta.get("model_sha256"))
    try:
        cls = policy_class(meta["policy_type"])
        config = cls.config_class.from_dict(meta["config"])
    except (KeyError, TypeError, PolicyConfigError) as exc:
        raise CheckpointError(f"{path / META_FILE}: bad policy_type/config ({exc})") from exc
    with safe_open(str(model_path), framework="pt") as f:
        header = f.metadata() or {}
    if header.get("policy_type") != config.policy_type:
        raise CheckpointError(f"{model_path}: weights are for policy_type={header.get('policy_type')!r}, "
                              f"{META_FILE} says {config.policy_type!r}")
    # the config as written beside the weights (a field added to the config class later, with its
    # default, does not make an older checkpoint unreadable)
    if header.get("config_sha256") != config_sha256(meta["config"]):
        raise CheckpointError(f"{path}: config in {META_FILE} does not match the config the weights were saved with")
    policy = make_policy(config)
    tensors = load_file(str(model_path))
    expected = policy.state_dict()
    missing = sorted(set(expected) - set(tensors))
    extra = sorted(set(tensors) - set(expected))
    if missing or extra:
        raise CheckpointError(f"{model_path}: tensor names differ from the policy: missing {missing[:5]}"
                              f"{'...' if len(missing) > 5 else ''}, extra {extra[:5]}{'...' if len(extra) > 5 else ''}")
    bad = [f"{k} {tuple(tensors[k].shape)}!={tuple(v.shape)}" for k, v in expected.items()
           if tensors[k].shape != v.shape or tensors[k].dtype != v.dtype]
    if bad:
        raise CheckpointError(f"{model_path}: tensor shape/dtype mismatch: {bad[:5]}")
    policy.load_state_dict(tensors, strict=True)
    policy.to(device).eval()
    return LoadedCheckpoint(policy=policy, step=int(meta.get("step", 0)), dataset_info=meta.get("dataset_info", {}),
                            action_names=list(meta.get("action_names", [])), meta=meta)


def load_training_state(directory: str | os.PathLike, optimizer: torch.optim.Optimizer) -> bool:
    """Restore the optimizer and torch RNG from ``train_state.safetensors``; False if absent."""
    path = Path(directory)
    meta = read_meta(path)
    state_path = path / TRAIN_STATE_FILE
    if "train_state_sha256" not in meta:
        return False
    _check_safetensors_file(state_path, meta["train_state_sha256"])
    with safe_open(str(state_path), framework="pt") as f:
        opt_meta = json.loads((f.metadata() or {}).get("optimizer", "{}"))
    tensors = load_file(str(state_path))
    if RNG_KEY not in tensors or "param_groups" not in opt_meta:
        raise CheckpointError(f"{state_path}: missing optimizer param_groups or RNG state")
    state: dict[int, dict[str, Any]] = {}
    for name, value in list(tensors.items()) + list(opt_meta.get("scalars", {}).items()):
        if not name.startswith(OPT_PREFIX):
            continue
        pid, key = name[len(OPT_PREFIX):].split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    groups = opt_meta["param_groups"]
    for g in groups:
        if isinstance(g.get("betas"), list):
            g["betas"] = tuple(g["betas"])
    device = optimizer.param_groups[0]["params"][0].device
    state = {pid: {k: (v.to(device) if torch.is_tensor(v) and k != "step" else v) for k, v in s.items()}
             for pid, s in state.items()}
    try:
        optimizer.load_state_dict({"state": state, "param_groups": groups})
    except (ValueError, KeyError) as exc:
        raise CheckpointError(f"{state_path}: optimizer state does not fit this policy ({exc})") from exc
    torch.set_rng_state(tensors[RNG_KEY])
    return True
