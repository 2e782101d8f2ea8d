#!/usr/bin/env bash
# One-command pip-mode set-up: creates .venv and installs everything DexSim needs.
#   - Debian libraries for EGL rendering (installed when run as root, else named);
#   - the pinned Python dependencies, ROS 2 Kilted wheels included (requirements.txt);
#   - the interface packages built into wheels (scripts/build_interfaces.sh);
#   - DexSim's own packages, editable.
# Idempotent: every step is skipped when its inputs have not changed, so a second run takes seconds.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
STAMPS="$VENV/.dexsim"
step() { printf '\n== setup: %s\n' "$*"; }
fail() { printf 'setup: FAILED: %s\n' "$*" >&2; exit 1; }
digest() { cat "$@" | sha256sum | cut -c1-16; }

# 1. Python interpreter (the ROS 2 Kilted wheels exist for CPython 3.10-3.12).
PYTHON=${PYTHON:-}
if [ -z "$PYTHON" ]; then
  for cand in python3.11 python3.12 python3.10 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; sys.exit(not ((3, 10) <= sys.version_info[:2] <= (3, 12)))'; then
      PYTHON=$cand; break
    fi
  done
fi
[ -n "$PYTHON" ] || fail "no CPython 3.10-3.12 found (the ROS 2 Kilted wheels need one); set PYTHON=/path/to/python3.11"

# 2. Debian libraries for PyBullet's EGL renderer (optional: the CPU renderer is the fallback).
DEB_PKGS="libegl1 libegl-mesa0 libgl1-mesa-dri"
missing=""
for p in $DEB_PKGS; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    step "installing Debian packages for EGL rendering:$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing \
      || echo "setup: WARNING: could not install$missing; rendering falls back to the CPU renderer"
  else
    echo "setup: NOTE: Debian packages$missing are missing; run 'sudo apt-get install$missing' for EGL rendering (CPU rendering works without them)"
  fi
fi

# 3. The virtual environment.
if [ ! -x "$VENV/bin/python" ]; then
  step "creating $VENV with $PYTHON"
  "$PYTHON" -m venv "$VENV" || fail "python venv creation (install python3-venv)"
fi
mkdir -p "$STAMPS"
PY="$VENV/bin/python"
PIP=("$PY" -m pip --disable-pip-version-check)

# 4. Pinned dependencies.
req=$(digest requirements.txt requirements-sim.txt requirements-nodeps.txt)
if [ "$(cat "$STAMPS/requirements" 2>/dev/null)" != "$req" ]; then
  step "installing Python dependencies (requirements.txt)"
  "${PIP[@]}" install -q --upgrade pip 2>&1 | grep -v 'is ignored' || true
  log=$(mktemp)
  if ! "${PIP[@]}" install -q -r requirements.txt >"$log" 2>&1; then
    grep -v 'is ignored' "$log" | tail -n 25 >&2
    bad=$(grep -oE "(No matching distribution found for|Could not find a version that satisfies the requirement|Failed to build) [^ ]+" "$log" | head -n 3)
    fail "pip could not install the dependencies${bad:+: $bad}"
  fi
  "${PIP[@]}" install -q --no-deps -r requirements-nodeps.txt >"$log" 2>&1 \
    || { tail -n 25 "$log" >&2; fail "pip could not install requirements-nodeps.txt"; }
  rm -f "$log"
  echo "$req" > "$STAMPS/requirements"
fi

# 5. Interface packages into wheels (skips those that are up to date).
step "interface packages"
VENV="$VENV" bash scripts/build_interfaces.sh || fail "building the interface packages (see build/*.log)"

# 6. DexSim's own packages, editable. Compat mode puts each package folder on sys.path, so the
#    real packages win over the same-named top-level folders when Python runs from the repo root.
own=$(digest dexsim_sim/setup.py dexsim_policy/setup.py dexsim_bringup/setup.py)
if [ "$(cat "$STAMPS/own" 2>/dev/null)" != "$own" ] || ! "$PY" -c 'import dexsim_sim, dexsim_policy, dexsim_bringup' 2>/dev/null; then
  step "installing dexsim_sim, dexsim_policy, dexsim_bringup (editable)"
  log=$(mktemp)
  "${PIP[@]}" install -q --no-deps --no-build-isolation --config-settings editable_mode=compat \
    -e ./dexsim_sim -e ./dexsim_policy -e ./dexsim_bringup >"$log" 2>&1 \
    || { grep -v 'is ignored' "$log" | tail -n 25 >&2; fail "installing DexSim's own packages"; }
  rm -f "$log"
  "$PY" -c 'import dexsim_sim, dexsim_policy, dexsim_bringup' || fail "installing DexSim's own packages"
  echo "$own" > "$STAMPS/own"
fi

step "done: $VENV ($(du -sh "$VENV" | cut -f1)); check it with: $VENV/bin/dexsim doctor"
