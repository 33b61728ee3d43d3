#!/usr/bin/env bash
# array.sh: `mpimill submit --array DIR` over three inputs: one array task
# per input, three outputs OUT/<input name>, each matching the oracle. The
# tasks start in another directory (--chdir): the input list and the inputs
# found here are named by absolute paths. A newline in an sbatch option
# stays inside the script's comment line.
. "$(dirname "$0")/lib.sh"
mkdir in elsewhere
for i in 1 2 3; do "$MILLGEN" --bytes $((i * 100))K --seed $i "in/part$i.txt" > /dev/null; done
"$MPIMILL" submit --dry-run $'--comment=two\nrm -rf /tmp/never #' -- wordcount --input in --output o > /dev/null
grep -q '^rm ' mpimill-submit-*.sbatch && fail "an sbatch option's newline ended the comment: $(cat mpimill-submit-*.sbatch)"
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
echo "array of 3 tasks: three outputs match the oracle, done in $(echo "$t1 - $t0" | bc) s: ok"
