#!/usr/bin/env bash
# api.sh RANKS: the plugin API end to end -- custom combine, reduce with
# mill_write, counters in the summary and manifest, options; a failing
# callback and a crashing plugin commit nothing and say where.
. "$(dirname "$0")/lib.sh"
ranks=$1
"$MILLGEN" --bytes 400K --seed 21 "$TMP/in.txt"

# longest: oracle with awk over the words.
mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" --output "$TMP/out" \
  --opt scale=2.5 > "$TMP/stdout" 2> "$TMP/stderr"
tr -s ' \t\r' '\n\n\n' < "$TMP/in.txt" | grep -v '^$' |
  awk '{ k = substr($0, 1, 1); if (!(k in best) || length($0) > length(best[k]) ||
         (length($0) == length(best[k]) && $0 < best[k])) best[k] = $0 }
       END { for (k in best) print k "\t" best[k] }' | sort > "$TMP/want"
output_of "$TMP/out" | cmp -s "$TMP/want" - || fail "longest differs from the oracle"
lines=$(wc -l < "$TMP/in.txt"); words=$(tr -s ' \t\r' '\n\n\n' < "$TMP/in.txt" | grep -vc '^$')
letters=$(wc -l < "$TMP/want")
grep -q "counters: letters=$letters, lines=$lines, map_done_calls=$ranks, words=$words" "$TMP/stdout" ||
  fail "summary lacks the counters: $(cat "$TMP/stdout")"
python3 - "$TMP/out/_SUCCESS" "$lines" "$words" "$letters" "$ranks" <<'PY' || fail "manifest counters wrong"
import json, sys
m = json.load(open(sys.argv[1]))
c = m["counters"]
assert c == {"lines": int(sys.argv[2]), "words": int(sys.argv[3]), "letters": int(sys.argv[4]),
             "map_done_calls": int(sys.argv[5])}, c
assert len(m["fingerprint"]) == 16
PY
grep -q "longest\[0\]: scale 2.5 on $ranks ranks" "$TMP/stderr" || fail "mill_log line missing: $(cat "$TMP/stderr")"
# All 64 counters job.h promises, with --bad-records skip: the runtime's
# bad_records_skipped has a slot of its own (it took the 64th: "too many
# counters"). A count in teardown, after the sum, is refused, not lost.
mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" --output "$TMP/c64" --opt fill=60 \
  --bad-records skip > "$TMP/stdout" 2> "$TMP/stderr" || fail "64 counters and --bad-records skip: $(cat "$TMP/stderr")"
python3 -c 'import json, sys; c = json.load(open(sys.argv[1]))["counters"]
assert len(c) == 65 and c["bad_records_skipped"] == 0 and c["f59"] == int(sys.argv[2]), c' "$TMP/c64/_SUCCESS" "$ranks" ||
  fail "64 counters and --bad-records skip: the manifest's counters"
grep -q "longest\[0\]: mill_count in teardown: not allowed in this state" "$TMP/stderr" ||
  fail "mill_count in teardown: $(cat "$TMP/stderr")"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" --output "$TMP/c65" --opt fill=61 \
  2> "$TMP/stderr" > /dev/null || rc=$?
[ "$rc" = 1 ] && grep -q "out of memory\|counter" "$TMP/stderr" || fail "a 65th job counter: exit $rc, $(cat "$TMP/stderr")"
# A job that calls setlocale(LC_ALL, "") in a locale with a decimal comma
# (de_DE, compiled here): the manifest's and the summary's numbers stay C's
# ("0.010", not "0,010", which made the committed manifest invalid JSON).
mkdir "$TMP/loc"
if localedef -i de_DE -f UTF-8 "$TMP/loc/de_DE.UTF-8" 2> /dev/null; then
  LOCPATH="$TMP/loc" LC_ALL=de_DE.UTF-8 mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" \
    --output "$TMP/loc/out" --opt setlocale=1 --opt scale=0.5 > "$TMP/stdout" 2> "$TMP/stderr" ||
    fail "a job that calls setlocale: $(cat "$TMP/stderr")"
  python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$TMP/loc/out/_SUCCESS" ||
    fail "a job that calls setlocale: the manifest is not JSON"
  grep -q "scale 0.5 on" "$TMP/stderr" && grep -Eq "ranks?, [0-9]+\.[0-9]+ s" "$TMP/stdout" &&
    "$MPIMILL" verify "$TMP/loc/out" > /dev/null || fail "a job that calls setlocale: $(cat "$TMP/stdout" "$TMP/stderr")"
