#!/usr/bin/env bash
# The main job of the README on its embedded defaults (`quick` preset). Until the VLGOR
# pipeline lands, it runs the end-to-end path that exists: the instruction catalogue, the
# scripted experts (and a random baseline) evaluated closed-loop in both simulators, then the
# real-data BC baseline: collect 10,000 CLEVR expert episodes, train BC on them, and evaluate it
# on the seen, rephrase, counterfactual and hard levels (3 seeds). A few minutes on 2 cores.
# Results go to ${VLGOR_OUT:-out/demo}; reruns reuse the finished dataset and policy.
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
echo "== Datasets: CLEVR expert episodes (quick preset: 10,000) and 100 Meta-World episodes"
"$vlgor" collect --env clevr --out "$out/data_clevr"
"$vlgor" dataset info "$out/data_clevr"
"$vlgor" collect --env metaworld --task all --episodes 100 --out "$out/data_metaworld"
"$vlgor" dataset info "$out/data_metaworld"
echo "== Offline RL baseline: BC on real CLEVR data (state observations), evaluated closed-loop"
if [ ! -f "$out/bc_clevr/checkpoints/epoch-0030.json" ]; then
  rm -rf "$out/bc_clevr"
  "$vlgor" train-policy --env clevr --algo bc --obs state --data "$out/data_clevr" --out "$out/bc_clevr"
fi
"$vlgor" eval "$out/bc_clevr" --level seen,rephrase,counterfactual,hard --episodes 100 --seeds 0,1,2 \
  | tee "$out/eval_bc_clevr.txt"
echo "== Simulator speed"
"$vlgor" bench sim --env clevr --json | tee "$out/bench_sim_clevr.txt"
"$vlgor" bench sim --env metaworld --task reach --json | tee "$out/bench_sim_reach.txt"
echo "results in $out"
