#!/usr/bin/env bash
# The toy pipeline on a real single-node Slurm (.ci/slurm.sh): planned with the splitting
# stages in 2 parts each, written as sbatch scripts and submitted as job arrays; one policy
# array task is killed mid-run and only the unfinished jobs are submitted again; the report
# and results must equal an in-process run's of the same configuration (timings and directory
# names aside), and every dataset the parts wrote must equal the in-process one byte for byte. Called by scripts/test.sh
# when Slurm is installed. Usage: .ci/slurm-toy.sh VLGOR_BINARY
set -euo pipefail
vlgor=${1:?usage: slurm-toy.sh VLGOR_BINARY}
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work=$(mktemp -d "${TMPDIR:-/tmp}/vlgor-slurm.XXXXXX")
# The cluster is always stopped; the directories are kept when the test fails.
cleanup() {
  local rc=$?
  bash "$here/slurm.sh" stop "$work/cluster"
  if [ "$rc" = 0 ]; then rm -rf "$work"; else echo "[slurm-toy] failed; kept $work" >&2; fi
}
trap cleanup EXIT
log() { echo "[slurm-toy] $*" >&2; }

cat >"$work/toy.toml" <<'TOML'
[collect]
episodes = 60
episodes_per_shard = 16
[eval]
episodes = 4
[rl]
epochs = 2
eval_every = 1
eval_episodes = 2
[vlm]
base_episodes = 4
base_keyframes = 3
base_epochs = 1
lora_samples = 24
lora_epochs = 1
readout_frames = 32
readout_epochs = 1
eval_samples = 4
eval_rollouts = 2
goal_rollouts = 4
imagine_horizon = 2
imagine_batch = 8
[pipeline]
seeds = [0]
rephrase = 8
counterfactual = 8
hard = 4
sweep = []
filter = "keep"
unvalidated_ablation = false
prompt_ablations = false
[kalm]
base_samples = 32
base_epochs = 1
lora_samples = 24
lora_epochs = 1
TOML
# Both runs use the threads a job gets (torch's results depend on its thread count).
threads=2
log "in-process run"
"$vlgor" -q --threads $threads --config "$work/toy.toml" pipeline --env clevr --out "$work/inproc" >/dev/null

log "starting Slurm"
eval "$(bash "$here/slurm.sh" start "$work/cluster")"
"$vlgor" -q --config "$work/toy.toml" pipeline plan --env clevr --out "$work/slurm" --shards 2 >/dev/null
VLGOR_THREADS=$threads "$vlgor" -q pipeline slurm "$work/slurm" --submit

# Kill one policy array task while it runs (toy runs take seconds: a task that finished
# before the signal reached it does not count; the next running one is tried).
task_job() { # the plan's job id of policy array task ID_K
  python3 -c 'import re, sys
jobs = re.search(r"JOBS=\((.*)\)", open(sys.argv[1]).read()).group(1).split()
print(jobs[int(sys.argv[2])].strip(chr(39)))' "$work/slurm/slurm/policy_runs.sbatch" "${1#*_}"
}
killed="" seen=0
for _ in $(seq 3000); do
  victim=$(squeue -h -t R -n vlgor-policy_runs -o %i | head -1)
  if [ -n "$victim" ]; then
    seen=1
    if scancel --signal=KILL "$victim" 2>/dev/null; then
      for _ in $(seq 120); do
        [ -z "$(squeue -h -j "$victim" -t R,CG -o %i 2>/dev/null)" ] && break
        sleep 0.5
      done
      job=$(task_job "$victim")
      if [ ! -f "$work/slurm/policies/${job#policy-}/pipeline_eval.json" ]; then
        killed=$victim
        log "killed array task $victim ($job) mid-run"
        break
      fi
      log "array task $victim ($job) finished before the signal; trying the next"
    fi
  elif [ "$seen" = 1 ] && [ -z "$(squeue -h -n vlgor-policy_runs -o %i)" ]; then
    break
  fi
  sleep 0.2
done
[ -n "$killed" ] || { log "no policy task could be killed while it ran"; squeue; exit 1; }
# Wait until nothing runs or can run: what is left waits, directly or not, on the killed task.
for _ in $(seq 1200); do
  running=$(squeue -h -t R,CG -o %i | wc -l)
  pending=$(squeue -h -t PD -o %r | grep -cv '^Dependency' || true)
  [ "$running" = 0 ] && [ "$pending" = 0 ] && break
  sleep 1
done
scancel -u "$(id -un)" || true
[ ! -f "$work/slurm/report.md" ] || { log "the report was written although a task was killed"; exit 1; }

log "submitting the unfinished jobs again"
VLGOR_THREADS=$threads "$vlgor" -q pipeline slurm "$work/slurm" --submit
for _ in $(seq 1800); do
  [ "$(squeue -h -o %i | wc -l)" = 0 ] && break
  sleep 1
done
if [ ! -f "$work/slurm/report.md" ]; then
  log "no report; job logs:"
  tail -n 20 "$work"/slurm/slurm/*.log >&2 || true
  exit 1
fi

log "comparing with the in-process run"
python3 - "$work/inproc" "$work/slurm" <<'PY'
import json, re, sys
a, b = sys.argv[1], sys.argv[2]
def untimed(x):
    # Wall-clock figures (stage times, samples and frames per second) differ from run to run.
    if isinstance(x, dict):
        return {
            k: untimed(v)
            for k, v in x.items()
            if "second" not in k and "per_sec" not in k and k != "timings"
        }
    if isinstance(x, list):
        return [untimed(v) for v in x]
    return x
def results(d):
    return untimed(json.loads(open(f"{d}/results.json").read().replace(d, "DIR")))
def report(d):
    text = open(f"{d}/report.md").read().replace(d, "DIR")
    return re.sub(r"## Timings.*?(?=\n## |\Z)", "", text, flags=re.S)
ra, rb = results(a), results(b)
def leaves(x, path=""):
    if isinstance(x, dict):
        for k, v in x.items():
            yield from leaves(v, f"{path}.{k}")
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield from leaves(v, f"{path}[{i}]")
    else:
        yield path, x
if ra != rb:
    la, lb = dict(leaves(ra)), dict(leaves(rb))
    diff = [(k, la.get(k), lb.get(k)) for k in sorted(set(la) | set(lb)) if la.get(k) != lb.get(k)]
    for k, x, y in diff[:20]:
        print(f"  {k}: in-process {x!r}, slurm {y!r}", file=sys.stderr)
    sys.exit(f"results.json differs from the in-process run's in {len(diff)} values")
if report(a) != report(b):
    sys.exit("report.md differs from the in-process run's")
import os
def files(d):
    out = {}
    for sub in ("data", "references"):
        for root, _, names in os.walk(os.path.join(d, sub)):
            for n in names:
                p = os.path.join(root, n)
                out[os.path.relpath(p, d)] = p
    return out
fa, fb = files(a), files(b)
if sorted(fa) != sorted(fb):
    sys.exit(f"the datasets differ in their files: {sorted(set(fa) ^ set(fb))[:10]}")
for rel in sorted(fa):
    x, y = open(fa[rel], "rb").read(), open(fb[rel], "rb").read()
    if rel.endswith(".json"):
        # Manifests name their sources by path; imagine.json also holds wall-clock figures.
        x, y = (untimed(json.loads(t.decode().replace(d, "DIR"))) for t, d in ((x, a), (y, b)))
    if x != y:
        sys.exit(f"{rel} differs from the in-process run's")
print(f"[slurm-toy] results.json, report.md and {len(fa)} dataset files equal the in-process run's")
PY
