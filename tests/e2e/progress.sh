#!/usr/bin/env bash
# progress.sh: rank 0 reports map progress to logs at intervals, and
# --quiet silences it (and the summary).
. "$(dirname "$0")/lib.sh"
seq 1 2500 > "$TMP/lines.txt"
MPIMILL_PROGRESS_INTERVAL=0.5 mpimill_run 2 -- run "$PLUGINS/slow.so" --input "$TMP/lines.txt" \
  --output "$TMP/out" > "$TMP/stdout" 2> "$TMP/stderr"
# A small input counts in KiB (in MiB it read "0 of 0 MiB").
grep -Eq '^mpimill: slow: map +[0-9]+% \([0-9]+ of [1-9][0-9]* KiB on rank 0\), [0-9]+ KiB/s, ETA [0-9]+ s$' "$TMP/stderr" ||
  fail "no progress line: $(cat "$TMP/stderr")"
grep -q "committed" "$TMP/stdout" || fail "no summary line"
MPIMILL_PROGRESS_INTERVAL=0.5 mpimill_run 2 -- run "$PLUGINS/slow.so" --input "$TMP/lines.txt" \
  --output "$TMP/out2" --quiet > "$TMP/stdout" 2> "$TMP/stderr"
[ ! -s "$TMP/stderr" ] && [ ! -s "$TMP/stdout" ] || fail "--quiet printed: $(cat "$TMP/stdout" "$TMP/stderr")"
echo "progress: ok"
