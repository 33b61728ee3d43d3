#!/usr/bin/env bash
# wordcount.sh LAUNCHER: a word count on two ranks through Slurm, launched
# with LAUNCHER (srun or mpirun) twice: by sbatch with the template
# slurm/mpimill-LAUNCHER.sbatch, and by `mpimill submit --launcher LAUNCHER`;
# both outputs must match the tr|sort|uniq oracle. Under srun, a step that
# fails to launch (Slurm's PMIx plugin finds its directory taken) makes srun
# exit 0: the submitted script must still fail the job.
. "$(dirname "$0")/lib.sh"
l=$1
mkdir corpus
"$MILLGEN" --bytes 1M --seed 7 corpus/a.txt > /dev/null
"$MILLGEN" --bytes 300K --seed 8 corpus/b.txt > /dev/null
oracle corpus/a.txt corpus/b.txt > want.txt

t0=$(date +%s.%N)
j1=$(sbatch --parsable -n 2 -o tpl.log "$MILL_SRC/slurm/mpimill-$l.sbatch" wordcount --input corpus --output tpl)
j2=$("$MPIMILL" submit --launcher "$l" -n 2 -o sub.log -- wordcount --input corpus --output sub)
wait_job "$j1" 120
wait_job "$j2" 120
t1=$(date +%s.%N)
for j in "$j1:tpl" "$j2:sub"; do
  id=${j%%:*} out=${j#*:}
  st=$(job_field "$id" JobState)
  [ "$st" = COMPLETED ] || fail "job $id ($out) ended $st: $(cat "$out.log")"
  output_of "$out" > got.txt
  cmp -s want.txt got.txt || fail "$out differs from the oracle: $(diff want.txt got.txt | head -5)"
  check_parts_sorted "$out"
  [ "$(ls "$out" | grep -c '^part-')" = 2 ] || fail "$out: expected 2 parts (2 ranks): $(ls "$out")"
  grep -qw "2 ranks" "$out.log" || fail "$out.log: not 2 ranks: $(cat "$out.log")"
done
if [ "$l" = srun ]; then
  j3=$("$MPIMILL" submit --launcher srun -n 2 -o nolaunch.log --hold -- wordcount --input corpus --output nolaunch)
  blocker=/tmp/spmix_appdir_$(id -u)_$j3.0
  mkdir "$blocker"
  scontrol release "$j3"
  wait_job "$j3" 120
  rm -rf "$blocker"
  st=$(job_field "$j3" JobState)
  [ "$st" = FAILED ] && grep -q "the launcher exited 0, but mpimill did not report success" nolaunch.log ||
    fail "a step that failed to launch: job $j3 ended $st: $(cat nolaunch.log)"
  # sbatch --export=NONE: srun passes no environment on, but rank 0 must
  # still learn where to report success (else a good job ends FAILED).
  j4=$("$MPIMILL" submit --launcher srun -n 2 -o noexp.log --export=NONE -- wordcount --input "$PWD/corpus" \
    --output "$PWD/noexp")
  wait_job "$j4" 120
  st=$(job_field "$j4" JobState)
  [ "$st" = COMPLETED ] || fail "--export=NONE: job $j4 ended $st: $(cat noexp.log)"
  output_of noexp | cmp -s want.txt - || fail "--export=NONE: output differs from the oracle"
fi
echo "wordcount via $l (template and submit): $(wc -l < want.txt) keys match the oracle; both jobs done in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s: ok"
