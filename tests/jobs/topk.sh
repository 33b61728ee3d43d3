#!/usr/bin/env bash
# topk.sh RANKS: the topk job against python3 over CSV columns (ties broken
# by the row bytewise, .csv.gz, values with quotes and empty fields) and
# over another job's output (wordcount's key<TAB>count, field=-1); errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
here=$(dirname "$0")
in=$TMP/in
mkdir -p "$in/csv"
python3 "$here/gencsv.py" "$in/csv/t1.csv" 5000 3
python3 "$here/gencsv.py" "$TMP/t2.csv" 2000 4
gzip -c "$TMP/t2.csv" > "$in/csv/t2.csv.gz"

# oracle K COLUMN FILES...: rows (raw, CR stripped) by value desc, then row.
oracle_csv() {
  python3 - "$@" <<'PY'
import csv, sys
k, col, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
best = []
for path in files:
    lines = open(path, "rb").read().split(b"\n")
    header = next(csv.reader([lines[0].decode().rstrip("\r")]))
    i = header.index(col)
    for raw in lines[1:]:
        raw = raw[:-1] if raw.endswith(b"\r") else raw
        if not raw:
            continue
        v = next(csv.reader([raw.decode()]))[i]
        try:
            x = float(v.strip(" \t"))
        except ValueError:
            continue
        best.append((-x, raw, v.encode()))
best.sort()
w = len(str(k))
for n, (x, raw, v) in enumerate(best[:k]):
    sys.stdout.buffer.write(b"%0*d\t%s\t%s\n" % (w, n + 1, v, raw))
PY
}
oracle_csv 37 price "$in/csv/t1.csv" "$TMP/t2.csv" > "$TMP/want"
run_job "$ranks" topk --input "$in/csv" --output "$TMP/price" --opt k=37 --opt column=price
same "$TMP/want" "$TMP/price" "topk price differs from python at $ranks ranks"
[ "$(ls "$TMP/price" | grep -c '^part-')" = "$ranks" ] || fail "expected $ranks parts"
# qty has many ties: they are broken by the row.
oracle_csv 300 qty "$in/csv/t1.csv" "$TMP/t2.csv" > "$TMP/want"
run_job "$ranks" topk --input "$in/csv" --output "$TMP/qty" --opt k=300 --opt 'column=#5'
same "$TMP/want" "$TMP/qty" "topk qty (ties) differs from python at $ranks ranks"
# A K near the row count: most rows enter each rank's heap, many leave it.
oracle_csv 5000 qty "$in/csv/t1.csv" "$TMP/t2.csv" > "$TMP/want"
run_job "$ranks" topk --input "$in/csv" --output "$TMP/qty5k" --opt k=5000 --opt 'column=#5'
same "$TMP/want" "$TMP/qty5k" "topk k=5000 differs from python at $ranks ranks"
# More K than rows: every numeric row.
printf 'a,b\n1,x\n,y\n3,z\nnope,w\n' > "$in/small.csv"
printf '01\t3\t3,z\n02\t1\t1,x\n' > "$TMP/want"
run_job "$ranks" topk --input "$in/small.csv" --output "$TMP/small" --opt k=10 --opt column=a
same "$TMP/want" "$TMP/small" "topk over fewer rows than K"
# A number with a tab and spaces around it: VALUE without them, so the line
# still splits into three fields at its tabs.
printf 'name,price\na,\t5 \nb,4\n' > "$in/tab.csv"
printf '1\t5\ta,\t5 \n2\t4\tb,4\n' > "$TMP/want"
run_job "$ranks" topk --input "$in/tab.csv" --output "$TMP/tab" --opt k=2 --opt column=price
same "$TMP/want" "$TMP/tab" "topk of a number with a tab around it"

# Another job's output: the 20 most frequent words.
"$MILLGEN" --bytes 400K --seed 42 "$TMP/words.txt" > /dev/null
run_job "$ranks" wordcount --input "$TMP/words.txt" --output "$TMP/wc"
cat "$TMP/wc"/part-* | sort -t"$(printf '\t')" -k2,2nr -k1,1 | awk "NR <= 20" |
  awk -F'\t' '{ printf "%02d\t%s\t%s\t%s\n", NR, $2, $1, $2 }' > "$TMP/want"
run_job "$ranks" topk --input "$TMP/wc" --output "$TMP/top" --opt k=20 --opt field=-1
same "$TMP/want" "$TMP/top" "topk field=-1 over wordcount output differs from sort"
# Integer options are decimal: k=010 is ten (strtoll base 0 read it as octal 8).
run_job "$ranks" topk --input "$TMP/wc" --output "$TMP/top10" --opt k=010 --opt field=-1
[ "$(cat "$TMP/top10"/part-* | wc -l)" = 10 ] || fail "k=010 gave $(cat "$TMP/top10"/part-* | wc -l) lines, want 10"
# A number of 64 digits or more is a number (it was skipped as not numeric).
big=$(printf '9%.0s' $(seq 70))
printf 'a,b\n%s,x\n5,y\n' "$big" > "$TMP/big.csv"
printf '1\t%s\t%s,x\n' "$big" "$big" > "$TMP/want"
run_job "$ranks" topk --input "$TMP/big.csv" --output "$TMP/big" --opt k=1 --opt column=a
same "$TMP/want" "$TMP/big" "topk over a 70-digit number"

[ "$ranks" = 1 ] || { echo "topk at $ranks ranks: ok"; exit 0; }
expect_fail "$ranks" 1 "option k is required" topk --input "$in/small.csv" --opt column=a
expect_fail "$ranks" 1 "option k=0: expected 1 to 1000000" topk --input "$in/small.csv" --opt k=0 --opt column=a
expect_fail "$ranks" 1 "option k=ten: not an integer" topk --input "$in/small.csv" --opt k=ten --opt column=a
expect_fail "$ranks" 1 "give one of option column=NAME" topk --input "$in/small.csv" --opt k=3
expect_fail "$ranks" 1 "no column 'c' in the header" topk --input "$in/small.csv" --opt k=3 --opt column=c
expect_fail "$ranks" 1 "option field=-65: expected a field number" topk --input "$TMP/wc" --opt k=3 --opt field=-65
echo "topk at $ranks ranks: ok"
