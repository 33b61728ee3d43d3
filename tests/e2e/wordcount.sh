#!/usr/bin/env bash
# wordcount.sh RANKS [MPIRUN-OPTIONS...]: word count end to end against the
# tr/sort/uniq oracle, over corpora with the edge cases of line splitting.
. "$(dirname "$0")/lib.sh"
ranks=$1; shift
mca=("$@")

in=$TMP/in
mkdir -p "$in/many"
"$MILLGEN" --bytes 3M --seed 11 "$in/zipf.txt"
"$MILLGEN" --bytes 200K --seed 12 --crlf "$in/crlf.txt"
"$MILLGEN" --bytes 100K --seed 13 --no-final-newline "$in/nofinal.txt"
"$MILLGEN" --bytes 300K --seed 14 --files 40 "$in/many"
: > "$in/empty.txt"
printf 'a b' > "$in/tiny.txt"                      # fewer bytes than ranks
printf '\n\n  \t\n' > "$in/blank.txt"               # no words at all
head -c 70000 /dev/zero | tr '\0' 'w' > "$in/longline.txt"   # one long word crossing every split
printf ' Mixed CASE mixed case\r\nMIXED\n' > "$in/case.txt"

want=$TMP/want
oracle $(find "$in" -type f | sort) > "$want"

out=$TMP/out
mpimill_run "$ranks" "${mca[@]}" -- run wordcount --input "$in" --output "$out" --quiet
output_of "$out" > "$TMP/got"
cmp -s "$want" "$TMP/got" || { diff "$want" "$TMP/got" | head -20; fail "wordcount differs from the oracle at $ranks ranks"; }
check_parts_sorted "$out"
[ "$(ls "$out" | grep -c '^part-')" -eq "$ranks" ] || fail "expected $ranks part files"
check_no_leftovers "$out"
# A rank's own keys stay in its table through the shuffle: only keys for
# other ranks are sent (one rank sent its whole table to itself), and every
# key still counts in shuffle_records.
python3 - "$out/_SUCCESS" "$ranks" "$(wc -l < "$want")" 2> "$TMP/py.err" <<'PY' || fail "shuffle metrics: $(cat "$TMP/py.err")"
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]["ranks"]
ranks, keys = int(sys.argv[2]), int(sys.argv[3])
assert all(r["bytes_sent"] == r["bytes_remote"] for r in m), [(r["bytes_sent"], r["bytes_remote"]) for r in m]
assert ranks > 1 or m[0]["bytes_sent"] == 0, m[0]["bytes_sent"]
assert sum(r["phases"]["shuffle"]["records"] for r in m) >= keys
# Packing and the MPI_Alltoallv calls are parts of the shuffle phase.
for r in m:
    sh = r["phases"]["shuffle"]
    assert 0 <= r["pack_s"] and r["pack_s"] + r["exchange_s"] <= sh["end"] - sh["start"] + 2e-6, r
PY
# The job reads blocks of lines (MILL_JOB_TEXT_BLOCKS), but counts lines.
lines=0
for f in $(find "$in" -type f); do lines=$((lines + $(awk 'END { print NR }' "$f"))); done
got_lines=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["metrics"]["records_in"])' "$out/_SUCCESS")
[ "$got_lines" -eq "$lines" ] || fail "records_in is $got_lines, the inputs have $lines lines"

# lower=1 folds ASCII case: compare with the oracle over lowercased input.
mpimill_run "$ranks" "${mca[@]}" -- run wordcount --input "$in/case.txt" --input "$in/zipf.txt" \
  --output "$TMP/lower" --opt lower=1 --quiet
cat "$in/case.txt" "$in/zipf.txt" | tr 'A-Z' 'a-z' > "$TMP/lowered"
oracle "$TMP/lowered" > "$TMP/want-lower"
output_of "$TMP/lower" | cmp -s "$TMP/want-lower" - || fail "lower=1 differs from the oracle"

# --overwrite replaces a previous output completely.
mpimill_run "$ranks" "${mca[@]}" -- run wordcount --input "$in/tiny.txt" --output "$out" --overwrite --quiet
[ "$(output_of "$out")" = "$(printf 'a\t1\nb\t1')" ] || fail "--overwrite did not replace the output"
check_no_leftovers "$out"

# A Latin-1 file name and option: the manifest stays JSON (the bytes as
# \udcXX, Python's surrogateescape), gives them back, and verifies.
latin=$(printf "$TMP/caf\xe9.txt")
printf 'x y\n' > "$latin"
mpimill_run "$ranks" "${mca[@]}" -- run wordcount --input "$latin" --output "$TMP/latin" --opt lower=1 --quiet
python3 - "$TMP/latin/_SUCCESS" "$latin" <<'EOF' || fail "a Latin-1 input name: the manifest is not JSON or lost the name"
import json, os, sys
m = json.load(open(sys.argv[1], "rb"))
assert [os.fsencode(i["path"]) for i in m["inputs"]] == [os.fsencode(sys.argv[2])], m["inputs"]
EOF
"$MPIMILL" verify "$TMP/latin" > /dev/null || fail "verify of an output with a Latin-1 input name"
echo "wordcount at $ranks ranks ${mca[*]}: ok"
