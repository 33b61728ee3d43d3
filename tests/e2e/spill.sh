#!/usr/bin/env bash
# spill.sh RANKS: with a small --memory the map and reduce tables spill
# sorted runs to --tmp and the result is still exact (typed and custom
# combiners); spill files do not outlive the job.
. "$(dirname "$0")/lib.sh"
ranks=$1
"$MILLGEN" --bytes 12M --seed 5 --vocab 3000000 --zipf 0.6 "$TMP/in.txt"
oracle "$TMP/in.txt" > "$TMP/want"
mkdir "$TMP/spill"
mpimill_run "$ranks" -- run wordcount --input "$TMP/in.txt" --output "$TMP/out" --memory 16M --tmp "$TMP/spill" --quiet
output_of "$TMP/out" | cmp -s "$TMP/want" - || fail "spilled word count differs from the oracle"
python3 - "$TMP/out/_SUCCESS" <<'PY' || fail "no rank spilled with --memory 16M"
import json, sys
ranks = json.load(open(sys.argv[1]))["metrics"]["ranks"]
assert all(r["spill_bytes"] > 0 for r in ranks), [r["spill_bytes"] for r in ranks]
# Spilling the last map table and opening the merges is the shuffle's packing.
assert all(0 < r["pack_s"] <= r["phases"]["shuffle"]["end"] - r["phases"]["shuffle"]["start"] for r in ranks), ranks
PY
# Map runs are sorted and merged on their way out: each rank sends each of
# its distinct keys once, however many runs hold it. Here 100 000 words,
# twice what a map table holds at --memory 16M, repeat 8 times: every rank's
# share holds each of them in several runs, and sending runs as they are
# would send about 8 x 100 000 records instead of ranks x 100 000.
for i in 1 2 3 4 5 6 7 8; do seq 100000 | sed 's/^/w/'; done > "$TMP/rep.txt"
mpimill_run "$ranks" -- run wordcount --input "$TMP/rep.txt" --output "$TMP/rep" --memory 16M --tmp "$TMP/spill" --quiet
output_of "$TMP/rep" | cmp -s <(oracle "$TMP/rep.txt") - || fail "repetitive spilled word count differs from the oracle"
python3 - "$TMP/rep/_SUCCESS" <<'PY' || fail "the shuffle sent a key more than once per rank"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
ranks = m["ranks"]
assert all(r["spill_bytes"] > 0 for r in ranks), [r["spill_bytes"] for r in ranks]
sent = sum(r["phases"]["shuffle"]["records"] for r in ranks)
assert sent <= len(ranks) * m["keys_out"], (sent, m["keys_out"])
PY
# --merge-factor 2: every two map runs of a level are merged into one of
# the next, so runs are written again more often than with the default 16
# (more spilled bytes), and the result is the same.
mpimill_run "$ranks" -- run wordcount --input "$TMP/rep.txt" --output "$TMP/rep2" --memory 16M --tmp "$TMP/spill" \
  --merge-factor 2 --quiet
output_of "$TMP/rep2" | cmp -s <(oracle "$TMP/rep.txt") - || fail "word count with --merge-factor 2 differs from the oracle"
python3 - "$TMP/rep/_SUCCESS" "$TMP/rep2/_SUCCESS" <<'PY' || fail "--merge-factor 2 merged no map runs"
import json, sys
spilled = [sum(r["spill_bytes"] for r in json.load(open(f))["metrics"]["ranks"]) for f in sys.argv[1:]]
assert spilled[1] > spilled[0], spilled
PY
# One map call that emits past the budget (a line of 6 MB: a text block is
# its one line) spills while it emits, not after it: the runs it leaves
# merge to the same result.
head -c 6000000 "$TMP/in.txt" | tr '\n' ' ' > "$TMP/line.txt"; echo >> "$TMP/line.txt"
mpimill_run "$ranks" -- run wordcount --input "$TMP/line.txt" --output "$TMP/line" --memory 16M --tmp "$TMP/spill" --quiet
output_of "$TMP/line" | cmp -s <(oracle "$TMP/line.txt") - || fail "word count of one long line, spilled, differs"
[ -z "$(ls -A "$TMP/spill")" ] || fail "spill files left in --tmp: $(ls "$TMP/spill")"
# The same line with the ranks' files limited to 512 KiB (ulimit -f: EFBIG,
# as a full disk gives ENOSPC; mpirun itself is not limited): one line naming
# the spill directory, not the job's map at an input line; no SIGXFSZ death;
# nothing committed or left behind.
rc=0; timeout 300 mpirun -q -n "$ranks" --oversubscribe bash -c 'ulimit -f 512; exec "$@"' - "$MPIMILL" run wordcount \
  --input "$TMP/line.txt" --output "$TMP/full" --memory 16M --tmp "$TMP/spill" --quiet 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && [ "$(err_lines "$TMP/stderr")" = 1 ] &&
  grep -q "spill directory $TMP/spill (--tmp): writing a spill file: File too large$" "$TMP/stderr" &&
  [ ! -e "$TMP/full" ] && [ -z "$(ls -A "$TMP/spill")" ] || fail "a spill file past ulimit -f: exit $rc, $(cat "$TMP/stderr")"

