#!/usr/bin/env bash
# signals.sh SIGNAL: a job signalled mid-run (as Slurm does at the time limit,
# on scancel, or with --signal=B:USR1@T) stops, says why, commits nothing and
# leaves no staging behind.
. "$(dirname "$0")/lib.sh"
sig=$1
seq 1 6000 > "$TMP/lines.txt"
mpirun -q -n 2 "$MPIMILL" run "$SLOWJOB" --input "$TMP/lines.txt" --output "$TMP/out" \
  2> "$TMP/stderr" & pid=$!
# Signal once the job is under way: its staging directory exists.
for _ in $(seq 600); do ls -a "$TMP" | grep -q mill-staging && break; sleep 0.1; done
sleep 0.3
kill -"$sig" "$pid"
rc=0; wait "$pid" || rc=$?
[ "$rc" != 0 ] || fail "a job stopped by SIG$sig exited 0"
[ ! -e "$TMP/out" ] || fail "output exists after SIG$sig"
check_no_leftovers "$TMP/out"
# mpirun turns SIGINT into SIGTERM for the ranks.
want=$sig; [ "$sig" = INT ] && want='\(INT\|TERM\)'
grep -q "stopped by SIG$want" "$TMP/stderr" || fail "no reason given: $(cat "$TMP/stderr")"
# A stop signal that comes during the commit's prepare (fsync and hash of
# the parts; fault point 4 raises it at the prepare's end) makes that rank
# vote no: nothing is committed (the job used to commit and exit 0).
if [ "$sig" = TERM ]; then
  # term_at POINT RANK OUT: a word count whose rank RANK raises SIGTERM at
  # fault point POINT; sets rc.
  term_at() {
    rc=0
    MPIMILL_FAULT_POINT=$1 MPIMILL_FAULT_SIGNAL=TERM MPIMILL_FAULT_RANK=$2 mpirun -q -n 2 -x MPIMILL_FAULT_POINT \
      -x MPIMILL_FAULT_SIGNAL -x MPIMILL_FAULT_RANK "$MPIMILL" run wordcount --input "$TMP/lines.txt" \
      --output "$3" --quiet 2> "$TMP/stderr" || rc=$?
  }
  term_at 4 1 "$TMP/out2"
  # (Exit 143 from the rank signalled, 1 from the other: mpirun reports
  # either, as the ranks' exits come; here and below.)
  { [ "$rc" = 143 ] || [ "$rc" = 1 ]; } && [ ! -e "$TMP/out2" ] && grep -q "rank 1: .*stopped by SIGTERM" "$TMP/stderr" ||
    fail "SIGTERM in the prepare: exit $rc, $(ls "$TMP"), $(cat "$TMP/stderr")"
  check_no_leftovers "$TMP/out2"
  # ... and so does one on rank 0 after the vote, the manifest written,
  # just before the rename (fault point 8): the decision is still no. After
  # the rename (point 9) the output is committed and the job exits 0.
  term_at 8 0 "$TMP/out3"
  { [ "$rc" = 143 ] || [ "$rc" = 1 ]; } && [ ! -e "$TMP/out3" ] && grep -q "stopped by SIGTERM" "$TMP/stderr" ||
    fail "SIGTERM before the rename: exit $rc, $(ls "$TMP"), $(cat "$TMP/stderr")"
  check_no_leftovers "$TMP/out3"
  term_at 9 0 "$TMP/out4"
  [ "$rc" = 0 ] && "$MPIMILL" verify "$TMP/out4" > /dev/null ||
    fail "SIGTERM after the rename: exit $rc, $(cat "$TMP/stderr")"
fi
echo "SIG$sig mid-job: exit $rc, nothing committed: ok"
