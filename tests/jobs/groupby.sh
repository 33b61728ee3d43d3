#!/usr/bin/env bash
# groupby.sh RANKS: the groupby job against python3 (csv module) over CSV
# files (.csv and .csv.gz; quoted values with commas and quotes, empty
# values, CRLF, blank lines); option and data errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
here=$(dirname "$0")
in=$TMP/in
mkdir -p "$in/csv"
python3 "$here/gencsv.py" "$in/csv/t1.csv" 6000 5
python3 "$here/gencsv.py" "$TMP/t2.csv" 3000 6
gzip -c "$TMP/t2.csv" > "$in/csv/t2.csv.gz"

# oracle BY AGGS: the same aggregation in python; BY and AGGS as the options.
oracle() {
  python3 - "$1" "$2" "$in/csv/t1.csv" "$TMP/t2.csv" <<'PY'
import csv, sys
by, aggs, files = sys.argv[1].split(","), sys.argv[2].split(","), sys.argv[3:]
def fmt(x):
    for p in (15, 16, 17):
        s = "%.*g" % (p, x)
        if float(s) == x:
            return s
def esc(v):
    return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
groups = {}
for path in files:
    with open(path, newline="", encoding="utf-8") as f:
        rows = [r for r in csv.reader(f) if r]
    head = rows[0]
    col = lambda c: int(c[1:]) - 1 if c.startswith("#") else head.index(c)
    for r in rows[1:]:
        groups.setdefault(tuple(r[col(c)] for c in by), []).append(r)
    cols = {a: col(a.split(":")[1]) for a in aggs if a != "count"}
out = []
for k, rows in groups.items():
    vals = []
    for a in aggs:
        if a == "count":
            vals.append(str(len(rows)))
            continue
        xs = [float(r[cols[a]]) for r in rows if r[cols[a]] != ""]
        op = a.split(":")[0]
        vals.append("" if not xs else fmt({"sum": sum(xs), "min": min(xs) if xs else 0, "max": max(xs) if xs else 0,
                                           "mean": sum(xs) / len(xs)}[op]))
    out.append(("\t".join(esc(v) for v in k) + "\t" + "\t".join(vals)).encode())
sys.stdout.buffer.write(b"".join(l + b"\n" for l in sorted(out)))
PY
}
oracle region,product count,sum:qty,mean:qty,min:price,max:price,count > "$TMP/want"
run_job "$ranks" groupby --input "$in/csv" --output "$TMP/out" --opt by=region,product \
  --opt agg=count,sum:qty,mean:qty,min:price,max:price,count
same "$TMP/want" "$TMP/out" "groupby region,product differs from python at $ranks ranks"

oracle '#3' 'max:#5,min:qty' > "$TMP/want"
run_job "$ranks" groupby --input "$in/csv" --output "$TMP/out3" --opt 'by=#3' --opt 'agg=max:#5,min:qty'
same "$TMP/want" "$TMP/out3" "groupby #3 differs from python at $ranks ranks"

oracle note count > "$TMP/want"     # agg defaults to count; note holds commas and quotes
run_job "$ranks" groupby --input "$in/csv" --output "$TMP/note" --opt by=note
same "$TMP/want" "$TMP/note" "groupby note differs from python at $ranks ranks"

[ "$ranks" = 1 ] || { echo "groupby at $ranks ranks: ok"; exit 0; }
printf 'k,v\na,1\nb,x1\n' > "$in/bad.csv"
expect_fail "$ranks" 1 "map failed at $in/bad.csv:3 (byte offset [0-9]*): column v: 'x1' is not a number" groupby --input "$in/bad.csv" --opt by=k --opt agg=sum:v
printf 'k,v\na,0x10\n' > "$in/hex.csv"
expect_fail "$ranks" 1 "column v: '0x10' is not a number" groupby --input "$in/hex.csv" --opt by=k --opt agg=sum:v
expect_fail "$ranks" 1 "option by is required" groupby --input "$in/bad.csv"
printf 'k,v\n' > "$in/plain.txt"
expect_fail "$ranks" 1 "input $in/plain.txt is text: job groupby reads CSV" groupby --input "$in/bad.csv" --input "$in/plain.txt" --opt by=k
# Sums add up without overflowing midway: 1e308 + 1e308 - 1e308 - 1e308 is
# 0 at any rank count (in a double, inf or 0 by the order of the combines),
# and the mean of 1e308 and 1e308 is 1e308 (their sum, past DBL_MAX, inf).
{ printf 'g,v\nx,1e308\n'; for i in $(seq 2000); do echo pad,1; done; printf 'x,1e308\nx,-1e308\nx,-1e308\ny,1e308\ny,1e308\n'; } \
  > "$TMP/big.csv"
