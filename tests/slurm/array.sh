#!/usr/bin/env bash
# array.sh: `mpimill submit --array DIR` over three inputs: one array task
# per input, three outputs OUT/<input name>, each matching the oracle. The
# tasks start in another directory (--chdir): the input list and the inputs
# found here are named by absolute paths. A newline in an sbatch option
# stays inside the script's comment line. What would fail as a batch job
# (unknown job or option, unusable output name, missing pipeline, missing
# array inputs, sbatch's own --array, a task list that cannot name its
# inputs) is refused up front with exit 2.
. "$(dirname "$0")/lib.sh"
mkdir in elsewhere
for i in 1 2 3; do "$MILLGEN" --bytes $((i * 100))K --seed $i "in/part$i.txt" > /dev/null; done
"$MPIMILL" submit --dry-run $'--comment=two\nrm -rf /tmp/never #' -- wordcount --input in --output o > /dev/null
grep -q '^rm -rf /tmp/never' mpimill-submit-*.sbatch && fail "an sbatch option's newline ended the comment: $(cat mpimill-submit-*.sbatch)"
refused() { # PATTERN ARGS...: submit exits 2 naming PATTERN, and writes no script
  local pat=$1 rc=0; shift
  rm -f mpimill-submit-*
  "$MPIMILL" submit --dry-run "$@" > /dev/null 2> err.txt || rc=$?
  [ "$rc" = 2 ] && grep -q -- "$pat" err.txt || fail "submit $*: exit $rc, $(cat err.txt)"
  ! ls mpimill-submit-* > /dev/null 2>&1 || fail "submit $* wrote a script"
}
refused "unknown job 'nosuchjob'" -- nosuchjob --input in --output o
refused "not a usable directory name" -- wordcount --input in --output $'o\nx'
refused "pipeline nosuch.txt: No such file" -- pipeline nosuch.txt
refused "job wordcount has no option 'lowercase'" -- wordcount --input in --output o --opt lowercase=1
refused "input 0-3: No such file or directory (--array takes inputs, not task ids)" --array=0-3 -- wordcount --output o
refused "input in/nosuch.txt: No such file" --array in/part1.txt,in/nosuch.txt -- wordcount --output o
refused "sbatch option '-a' is set by mpimill submit itself" -a 0-3 -- wordcount --input in --output o
refused "sbatch option '--arr=0-3' is set by mpimill submit itself" --arr=0-3 -- wordcount --input in --output o
refused "sbatch option '--pars' is set by mpimill submit itself" --pars -- wordcount --input in --output o
refused "--array @in: Is a directory" --array @in -- wordcount --output o
: > pipe.txt
refused "pipeline takes one FILE, not 2 arguments" -- pipeline pipe.txt extra
long=$(printf 'n%.0s' $(seq 200))
mkdir longin && : > "longin/$long.txt"
refused "input 'longin/$long.txt' has no usable name for its output (output $long.txt: not a usable" \
  --array longin -- wordcount --output o
rm -rf longin pipe.txt
mkdir -p dup/a dup/b && : > dup/a/x.txt && : > dup/a/y.txt && : > dup/b/x.txt
refused "inputs 'dup/a/x.txt' and 'dup/b/x.txt' would both write OUTPUT/x.txt" --array dup/a/x.txt,dup/a/y.txt,dup/b/x.txt -- wordcount --output o
rm -rf dup
mkdir $'nl\ndir'
(cd $'nl\ndir' && mkdir in && : > in/a.txt && refused "holds a newline" --array in -- wordcount --output o)
rm -rf $'nl\ndir' mpimill-submit-*
# A launcher that exits 0 without running the job fails the script, for a
# run (also when an older output stays under --overwrite) and a pipeline
# (whose stages may all be committed already); one that runs mpimill (its
# own options dropped: --mpi=pmix, -q -x VAR) passes, and leaves no file.
mkdir shim
"$MPIMILL" run wordcount --input in --output old --quiet
echo "run wordcount --input $PWD/in --output $PWD/old --overwrite --quiet" > pipe.txt
launch() { # SHIM SCRIPT ARGS...: runs SCRIPT with srun and mpirun that do SHIM; sets rc
  printf '#!/bin/sh\n%s\n' "$1" > shim/srun && cp shim/srun shim/mpirun && chmod +x shim/srun shim/mpirun
  local script=$2; shift 2
  rc=0; SLURM_JOB_ID=123 PATH=$PWD/shim:$PATH bash "$script" "$@" 2> shim.log || rc=$?
}
for cmd in "wordcount --input in --output old --overwrite" "pipeline pipe.txt"; do
  "$MPIMILL" submit --dry-run -- $cmd > /dev/null
  for script in mpimill-submit-*.sbatch "$MILL_SRC/slurm/mpimill-srun.sbatch" "$MILL_SRC/slurm/mpimill-mpirun.sbatch"; do
    launch 'exit 0' "$script" $cmd
    [ "$rc" = 1 ] && grep -q "exited 0, but mpimill did not report success" shim.log ||
      fail "$script $cmd, a launcher exiting 0: exit $rc, $(cat shim.log)"
    launch 'while [ "${1#-}" != "$1" ]; do [ "$1" = -x ] && shift; shift; done; exec "$@"' "$script" $cmd
    [ "$rc" = 0 ] || fail "$script $cmd, a launcher that runs it: exit $rc, $(cat shim.log)"
  done
  rm -f mpimill-submit-*
