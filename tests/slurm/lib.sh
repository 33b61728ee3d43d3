# lib.sh -- helpers for the Slurm tests (sourced). The private cluster is
# started by cluster.sh (the fixture slurm_cluster) and described by the file
# $MILL_SLURM_STATE. Needs: MPIMILL, MILLGEN, MILL_SLURM_STATE, MILL_SRC.
# shellcheck disable=SC1091
. "$MILL_SRC/tests/e2e/lib.sh"

if [ ! -f "$MILL_SLURM_STATE" ]; then
  if [ "${CI:-}" = true ]; then fail "no Slurm cluster is running (see the test slurm_cluster_start)"; fi
  echo "SKIP: no Slurm cluster is running (slurm_cluster_start skipped or failed)" >&2
  exit 77
fi
# shellcheck disable=SC1090
. "$MILL_SLURM_STATE"
export MPIMILL
cd "$TMP"
chmod 755 "$TMP"

# job_field JOBID FIELD: one field of `scontrol show job` (the first task's
# for an array), e.g. JobState, ExitCode, Restarts.
job_field() {
  scontrol show job -o "$1" 2>/dev/null | head -n1 | tr ' ' '\n' | sed -n "s/^$2=//p"
}

# wait_job JOBID [SECONDS]: waits until the job (every task of an array) is
# in a final state; fails after SECONDS (default 120), printing the job.
# Transient states (SIGNALING, COMPLETING, REQUEUED, STAGE_OUT, ...) are
# not final: a job shows SIGNALING while Slurm delivers its warning signal.
wait_job() {
  local id=$1 limit=${2:-120} t=0 states
  local final='^(COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|PREEMPTED|BOOT_FAIL|DEADLINE|OUT_OF_MEMORY)$'
  while [ "$t" -lt $((limit * 5)) ]; do
    states=$(scontrol show job -o "$id" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p')
    # A job Slurm no longer knows has ended too.
    if [ -z "$states" ] || ! grep -qvE "$final" <<< "$states"; then return 0; fi
    sleep 0.2; t=$((t + 1))
  done
  scontrol show job "$id" >&2
  fail "job $id did not end within $limit s"
}

# wait_for SECONDS CONDITION...: polls until the command succeeds.
wait_for() {
  local limit=$1 t=0; shift
  until "$@"; do
    [ "$t" -lt $((limit * 10)) ] || fail "timed out after $limit s waiting for: $*"
    sleep 0.1; t=$((t + 1))
  done
}

staging_exists() { ls -a "$(dirname "$1")" | grep -q "^\.$(basename "$1")\.mill-staging"; }

# check_stopped LOG OUT SIG: a job stopped by SIG left no output, no staging,
# and said why.
check_stopped() {
  local log=$1 out=$2 sig=$3
  [ ! -e "$out" ] || fail "output $out exists after SIG$sig"
  grep -q "stopped by SIG$sig" "$log" || fail "the job did not say it was stopped by SIG$sig: $(cat "$log")"
  # Recovery finds nothing left or removes what a killed rank left behind.
  "$MPIMILL" recover "$out" > "$TMP/recover.txt" 2>&1 || fail "mpimill recover failed: $(cat "$TMP/recover.txt")"
  check_no_leftovers "$out"
}