elif [ "${CI:-}" = true ]; then
  fail "localedef cannot build de_DE.UTF-8 (apt-get install locales)"
else
  echo "SKIP (this check only): localedef cannot build de_DE.UTF-8 (apt-get install locales)" >&2
fi
# A counter name with a tab, ", " and a Latin-1 byte: one counter, and the
# manifest stays JSON (the name was written raw, and split at ", ").
name=$(printf 'a\tb, c\xe9')
mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" --output "$TMP/cnt" --opt counter="$name" \
  > "$TMP/stdout" 2> "$TMP/stderr" || fail "a counter of an odd name: $(cat "$TMP/stderr")"
python3 - "$TMP/cnt/_SUCCESS" "$name" "$ranks" <<'PY' || fail "a counter of an odd name: the manifest is wrong"
import json, os, sys
c = json.load(open(sys.argv[1], "rb"))["counters"]
odd = [k for k in c if os.fsencode(k) == os.fsencode(sys.argv[2])]
assert len(c) == 5 and len(odd) == 1 and c[odd[0]] == int(sys.argv[3]), c
PY
"$MPIMILL" verify "$TMP/cnt" > /dev/null || fail "verify of a manifest with an odd counter name"

# A malformed typed option is an error naming it.
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" --output "$TMP/o2" \
  --opt scale=big 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "option scale=big: not a number" "$TMP/stderr" || fail "bad float option: $rc $(cat "$TMP/stderr")"
[ ! -e "$TMP/o2" ] || fail "output after a failed setup"

# run JOB --help adds the job's description and --opt keys; an unknown job is an error.
"$MPIMILL" run "$PLUGINS/failing.so" --help > "$TMP/help" || fail "run JOB --help exited $?"
grep -q "^job failing: fails on 'bad'" "$TMP/help" && grep -q "^  --opt keys: setup_fail_rank ignore ratio$" "$TMP/help" ||
  fail "run JOB --help: $(tail -3 "$TMP/help")"
rc=0; "$MPIMILL" run "$TMP/nosuch.so" --help > /dev/null 2> "$TMP/stderr" || rc=$?
[ "$rc" = 2 ] && grep -q "nosuch.so" "$TMP/stderr" || fail "run MISSING --help: exit $rc, $(cat "$TMP/stderr")"

# A failing map: one line naming job, rank, file, line (when the rank knows it) and
# byte offset; nothing committed.
printf 'ok\nfine\nbad\nok\n' > "$TMP/bad.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/bad.txt" --output "$TMP/o3" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] || fail "failing job exit $rc"
[ "$(err_lines "$TMP/stderr")" = 1 ] || fail "more than one line: $(cat "$TMP/stderr")"
grep -q "job failing: map failed at $TMP/bad.txt\(:3\)\? (byte offset 8): cannot map a bad record" "$TMP/stderr" ||
  fail "failing job message: $(cat "$TMP/stderr")"
[ ! -e "$TMP/o3" ] || fail "output after a failed map"
check_no_leftovers "$TMP/o3"

# A failure without a reason is not given the reason of an earlier one the
# job handled (setup's mill_opt_i64 on ratio=0.5, before it read a float).
printf 'quiet\n' > "$TMP/quiet.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/quiet.txt" --output "$TMP/o3" --opt ratio=0.5 \
  2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job failing: map failed at $TMP/quiet.txt\(:1\)\? (byte offset 0): $(printf 'I/O error')$" "$TMP/stderr" ||
  fail "a map failing without mill_fail after a handled failure: exit $rc, $(cat "$TMP/stderr")"

# A batch with a value of the wrong width fails the job at that record.
printf 'ok\nnarrow\n' > "$TMP/narrow.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/narrow.txt" --output "$TMP/o6" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job failing: map failed at $TMP/narrow.txt\(:2\)\? (byte offset 3): a numeric job emitted a 4-byte value" "$TMP/stderr" ||
  fail "narrow value in a batch: exit $rc, $(cat "$TMP/stderr")"
[ ! -e "$TMP/o6" ] || fail "output after a failed batch"
# The same with a map that ignores the failure and returns 0: the failure
# sticks, and the job fails all the same (it committed without b and c).
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/narrow.txt" --output "$TMP/o6" --opt ignore=1 \
  2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job failing: map failed at $TMP/narrow.txt\(:2\)\? (byte offset 3): a numeric job emitted a 4-byte value" "$TMP/stderr" &&
  [ ! -e "$TMP/o6" ] || fail "an emit failure the map ignored: exit $rc, $(cat "$TMP/stderr")"