run_job "$ranks" groupby --input "$TMP/big.csv" --output "$TMP/big" --opt by=g --opt agg=count,sum:v,mean:v
[ "$(output_of "$TMP/big" | grep -v '^pad')" = "$(printf 'x\t4\t0\t0\ny\t2\tinf\t1e+308')" ] ||
  fail "sums near DBL_MAX: $(output_of "$TMP/big" | grep -v '^pad')"
# inf + -inf is NaN, written "nan" (it was "-nan", a sign NaN does not have).
printf 'k,v\na,inf\na,-inf\nb,1\n' > "$TMP/inf.csv"
run_job "$ranks" groupby --input "$TMP/inf.csv" --output "$TMP/inf" --opt by=k --opt agg=sum:v,mean:v
[ "$(output_of "$TMP/inf")" = "$(printf 'a\tnan\tnan\nb\t1\t1')" ] || fail "inf + -inf: $(output_of "$TMP/inf")"
# min and max of 0 and -0 do not depend on the rows' order: -0 is below 0.
printf 'k,v\na,0\na,-0\n' > "$TMP/z1.csv"; printf 'k,v\na,-0\na,0\n' > "$TMP/z2.csv"
for z in z1 z2; do
  run_job "$ranks" groupby --input "$TMP/$z.csv" --output "$TMP/$z" --opt by=k --opt agg=min:v,max:v
  [ "$(output_of "$TMP/$z")" = "$(printf 'a\t-0\t0')" ] || fail "min, max of 0 and -0 ($z): $(output_of "$TMP/$z")"
done
# A row whose field is empty adds nothing to a sum, not +0: -0 stays -0
# (the empty row's +0 made a's sum and mean 0).
printf 'k,v\na,-0\na,\nb,-0\n' > "$TMP/nz.csv"
run_job "$ranks" groupby --input "$TMP/nz.csv" --output "$TMP/nz" --opt by=k --opt agg=sum:v,mean:v
[ "$(output_of "$TMP/nz")" = "$(printf 'a\t-0\t-0\nb\t-0\t-0')" ] || fail "sums of -0 and empty: $(output_of "$TMP/nz")"
# Columns by name under --csv-columns: a name finds its column wherever the
# selection puts it, in files whose headers differ in order (the header's
# index was used on the selected fields: b,a summed a by b, exit 0).
printf 'a,b\n1,10\n1,20\n2,30\n' > "$TMP/ab.csv"; printf 'b,a\n5,2\n' > "$TMP/ba.csv"
for sel in b,a a,b; do
  run_job "$ranks" groupby --input "$TMP/ab.csv" --input "$TMP/ba.csv" --csv-columns "$sel" --output "$TMP/sel$sel" \
    --opt by=a --opt agg=sum:b
  [ "$(output_of "$TMP/sel$sel")" = "$(printf '1\t30\n2\t35')" ] ||
    fail "by=a, agg=sum:b with --csv-columns $sel: $(output_of "$TMP/sel$sel" | tr '\t\n' ' ;')"
done
expect_fail "$ranks" 1 "column 'a' of $TMP/ab.csv is not among the columns --csv-columns selects" \
  groupby --input "$TMP/ab.csv" --csv-columns b,b --opt by=a --opt agg=sum:b
if [ "$ranks" = 1 ]; then
  # 20000 files under a 3500-byte directory: the column cache walked every
  # file seen for each new one (strcmp on the path), minutes; now seconds.
  d=$TMP; for _ in {1..14}; do d=$d/$(printf 'd%.0s' {1..250}); done
  mkdir -p "$d"
  python3 - "$d" "$TMP/many.want" <<'PY'
import sys
d, sums = sys.argv[1], [0] * 5
for i in range(20000):
    with open("%s/f%05d.csv" % (d, i), "w") as f:
        f.write("k,v\nk%d,%d\n" % (i % 5, i))
    sums[i % 5] += i
open(sys.argv[2], "w").write("".join("k%d\t%d\n" % (k, s) for k, s in enumerate(sums)))
PY
  timeout 60 "$MPIMILL" run groupby --input "$d" --output "$TMP/many" --opt by=k --opt agg=sum:v --quiet ||
    fail "groupby over 20000 files: exit $?"
  same "$TMP/many.want" "$TMP/many" "groupby over 20000 files"
  rm -rf "$TMP/d"*
fi
expect_fail "$ranks" 1 "option agg=count,median:v: 'median:v' is not count" groupby --input "$in/bad.csv" --opt by=k --opt agg=count,median:v
expect_fail "$ranks" 1 "option agg=sum: 'sum' is not count" groupby --input "$in/bad.csv" --opt by=k --opt agg=sum
expect_fail "$ranks" 1 "no column 'w' in the header of $in/bad.csv" groupby --input "$in/bad.csv" --opt by=k --opt agg=max:w
echo "groupby at $ranks ranks: ok"
