#!/usr/bin/env bash
# scancel.sh LAUNCHER term|bterm|usr1: a job signalled mid-run through Slurm
# stops cleanly: no output, no staging after `mpimill recover`, a reason in
# its log.
#   term: `scancel JOB` -- SIGTERM to the batch script (which forwards it)
#         and to every step, as at the time limit;
#   bterm: `scancel --batch --signal=TERM JOB` -- SIGTERM to the batch script
#         alone (as --signal=B:TERM@T sends it): the script must stop the
#         ranks, not kill them (srun, given SIGTERM, would SIGKILL its step;
#         mpirun would exit 1 and drop the ranks' last words), and exit 143;
#   usr1: `scancel --batch --signal=USR1 JOB` -- what --signal=B:USR1@T
#         sends before the time limit, on demand (Slurm's own timing is
#         tested in timelimit.sh).
# Under mpirun, scancel's SIGTERM also reaches mpirun directly, and mpirun
# tears down the ranks and its output forwarding at once: the ranks' own
# "stopped by SIGTERM" line can be lost, so for mpirun+term the reason
# checked is the batch script's line (docs/slurm.md).
. "$(dirname "$0")/lib.sh"
l=$1 mode=$2
seq 1 200000 > lines.txt # about 100 s of the slow job on two ranks
j=$("$MPIMILL" submit --launcher "$l" -n 2 -o job.log -- "$SLOWJOB" --input lines.txt --output out)
wait_for 60 staging_exists "$TMP/out"
sleep 1
t0=$(date +%s.%N)
if [ "$mode" = term ]; then
  scancel "$j"; sig=TERM; want=CANCELLED
elif [ "$mode" = bterm ]; then
  scancel --batch --signal=TERM "$j"; sig=TERM; want=FAILED
else
  scancel --batch --signal=USR1 "$j"; sig=USR1; want=FAILED
fi
wait_job "$j" 60
t1=$(date +%s.%N)
st=$(job_field "$j" JobState)
[ "$st" = "$want" ] || fail "job $j ended $st, expected $want: $(cat job.log)"
grep -q "batch script received SIG$sig" job.log || fail "the batch script did not get SIG$sig: $(cat job.log)"
if [ "$l$mode" = mpirunterm ]; then
  [ ! -e "$TMP/out" ] || fail "output exists after scancel"
  "$MPIMILL" recover "$TMP/out" > recover.txt 2>&1 || fail "mpimill recover failed: $(cat recover.txt)"
  check_no_leftovers "$TMP/out"
elif [ "$l$mode" = mpirunbterm ]; then # the ranks got it from mpirun as SIGUSR2
  check_stopped job.log "$TMP/out" USR2
else
  check_stopped job.log "$TMP/out" "$sig"
fi
if [ "$mode" = bterm ]; then
  code=$(job_field "$j" ExitCode)
  [ "$code" = 143:0 ] || fail "job $j exit code $code after SIGTERM to its script, expected 143:0: $(cat job.log)"
fi
echo "$mode via $l: job $j $st, nothing committed, nothing left; signal to end of job $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: ok"
