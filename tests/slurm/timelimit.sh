#!/usr/bin/env bash
# timelimit.sh warning|limit: a job reaching its time limit.
#   warning: --time=2 --signal=B:USR1@50 -- Slurm's own warning (SIGUSR1 to
#            the batch script, forwarded to the ranks) stops the job cleanly
#            before the limit. Slurm may send it up to 60 s early, so it
#            arrives 10-70 s into the job: after the ranks have started. (A
#            signal in a rank's first tenth of a second, before it can catch
#            it, would kill it or be dropped by mpirun.)
#   limit:   --time=1 and no warning: SIGTERM at the limit (60-90 s in).
# Either way: nothing committed, nothing left, the reason in the log.
. "$(dirname "$0")/lib.sh"
mode=$1
seq 1 400000 > lines.txt # about 200 s of the slow job on two ranks: outlives the limit
opts=(--time=1)
[ "$mode" = warning ] && opts=(--time=2 --signal=B:USR1@50)
t0=$(date +%s.%N)
j=$("$MPIMILL" submit -n 2 -o job.log "${opts[@]}" -- "$SLOWJOB" --input lines.txt --output out)
wait_job "$j" 150
t1=$(date +%s.%N)
st=$(job_field "$j" JobState)
if [ "$mode" = warning ]; then
  [ "$st" = FAILED ] || fail "job $j ended $st, expected FAILED (exit 138 after SIGUSR1)"
  grep -q "received SIGUSR1" job.log || fail "the batch script did not get SIGUSR1: $(cat job.log)"
  check_stopped job.log "$TMP/out" USR1
  [ "$(job_field "$j" ExitCode)" = 138:0 ] || fail "exit code $(job_field "$j" ExitCode), expected 138:0"
else
  [ "$st" = TIMEOUT ] || fail "job $j ended $st, expected TIMEOUT"
  check_stopped job.log "$TMP/out" TERM
fi
echo "time limit ($mode): job $j $st after $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s, nothing committed, nothing left: ok"