# So does a write failure that reduce ignores (it committed without the line).
printf 'ok\nshort\n' > "$TMP/short.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/short.txt" --output "$TMP/o6" --opt ignore=1 \
  2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job failing: reduce failed: a numeric job wrote a 4-byte value" "$TMP/stderr" &&
  [ ! -e "$TMP/o6" ] || fail "a write failure reduce ignored: exit $rc, $(cat "$TMP/stderr")"

# A NULL key with a length is refused, and the job fails, saying so.
printf 'ok\nnull\n' > "$TMP/null.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/null.txt" --output "$TMP/o7" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job failing: map failed at $TMP/null.txt\(:2\)\? (byte offset 3): an emit with a NULL key of 3 bytes" \
  "$TMP/stderr" && [ ! -e "$TMP/o7" ] || fail "an emit of a NULL key: exit $rc, $(cat "$TMP/stderr")"

# The f64 MIN combiner gives the same answer whatever order the values
# come in: NaN wins, -0 is below +0 (a NaN seen after a number was lost).
mkdir "$TMP/fm"
for order in 1 2; do
  if [ $order = 1 ]; then a='k 5\nk 1\nz 0\n' b='k nan\nk 2\nz -0\n'; else a='k nan\nk 2\nz -0\n' b='k 5\nk 1\nz 0\n'; fi
  printf "$a" > "$TMP/fm/a.txt"; printf "$b" > "$TMP/fm/b.txt"
  mpimill_run "$ranks" -- run "$PLUGINS/fmin.so" --input "$TMP/fm" --output "$TMP/fm$order" --quiet || fail "fmin failed"
  [ "$(output_of "$TMP/fm$order" | tr '\t\n' ' ')" = "k nan z -0 " ] ||
    fail "f64 MIN, values in order $order: $(output_of "$TMP/fm$order" | tr '\t\n' ' ')"
done
rm -rf "$TMP/fm" "$TMP/fm1" "$TMP/fm2"

# Signed values (MILL_VALUE_I64, mill_emit_i64): sums that cross zero and
# reach the ends of the int64 range, against python.
python3 - "$TMP/isum.txt" <<'PY'
import random
r = random.Random(7)
with open(__import__("sys").argv[1], "w") as f:
    for i in range(200000):
        f.write("k%d %d\n" % (r.randrange(50000), r.randrange(-10**12, 10**12)))
    f.write("big %d\nbig %d\nneg %d\n" % (2**62, 2**62 - 1, -2**63))
PY
python3 -c 'import sys, collections
s = collections.Counter()
for line in open(sys.argv[1]):
    k, v = line.split(); s[k] += int(v)
for k in sorted(s): print("%s\t%d" % (k, s[k]))' "$TMP/isum.txt" | sort > "$TMP/want-isum"
mpimill_run "$ranks" -- run "$PLUGINS/isum.so" --input "$TMP/isum.txt" --output "$TMP/isum" --quiet ||
  fail "isum failed"
output_of "$TMP/isum" | cmp -s "$TMP/want-isum" - || fail "i64 sums differ from python"
# A double emitted in an integer job fails the job, even ignored: 8 bytes
# wide, its bits were summed as an integer, exit 0. An unsigned integer in
# a signed job is the same bits, and still summed.
printf 'k 1\nk u2\n' > "$TMP/itype.txt"
mpimill_run "$ranks" -- run "$PLUGINS/isum.so" --input "$TMP/itype.txt" --output "$TMP/itype" --quiet ||
  fail "mill_emit_u64 in an I64 job failed"
[ "$(output_of "$TMP/itype")" = "$(printf 'k\t3')" ] || fail "mill_emit_u64 in an I64 job: $(output_of "$TMP/itype")"
rm -rf "$TMP/itype"
printf 'k 1\nk f0.1\n' > "$TMP/itype.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/isum.so" --input "$TMP/itype.txt" --output "$TMP/itype" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job isum: map failed at $TMP/itype.txt\(:2\)\? (byte offset 4): mill_emit_f64 in a job whose value_type is I64" \
  "$TMP/stderr" && [ ! -e "$TMP/itype" ] || fail "mill_emit_f64 in an I64 job: exit $rc, $(cat "$TMP/stderr")"

