#!/bin/sh
# partition_cli_test.sh DRIVER -- tests `mpimill partition` via its driver.
# Fails (exit 1) with a message on the first wrong result.
set -u
D=$1
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

# 1000 keys.
i=0; : > "$T/keys"
while [ $i -lt 1000 ]; do echo "key$i" >> "$T/keys"; i=$((i + 1)); done

# Placement: one "key<TAB>rank" line per key, ranks in range, keys echoed.
"$D" --ranks 4 < "$T/keys" > "$T/out" || fail "--ranks 4 exited $?"
[ "$(wc -l < "$T/out")" -eq 1000 ] || fail "expected 1000 lines"
cut -f1 "$T/out" | cmp -s - "$T/keys" || fail "keys not echoed in order"
cut -f2 "$T/out" | grep -qv '^[0-3]$' && fail "rank out of range"
[ "$(cut -f2 "$T/out" | sort -u | wc -l)" -eq 4 ] || fail "not all 4 ranks used"

# Golden: fixed keys land on fixed ranks (same as test_partition's config 0).
printf 'alpha\nbravo\ncharlie\n' | "$D" --ranks 3 > "$T/g" || fail "golden run"
printf 'alpha\t%s\nbravo\t%s\ncharlie\t%s\n' 0 2 2 | cmp -s - "$T/g" \
  || fail "golden placement changed: $(tr '\n' ' ' < "$T/g")"

# Excluded ranks receive nothing; only their keys move.
"$D" --ranks 4 --exclude 1,2 < "$T/keys" > "$T/ex" || fail "--exclude exited $?"
cut -f2 "$T/ex" | grep -q '^[12]$' && fail "excluded rank got a key"
paste "$T/out" "$T/ex" | awk -F'\t' '$2 != $4 && $2 != 1 && $2 != 2 { bad = 1 } END { exit bad }' \
  || fail "a key of a live rank moved on exclude"

# The excluded ranks are a set: listed in any order, keys land alike.
"$D" --ranks 5 --weights 1,2,1,3,0.5 --exclude 3,1 < "$T/keys" > "$T/x31" || fail "--exclude 3,1"
"$D" --ranks 5 --weights 1,2,1,3,0.5 --exclude 1,3 < "$T/keys" > "$T/x13" || fail "--exclude 1,3"
cmp -s "$T/x31" "$T/x13" || fail "--exclude 3,1 and 1,3 place keys differently"

# --save then --state reproduces the placement; --exclude applies on top.
"$D" --ranks 5 --weights 1,2,1,1,3 --exclude 0 --save "$T/state" < "$T/keys" > "$T/a" || fail "--save"
"$D" --state "$T/state" < "$T/keys" > "$T/b" || fail "--state exited $?"
cmp -s "$T/a" "$T/b" || fail "--state placement differs from the saved run"
"$D" --state "$T/state" --exclude 4 < "$T/keys" > "$T/c" || fail "--state --exclude exited $?"
[ "$(wc -l < "$T/c")" -eq 1000 ] || fail "--state --exclude: expected 1000 lines"
cut -f2 "$T/c" | grep -q '^[04]$' && fail "state+exclude"

# --stats: header and one line per rank, keys sum to the input, excluded 0.
"$D" --ranks 4 --weights 1,1,2,4 --exclude 0 --stats < "$T/keys" > "$T/st" || fail "--stats"
[ "$(head -1 "$T/st")" = "$(printf 'rank\tkeys\tshare\tweight_share')" ] || fail "stats header"
[ "$(wc -l < "$T/st")" -eq 5 ] || fail "stats lines"
awk -F'\t' 'NR > 1 { s += $2 } END { exit s != 1000 }' "$T/st" || fail "stats key sum"
awk -F'\t' 'NR == 2 { exit !($2 == 0 && $4 == 0) }' "$T/st" || fail "excluded rank in stats"
awk -F'\t' 'NR == 5 { exit !($4 > 0.571 && $4 < 0.572) }' "$T/st" || fail "weight share"

# Bad options: exit 2 with exactly one line on stderr.
bad() {
  "$D" "$@" < /dev/null > /dev/null 2> "$T/err"; rc=$?
  [ $rc -eq 2 ] || fail "'$*' exited $rc, want 2"
  [ "$(wc -l < "$T/err")" -eq 1 ] || fail "'$*' stderr not one line"
}
bad
bad --ranks 0
bad --ranks x
bad --ranks 3 --weights 1,2
bad --ranks 3 --weights 1,0,1
bad --ranks 3 --weights 1,nan,1
bad --ranks 3 --weights 1,0x2,1
bad --ranks 3 --weights 1,1,
bad --ranks 2 --weights 1,2,
grep -q "weight 2 ('') is not a decimal number" "$T/err" || fail "a trailing comma: $(cat "$T/err")"
bad --ranks 2 --weights 1,70000
grep -q "weight 1 (70000) is out of range: from 2^-17 (about 0.0000077) to 65535" "$T/err" ||
  fail "a weight out of range: $(cat "$T/err")"
bad --ranks 3 --exclude 3
bad --ranks 3 --exclude 1,1
bad --ranks 2 --exclude 0,1
bad --ranks 2 --bogus
bad --ranks 2 --ranks 3
bad --ranks 2 --state "$T/state"
bad --ranks

# Foreign or truncated state: exit 1, one line.
printf 'not a state' > "$T/junk"
"$D" --state "$T/junk" < /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "junk state accepted"
head -c 100 "$T/state" > "$T/trunc"
"$D" --state "$T/trunc" < /dev/null 2> "$T/err"; [ $? -eq 1 ] || fail "truncated state accepted"
[ "$(wc -l < "$T/err")" -eq 1 ] || fail "state error not one line"
"$D" --state "$T/missing" < /dev/null 2> /dev/null; [ $? -eq 1 ] || fail "missing state"
# An endless file is refused once past the largest state, not read whole
# into memory (under a 1 GiB limit, reading on would fail another way; an
# AddressSanitizer build cannot start under it, and runs unlimited).
limit=1048576
ldd "$D" 2> /dev/null | grep -q libasan && limit=unlimited
(ulimit -v $limit; "$D" --state /dev/zero < /dev/null 2> "$T/err"); [ $? -eq 1 ] &&
  grep -q "longer than any partitioner state" "$T/err" || fail "/dev/zero as state: $(cat "$T/err")"
# --help prints the usage and succeeds.
"$D" --help > "$T/out" && grep -q "^usage: mpimill partition" "$T/out" && grep -q "KEY<TAB>RANK" "$T/out" || fail "--help"
echo "partition_cli: all checks passed"
