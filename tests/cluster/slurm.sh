#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the cluster test: `slurm.sh start` | `slurm.sh stop`.
# Idempotent. Needs root and Debian's slurm-wlm and munge (installed here if missing). Writes
# /etc/slurm/slurm.conf (jobs' own srun reads it there) and keeps its state in $DECAYLAB_SLURM_STATE;
# stop ends only the daemons this script started, by the PIDs it recorded, and puts back the slurm.conf it
# found (none, or the machine's own): a conf naming a stopped controller makes every later `snakemake` wait
# ~9 s, while the Slurm executor plugin's import-time `scontrol show config` times out.
set -euo pipefail
STATE=${DECAYLAB_SLURM_STATE:-/tmp/decaylab-slurm}
CONF=/etc/slurm/slurm.conf

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null
}

MARK="# Written by decaylab tests/cluster/slurm.sh: a one-node test cluster."
ours() { [ -f "$CONF" ] && [ "$(head -1 "$CONF")" = "$MARK" ]; }

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

write_conf() {
  local host cpus mem
  host=$(hostname -s)
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 - 2048 ))
  mkdir -p /etc/slurm "$STATE/ctld" "$STATE/d"
  if [ -f "$CONF" ] && ! ours; then cp "$CONF" "$STATE/slurm.conf.found"; fi
  cat > "$CONF" <<CONF
$MARK
ClusterName=decaylab
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/d
SlurmctldPidFile=$STATE/slurmctld.pid
SlurmdPidFile=$STATE/slurmd.pid
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# finished jobs stay visible to squeue/sacct (no accounting daemon here) for 10 minutes
MinJobAge=600
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=$host CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
}

start() {
  install
  write_conf
  mkdir -p /run/munge "$STATE"
  if ! alive /run/munge/munged.pid; then
    munged --force --pid-file=/run/munge/munged.pid 2>/dev/null || munged --force
    cp /run/munge/munged.pid "$STATE/munged.started"
  fi
  if ! alive "$STATE/slurmctld.pid"; then
    slurmctld -c   # a clean state: no jobs left from an earlier cluster
    sleep 1; cp "$STATE/slurmctld.pid" "$STATE/slurmctld.started"
  fi
  if ! alive "$STATE/slurmd.pid"; then
    slurmd
    sleep 1; cp "$STATE/slurmd.pid" "$STATE/slurmd.started"
  fi
  for _ in $(seq 60); do
    if sinfo -h -o %T 2>/dev/null | grep -qE '^(idle|mixed|allocated)'; then
      sinfo; return 0
    fi
    scontrol update nodename="$(hostname -s)" state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  echo "slurm node did not come up; see $STATE/*.log" >&2
  return 1
}

stop() {
  for name in slurmd slurmctld munged; do
    if [ -f "$STATE/$name.started" ]; then
      pid=$(cat "$STATE/$name.started")
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 20); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
      rm -f "$STATE/$name.started"
    fi
  done
  if ours; then
    if [ -f "$STATE/slurm.conf.found" ]; then mv "$STATE/slurm.conf.found" "$CONF"; else rm -f "$CONF"; fi
  fi
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  *) echo "usage: $0 start|stop" >&2; exit 2 ;;
esac