# A setup that fails on the last rank only stops every rank (no hang).
last=$((ranks - 1))
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/failing.so" --input "$TMP/bad.txt" --output "$TMP/o5" \
  --opt setup_fail_rank=$last 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job failing: setup failed: setup refuses on this rank" "$TMP/stderr" ||
  fail "setup failing on rank $last: exit $rc, $(cat "$TMP/stderr")"
[ ! -e "$TMP/o5" ] || fail "output after a failed setup"

# A crash: the message names the plugin and the record; nothing committed.
printf 'a\nb\nboom\nc\n' > "$TMP/boom.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/crash.so" --input "$TMP/boom.txt" --output "$TMP/o4" 2> "$TMP/stderr" || rc=$?
[ "$rc" != 0 ] || fail "crashing job exited 0"
grep -q "job crash crashed with SIGSEGV in its plugin $PLUGINS/crash.so at $TMP/boom.txt\(:3\)\? (byte offset 4)" "$TMP/stderr" ||
  fail "crash message: $(cat "$TMP/stderr")"
[ ! -e "$TMP/o4" ] || fail "output after a crash"
# An abort() (a failed assert) is reported the same way.
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/crash.so" --input "$TMP/boom.txt" --output "$TMP/o7" --opt how=abort \
  2> "$TMP/stderr" || rc=$?
[ "$rc" != 0 ] && grep -q "job crash crashed with SIGABRT in its plugin $PLUGINS/crash.so at $TMP/boom.txt\(:3\)\? (byte offset 4)" \
  "$TMP/stderr" || fail "abort: exit $rc, message: $(cat "$TMP/stderr")"
[ ! -e "$TMP/o7" ] || fail "output after an abort"
# A plugin calling exit(0) is a failure, reported like a crash (it exited 0
# with nothing committed and nothing said, run without mpirun).
rc=0; "$MPIMILL" run "$PLUGINS/crash.so" --input "$TMP/boom.txt" --output "$TMP/o10" --opt how=exit \
  2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "job crash called exit() in its plugin $PLUGINS/crash.so at $TMP/boom.txt:3 (byte offset 4): nothing was committed" \
  "$TMP/stderr" || fail "exit(0) in a plugin: exit $rc, message: $(cat "$TMP/stderr")"
[ ! -e "$TMP/o10" ] || fail "output after a plugin's exit()"
# An input truncated while a rank reads its mapping (SIGBUS) is named as
# such, not blamed on the plugin.
seq 1 20000 > "$TMP/shrinking.txt"
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/slow.so" --input "$TMP/shrinking.txt" --output "$TMP/o11" \
  2> "$TMP/stderr" & pid=$!
sleep 2
truncate -s 10000 "$TMP/shrinking.txt"
wait "$pid" || rc=$?
[ "$rc" != 0 ] && grep -q "input $TMP/shrinking.txt was truncated while it was read (SIGBUS at its byte" "$TMP/stderr" ||
  fail "input truncated while read: exit $rc, message: $(cat "$TMP/stderr")"
[ ! -e "$TMP/o11" ] || fail "output after an input was truncated"
# mill_write inside combine is refused at any budget: with --memory 16M the
# owner spills and combine runs inside reduce's merge, where it was taken
# (stray, unsorted records were committed). The job fails if it is taken.
mkdir "$TMP/cw"
seq -f "key%08g" 1 500000 > "$TMP/cw/a.txt"
cp "$TMP/cw/a.txt" "$TMP/cw/b.txt"
mpimill_run "$ranks" -- run "$PLUGINS/combinewrite.so" --input "$TMP/cw" --output "$TMP/o12" --memory 16M --quiet \
  2> "$TMP/stderr" || fail "combine calling mill_write: $(cat "$TMP/stderr")"
grep -q '"spill_bytes": [1-9]' "$TMP/o12/_SUCCESS" || fail "combinewrite did not spill: a useless test"
[ "$(output_of "$TMP/o12" | awk -F'\t' '$2 == 2' | wc -l)" = 500000 ] && ! output_of "$TMP/o12" | grep -q stray ||
  fail "combinewrite output: $(output_of "$TMP/o12" | grep -v $'\t2$' | head -3)"
rm -rf "$TMP/cw" "$TMP/o12"
# A crash while the plugin loads, before any job is known.
rc=0; CRASH_AT_LOAD=1 mpimill_run "$ranks" -- run "$PLUGINS/crash.so" --input "$TMP/boom.txt" \
  --output "$TMP/o8" 2> "$TMP/stderr" || rc=$?
