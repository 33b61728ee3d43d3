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

# An input appended to while its stage runs is read as it was listed, and
# fingerprinted as listed: the rerun runs the stage again. (Fingerprinted
# at the commit, the stage counted as done for the longer file, and every
# rerun skipped it: the output never had the new row.) Each fault point
# waits 0.8 s, so the row comes after the listing, before the commit.
printf 'word,n\na,1\n' > "$TMP/t.csv"
(MPIMILL_FAULT_DELAY_MS=800 mpimill_run 2 -- pipeline "$TMP/stages" > "$TMP/log" 2>&1) & job=$!
sleep 1.2
printf 'z,9\n' >> "$TMP/t.csv"
wait $job || fail "the slowed pipeline: $(cat "$TMP/log")"
pipeline
output_of "$TMP/words" | grep -q "^z,9	1$" || fail "a row appended during the stage never reached its output: $(cat "$TMP/log")"

# Every line is checked before anything runs, the job and its options too
# (an unknown job on line 2 was found after line 1 had run): exit 2, one
# line naming FILE:LINE, nothing run.
bad_pipeline() { # PATTERN: the pipeline file $TMP/bad fails so
  local rc=0
  mpimill_run 2 -- pipeline "$TMP/bad" > "$TMP/log" 2>&1 || rc=$?
  [ "$rc" = 2 ] && grep -q -- "$1" "$TMP/log" && [ "$(grep -c 'error\|pipeline.*:[0-9]*:' "$TMP/log")" = 1 ] ||
    fail "bad pipeline ($1): exit $rc, $(cat "$TMP/log")"
  [ ! -e "$TMP/first" ] || fail "bad pipeline ($1): line 1 ran"
}
ok="run wordcount --input $TMP/t.csv --output $TMP/first"
printf '%s\nrun nosuchjob --input %s --output %s/o2\n' "$ok" "$TMP/t.csv" "$TMP" > "$TMP/bad"
bad_pipeline "bad:2: unknown job 'nosuchjob'"
printf '%s\nrun wordcount --input %s --output %s/o2 --opt bogus=1\n' "$ok" "$TMP/t.csv" "$TMP" > "$TMP/bad"
bad_pipeline "bad:2: job wordcount has no option 'bogus'"
printf '%s\nrun wordcount "--input\n' "$ok" > "$TMP/bad"
bad_pipeline "bad:2: unterminated \" quote"
printf '%s\ncat x\n' "$ok" > "$TMP/bad"
bad_pipeline "bad:2: a stage is \`run JOB ARGS...\`, not 'cat'"
# A NUL byte hid every line after it (the file was read as C text).
printf '%s\x00junk\nrun nosuchjob\n' "$ok" > "$TMP/bad"
bad_pipeline "bad:1: a NUL byte"
# A directory as the pipeline file is named as one ("read error" before).
mkdir -p "$TMP/adir"
rc=0; mpimill_run 1 -- pipeline "$TMP/adir" > "$TMP/log" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "pipeline $TMP/adir: Is a directory" "$TMP/log" || fail "a directory as the pipeline: exit $rc, $(cat "$TMP/log")"
# A job one rank finds and another does not (its own MPIMILL_JOB_PATH):
# every rank stops at the check, naming the rank (one rank went on alone
# into the stage and waited there for ever).
mkdir -p "$TMP/jobs"
cp "$(dirname "$MPIMILL")/../lib/mpimill/jobs/wordcount.so" "$TMP/jobs/myjob.so"
printf 'run myjob --input %s --output %s/mineout\n' "$TMP/t.csv" "$TMP" > "$TMP/mine.txt"
rc=0; timeout 60 mpirun -q -n 1 -x MPIMILL_JOB_PATH="$TMP/jobs" "$MPIMILL" pipeline "$TMP/mine.txt" : \
  -n 1 "$MPIMILL" pipeline "$TMP/mine.txt" > "$TMP/log" 2>&1 || rc=$?
[ "$rc" = 2 ] && grep -q "mine.txt:1: rank 1: unknown job 'myjob'" "$TMP/log" && [ ! -e "$TMP/mineout" ] ||
  fail "a job only rank 0 finds: exit $rc (124: hung), $(cat "$TMP/log")"
