#!/usr/bin/env bash
# Regenerate the checkpoint `make demo` evaluates over ROS (dexsim_bringup/resources/demo_policy)
# with the project's own pipeline: the demo's projection and data stages with more demonstrations,
# then `dexsim train` with the shipped ACT recipe, then a held-out in-process evaluation for the
# training card. About 25 min on a 2-core CPU. Usage: scripts/make_demo_policy.sh [OUT]
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-out/demo_policy}
DEXSIM=${DEXSIM:-.venv/bin/dexsim}
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$PWD/dexsim_bringup/dexsim_bringup/resources/fastdds_loopback.xml}
EPISODES=${EPISODES:-200}
DEST=dexsim_bringup/dexsim_bringup/resources/demo_policy

"$DEXSIM" demo --out "$OUT" --stages project,generate --episodes "$EPISODES"
"$DEXSIM" train --data "$OUT/generate/dataset" --policy act --out "$OUT/train" --threads 2 --no-progress \
    ${RESUME:+--resume}
"$DEXSIM" eval --checkpoint "$OUT/train/best" --in-process --episodes 50 \
    --scene "$OUT/generate/generation_scene.yaml" --json > "$OUT/eval_in_process.json"
mkdir -p "$DEST"
cp "$OUT/train/best/"* "$DEST/"
echo "copied $OUT/train/best to $DEST; held-out result: $OUT/eval_in_process.json"
