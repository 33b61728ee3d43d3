#!/usr/bin/env bash
# invindex.sh RANKS: the invindex job against python3 over text files (line
# numbers across byte-range splits, CRLF, repeated words on a line, no final
# newline), a gzip file and a directory; lower=1; option errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
in=$TMP/in
mkdir -p "$in/many"
"$MILLGEN" --bytes 150K --seed 51 --vocab 3000 "$in/a.txt" > /dev/null
"$MILLGEN" --bytes 30K --seed 52 --crlf --vocab 3000 "$in/crlf.txt" > /dev/null
"$MILLGEN" --bytes 60K --seed 53 --files 5 --vocab 3000 "$in/many" > /dev/null
"$MILLGEN" --bytes 40K --seed 54 --vocab 3000 "$TMP/z.txt" > /dev/null
gzip -c "$TMP/z.txt" > "$in/z.gz"
printf 'Dup dup DUP\n\n  x\ty dup\nend' > "$in/edge.txt"

oracle() {
  python3 - "$1" $(find "$in" -type f | sort) <<'PY'
import gzip, sys
lower, files = sys.argv[1] == "1", sys.argv[2:]
idx = {}
for f in files:
    data = gzip.open(f).read() if f.endswith(".gz") else open(f, "rb").read()
    for n, line in enumerate(data.split(b"\n"), 1):
        for w in line.split():
            if lower:
                w = w.lower()
            idx.setdefault(w, set()).add((f.encode(), n))
out = sys.stdout.buffer
for w in sorted(idx):
    out.write(w + b"\t" + b" ".join(f + b":%d" % n for f, n in sorted(idx[w])) + b"\n")
PY
}
oracle 0 > "$TMP/want"
run_job "$ranks" invindex --input "$in" --output "$TMP/out"
same "$TMP/want" "$TMP/out" "invindex differs from python at $ranks ranks"
# Inputs given against bytewise order: a rank's postings come out of the
# output's order, and reduce puts them in it.
run_job "$ranks" invindex $(find "$in" -type f | sort -r | sed 's/^/--input /') --output "$TMP/rev"
same "$TMP/want" "$TMP/rev" "invindex over inputs in reverse order differs from python at $ranks ranks"
oracle 1 > "$TMP/want"
run_job "$ranks" invindex --input "$in" --output "$TMP/lower" --opt lower=1
same "$TMP/want" "$TMP/lower" "invindex lower=1 differs from python at $ranks ranks"

[ "$ranks" = 1 ] || { echo "invindex at $ranks ranks: ok"; exit 0; }
# One word on 2 x 200000 lines, the file that sorts last read first: each
# posting of the second file used to be merged into a copy of the whole
# list (quadratic: 20000 lines took 37 s, these would take hours and time
# out); it is appended now.
awk 'BEGIN { for (i = 0; i < 200000; i++) print "w" }' > "$TMP/b.txt"
cp "$TMP/b.txt" "$TMP/a.txt"
run_job 1 invindex --input "$TMP/b.txt" --input "$TMP/a.txt" --output "$TMP/big"
for f in a b; do seq 1 200000 | sed "s|^|$TMP/$f.txt:|"; done | paste -sd' ' | sed 's/^/w\t/' > "$TMP/want"
same "$TMP/want" "$TMP/big" "invindex over 2 x 200000 lines"
expect_fail "$ranks" 1 "option lower=2: expected 0 or 1" invindex --input "$in/edge.txt" --opt lower=2
echo "invindex at $ranks ranks: ok"
