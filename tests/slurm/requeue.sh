#!/usr/bin/env bash
# requeue.sh: a two-stage pipeline submitted with --requeue is requeued
# (scontrol requeue) while its second stage runs. The restarted job
# (SLURM_RESTART_COUNT=1) skips stage 1, already committed with the same
# fingerprint, and runs stage 2 to the end; both outputs are correct.
. "$(dirname "$0")/lib.sh"
seq 1 30000 | sed 's/^/w/' > words.txt # 30000 distinct words: ~15 s of the slow stage
cat > stages.txt <<P
# stage 1: count the words; stage 2: the slow job over stage 1's output
run wordcount --input $TMP/words.txt --output $TMP/s1
run $SLOWJOB --input $TMP/s1 --output $TMP/s2   # one record per line of s1
P
j=$("$MPIMILL" submit -n 2 --requeue --open-mode=append -o job.log -- pipeline stages.txt)
wait_for 60 staging_exists "$TMP/s2"
[ -f s1/_SUCCESS ] || fail "stage 1 not committed while stage 2 runs"
sleep 1
t0=$(date +%s.%N)
scontrol requeue "$j"
# A requeued batch job becomes eligible again only after a delay (about two
# minutes in Slurm 22.05); bring its start forward once it is pending.
wait_for 60 bash -c "scontrol show job -o $j | grep -q 'JobState=PENDING'"
scontrol update JobId="$j" StartTime=now
wait_for 60 bash -c "scontrol show job -o $j | grep -q 'JobState=\(RUNNING\|COMPLETING\|COMPLETED\)'"
t1=$(date +%s.%N)
wait_job "$j" 120
st=$(job_field "$j" JobState)
[ "$st" = COMPLETED ] || fail "job $j ended $st: $(cat job.log)"
[ "$(job_field "$j" Restarts)" = 1 ] || fail "Restarts=$(job_field "$j" Restarts), expected 1"
grep -q "restart 1" job.log || fail "the rerun does not show SLURM_RESTART_COUNT=1: $(cat job.log)"
grep -q "stopped by SIGTERM" job.log || fail "the requeue did not stop stage 2 cleanly: $(cat job.log)"
grep -q "stage 1/2 (line 2, wordcount -> $TMP/s1): skipped, already committed" job.log ||
  fail "stage 1 was not skipped on the rerun: $(cat job.log)"
[ "$(grep -c 'stage 2/2 .*: running' job.log)" = 2 ] || fail "stage 2 did not run twice: $(cat job.log)"
# Stage 1 is the first attempt's (restart 0), stage 2 the second's (restart 1).
grep -q "\"attempt\": \"s$j-r0-[0-9a-f]\{16\}\"" s1/_SUCCESS || fail "s1 was not committed by restart 0: $(head -3 s1/_SUCCESS)"
grep -q "\"attempt\": \"s$j-r1-[0-9a-f]\{16\}\"" s2/_SUCCESS || fail "s2 was not committed by restart 1: $(head -3 s2/_SUCCESS)"
oracle words.txt > want1.txt
output_of s1 > got1.txt
cmp -s want1.txt got1.txt || fail "s1 differs from the oracle"
awk '{print $0 "\t1"}' want1.txt | sort > want2.txt
output_of s2 > got2.txt
cmp -s want2.txt got2.txt || fail "s2 differs from the oracle"
check_no_leftovers "$TMP/s2"
echo "requeue: stage 2 stopped by the requeue, rerun (restart 1) skipped stage 1 and committed stage 2; requeue to running again $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: ok"
