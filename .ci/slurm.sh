#!/usr/bin/env bash
# A single-node Slurm on localhost for the cluster test (Debian's slurm-wlm and munge).
#   .ci/slurm.sh start DIR   writes a munge key and slurm.conf into DIR, starts munged,
#                            slurmctld and slurmd, records their PIDs in DIR/pids, waits until
#                            the node takes jobs, and prints the environment (SLURM_CONF) to use
#   .ci/slurm.sh stop DIR    stops exactly the PIDs recorded by start
set -euo pipefail
cmd=${1:?usage: slurm.sh start|stop DIR}
dir=${2:?usage: slurm.sh start|stop DIR}

case "$cmd" in
start)
  mkdir -p "$dir"/{state,spool,log,munge}
  dir=$(cd "$dir" && pwd)
  : >"$dir/pids"
  # munge: a fresh key and a private socket, so nothing of the host's is used or changed.
  dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  chmod 700 "$dir/munge"
  chmod 400 "$dir/munge/munge.key"
  munged --force --key-file="$dir/munge/munge.key" --socket="$dir/munge/munge.socket" \
    --pid-file="$dir/munge/munged.pid" --log-file="$dir/log/munged.log" \
    --seed-file="$dir/munge/munge.seed"
  for _ in $(seq 50); do [ -s "$dir/munge/munged.pid" ] && break; sleep 0.1; done
  cat "$dir/munge/munged.pid" >>"$dir/pids"
  cpus=$(nproc)
  mem=$(awk '/MemTotal/ {print int($2 / 1024 * 0.9)}' /proc/meminfo)
  cat >"$dir/slurm.conf" <<CONF
ClusterName=vlgor-ci
SlurmctldHost=localhost
SlurmUser=$(id -un)
SlurmdUser=$(id -un)
SlurmctldPort=16817
SlurmdPort=16818
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
JobCompType=jobcomp/none
AccountingStorageType=accounting_storage/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=ci Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  export SLURM_CONF="$dir/slurm.conf"
  slurmctld -f "$SLURM_CONF"
  for _ in $(seq 100); do [ -s "$dir/slurmctld.pid" ] && break; sleep 0.1; done
  cat "$dir/slurmctld.pid" >>"$dir/pids"
  slurmd -f "$SLURM_CONF" -N localhost
  for _ in $(seq 100); do [ -s "$dir/slurmd.pid" ] && break; sleep 0.1; done
  cat "$dir/slurmd.pid" >>"$dir/pids"
  for _ in $(seq 300); do
    state=$(sinfo -h -N -o %t 2>/dev/null | head -1 || true)
    case "$state" in idle | mix | alloc) echo "export SLURM_CONF=$SLURM_CONF"; exit 0 ;; esac
    sleep 0.2
  done
  echo "slurm.sh: the node did not come up (state '${state:-none}'); logs in $dir/log" >&2
  tail -20 "$dir"/log/*.log >&2 || true
  exit 1
  ;;
stop)
  [ -f "$dir/pids" ] || exit 0
  tac "$dir/pids" | while read -r pid; do
    kill "$pid" 2>/dev/null || true
  done
  # Wait for them to exit (slurmctld saves its state first).
  for pid in $(cat "$dir/pids"); do
    for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
  rm -f "$dir/pids"
  ;;
*)
  echo "usage: slurm.sh start|stop DIR" >&2
  exit 2
  ;;
esac
