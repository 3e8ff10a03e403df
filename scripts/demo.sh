#!/usr/bin/env bash
# The main job of the README on its embedded defaults (`quick` preset). Until the VLGOR
# pipeline lands, it runs the end-to-end path that exists: the instruction catalogue, closed-loop
# evaluation of the scripted experts (and a random baseline) in both simulators, an expert
# dataset collected and summarised, and the simulator benchmarks. Results go to
# ${VLGOR_OUT:-out/demo}.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bash "$here/scripts/setup.sh"
source <(bash "$here/scripts/setup.sh" --print-env)
vlgor="$CARGO_TARGET_DIR/release/vlgor"
out="${VLGOR_OUT:-$here/out/demo}"
mkdir -p "$out"
cd "$here"
"$vlgor" tasks --env clevr --level counterfactual | head -12
echo "== CLEVR: expert vs random, seen and counterfactual goals"
"$vlgor" eval --env clevr --policy expert --level seen,counterfactual --episodes 50 --json | tee "$out/eval_clevr_expert.txt"
"$vlgor" eval --env clevr --policy random --level seen --episodes 50 --json | tee "$out/eval_clevr_random.txt"
echo "== Meta-World: the scripted experts on all 10 tasks"
"$vlgor" eval --env metaworld --task all --policy expert --episodes 10 --json | tee "$out/eval_metaworld_expert.txt"
echo "== Datasets: 400 CLEVR and 100 Meta-World expert episodes (resumable; reruns skip done shards)"
"$vlgor" collect --env clevr --episodes 400 --out "$out/data_clevr"
"$vlgor" dataset info "$out/data_clevr"
"$vlgor" collect --env metaworld --task all --episodes 100 --out "$out/data_metaworld"
"$vlgor" dataset info "$out/data_metaworld"
echo "== Simulator speed"
"$vlgor" bench sim --env clevr --json | tee "$out/bench_sim_clevr.txt"
"$vlgor" bench sim --env metaworld --task reach --json | tee "$out/bench_sim_reach.txt"
echo "results in $out"
