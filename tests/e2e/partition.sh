#!/usr/bin/env bash
# partition.sh: the shuffle places every key on the rank the partitioner
# names: with --weights and --exclude-ranks, and as recorded in the
# manifest's partitioner state (checked with `mpimill partition --state`).
. "$(dirname "$0")/lib.sh"
"$MILLGEN" --bytes 2M --seed 31 --vocab 20000 "$TMP/in.txt"
oracle "$TMP/in.txt" > "$TMP/want"

# check_placement OUT: every key of part-0000r is owned by rank r, by the
# state in OUT's manifest (`--state OUT`).
check_placement() {
  for p in "$1"/part-*; do
    r=$((10#${p##*part-}))
    cut -f1 "$p" | "$MPIMILL" partition --state "$1" | awk -F'\t' -v r="$r" -v p="$p" \
      '$2 != r { print "key " $1 " in " p " belongs to rank " $2; bad = 1 } END { exit bad }' ||
      fail "keys on the wrong rank in $1"
  done
}

mpimill_run 3 -- run wordcount --input "$TMP/in.txt" --output "$TMP/w" --weights 1,2,1 --quiet
output_of "$TMP/w" | cmp -s "$TMP/want" - || fail "--weights changed the result"
check_placement "$TMP/w"
# The manifest's state is hex: --state reads it from the output, from its
# _SUCCESS, or decoded to the bytes --save writes, alike.
python3 -c 'import json,sys; open(sys.argv[2],"wb").write(bytes.fromhex(json.load(open(sys.argv[1]))["partitioner"]["state"]))' \
  "$TMP/w/_SUCCESS" "$TMP/state"
cut -f1 "$TMP/w"/part-* > "$TMP/keys"
for s in "$TMP/w/_SUCCESS" "$TMP/state"; do
  "$MPIMILL" partition --state "$s" < "$TMP/keys" | cmp -s - <("$MPIMILL" partition --state "$TMP/w" < "$TMP/keys") ||
    fail "--state $s places keys otherwise than --state $TMP/w"
done
printf '{"partitioner": {"ranks": 2}}\n' > "$TMP/nostate"
rc=0; "$MPIMILL" partition --state "$TMP/nostate" < /dev/null 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "cannot load $TMP/nostate: a manifest without a partitioner state" "$TMP/stderr" ||
  fail "a manifest without a state: exit $rc, $(cat "$TMP/stderr")"
k0=$(wc -l < "$TMP/w/part-00000"); k1=$(wc -l < "$TMP/w/part-00001"); k2=$(wc -l < "$TMP/w/part-00002")
awk -v a="$k0" -v b="$k1" -v c="$k2" 'BEGIN { r = 2 * b / (a + c); exit !(r > 1.8 && r < 2.2) }' ||
  fail "weights 1,2,1 gave keys $k0 $k1 $k2"

mpimill_run 3 -- run wordcount --input "$TMP/in.txt" --output "$TMP/x" --exclude-ranks 1 --quiet
output_of "$TMP/x" | cmp -s "$TMP/want" - || fail "--exclude-ranks changed the result"
[ ! -s "$TMP/x/part-00001" ] || fail "excluded rank 1 owns keys"
check_placement "$TMP/x"
# Only rank 1's keys moved: every other key kept its owner.
cat "$TMP/w/part-00000" "$TMP/w/part-00002" | sort > "$TMP/kept-before"
mpimill_run 3 -- run wordcount --input "$TMP/in.txt" --output "$TMP/wx" --weights 1,2,1 --exclude-ranks 1 --quiet
for r in 0 2; do
  comm -23 <(sort "$TMP/w/part-0000$r") <(sort "$TMP/wx/part-0000$r") | grep -q . &&
    fail "excluding rank 1 moved a key off rank $r"
done

# The excluded ranks are a set: listed in another order, keys land alike.
for l in 3,0 0,3; do
  mpimill_run 4 -- run wordcount --input "$TMP/in.txt" --output "$TMP/x$l" --weights 1,1,2,1 --exclude-ranks $l --quiet
done
for r in 1 2; do
  cmp -s "$TMP/x3,0/part-0000$r" "$TMP/x0,3/part-0000$r" || fail "--exclude-ranks 3,0 and 0,3 place keys differently"
done

mpimill_run 2 -- run wordcount --input "$TMP/in.txt" --output "$TMP/auto" --weights auto --quiet
check_placement "$TMP/auto"
# A rank that cannot allocate the weights fails the job before the gather
# --weights auto makes (fault.h's site 1), instead of leaving the others in it.
rc=0
MPIMILL_FAULT_SITE=1 MPIMILL_FAULT_RANK=1 timeout 120 mpirun -q -n 2 --oversubscribe -x MPIMILL_FAULT_SITE \
  -x MPIMILL_FAULT_RANK "$MPIMILL" run wordcount --input "$TMP/in.txt" --output "$TMP/oom" --weights auto \
  --quiet 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "rank 1: out of memory building the partitioner" "$TMP/stderr" ||
  fail "weights allocation failing on rank 1: exit $rc (124: hung), $(cat "$TMP/stderr")"

# Bad lists are usage errors naming the option.
for bad in "--weights 1,2" "--weights 1,0,1" "--weights a,b,c" "--weights 1,0x2,1" "--weights 1,1," \
           "--exclude-ranks 0,1,2" "--exclude-ranks 3" "--exclude-ranks 1,1" "--exclude-ranks -0" \
           "--exclude-ranks 1.0" "--exclude-ranks 0x1" "--exclude-ranks 1,"; do
  rc=0; mpimill_run 3 -- run wordcount --input "$TMP/in.txt" --output "$TMP/bad" $bad 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 2 ] || fail "$bad: exit $rc, $(cat "$TMP/stderr")"
  grep -q -- "${bad%% *}" "$TMP/stderr" || fail "$bad: message does not name the option: $(cat "$TMP/stderr")"
  [ ! -e "$TMP/bad" ] || fail "$bad left an output"
done
# ...and say what is wrong with them.
for case in "--exclude-ranks 1,1:rank 1 is named twice" "--exclude-ranks 0,1,2:no rank would be left" \
            "--weights 1,2:2 weights for 3 ranks" "--weights 1,70000,1:weight 1 (70000) is out of range" \
            "--weights 1,1e-9,1:weight 1 (1e-9) is out of range: from 2^-17" "--weights 1,0x2,1:weight 1 ('0x2') is not a decimal number"; do
  rc=0; mpimill_run 3 -- run wordcount --input "$TMP/in.txt" --output "$TMP/bad" ${case%%:*} 2> "$TMP/stderr" || rc=$?
  grep -q -- "${case#*:}" "$TMP/stderr" || fail "${case%%:*}: $(cat "$TMP/stderr")"
done
# Weights far apart need a big slot table (2^23 slots: a 64 MiB manifest):
# the output still verifies and reports (the manifest was over what verify,
# report and recover read, so a staging left by a crash blocked the output).
mpimill_run 2 -- run wordcount --input "$TMP/in.txt" --output "$TMP/far" --weights 1,0.00005 --quiet ||
  fail "--weights 1,0.00005"
"$MPIMILL" verify "$TMP/far" > /dev/null 2> "$TMP/stderr" && "$MPIMILL" report "$TMP/far" --no-html > /dev/null 2>> "$TMP/stderr" ||
  fail "an output with a 2^23-slot partitioner: $(cat "$TMP/stderr")"
rm -rf "$TMP/far"
echo "partitioner in the shuffle: ok"