[ "$rc" != 0 ] && grep -q "crashed with SIGSEGV while loading the plugin $PLUGINS/crash.so: nothing was committed" \
  "$TMP/stderr" || fail "crash at load: exit $rc, message: $(cat "$TMP/stderr")"
[ ! -e "$TMP/o8" ] || fail "output after a crash at load"
# A crash in teardown, after the commit: the output stands, and the message
# says so instead of "nothing was committed".
rc=0; mpimill_run "$ranks" -- run "$PLUGINS/crash.so" --input "$TMP/in.txt" --output "$TMP/o9" --opt how=teardown \
  2> "$TMP/stderr" || rc=$?
[ "$rc" != 0 ] && grep -q "job crash crashed with SIGSEGV in its plugin $PLUGINS/crash.so after its output was committed" \
  "$TMP/stderr" || fail "crash in teardown: exit $rc, message: $(cat "$TMP/stderr")"
"$MPIMILL" verify "$TMP/o9" > /dev/null || fail "the output committed before the teardown crash does not verify"
# `mpimill jobs` loads each plugin on the job path in a child: one that
# crashes as it loads is named and skipped, the others are listed.
rc=0; MPIMILL_JOB_PATH=$PLUGINS CRASH_AT_LOAD=1 "$MPIMILL" jobs > "$TMP/jobs" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 0 ] && grep -q "^wordcount " "$TMP/jobs" && grep -q "^longest " "$TMP/jobs" &&
  grep -q "job $PLUGINS/crash.so: crashed with signal 11" "$TMP/stderr" ||
  fail "mpimill jobs with a plugin crashing at load: exit $rc, $(cat "$TMP/jobs" "$TMP/stderr")"
# One that calls exit(0) as it loads is named too, by `jobs` and by `run`
# (it was left out of the listing without a word).
rc=0; MPIMILL_JOB_PATH=$PLUGINS CRASH_AT_LOAD=exit "$MPIMILL" jobs > "$TMP/jobs" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 0 ] && grep -q "^longest " "$TMP/jobs" && grep -q "job $PLUGINS/crash.so: called exit() as it loaded; not listed" "$TMP/stderr" ||
  fail "mpimill jobs with a plugin calling exit at load: exit $rc, $(cat "$TMP/jobs" "$TMP/stderr")"
rc=0; CRASH_AT_LOAD=exit mpimill_run "$ranks" -- run "$PLUGINS/crash.so" --input "$TMP/in.txt" --output "$TMP/o10" \
  2> "$TMP/stderr" || rc=$?
[ "$rc" != 0 ] && grep -q "the plugin $PLUGINS/crash.so called exit() as it loaded: nothing was committed" "$TMP/stderr" &&
  [ ! -e "$TMP/o10" ] || fail "run of a plugin calling exit at load: exit $rc, $(cat "$TMP/stderr")"
# Jobs are listed by the name `run` takes (the file's), sorted; a job's own
# name shows when it differs, and one shadowed by an earlier directory of
# the path says which file runs instead.
mkdir -p "$TMP/jp"
cp "$PLUGINS/longest.so" "$TMP/jp/wordcount.so"
cp "$PLUGINS/longest.so" "$TMP/jp/zz_mine.so"
MPIMILL_JOB_PATH=$TMP/jp:$TMP/jp "$MPIMILL" jobs > "$TMP/jobs" 2> "$TMP/stderr" || fail "jobs: $(cat "$TMP/stderr")"
[ "$(grep -c '^zz_mine ' "$TMP/jobs")" = 1 ] || fail "a directory named twice in the path is listed twice: $(cat "$TMP/jobs")"
head -2 "$TMP/jobs" | cut -c1-13 | tr -d ' ' | tr '\n' ' ' | grep -qx "wordcount zz_mine " &&
  grep -q "^zz_mine      (job longest) " "$TMP/jobs" &&
  grep -q "^wordcount    (shadowed by $TMP/jp/wordcount.so, which \`run wordcount\` loads) " "$TMP/jobs" ||
  fail "jobs listing with a shadowed and a renamed job: $(cat "$TMP/jobs")"
# A reader that stops early (`| head -1`) ends the listing quietly.
rc=0; ("$MPIMILL" jobs; echo "rc $?" > "$TMP/jobs_rc") 2> "$TMP/stderr" | head -1 > /dev/null
[ ! -s "$TMP/stderr" ] && grep -qx "rc 0" "$TMP/jobs_rc" || fail "jobs | head -1: $(cat "$TMP/jobs_rc" "$TMP/stderr")"
echo "plugin API at $ranks ranks: ok"
