#!/usr/bin/env bash
# join.sh RANKS: the join job (inner and left, on= with right_on=, sides by
# path prefix, .csv and .csv.gz) against python3; option errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
here=$(dirname "$0")
in=$TMP/in
mkdir -p "$in/orders" "$in/people"
python3 "$here/gencsv.py" "$in/orders/o1.csv" 2500 7 400
python3 "$here/gencsv.py" "$TMP/o2.csv" 1500 8 400
gzip -c "$TMP/o2.csv" > "$in/orders/o2.csv.gz"
# People: ids 1..450 with gaps, some twice; a name with a comma and quotes.
python3 - "$in/people/p.csv" <<'PY'
import random, sys
r = random.Random(9)
with open(sys.argv[1], "w") as f:
    f.write("name,cid\n")
    for i in range(1, 451):
        if r.random() < 0.2:
            continue
        for _ in range(2 if r.random() < 0.1 else 1):
            f.write('"p%d, ""%s"""' % (i, r.choice("abc")) + ",%d\n" % i)
PY

oracle() {
  python3 - "$1" "$in/orders/o1.csv" "$TMP/o2.csv" "$in/people/p.csv" <<'PY'
import csv, sys
kind, files = sys.argv[1], sys.argv[2:]
def rows(path, col):
    lines = [l[:-1] if l.endswith(b"\r") else l for l in open(path, "rb").read().split(b"\n")]
    head = next(csv.reader([lines[0].decode()]))
    i = head.index(col)
    for raw in lines[1:]:
        if raw:
            yield next(csv.reader([raw.decode()]))[i].encode(), raw
left, right = {}, {}
for f in files[:2]:
    for k, raw in rows(f, "id"):
        left.setdefault(k, []).append(raw)
for k, raw in rows(files[2], "cid"):
    right.setdefault(k, []).append(raw)
out = []
for k, ls in left.items():
    rs = sorted(right.get(k, [])) or ([b""] if kind == "left" else [])
    out += [k + b"\t" + l + b"\t" + r for l in sorted(ls) for r in rs]
sys.stdout.buffer.write(b"".join(l + b"\n" for l in sorted(out)))
PY
}
oracle inner > "$TMP/want"
run_job "$ranks" join --input "$in" --output "$TMP/inner" --opt left="$in/orders/" --opt right="$in/people" \
  --opt on=id --opt right_on=cid
same "$TMP/want" "$TMP/inner" "inner join differs from python at $ranks ranks"
oracle left > "$TMP/want"
grep -q "	$" "$TMP/want" || fail "no unmatched left rows: a useless test"
run_job "$ranks" join --input "$in/orders" --input "$in/people/p.csv" --output "$TMP/left" \
  --opt left="$in/orders" --opt right="$in/people/p.csv" --opt on=id --opt right_on=cid --opt type=left
same "$TMP/want" "$TMP/left" "left join differs from python at $ranks ranks"

# A side without a file (a mistyped prefix, a file joined with itself under
# two names, read once, or a legitimately empty side) joins as empty, with
# a warning.
run_job "$ranks" join --input "$in/orders" --output "$TMP/typo" --opt left="$in/orders" --opt right="$in/peop" \
  --opt on=id --opt type=left
grep -q "warning: no input is on the right=$in/peop side: it joins as empty" "$TMP/stderr" ||
  fail "no warning for an empty side: $(cat "$TMP/stderr")"
[ "$(cat "$TMP/typo"/part-* | wc -l)" = "$(( $(tail -n +2 "$in/orders/o1.csv" | grep -c .) + $(tail -n +2 "$TMP/o2.csv" | grep -c .) ))" ] ||
  fail "a left join with an empty right side lost left rows"
[ "$(grep -c 'warning: no input' "$TMP/stderr")" = 1 ] || fail "the warning is not printed once: $(cat "$TMP/stderr")"
[ "$ranks" = 1 ] || { echo "join at $ranks ranks: ok"; exit 0; }
expect_fail "$ranks" 1 "input $in/people/p.csv is on neither of the left=$in/orders and the right=$in/x side" \
  join --input "$in" --opt left="$in/orders" --opt right="$in/x" --opt on=id
# A file on neither side without a data row is refused too (checked in
# setup against the input list, not as its rows are mapped).
mkdir -p "$TMP/stray"
printf 'id,x\n' > "$TMP/stray/s.csv"
expect_fail "$ranks" 1 "input $TMP/stray/s.csv is on neither of the left=$in/orders and the right=$in/people side" \
  join --input "$in" --input "$TMP/stray" --opt left="$in/orders" --opt right="$in/people" --opt on=id --opt right_on=cid
"$MPIMILL" run join --input "$in/people/p.csv" --input "$in/people/./p.csv" --output "$TMP/self" \
  --opt left="$in/people/p.csv" --opt right="$in/people/./" --opt on=cid --quiet 2> "$TMP/stderr" ||
  fail "a self-join under two names: $(cat "$TMP/stderr")"
grep -q "no input is on the right=$in/people/./ side: it joins as empty (a file named twice is read once" \
  "$TMP/stderr" || fail "a self-join under two names: no warning, $(cat "$TMP/stderr")"
expect_fail "$ranks" 1 "option right is required" join --input "$in" --opt left=a --opt on=id
expect_fail "$ranks" 1 "option type=outer: expected inner or left" join --input "$in" --opt left=a --opt right=b --opt on=id --opt type=outer
expect_fail "$ranks" 1 "no column 'id' in the header of $in/people/p.csv" join --input "$in" --opt left="$in/orders" --opt right="$in/people" --opt on=id
echo "join at $ranks ranks: ok"
