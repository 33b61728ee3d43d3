#!/usr/bin/env bash
# pipeline.sh: `mpimill pipeline FILE` resumes from what is committed. A
# stage whose output holds the fingerprint its run would have is skipped;
# a stage whose input files or output-changing options differ runs again:
# a rewritten HDF5 input (named FILE:/DATASET) and an added --csv-no-header.
. "$(dirname "$0")/lib.sh"
PY=
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import h5py' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || fail "no python3 with h5py (apt-get install python3-h5py)"
h5() { # N: writes N values 0.5, 1.5, ... into $TMP/d.h5:/x
  "$PY" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f: f.create_dataset("x", data=np.arange(int(sys.argv[2])) + 0.5)' "$TMP/d.h5" "$1"
}
h5 2
printf 'word,n\na,1\nb,2\n' > "$TMP/t.csv"
cat > "$TMP/stages" <<STAGES
run histogram --input $TMP/d.h5:/x --output $TMP/hist --opt bins=4 --opt min=0 --opt max=4 --overwrite
run wordcount --input $TMP/t.csv --output $TMP/words --overwrite
STAGES
pipeline() { mpimill_run 2 -- pipeline "$TMP/stages" > "$TMP/log" 2>&1 || fail "pipeline: $(cat "$TMP/log")"; }
count() { cat "$TMP/hist"/part-* | awk -F'\t' '{ s += $4 } END { print s + 0 }'; }

pipeline
[ "$(count)" = 2 ] || fail "histogram of 2 values counts $(count)"
pipeline
[ "$(grep -c "skipped, already committed" "$TMP/log")" = 2 ] || fail "rerun did not skip both stages: $(cat "$TMP/log")"

h5 4 # the HDF5 file changes: its stage runs again, the other is skipped
pipeline
grep -q "stage 1/2.*skipped" "$TMP/log" && fail "a rewritten HDF5 input was taken as committed: $(cat "$TMP/log")"
[ "$(count)" = 4 ] || fail "histogram of 4 values counts $(count) after the rerun"
grep -q "stage 2/2.*skipped" "$TMP/log" || fail "the unchanged stage ran again: $(cat "$TMP/log")"

sed -i 's/--output \(.*words\)/--csv-no-header --output \1/' "$TMP/stages" # the header line becomes data
pipeline
grep -q "stage 2/2.*skipped" "$TMP/log" && fail "a stage with --csv-no-header added was taken as committed: $(cat "$TMP/log")"
output_of "$TMP/words" | grep -q "^word,n	1$" || fail "--csv-no-header: the header line was not counted: $(output_of "$TMP/words")"

# A run killed after its commit point (the old output still beside the new
# one, the lock file there): the rerun skips the stage and clears them.
printf 'word,n\na,1\nc,3\n' > "$TMP/t.csv"
rc=0; MPIMILL_FAULT_POINT=10 MPIMILL_FAULT_RANK=0 mpimill_run 2 -- pipeline "$TMP/stages" > "$TMP/log" 2>&1 || rc=$?
[ "$rc" != 0 ] && ls -A "$TMP" | grep -q "^\.words\.mill-staging-" || fail "the kill at point 10 left nothing: $rc $(ls -A "$TMP")"
pipeline
grep -q "stage 2/2.*skipped" "$TMP/log" || fail "the committed stage ran again: $(cat "$TMP/log")"
! ls -A "$TMP" | grep -q "^\.words\.mill-" || fail "a skipped stage left its leftovers: $(ls -A "$TMP")"
echo "pipeline resume: ok"
