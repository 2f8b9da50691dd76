#!/usr/bin/env bash
# Start a one-node SLURM cluster on this machine (munged, slurmctld, slurmd on loopback) for the cluster tests.
# Needs root and Debian's slurmctld, slurmd and munge packages. Stop it with slurm-down.sh (by PID).
# Writes /etc/slurm/slurm.conf (kept as slurm.conf.before-socialsim if one existed and was not ours).
# The node is named after `hostname -s`, which must resolve (to 127.0.0.1 here).
set -euo pipefail
[ "$(id -u)" -eq 0 ] || { echo "slurm-up.sh: needs root" >&2; exit 1; }
for cmd in slurmctld slurmd munged sinfo; do
  command -v "$cmd" >/dev/null || { echo "slurm-up.sh: $cmd is not installed (apt-get install slurmctld slurmd munge)" >&2; exit 1; }
done
alive() { [ -s "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
if alive /run/slurmctld.pid || alive /run/slurmd.pid; then
  echo "slurm-up.sh: a cluster is already running (stop it with slurm-down.sh)" >&2; exit 1
fi

# munge: a key, then the daemon
[ -s /etc/munge/munge.key ] || runuser -u munge -- mungekey --create
mkdir -p /run/munge && chown munge:munge /run/munge
if ! alive /run/munge/munged.pid; then runuser -u munge -- /usr/sbin/munged; fi
munge -n | unmunge >/dev/null

H=$(hostname -s)
NCPU=$(nproc)
MEM=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p'); MEM=$((MEM * 95 / 100))
CONF=/etc/slurm/slurm.conf
if [ -f "$CONF" ] && ! grep -q '^# socialsim test cluster' "$CONF"; then cp "$CONF" "$CONF.before-socialsim"; fi
mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm
cat > "$CONF" <<CONF
# socialsim test cluster (tests/cluster/slurm-up.sh): one node, loopback only
ClusterName=socialsim-ci
SlurmctldHost=$H
SlurmUser=root
AuthType=auth/munge
MpiDefault=none
MailProg=/bin/true
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
# without a default, a job without --mem reserves the whole node and jobs run one at a time
DefMemPerCPU=1024
# a node that was down returns to service by itself when its slurmd registers again
ReturnToService=2
# a requeued job (after its time limit, see socialsim.cluster) may start again after cred_expire+1 seconds
# (default 120)
AuthInfo=cred_expire=10
# look for jobs to start every 10 s (default 60), so that a requeued job starts soon after it may
SchedulerParameters=sched_interval=10
# seconds between SIGTERM and SIGKILL when a job is cancelled, requeued or reaches its time limit (submitit
# ignores SIGTERM, so a cancelled job runs on for these seconds)
KillWait=3
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
NodeName=$H CPUs=$NCPU RealMemory=$MEM State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF

# a fresh controller state: no jobs left from an earlier cluster
rm -rf /var/spool/slurmctld/* /var/spool/slurmd/*
slurmctld
slurmd
for _ in $(seq 60); do
  state=$(sinfo -h -n "$H" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && { echo "slurm-up.sh: node $H idle ($NCPU CPUs, ${MEM} MB)"; exit 0; }
  sleep 1
done
echo "slurm-up.sh: node $H did not become idle within 60 s (state: ${state:-none}); see /var/log/slurm/" >&2
exit 1
