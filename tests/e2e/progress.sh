#!/usr/bin/env bash
# progress.sh: rank 0 reports map progress to logs at intervals, and
# --quiet silences it (and the summary).
. "$(dirname "$0")/lib.sh"
seq 1 2500 > "$TMP/lines.txt"
MPIMILL_PROGRESS_INTERVAL=0.5 mpimill_run 2 -- run "$PLUGINS/slow.so" --input "$TMP/lines.txt" \
  --output "$TMP/out" > "$TMP/stdout" 2> "$TMP/stderr"
# A small input counts in KiB (in MiB it read "0 of 0 MiB").
grep -Eq '^mpimill: slow: map +[0-9]+% \([0-9]+ of [1-9][0-9]* KiB on rank 0.s node\), [0-9]+ KiB/s, ETA [0-9]+ s$' "$TMP/stderr" ||
  fail "no progress line: $(cat "$TMP/stderr")"
grep -q "committed" "$TMP/stdout" || fail "no summary line"
# A gzip input inflates past its size on disk: progress gave "453%" and
# "ETA -0 s", and before passing 100% a fraction of compressed bytes; it
# now gives what was read, never a fraction.
gzip -c "$TMP/lines.txt" > "$TMP/lines.gz"
MPIMILL_PROGRESS_INTERVAL=0.3 mpimill_run 2 -- run "$PLUGINS/slow.so" --input "$TMP/lines.gz" \
  --output "$TMP/outgz" > "$TMP/stdout" 2> "$TMP/stderr"
grep -Eq '^mpimill: slow: map \([0-9]+ KiB read on rank 0.s node, of [0-9]+ KiB on disk\), [0-9]+ KiB/s$' "$TMP/stderr" ||
  fail "no progress line for gzip: $(cat "$TMP/stderr")"
! grep -Eq 'map +[0-9]+%|ETA' "$TMP/stderr" || fail "a fraction of a gzip input: $(cat "$TMP/stderr")"
# On a terminal the bar is redrawn on one line; a plugin's mill_log line
# clears it first (it was glued after the bar's text).
script -qec "timeout 120 \"$MPIMILL\" run \"$PLUGINS/slow.so\" --input \"$TMP/lines.txt\" --output \"$TMP/tty\" \
  --opt log=1500" /dev/null > "$TMP/tty.txt" 2>&1 || fail "the run on a terminal: $(cat "$TMP/tty.txt")"
grep -q $'ETA [0-9]* s\e\\[K' "$TMP/tty.txt" || fail "no progress bar on a terminal: $(cat -v "$TMP/tty.txt")"
grep -q $'\r\e\\[Kmpimill: slow\\[0\\]: halfway note' "$TMP/tty.txt" ||
  fail "mill_log did not clear the bar: $(cat -v "$TMP/tty.txt")"
# Under mpirun a rank's stderr is a pipe, whatever mpirun's is: the bar
# showed only without mpirun. It now follows mpirun's own stderr.
script -qec "timeout 120 mpirun -q -n 2 --oversubscribe \"$MPIMILL\" run \"$PLUGINS/slow.so\" \
  --input \"$TMP/lines.txt\" --output \"$TMP/mpitty\" --opt log=1000" /dev/null > "$TMP/mpitty.txt" 2>&1 ||
  fail "the mpirun on a terminal: $(cat "$TMP/mpitty.txt")"
grep -q $'ETA [0-9]* s\e\\[K' "$TMP/mpitty.txt" || fail "no progress bar under mpirun: $(cat -v "$TMP/mpitty.txt")"
grep -q $'\r\e\\[Kmpimill: slow\\[0\\]: halfway note' "$TMP/mpitty.txt" ||
  fail "mill_log did not clear the bar under mpirun: $(cat -v "$TMP/mpitty.txt")"
# mpirun --output-filename sends each rank's output to a file: lines there
# (bar frames were written into the file while mpirun's stderr was a tty).
script -qec "MPIMILL_PROGRESS_INTERVAL=0.3 timeout 120 mpirun -q -n 2 --oversubscribe \
  --output-filename \"$TMP/of\" \"$MPIMILL\" run \"$PLUGINS/slow.so\" --input \"$TMP/lines.txt\" \
  --output \"$TMP/mpiof\"" /dev/null > "$TMP/mpiof.txt" 2>&1 || fail "the mpirun --output-filename: $(cat "$TMP/mpiof.txt")"
grep -Eq '^mpimill: slow: map .*ETA [0-9]+ s$' "$TMP/of/1/rank.0/stderr" ||
  fail "no progress lines with --output-filename: $(cat -v "$TMP/of/1/rank.0/stderr")"
! grep -q $'\e' "$TMP/of/1/rank.0/stderr" || fail "a bar in an --output-filename file: $(cat -v "$TMP/of/1/rank.0/stderr")"
# An MCA switch set to false leaves the output alone: the bar stays.
script -qec "timeout 120 mpirun -q -n 2 --oversubscribe --mca orte_tag_output false \"$MPIMILL\" run \
  \"$PLUGINS/slow.so\" --input \"$TMP/lines.txt\" --output \"$TMP/mpifalse\"" /dev/null > "$TMP/mpifalse.txt" 2>&1 ||
  fail "the mpirun with orte_tag_output false: $(cat "$TMP/mpifalse.txt")"
grep -q $'ETA [0-9]* s\e\\[K' "$TMP/mpifalse.txt" || fail "no bar with orte_tag_output false: $(cat -v "$TMP/mpifalse.txt")"
MPIMILL_PROGRESS_INTERVAL=0.5 mpimill_run 2 -- run "$PLUGINS/slow.so" --input "$TMP/lines.txt" \
  --output "$TMP/out2" --quiet > "$TMP/stdout" 2> "$TMP/stderr"
[ ! -s "$TMP/stderr" ] && [ ! -s "$TMP/stdout" ] || fail "--quiet printed: $(cat "$TMP/stdout" "$TMP/stderr")"
echo "progress: ok"
