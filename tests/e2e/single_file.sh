#!/usr/bin/env bash
# single_file.sh RANKS [MPIRUN-OPTIONS...]: --single-file writes one shared
# file: every rank's sorted block at the offset it reserved, one _index line
# per rank (rank, offset, length, fencing token) tiling the file exactly,
# and the whole equals the oracle.
. "$(dirname "$0")/lib.sh"
ranks=$1; shift
mca=("$@")
"$MILLGEN" --bytes 2M --seed 41 "$TMP/in.txt"
oracle "$TMP/in.txt" > "$TMP/want"
mpimill_run "$ranks" "${mca[@]}" -- run wordcount --input "$TMP/in.txt" --output "$TMP/out" --single-file --quiet
[ "$(ls "$TMP/out" | sort | tr '\n' ' ')" = "_SUCCESS _index data " ] || fail "files: $(ls "$TMP/out")"
sort "$TMP/out/data" | cmp -s "$TMP/want" - || fail "data differs from the oracle"
[ "$(wc -l < "$TMP/out/_index")" = "$ranks" ] || fail "index has $(wc -l < "$TMP/out/_index") lines"
tiles() { # DIR: the index lines, in their order, tile DIR/data: each block starts where the last ended
  python3 - "$1" "$ranks" <<'PY' || fail "index of $1 does not tile data in its order: $(cat "$1/_index")"
import os, sys
d, n = sys.argv[1], int(sys.argv[2])
rows = [tuple(map(int, l.split("\t"))) for l in open(os.path.join(d, "_index"))]
assert sorted(r[0] for r in rows) == list(range(n)), rows
tokens = [r[3] for r in rows]
assert tokens == sorted(tokens) and len(set(tokens)) == n, tokens   # appended in token order
data = open(os.path.join(d, "data"), "rb").read()
pos = 0
for rank, off, length, tok in rows:  # in the index's order: the blocks' order in data
    assert off == pos, (off, pos)
    block = data[off:off + length].decode().splitlines()
    assert [l.split("\t")[0] for l in block] == sorted(l.split("\t")[0] for l in block), f"block of rank {rank} unsorted"
    pos += length
assert pos == len(data), (pos, len(data))
PY
}
tiles "$TMP/out"
# Blocks of very different sizes (a rank that copies longer reserved its
# offset first): the index still lists them in data's order.
if [ "$ranks" -gt 1 ]; then
  w=$(printf '1,%.0s' $(seq 2 "$ranks"))
  for i in 1 2 3; do
    mpimill_run "$ranks" "${mca[@]}" -- run wordcount --input "$TMP/in.txt" --output "$TMP/skew$i" --single-file \
      --weights "40,${w%,}" --quiet
    tiles "$TMP/skew$i"
  done
  # Over TCP, --lock-timeout (the job's own locks) does not bound the
  # index lock's wait: at 8 ranks and 1 ms, 2 of 3 runs failed.
  if [[ " ${mca[*]} " == *tcp* ]]; then
    printf 'a b\nc d\ne\n' > "$TMP/ok.txt"
    for i in 1 2 3; do
      mpimill_run 8 "${mca[@]}" -- run wordcount --input "$TMP/ok.txt" --output "$TMP/lt$i" --single-file \
        --lock-timeout 0.001 --quiet || fail "--single-file at 8 ranks with --lock-timeout 0.001 failed"
    done
  fi
  # A window made on one rank only (fault.h's sites 8, the job's locks,
  # and 9, the offset counters) fails the job on every rank with one line:
  # the others once waited in a barrier for ever.
  for site in 8 9; do
    rc=0
    MPIMILL_FAULT_SITE=$site MPIMILL_FAULT_RANK=last timeout 120 mpirun -q -n "$ranks" --oversubscribe "${mca[@]}" \
      -x MPIMILL_FAULT_SITE -x MPIMILL_FAULT_RANK "$MPIMILL" run wordcount --input "$TMP/in.txt" \
      --output "$TMP/win$site" --single-file --quiet 2> "$TMP/stderr" || rc=$?
    [ "$rc" = 1 ] && [ "$(grep -c 'mpimill: error:' "$TMP/stderr")" = 1 ] && [ ! -e "$TMP/win$site" ] ||
      fail "site $site failing on the last rank: exit $rc (124: hung), $(cat "$TMP/stderr")"
  done