# A stop signal rank 0 alone sees between two stages (here SIGTERM as stage
# 1's commit ends, after its last collective) stops every rank before stage
# 2: the others went on into it alone. The message says stage 1 stands.
printf 'run wordcount --input %s --output %s/s1\nrun wordcount --input %s --output %s/s2\n' \
  "$TMP/t.csv" "$TMP" "$TMP/t.csv" "$TMP" > "$TMP/stop.txt"
rc=0; MPIMILL_FAULT_POINT=13 MPIMILL_FAULT_RANK=0 MPIMILL_FAULT_SIGNAL=TERM mpimill_run 2 -- pipeline "$TMP/stop.txt" \
  > "$TMP/log" 2>&1 || rc=$?
[ "$rc" = 143 ] && grep -q "stopped by SIGTERM (.*) before stage 2/2: the stages before it are committed" "$TMP/log" &&
  "$MPIMILL" verify "$TMP/s1" > /dev/null && [ ! -e "$TMP/s2" ] || fail "a stop between stages: exit $rc, $(cat "$TMP/log")"
# A plugin that crashes as the pipeline checks its stages is named, as
# `run` names it (the check ran without the crash report: a bare SIGSEGV).
printf 'run %s --input %s --output %s/crashout\n' "$PLUGINS/crash.so" "$TMP/t.csv" "$TMP" > "$TMP/crash.txt"
rc=0; CRASH_AT_LOAD=1 mpimill_run 2 -- pipeline "$TMP/crash.txt" > "$TMP/log" 2>&1 || rc=$?
[ "$rc" != 0 ] && grep -q "crashed with SIGSEGV while loading the plugin $PLUGINS/crash.so" "$TMP/log" &&
  [ ! -e "$TMP/crashout" ] || fail "a plugin crashing at load in a pipeline: exit $rc, $(cat "$TMP/log")"
# Quotes as in a shell: in "...", a backslash escapes only " and \ (it was
# dropped before any character, so the regex a\.c became a.c).
printf 'abc\na.c\n' > "$TMP/f.txt"
printf 'run grep --input %s --output %s/g --opt "pattern=a\\.c" --opt "count=1"\n' "$TMP/f.txt" "$TMP" > "$TMP/quoted"
mpimill_run 2 -- pipeline "$TMP/quoted" > "$TMP/log" 2>&1 || fail "quoted pipeline: $(cat "$TMP/log")"
mpimill_run 2 -- run grep --input "$TMP/f.txt" --output "$TMP/g-shell" --opt 'pattern=a\.c' --opt count=1 --quiet
[ "$(output_of "$TMP/g")" = "$(output_of "$TMP/g-shell")" ] ||
  fail "a pipeline line differs from the same words in a shell: $(output_of "$TMP/g") vs $(output_of "$TMP/g-shell")"

# Each stage reports its own peak RSS: a small stage after a big one in the
# same processes reported the big one's (getrusage's ru_maxrss is never reset).
"$MILLGEN" --bytes 12M --seed 5 --vocab 3000000 --zipf 0.6 "$TMP/big.txt" > /dev/null
printf 'run wordcount --input %s --output %s/pbig\nrun wordcount --input %s --output %s/psmall\n' \
  "$TMP/big.txt" "$TMP" "$TMP/f.txt" "$TMP" > "$TMP/two"
mpimill_run 2 -- pipeline "$TMP/two" > "$TMP/log" 2>&1 || fail "two-stage pipeline: $(cat "$TMP/log")"
# (Not under AddressSanitizer, whose quarantine keeps the big stage's freed
# memory resident.)
ldd "$MPIMILL" 2> /dev/null | grep -q libasan ||
python3 - "$TMP/pbig/_SUCCESS" "$TMP/psmall/_SUCCESS" <<'PY' || fail "the small stage reported the big stage's peak RSS"
import json, sys
big, small = (max(r["peak_rss"] for r in json.load(open(f))["metrics"]["ranks"]) for f in sys.argv[1:])
assert small < big / 2, (small, big)
PY
echo "pipeline resume: ok"