done
ls -a | grep -q mpimill-done && fail "a done file was left: $(ls -a)"
rm -rf shim old pipe.txt mpimill-submit-*
# SIGTERM to an array task's script (scancel, time limit) goes to that task
# alone: the task holding the array's own id signalled the whole array.
mkdir shim && printf '#!/bin/sh\necho $$ > "%s/srun.pid"; exec sleep 30\n' "$PWD" > shim/srun
printf '#!/bin/sh\necho "$@" >> "%s/scancel.args"\n' "$PWD" > shim/scancel
chmod +x shim/srun shim/scancel
"$MPIMILL" submit --dry-run -- wordcount --input in --output o > /dev/null
poll() { local t=0; until [ -s "$1" ] || [ $t -ge 100 ]; do sleep 0.1; t=$((t + 1)); done; }
for script in mpimill-submit-*.sbatch "$MILL_SRC/slurm/mpimill-srun.sbatch"; do
  rm -f scancel.args srun.pid
  SLURM_JOB_ID=100 SLURM_ARRAY_JOB_ID=100 SLURM_ARRAY_TASK_ID=2 PATH=$PWD/shim:$PATH bash "$script" wordcount \
    --input in --output o > /dev/null 2>&1 &
  pid=$!
  poll srun.pid; sleep 0.3 # the launcher runs: the script has set its traps, and soon knows its pid
  kill -TERM $pid
  poll scancel.args
  kill "$(cat srun.pid)" 2> /dev/null || true
  wait $pid 2> /dev/null || true
  [ "$(head -1 scancel.args 2> /dev/null)" = "--signal=TERM 100_2" ] ||
    fail "$script: SIGTERM to array task 2 ran scancel $(cat scancel.args 2> /dev/null)"
done
rm -rf shim mpimill-submit-* scancel.args srun.pid
t0=$(date +%s.%N)
j=$("$MPIMILL" submit --array in -n 2 --chdir="$PWD/elsewhere" -o 'task-%a.log' -- wordcount --output "$PWD/out")
wait_job "$j" 120
t1=$(date +%s.%N)
for i in 1 2 3; do
  st=$(scontrol show job -o "${j}_$((i - 1))" | tr ' ' '\n' | sed -n 's/^JobState=//p')
  [ "$st" = COMPLETED ] || fail "task $((i - 1)) ended $st: $(cat elsewhere/task-$((i - 1)).log)"
  oracle "in/part$i.txt" > want.txt
  output_of "out/part$i.txt" > got.txt
  cmp -s want.txt got.txt || fail "out/part$i.txt differs from the oracle"
done
[ "$(ls out | wc -l)" = 3 ] || fail "expected three outputs: $(ls out)"
# --wait: a job that fails still has its id printed, and the message says
# the job failed, not sbatch.
rc=0; j=$("$MPIMILL" submit --wait -n 1 -o fail.log -- wordcount --input in --output "$PWD/no/such/dir" 2> err.txt) || rc=$?
[ "$rc" = 1 ] && [ -n "$j" ] && grep -q "Slurm job $j was submitted, but sbatch exited 1 (under --wait: the job failed" err.txt ||
  fail "submit --wait of a failing job: exit $rc, id '$j', $(cat err.txt)"
echo "array of 3 tasks: three outputs match the oracle, done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: ok"
