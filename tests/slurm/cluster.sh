#!/usr/bin/env bash
# cluster.sh start|stop STATEFILE -- a private single-node Slurm for the tests.
#
# start: creates a temporary directory (/tmp/mill-slurm.XXXXXX) holding a
# munge key, a munged socket, slurm.conf with ports and state directories of
# its own, and starts munged (as user munge), slurmctld and slurmd from it.
# It waits until the node is idle, then writes STATEFILE: shell exports
# (SLURM_CONF, MILL_SLURM_DIR, ...) that tests/slurm/lib.sh sources. Nothing
# is installed here: `./run test` installs slurm-wlm and munge.
# stop: stops the daemons named in STATEFILE and removes the directory.
#
# Exit codes: 0 ok; 77 (CTest SKIP_RETURN_CODE) when Slurm cannot run on
# this machine and CI is not set; 1 when it cannot run and CI=true (in CI the
# Slurm tests are never skipped), or on any other failure.
set -uo pipefail
export LC_ALL=C

cmd=${1:-}
state=${2:-}
[ -n "$cmd" ] && [ -n "$state" ] || { echo "usage: cluster.sh start|stop STATEFILE" >&2; exit 2; }

# cannot WHY: Slurm cannot start here; skip outside CI, fail in CI.
cannot() {
  if [ "${CI:-}" = true ]; then
    echo "FAIL: cannot start Slurm (CI=true, the Slurm tests may not be skipped): $*" >&2
    exit 1
  fi
  echo "SKIP: cannot start Slurm on this machine: $* (./run test installs slurm-wlm and munge)" >&2
  exit 77
}

stop() {
  [ -f "$state" ] || return 0
  # shellcheck disable=SC1090
  . "$state"
  local d=$MILL_SLURM_DIR
  for f in slurmd.pid slurmctld.pid munge/munged.pid; do
    [ -s "$d/$f" ] || continue
    local pid
    pid=$(cat "$d/$f")
    kill "$pid" 2>/dev/null || continue
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  done
  # Job processes that outlived slurmd (it kills its steps on shutdown).
  case "$d" in /tmp/mill-slurm.*) rm -rf "$d" ;; esac
  rm -f "$state"
}

if [ "$cmd" = stop ]; then
  stop
  echo "slurm: stopped"
  exit 0
fi
[ "$cmd" = start ] || { echo "usage: cluster.sh start|stop STATEFILE" >&2; exit 2; }

[ "$(id -u)" = 0 ] || cannot "the private cluster needs root (slurmd runs jobs as their user)"
for b in munged slurmctld slurmd sbatch srun squeue scontrol scancel; do
  command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin:/sbin
  command -v "$b" >/dev/null 2>&1 || cannot "$b is not installed"
done
id munge >/dev/null 2>&1 || cannot "there is no user munge"
stop # a previous run's leftovers

d=$(mktemp -d /tmp/mill-slurm.XXXXXX) || exit 1
chmod 755 "$d"
mkdir -p "$d/munge" "$d/state" "$d/spool" "$d/log" || exit 1
chown munge:munge "$d/munge" && chmod 755 "$d/munge" || exit 1
# A fresh key of our own: the tests never touch /etc/munge.
dd if=/dev/urandom of="$d/munge/munge.key" bs=1024 count=1 status=none || exit 1
chown munge:munge "$d/munge/munge.key" && chmod 400 "$d/munge/munge.key" || exit 1
sock=$d/munge/munge.socket
if ! runuser -u munge -- munged --socket="$sock" --key-file="$d/munge/munge.key" \
     --pid-file="$d/munge/munged.pid" --log-file="$d/munge/munged.log" \
     --seed-file="$d/munge/munged.seed" > "$d/log/munged.out" 2>&1; then
  cat "$d/log/munged.out" >&2
  rm -rf "$d"
  cannot "munged did not start"
fi

# Ports of our own: two free ones above 20000.
used=$(awk 'FNR > 1 {split($2, a, ":"); print a[2]}' /proc/net/tcp /proc/net/tcp6 2>/dev/null |
  while read -r hex; do echo $((16#$hex)); done | sort -u)
port=$((20000 + RANDOM % 20000))
while printf '%s\n' "$used" | grep -qx -e "$port" -e "$((port + 1))"; do port=$((port + 2)); done

host=$(hostname -s)
cat > "$d/slurm.conf" <<EOF
# A private single-node cluster for mpimill's tests (tests/slurm/cluster.sh).
ClusterName=milltest
# Job ids differ between clusters started one after another: Slurm's PMIx
# plugin leaves /tmp/spmix_appdir_0_JOB.STEP behind, and a step whose
# directory exists fails to launch.
FirstJobId=$(( $(date +%s) % 500000 * 100 + 1000 ))
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
AuthInfo=socket=$sock
StateSaveLocation=$d/state
SlurmdSpoolDir=$d/spool
SlurmctldPidFile=$d/slurmctld.pid
SlurmdPidFile=$d/slurmd.pid
SlurmctldLogFile=$d/log/slurmctld.log
SlurmdLogFile=$d/log/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MinJobAge=600
KillWait=10
InactiveLimit=0
JobRequeue=1
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
# The node offers more CPUs than it has so that two tests' jobs can run at
# once (each uses -n 2); config_overrides lets slurmd accept that.
SlurmdParameters=config_overrides
NodeName=$host NodeAddr=127.0.0.1 CPUs=8 State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
: > "$d/cgroup.conf"
: > "$d/plugstack.conf"

if ! slurmctld -f "$d/slurm.conf" -i > "$d/log/slurmctld.out" 2>&1 < /dev/null; then
  cat "$d/log/slurmctld.out" "$d/log/slurmctld.log" >&2 2>/dev/null
  kill "$(cat "$d/munge/munged.pid")" 2>/dev/null; rm -rf "$d"
  cannot "slurmctld did not start"
fi
if ! slurmd -f "$d/slurm.conf" > "$d/log/slurmd.out" 2>&1 < /dev/null; then
  cat "$d/log/slurmd.out" "$d/log/slurmd.log" >&2 2>/dev/null
  kill "$(cat "$d/slurmctld.pid")" "$(cat "$d/munge/munged.pid")" 2>/dev/null; rm -rf "$d"
  cannot "slurmd did not start"
fi

cat > "$state" <<EOF
export SLURM_CONF=$d/slurm.conf
export MILL_SLURM_DIR=$d
export MILL_SLURM_NODE=$host
EOF

export SLURM_CONF=$d/slurm.conf
for _ in $(seq 300); do
  st=$(sinfo -h -N -o %t 2>/dev/null | head -n1)
  [ "$st" = idle ] && break
  sleep 0.1
done
if [ "$st" != idle ]; then
  echo "slurm: the node did not become idle (state '$st'):" >&2
  tail -n 20 "$d/log/slurmctld.log" "$d/log/slurmd.log" >&2
  stop
  cannot "the node did not become idle"
fi
echo "slurm: running from $d (ports $port, $((port + 1)); node $host idle)"
echo "slurm: $(srun --version), mpi plugins: $(srun --mpi=list 2>&1 | grep -o 'pmix[^ ]*' | tr '\n' ' ')"
