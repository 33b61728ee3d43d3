#!/usr/bin/env bash
# share.sh: the ranks of a node share out their input as they read it
# (io/share.c). A rank done with its own pieces takes those a slower rank
# has not begun; ranks beyond the node's cores map their first piece only;
# every record is still read exactly once.
. "$(dirname "$0")/lib.sh"
SLOW=$PLUGINS/slow.so
seq -f "%0200g" 1 5000 > "$TMP/in.txt" # 1005000 bytes: 16 pieces of 64K

# map_bytes DIR: the input bytes each rank mapped, from the manifest.
map_bytes() {
  python3 -c 'import json, sys
print(*[r["phases"]["map"]["bytes"] for r in json.load(open(sys.argv[1]))["metrics"]["ranks"]])' "$1/_SUCCESS"
}
# once DIR FILES...: every line of FILES came out once, counted once.
once() {
  output_of "$1" > "$TMP/got"
  cat "${@:2}" | awk '{ print $0 "\t1" }' | sort | cmp -s - "$TMP/got" ||
    fail "$1: not every line once: $(diff <(cat "${@:2}" | awk '{ print $0 "\t1" }' | sort) "$TMP/got" | head -5)"
}

# Rank 1 sleeps 1 ms a line: rank 0 takes most of its pieces.
mpimill_run 2 -- run "$SLOW" --input "$TMP/in.txt" --output "$TMP/a" --quiet --opt only=1 --split-size 64K ||
  fail "the run with a straggler failed"
once "$TMP/a" "$TMP/in.txt"
read -r b0 b1 < <(map_bytes "$TMP/a")
[ "$b0" -gt $(( (b0 + b1) * 3 / 4 )) ] || fail "rank 0 mapped $b0 bytes, rank 1 (the straggler) $b1"
# --split-size 0: each rank reads its own half, however slow.
mpimill_run 2 -- run "$SLOW" --input "$TMP/in.txt" --output "$TMP/b" --quiet --opt only=1 --split-size 0 ||
  fail "the run with --split-size 0 failed"
once "$TMP/b" "$TMP/in.txt"
[ "$(map_bytes "$TMP/b")" = "502500 502500" ] || fail "--split-size 0 mapped $(map_bytes "$TMP/b")"

# Whole files (gzip) move whole, beside text cut in pieces; a text file
# and gzip files of distinct lines, rank 2 the straggler.
for i in 1 2 3 4 5; do seq -f "gz$i-%0100g" 1 300 | gzip -c > "$TMP/part$i.gz"; done
mpimill_run 3 -- run "$SLOW" --input "$TMP/in.txt" --input "$TMP/part"'*'.gz --output "$TMP/c" --quiet \
  --opt only=2 --split-size 64K || fail "the run over text and gzip failed"
once "$TMP/c" "$TMP/in.txt" <(for i in 1 2 3 4 5; do gzip -dc "$TMP/part$i.gz"; done)

# One core for three ranks (mpirun binds nothing): ranks 1 and 2 map their
# first piece, 64K and the end of the line it cuts, and rank 0 the rest.
cpu=$(taskset -pc $$ | sed 's/.*: //; s/[-,].*//') # the first CPU this test may use
taskset -c "$cpu" timeout 300 mpirun -q -n 3 --oversubscribe --bind-to none "$MPIMILL" run wordcount \
  --input "$TMP/in.txt" --output "$TMP/d" --quiet --split-size 64K || fail "the run on one core failed"
once "$TMP/d" "$TMP/in.txt"
read -r b0 b1 b2 < <(map_bytes "$TMP/d")
[ "$b1" -le 65737 ] && [ "$b2" -le 65737 ] && [ "$b1" -gt 0 ] && [ "$b2" -gt 0 ] ||
  fail "on one core ranks 1 and 2 mapped $b1 and $b2 bytes (rank 0: $b0)"

# Without shared memory (the one-sided transport of a multi-node run, here
# forced), each rank reads its own share: slower, the same result.
mpimill_run 2 --mca osc pt2pt -- run "$SLOW" --input "$TMP/in.txt" --output "$TMP/e" --opt only=1 \
  --split-size 64K > "$TMP/stdout" 2> "$TMP/stderr" || fail "the run without shared memory failed"
once "$TMP/e" "$TMP/in.txt"
[ ! -s "$TMP/stderr" ] || fail "a run without shared memory printed: $(cat "$TMP/stderr")"

# A rank reading its own pieces in order numbers their lines on: an error
# past the first piece still names its line (it gave the byte offset only).
(seq -f "%0200g" 1 2000; echo bad; seq -f "%0200g" 1 999) > "$TMP/bad.txt"
rc=0
mpimill_run 1 -- run "$PLUGINS/failing.so" --input "$TMP/bad.txt" --output "$TMP/g" --split-size 64K \
  2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "bad.txt:2001 (byte offset 402000)" "$TMP/stderr" ||
  fail "an error in the seventh piece: exit $rc, $(cat "$TMP/stderr")"

# A bad --split-size is a usage error.
rc=0
"$MPIMILL" run wordcount --input "$TMP/in.txt" --output "$TMP/f" --split-size 1K 2> "$TMP/stderr" || rc=$?
[ "$rc" = 2 ] && grep -q "^mpimill: --split-size '1K': expected 0 or a size of at least 64K" "$TMP/stderr" ||
  fail "--split-size 1K: exit $rc, $(cat "$TMP/stderr")"
echo "share: ok"