# Ranks with different budgets (nodes of different sizes) cut the shuffle's
# rounds alike: an MPMD run gives each rank its own --memory.
if [ "$ranks" -gt 1 ]; then
  args=(run wordcount --input "$TMP/in.txt" --output "$TMP/mixed" --quiet)
  timeout 300 mpirun -q --oversubscribe -np 1 "$MPIMILL" "${args[@]}" --memory 16M : \
    -np $((ranks - 1)) "$MPIMILL" "${args[@]}" --memory 512M || fail "mixed budgets failed"
  output_of "$TMP/mixed" | cmp -s "$TMP/want" - || fail "mixed budgets differ from the oracle"
fi

# A custom combiner of byte values through the merge of spilled runs: the
# longest word per 6-byte prefix (ties to the smaller word), against awk.
mpimill_run "$ranks" -- run "$PLUGINS/longest.so" --input "$TMP/in.txt" --output "$TMP/l2" --memory 16M \
  --opt prefix=6 --quiet
tr -s ' \t\r' '\n\n\n' < "$TMP/in.txt" | grep -v '^$' |
  awk '{ k = substr($0, 1, 6); if (!(k in best) || length($0) > length(best[k]) ||
         (length($0) == length(best[k]) && $0 < best[k])) best[k] = $0 }
       END { for (k in best) print k "\t" best[k] }' | sort > "$TMP/want-longest"
output_of "$TMP/l2" | cmp -s "$TMP/want-longest" - || fail "custom combiner differs from awk after spilling"
python3 -c 'import json, sys; r = json.load(open(sys.argv[1]))["metrics"]["ranks"]
assert all(x["spill_bytes"] > 0 for x in r), [x["spill_bytes"] for x in r]' "$TMP/l2/_SUCCESS" ||
  fail "the custom combiner's run did not spill on every rank"

# An allocation that fails on one rank after the spilled shuffle's rounds
# (fault.h's sites 2 and 3) or as a map spill starts (site 7, inside a map
# call: its message once went unset) fails the job on every rank with one
# line; no rank may be left waiting in the record counts' exchange (that hung).
if [ "$ranks" -gt 1 ]; then
  for site in 2 3 7; do
    rc=0
    MPIMILL_FAULT_SITE=$site MPIMILL_FAULT_RANK=last timeout 120 mpirun -q -n "$ranks" --oversubscribe \
      -x MPIMILL_FAULT_SITE -x MPIMILL_FAULT_RANK "$MPIMILL" run wordcount --input "$TMP/in.txt" \
      --output "$TMP/oom$site" --memory 16M --tmp "$TMP/spill" --quiet 2> "$TMP/stderr" || rc=$?
    [ "$rc" = 1 ] || fail "site $site failing on the last rank: exit $rc (124: hung), $(cat "$TMP/stderr")"
    grep -q "mpimill: error: rank $((ranks - 1)): out of memory" "$TMP/stderr" ||
      fail "failure site $site: no error naming the rank: $(cat "$TMP/stderr")"
    [ ! -e "$TMP/oom$site" ] || fail "failure site $site left an output"
    check_no_leftovers "$TMP/oom$site"
  done
fi

for bad in "--memory 1M" "--memory lots" "--tmp /nonexistent/dir" "--merge-factor 1"; do
  rc=0; mpimill_run "$ranks" -- run wordcount --input "$TMP/in.txt" --output "$TMP/bad" $bad 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 2 ] && grep -q -- "${bad%% *}" "$TMP/stderr" || fail "$bad: exit $rc, $(cat "$TMP/stderr")"
done
echo "spilling at $ranks ranks: ok"
