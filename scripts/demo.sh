#!/usr/bin/env bash
# The main job of the README on its embedded defaults: the VLGOR experiment on CLEVR-Robot with
# the `quick` preset — collect real rollouts, train the state readout and the world model (base,
# then LoRA), measure it, imagine rollouts for the unseen levels' instructions and validate
# them against rapier, collect the oracle data, train KALM, train BC and CQL (baseline, oracle,
# KALM, VLGOR; 3 seeds), evaluate closed-loop beside the random and expert rows, and write the
# report. About 80-90 minutes on 2 CPU cores; a rerun resumes finished stages.
# Results go to ${VLGOR_OUT:-out/pipeline-clevr}: report.md, results.json, plots/.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
source <(bash "$here/scripts/setup.sh" --print-env)
vlgor="$CARGO_TARGET_DIR/release/vlgor"
out="${VLGOR_OUT:-$here/out/pipeline-clevr}"
cd "$here"
"$vlgor" pipeline --env clevr --preset quick --out "$out"
echo "report: $out/report.md"
