#!/usr/bin/env bash
# distinct.sh RANKS: the distinct job against sort | uniq -c over text lines,
# and against python3's csv module over a CSV column (by name and by #N,
# plain and .csv.gz); option errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
here=$(dirname "$0")
in=$TMP/in
mkdir -p "$in/csv"
"$MILLGEN" --bytes 300K --seed 41 --vocab 300 "$TMP/w.txt" > /dev/null
# Lines that repeat: the first two words of each generated line.
cut -d' ' -f1-2 "$TMP/w.txt" > "$in/lines.txt"
printf 'x y\n\nx y\r\nlast' > "$in/edge.txt"     # a blank line, CRLF, no final newline
python3 "$here/gencsv.py" "$in/csv/t1.csv" 4000 1
python3 "$here/gencsv.py" "$TMP/t2.csv" 3000 2
gzip -c "$TMP/t2.csv" > "$in/csv/t2.csv.gz"

cat "$in/lines.txt" "$in/edge.txt" | sed 's/\r$//' | sort | uniq -c | awk '{ n = $1; sub(/^ *[0-9]+ /, ""); print $0 "\t" n }' |
  sort > "$TMP/want"
run_job "$ranks" distinct --input "$in/lines.txt" --input "$in/edge.txt" --output "$TMP/lines"
same "$TMP/want" "$TMP/lines" "distinct lines differ from sort | uniq -c at $ranks ranks"

python3 - "$in/csv/t1.csv" "$TMP/t2.csv" > "$TMP/want" <<'PY'
import csv, collections, sys
n = collections.Counter()
for path in sys.argv[1:]:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    n.update(r[2] for r in rows[1:])
sys.stdout.buffer.write(b"".join(k.encode() + b"\t%d\n" % v for k, v in sorted(n.items(), key=lambda kv: kv[0].encode())))
PY
run_job "$ranks" distinct --input "$in/csv" --output "$TMP/col" --opt column=product
same "$TMP/want" "$TMP/col" "distinct column=product differs from python csv at $ranks ranks"
run_job "$ranks" distinct --input "$in/csv" --output "$TMP/col3" --opt 'column=#3'
same "$TMP/want" "$TMP/col3" "distinct column=#3 differs from column=product"

[ "$ranks" = 1 ] || { echo "distinct at $ranks ranks: ok"; exit 0; }
# A UTF-8 byte-order mark before the header (Excel) is not part of its first name.
printf '\xef\xbb\xbfa,b\n1,2\n3,4\n1,5\n' > "$TMP/bom.csv"
printf '1\t2\n3\t1\n' > "$TMP/want"
run_job "$ranks" distinct --input "$TMP/bom.csv" --output "$TMP/bom" --opt column=a
same "$TMP/want" "$TMP/bom" "distinct column=a of a CSV with a BOM"
# A column's value is escaped as groupby's: a quoted newline, tab or CR stays
# on one output line, and column=X writes what groupby by=X does.
printf 'id,note\n1,"a\nb"\n2,"a\tc"\n3,x\\y\n4,"a\nb"\n5,"r\r"\n' > "$TMP/esc.csv"
printf 'a\\nb\t2\na\\tc\t1\nr\\r\t1\nx\\\\y\t1\n' > "$TMP/want"
run_job "$ranks" distinct --input "$TMP/esc.csv" --output "$TMP/esc" --opt column=note --csv-quoted-newlines
same "$TMP/want" "$TMP/esc" "distinct column=note with a quoted newline, tab, CR and backslash"
run_job "$ranks" groupby --input "$TMP/esc.csv" --output "$TMP/escg" --opt by=note --csv-quoted-newlines
same "$TMP/want" "$TMP/escg" "groupby by=note differs from distinct column=note"
# Blank lines before the header are not rows (the blank line 1 was the header).
printf '\n\r\nk,v\na,1\n\nb,1\n' > "$TMP/blank.csv"
printf '1\t2\n' > "$TMP/want"
run_job "$ranks" distinct --input "$TMP/blank.csv" --output "$TMP/blank" --opt column=v
same "$TMP/want" "$TMP/blank" "distinct column=v of a CSV whose header follows blank lines"
printf 'a\t1\nb\t1\nk\t1\n' > "$TMP/want"
run_job "$ranks" distinct --input "$TMP/blank.csv" --output "$TMP/blank1" --opt 'column=#1' --csv-no-header
same "$TMP/want" "$TMP/blank1" "distinct --csv-no-header of a CSV that starts with blank lines"
expect_fail "$ranks" 1 "column 'v' is named but $TMP/blank.csv has no header row (--csv-no-header): name it as #N" \
  distinct --input "$TMP/blank.csv" --opt column=v --csv-no-header
expect_fail "$ranks" 1 "no column 'nope' in the header of $in/csv/t1.csv" distinct --input "$in/csv/t1.csv" --opt column=nope
expect_fail "$ranks" 1 "input $in/lines.txt is not CSV" distinct --input "$in/lines.txt" --opt column=a
: > "$TMP/empty.txt" # refused before reading, without a record to map
expect_fail "$ranks" 1 "input $TMP/empty.txt is not CSV: option column=a names CSV columns" \
  distinct --input "$in/csv" --input "$TMP/empty.txt" --opt column=a
expect_fail "$ranks" 1 "column '#0': expected a header name or #N with N >= 1" distinct --input "$in/csv" --opt 'column=#0'
expect_fail "$ranks" 1 "option column=a,b: expected one column" distinct --input "$in/csv" --opt column=a,b
echo "distinct at $ranks ranks: ok"