fi
"$MPIMILL" verify "$TMP/out" > /dev/null || fail "verify failed"
# verify names what is wrong: a missing file, a file the manifest does not list.
cp -r "$TMP/out" "$TMP/v"
mv "$TMP/v/_index" "$TMP/v/stray"
rc=0; "$MPIMILL" verify "$TMP/v" > "$TMP/verify.txt" || rc=$?
[ "$rc" = 1 ] && grep -qx "missing: _index" "$TMP/verify.txt" && grep -qx "unlisted: stray: not in the manifest" "$TMP/verify.txt" ||
  fail "verify of a missing and an unlisted file: exit $rc, $(cat "$TMP/verify.txt")"
# A changed manifest (a count, the attempt) is found by its own checksum,
# manifest_xxh3; a manifest written before it existed is not self-checked.
cp "$TMP/out/_SUCCESS" "$TMP/manifest"
sed -i 's/"records_in": \([0-9]\)/"records_in": 9\1/' "$TMP/out/_SUCCESS"
rc=0; "$MPIMILL" verify "$TMP/out" > "$TMP/verify2.txt" || rc=$?
[ "$rc" = 1 ] && grep -qx "differs: _SUCCESS: its text does not match its manifest_xxh3 (it was changed)" "$TMP/verify2.txt" ||
  fail "verify of a changed manifest: exit $rc, $(cat "$TMP/verify2.txt")"
python3 - "$TMP/manifest" "$TMP/out/_SUCCESS" <<'EOF' # the same manifest, as an older mpimill wrote it
import sys
t = open(sys.argv[1]).read()
open(sys.argv[2], "w").write(t[:t.rindex(',\n"manifest_xxh3"')] + "\n}\n")
EOF
"$MPIMILL" verify "$TMP/out" > /dev/null || fail "verify of a manifest without manifest_xxh3 (older) failed"
# A \u escape with a digit that is not hex makes the manifest invalid JSON
# (python refuses it): "data\u001z" was read as "datas", and verify passed.
python3 - "$TMP/out/_SUCCESS" <<'EOF'
import sys
t = open(sys.argv[1]).read()
assert t.count('"data"') == 1
open(sys.argv[1], "w").write(t.replace('"data"', '"data\\u001z"'))
EOF
mv "$TMP/out/data" "$TMP/out/datas"
rc=0; "$MPIMILL" verify "$TMP/out" > "$TMP/verify2.txt" 2>&1 || rc=$?
[ "$rc" != 0 ] || fail "verify passed a manifest with a bad \\u escape: $(cat "$TMP/verify2.txt")"
mv "$TMP/out/datas" "$TMP/out/data"
# A changed count with a checksum that is not hex: still a changed manifest
# (it turned the check off, as if the manifest were older).
sed 's/"records_in": \([0-9]\)/"records_in": 9\1/; s/"manifest_xxh3": "./"manifest_xxh3": "g/' "$TMP/manifest" > "$TMP/out/_SUCCESS"
rc=0; "$MPIMILL" verify "$TMP/out" > "$TMP/verify2.txt" || rc=$?
[ "$rc" = 1 ] && grep -q "differs: _SUCCESS" "$TMP/verify2.txt" || fail "a non-hex manifest_xxh3 passed: exit $rc"
cp "$TMP/manifest" "$TMP/out/_SUCCESS"
# A newline in an unlisted name is shown escaped: it cannot forge a line.
touch "$TMP/v/$(printf 'x\nmpimill: verify: all ok')"
rc=0; "$MPIMILL" verify "$TMP/v" > "$TMP/verify.txt" || rc=$?
[ "$rc" = 1 ] && grep -qx 'unlisted: x\\x0ampimill: verify: all ok: not in the manifest' "$TMP/verify.txt" &&
  [ "$(wc -l < "$TMP/verify.txt")" = 3 ] || fail "verify of a name with a newline: exit $rc, $(cat "$TMP/verify.txt")"
rm -rf "$TMP/v"
# A link naming the output is followed by verify (read only), and refused,
# by name, as an output to replace.
ln -s out "$TMP/latest"
"$MPIMILL" verify "$TMP/latest" > /dev/null || fail "verify through a symbolic link failed"
rc=0; mpimill_run "$ranks" -- run wordcount --input "$TMP/in.txt" --output "$TMP/latest" --overwrite 2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "exists and is a symbolic link" "$TMP/stderr" || fail "--overwrite of a link: exit $rc, $(cat "$TMP/stderr")"
rm "$TMP/latest"
rc=0; mpimill_run "$ranks" -- run wordcount --input "$TMP/in.txt" --output "$TMP/o2" --single-file --compress gzip 2> "$TMP/stderr" || rc=$?
[ "$rc" = 2 ] || fail "--single-file --compress gzip: exit $rc"
echo "single file at $ranks ranks ${mca[*]}: ok"
