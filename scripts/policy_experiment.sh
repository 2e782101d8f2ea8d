#!/usr/bin/env bash
# One README policy figure end to end, resumable: generate -> train -> held-out eval in-process ->
# the same checkpoint over ROS (sim node + policy node). A stage whose output is complete is skipped,
# so rerunning after an interruption goes on where it stopped (training resumes from its last save).
# Usage: scripts/policy_experiment.sh ROBOT TASK EPISODES STEPS OUT [POLICY]
#   e.g. scripts/policy_experiment.sh sr3 grasp 200 3000 runs/sr3_200
# Environment: SPEC (nominal/TASK), EVAL_IN_PROCESS (100), EVAL_ROS (50), IMAGE_SIZE (96x128), WORKERS (2).
set -euo pipefail
cd "$(dirname "$0")/.."
ROBOT=$1 TASK=$2 EPISODES=$3 STEPS=$4 OUT=$5 POLICY=${6:-act}
DEXSIM=${DEXSIM:-.venv/bin/dexsim}
export FASTDDS_DEFAULT_PROFILES_FILE=${FASTDDS_DEFAULT_PROFILES_FILE:-$PWD/dexsim_bringup/dexsim_bringup/resources/fastdds_loopback.xml}
export RMW_IMPLEMENTATION=${RMW_IMPLEMENTATION:-rmw_fastrtps_cpp}
mkdir -p "$OUT"

if [[ ! -f "$OUT/data/.complete" ]]; then
    "$DEXSIM" generate --robot "$ROBOT" --task "$TASK" --spec "${SPEC:-nominal/$TASK}" --episodes "$EPISODES" \
        --image-size "${IMAGE_SIZE:-96x128}" --workers "${WORKERS:-2}" --out "$OUT/data"
    touch "$OUT/data/.complete"
fi
if [[ ! -f "$OUT/train/.complete" ]]; then
    RESUME=()
    [[ -d "$OUT/train/latest" ]] && RESUME=(--resume)
    "$DEXSIM" train --data "$OUT/data" --policy "$POLICY" --out "$OUT/train" --threads 2 --steps "$STEPS" \
        --eval-every 1000 --eval-episodes 10 --val-every 250 --no-progress "${RESUME[@]}"
    touch "$OUT/train/.complete"
fi
if [[ ! -s "$OUT/eval_in_process.json" ]]; then
    "$DEXSIM" eval --checkpoint "$OUT/train/best" --in-process --episodes "${EVAL_IN_PROCESS:-100}" --json \
        > "$OUT/eval_in_process.json.part"
    mv "$OUT/eval_in_process.json.part" "$OUT/eval_in_process.json"
fi
if [[ ! -s "$OUT/eval_ros.json" && "${EVAL_ROS:-50}" -gt 0 ]]; then
    "$DEXSIM" eval --checkpoint "$OUT/train/best" --episodes "${EVAL_ROS:-50}" --json > "$OUT/eval_ros.json.part"
    mv "$OUT/eval_ros.json.part" "$OUT/eval_ros.json"
fi
echo "done: $OUT/eval_in_process.json $OUT/eval_ros.json"
