#!/usr/bin/env bash
# io_e2e.sh RANKS: mpimill run over gzip, CSV and HDF5 inputs against
# independent oracles (tr/sort/uniq over zcat or the CSV rows; h5dump for
# HDF5), --compress gzip checked with gzip -t and zcat, and bad inputs:
# one error line naming the file and position, exit 1, nothing committed;
# --bad-records skip counts them in the summary and the manifest.
# Needs: MPIMILL, MILLGEN, ROWSTATS (the rowstats test job).
. "$(dirname "$0")/../e2e/lib.sh"
ranks=$1
in=$TMP/in
mkdir -p "$in/gz" "$in/csv"

# expect_fail PATTERN ARGS...: mpimill run exits 1 with one line naming PATTERN.
expect_fail() {
  local pattern=$1; shift
  local rc=0
  mpimill_run "$ranks" -- run "$@" --output "$TMP/bad" > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] || fail "exit $rc, wanted 1 for: $* ($(cat "$TMP/stderr"))"
  [ "$(err_lines "$TMP/stderr")" = 1 ] || fail "wanted one error line for: $*, got: $(cat "$TMP/stderr")"
  grep -q -- "$pattern" "$TMP/stderr" || fail "error for $* lacks '$pattern': $(cat "$TMP/stderr")"
  [ ! -e "$TMP/bad" ] || fail "output committed by: $*"
  check_no_leftovers "$TMP/bad"
}

# ---- gzip: whole files per rank, one big file, multi-member, globs ---------
"$MILLGEN" --bytes 3M --seed 21 "$in/big.txt"
"$MILLGEN" --bytes 300K --seed 22 --crlf "$in/crlf.txt"
"$MILLGEN" --bytes 200K --seed 23 --files 7 "$in/many"
gzip -c "$in/big.txt" > "$in/gz/big.gz"
{ gzip -c "$in/crlf.txt"; gzip -1 -c "$in/many/"*; } > "$in/gz/members.gz"   # many members
for f in "$in/many/"*; do gzip -c "$f" > "$in/gz/small-$(basename "$f").gz"; done
: | gzip -c > "$in/gz/empty.gz"
printf 'tail without newline' | gzip -c > "$in/gz/nofinal.gz"

oracle_gz() { for f in "$@"; do zcat "$f"; echo; done | oracle /dev/stdin; }
oracle_gz "$in/gz/"*.gz > "$TMP/want-gz"
mpimill_run "$ranks" -- run wordcount --input "$in/gz/*.gz" --output "$TMP/gz" --quiet
output_of "$TMP/gz" | cmp -s "$TMP/want-gz" - || fail "wordcount over .gz differs from zcat's oracle"

# The map phase's bytes are the input's: the text and CSV files' sizes
# whatever their line ends (CRLF, no final newline, a header and blank
# lines), gzip's inflated size. (They were summed from record lengths and a
# line end each: 204 971 bytes here counted 203 242.)
"$MILLGEN" --bytes 100K --seed 31 --crlf "$in/mb.txt"
printf 'no final newline' >> "$in/mb.txt"
printf 'k,v\r\n\r\na,1\r\n\nb,2\n' > "$in/mb.csv"
gzip -c "$in/mb.txt" > "$in/mb.gz"
mpimill_run "$ranks" -- run wordcount --input "$in/mb.txt" --input "$in/mb.csv" --input "$in/mb.gz" \
  --output "$TMP/mb" --quiet
python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))["metrics"]["ranks"]
got = sum(r["phases"]["map"]["bytes"] for r in m); assert got == int(sys.argv[2]), got' "$TMP/mb/_SUCCESS" \
  $(( $(stat -c %s "$in/mb.txt") * 2 + $(stat -c %s "$in/mb.csv") )) || fail "map bytes are not the input's bytes"

# A single large .gz (one rank reads it) mixed with plain text, gzip output.
oracle "$in/big.txt" "$in/crlf.txt" > "$TMP/want-mix"
mpimill_run "$ranks" -- run wordcount --input "$in/gz/big.gz" --input "$in/crlf.txt" \
  --output "$TMP/gzout" --compress gzip --quiet
[ "$(ls "$TMP/gzout" | grep -c '^part-[0-9]*\.gz$')" -eq "$ranks" ] || fail "expected $ranks part-*.gz"
for p in "$TMP/gzout"/part-*.gz; do gzip -t "$p" || fail "gzip -t $p"; done
zcat "$TMP/gzout"/part-*.gz | sort | cmp -s "$TMP/want-mix" - || fail "--compress gzip output differs"
for p in "$TMP/gzout"/part-*.gz; do zcat "$p" | cut -f1 | sort -c 2>/dev/null || fail "$p not sorted"; done

# ---- CSV: quoted fields, doubled quotes, CRLF, blank lines --------------------
{
  printf 'id,word,note\r\n'
  for i in $(seq 1 3000); do
    case $((i % 6)) in
      0) printf '%d,w%d,"a, b ""c"" %d"\r\n' "$i" $((i % 97)) $((i % 13)) ;;
      1) printf '%d,"w%d",\n' "$i" $((i % 89)) ;;
      2) printf '\n' ;;
      *) printf '%d,w%d,plain %d\n' "$i" $((i % 83)) $((i % 7)) ;;
    esac
  done
} > "$in/csv/rows.csv"
cp "$in/csv/rows.csv" "$TMP/rows-copy.csv"
gzip -c "$TMP/rows-copy.csv" > "$in/csv/rows2.csv.gz"
# A CSV record is its raw row: the oracle counts the words of the rows.
{ tail -n +2 "$in/csv/rows.csv"; tail -n +2 "$TMP/rows-copy.csv"; } > "$TMP/csv-rows"
oracle "$TMP/csv-rows" > "$TMP/want-csv"
mpimill_run "$ranks" -- run wordcount --input "$in/csv" --output "$TMP/csv" --quiet
output_of "$TMP/csv" | cmp -s "$TMP/want-csv" - || fail "wordcount over CSV differs from the oracle"

# Quoted newlines: byte splits refuse them (file and line); whole-file reads take them.
printf 'k,v\n1,"one\ntwo"\n2,three\n3,"x ""y""\nz"\n' > "$in/qnl.csv"
expect_fail "qnl.csv:2: malformed CSV row" wordcount --input "$in/qnl.csv"
tail -n +2 "$in/qnl.csv" | oracle /dev/stdin > "$TMP/want-qnl"
mpimill_run "$ranks" -- run wordcount --input "$in/qnl.csv" --csv-quoted-newlines --output "$TMP/qnl" --quiet
output_of "$TMP/qnl" | cmp -s "$TMP/want-qnl" - || fail "--csv-quoted-newlines differs from the oracle"

# ---- bad input ------------------------------------------------------------------
head -c 20000 "$in/gz/big.gz" > "$in/trunc.gz"
cp "$in/gz/big.gz" "$in/corrupt.gz"
printf '\x00\x01\x02\x03\x04\x05\x06\x07' | dd of="$in/corrupt.gz" bs=1 seek=5000 conv=notrunc status=none
printf 'a,b\n1,2\n3,4,5\n6,7\n' > "$in/fields.csv"
printf 'a,b\n1,"2\n' > "$in/open.csv"
expect_fail "trunc.gz: truncated gzip data.*offset" wordcount --input "$in/trunc.gz"
expect_fail "corrupt.gz: .*compressed byte offset" wordcount --input "$in/corrupt.gz"
expect_fail "fields.csv:3: malformed CSV row.*3 fields, expected 2" wordcount --input "$in/fields.csv"
expect_fail "open.csv:2: .*unterminated quoted field" wordcount --input "$in/open.csv" --csv-quoted-newlines
expect_fail "no column 'nope'" wordcount --input "$in/fields.csv" --csv-columns a,nope

# --bad-records skip: the rows around the bad ones are counted, the bad ones are.
mpimill_run "$ranks" -- run wordcount --input "$in/fields.csv" --input "$in/trunc.gz" --input "$in/open.csv" \
  --bad-records skip --output "$TMP/skip" > "$TMP/stdout"
grep -qw "bad_records_skipped=3" "$TMP/stdout" || fail "summary lacks bad_records_skipped=3: $(cat "$TMP/stdout")"
grep -qw '"bad_records_skipped": 3' "$TMP/skip/_SUCCESS" || fail "manifest lacks the skipped count"
output_of "$TMP/skip" > "$TMP/got-skip"   # (not piped into grep -q: SIGPIPE under pipefail)
grep -q "^1,2	1$" "$TMP/got-skip" || fail "good CSV rows were not kept under skip"
# A quote left open is skipped only on a file's last row: the lines after
# it may be inside the field (here "west,100,x" is), and would be read as
# rows. So a line after it fails the run, in the same read (.csv, .csv.gz)
# or in the next rank's range (qnlhalf.csv's open row spans the middle of
# the file: at 2 ranks and --split-size 0, rank 0's range ends with it).
printf 'region,price,note\nnorth,1,"see:\nwest,100,x\nend"\nsouth,2,x\n' > "$in/qnl.csv"
gzip -c "$in/qnl.csv" > "$in/qnlz.csv.gz"
python3 - "$in/qnlhalf.csv" <<'EOF2'
import sys
after = b"west,100,x\n" + b"".join(b"r%d,1,x\n" % i for i in range(20000))
head = b"region,price,note\na,1,"
before = head + b"x" * (len(after) - len(head) - 1) + b"\n"
open(sys.argv[1], "wb").write(before + b'n,1,"s\n' + after)
EOF2
for f in qnl.csv qnlz.csv.gz; do
  expect_fail "$f:2: malformed CSV row (byte offset 18): unterminated quoted field .*; not skipped: the lines after it" \
    groupby --input "$in/$f" --opt by=region --bad-records skip
done
expect_fail "qnlhalf.csv:3: .*not skipped" groupby --input "$in/qnlhalf.csv" --opt by=region --bad-records skip \
  --split-size 0
# The file's last row is skipped at any rank count, also when a rank's range
# ends inside it (it failed at 2 ranks, as if another piece's lines followed).
python3 -c 'import sys; open(sys.argv[1], "wb").write(b"region,price,note\nnorth,1,x\nsouth,2,x\nn,1,\"" + b"y" * 4000 + b"\n")' \
  "$in/qnllast.csv"
rm -rf "$TMP/qnllast"
mpimill_run "$ranks" -- run groupby --input "$in/qnllast.csv" --opt by=region --bad-records skip --split-size 0 \
  --output "$TMP/qnllast" > "$TMP/stdout" || fail "an open quote on the last row, under skip: $(cat "$TMP/stdout")"
grep -qw "bad_records_skipped=1" "$TMP/stdout" || fail "the last row's open quote was not skipped once: $(cat "$TMP/stdout")"
# A \r ending the file ends its last line, which is then exactly --max-record long.
python3 -c "import sys; open(sys.argv[1], 'wb').write(b'z' * (1 << 20) + b'\r')" "$in/crlast.txt"
mpimill_run "$ranks" -- run wordcount --input "$in/crlast.txt" --max-record 1M --output "$TMP/crlast" --quiet ||
  fail "a last line of exactly --max-record bytes ended by a \\r was refused"

# --max-record: a longer line or row is a bad record, in each reader; a
# gzip line or a quoted CSV row past it is not held whole, so a 48 MiB
# line costs no 48 MiB buffer (--memory 16M: the default limit of what
# readers copy is 4 MiB; plain text is mapped and has none by default).
python3 - "$in/long" <<'EOF'
import gzip, sys
body = b"a b\n" + b"x" * (2 << 20) + b"\nc d\n"
open(sys.argv[1] + ".txt", "wb").write(body)
open(sys.argv[1] + ".gz", "wb").write(gzip.compress(body, 1))
open(sys.argv[1] + ".csv", "wb").write(b'k,v\n1,"' + b"y\n" * (1 << 20) + b'"\n2,z\n')
open(sys.argv[1] + "row.csv.gz", "wb").write(gzip.compress(b"k,v\n1," + b"x" * (2 << 20) + b"\n2,z\n", 1))
open(sys.argv[1] + "48.gz", "wb").write(gzip.compress(b"a\n" + b"x" * (48 << 20) + b"\nb\n", 1))
# CRLF lines exactly as long as the limit (the \r\n is not counted): the
# text one at 1M, the gzip one at 2 MiB - 1 (a full read buffer ends in \r).
open(sys.argv[1] + "crlf.txt", "wb").write(b"x" * (1 << 20) + b"\r\nshort\r\n")
open(sys.argv[1] + "crlf.gz", "wb").write(gzip.compress(b"x" * ((2 << 20) - 1) + b"\r\nshort\r\n", 1))
EOF
mpimill_run "$ranks" -- run wordcount --input "$in/longcrlf.txt" --max-record 1M --output "$TMP/crlf1" --quiet ||
  fail "a CRLF line of exactly --max-record bytes was refused (text)"
mpimill_run "$ranks" -- run wordcount --input "$in/longcrlf.gz" --max-record 2097151 --output "$TMP/crlf2" --quiet ||
  fail "a CRLF line of exactly --max-record bytes was refused (gzip)"
expect_fail "long.txt: a record of 2097152 bytes at byte offset 4, longer than 1048576 (--max-record" \
  wordcount --input "$in/long.txt" --max-record 1M
expect_fail "long.gz:2: a line longer than 1048576 bytes (--max-record" wordcount --input "$in/long.gz" --max-record 1M
expect_fail "long.csv:2: malformed CSV row (byte offset 4): a row with quoted newlines longer than --max-record" \
  wordcount --input "$in/long.csv" --csv-quoted-newlines --max-record 1M
for f in long.txt long.gz long.csv; do
  rm -rf "$TMP/lim"
  mpimill_run "$ranks" -- run distinct --input "$in/$f" --csv-quoted-newlines --bad-records skip --max-record 1M \
    --output "$TMP/lim" > "$TMP/stdout"
  grep -qw "bad_records_skipped=1" "$TMP/stdout" || fail "$f: the long record was not skipped once: $(cat "$TMP/stdout")"
  output_of "$TMP/lim" > "$TMP/got-lim"
  [ "$(cut -c1-8 "$TMP/got-lim" | tr '\n' ' ')" = "$([ $f = long.csv ] && echo '2,z	1 ' || echo 'a b	1 c d	1 ')" ] ||
    fail "$f: the lines around the long one under skip: $(cut -c1-20 "$TMP/got-lim")"
done
# In a .csv.gz a long line is a row, skipped as one; with quoted newlines
# it is not skipped: read past unseen, it could end or open a quoted field.
rm -rf "$TMP/lim"
mpimill_run "$ranks" -- run distinct --input "$in/longrow.csv.gz" --bad-records skip --max-record 1M --output "$TMP/lim" \
  --opt column=k > "$TMP/stdout"
grep -q "bad_records_skipped=1" "$TMP/stdout" && [ "$(output_of "$TMP/lim")" = "2	1" ] ||
  fail "a long .csv.gz row under skip: $(cat "$TMP/stdout"; output_of "$TMP/lim")"
expect_fail "longrow.csv.gz:2: a line longer than 1048576 bytes (--max-record; not skipped: in CSV with quoted newlines" \
  wordcount --input "$in/longrow.csv.gz" --bad-records skip --csv-quoted-newlines --max-record 1M
mpimill_run "$ranks" -- run wordcount --input "$in/long.txt" --max-record 3M --output "$TMP/lim3" --quiet ||
  fail "a 2 MiB line under --max-record 3M was refused"
rm -rf "$TMP/lim"
mpimill_run "$ranks" -- run wordcount --input "$in/long48.gz" --memory 16M --bad-records skip --output "$TMP/lim" --quiet
python3 - "$TMP/lim/_SUCCESS" <<'EOF' || fail "a skipped 48 MiB gzip line was held in memory"
import json, sys
m = json.load(open(sys.argv[1]))
assert m["counters"]["bad_records_skipped"] == 1, m["counters"]
assert max(r["peak_rss"] for r in m["metrics"]["ranks"]) < 40 << 20, [r["peak_rss"] for r in m["metrics"]["ranks"]]
EOF

# ---- HDF5: rows of 1-D and 2-D datasets, cross-checked with h5dump ------------------
PY=$(h5py_python)
"$PY" - "$in/d.h5" "$in/notes.txt" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("ints", data=(np.arange(100003, dtype=np.int64) % 1000) - 300)
    f.create_dataset("grp/m", data=np.arange(7 * 5001, dtype=np.float32).reshape(5001, 7) % 64,
                     chunks=(1000, 7), compression="gzip")
    f.create_dataset("grp/u16", data=np.arange(5, dtype=np.uint16))
    f.create_dataset("names", data=np.array([b"ab", b"cd"]))
    f.create_dataset("nocols", data=np.zeros((5, 0)))
    f["soft"] = h5py.SoftLink("/grp/u16")
    f["hard"] = f["grp/u16"]
    f.create_dataset("lzf", data=np.arange(10.0), compression="lzf")  # a filter this HDF5 lacks
open(sys.argv[2], "w").write("not hdf5\n")
EOF
# h5dump's values, one per line -> rows, values, sum.
h5sum() { h5dump -d "$2" -y -w 0 "$1" | sed -n '/DATA {/,/}/p' | sed '1d;$d' | tr ', ' '\n\n' | grep -v '^$' |
          awk -v rows="$3" '{s += $1; n++} END {printf "rows\t%d\nsum\t%d\nvalues\t%d\n", rows, s, n}'; }
{ h5sum "$in/d.h5" /ints 100003; } > "$TMP/want-ints"
mpimill_run "$ranks" -- run "$ROWSTATS" --input "$in/d.h5:/ints" --output "$TMP/h5a" --quiet
output_of "$TMP/h5a" | cmp -s "$TMP/want-ints" - || { output_of "$TMP/h5a"; cat "$TMP/want-ints"; fail "HDF5 1-D rows differ from h5dump"; }
# The map phase's bytes are the rows read (8 bytes each here), with no line
# end counted per row (they were 12.5% too many).
python3 -c 'import json, sys; m = json.load(open(sys.argv[1]))["metrics"]["ranks"]
got = sum(r["phases"]["map"]["bytes"] for r in m); assert got == 8 * 100003, got' "$TMP/h5a/_SUCCESS" ||
  fail "HDF5 map bytes are not the rows read"
h5sum "$in/d.h5" /grp/m 5001 > "$TMP/want-m"
mpimill_run "$ranks" -- run "$ROWSTATS" --input "$in/d.h5:/grp/m" --output "$TMP/h5b" --quiet
output_of "$TMP/h5b" | cmp -s "$TMP/want-m" - || { output_of "$TMP/h5b"; cat "$TMP/want-m"; fail "HDF5 2-D rows differ from h5dump"; }
# Two datasets and a text file in one run.
mpimill_run "$ranks" -- run "$ROWSTATS" --input "$in/d.h5:/grp/u16" --input "$in/d.h5:/grp/m" \
  --input "$in/notes.txt" --output "$TMP/h5c" --quiet
[ "$(output_of "$TMP/h5c" | grep '^rows')" = "$(printf 'rows\t5007')" ] || fail "HDF5 + text rows: $(output_of "$TMP/h5c")"
# The manifest's input_bytes counts the HDF5 file once, not once per dataset.
want=$(($(stat -c %s "$in/d.h5") + $(stat -c %s "$in/notes.txt")))
python3 -c 'import json, sys; got = json.load(open(sys.argv[1]))["metrics"]["input_bytes"]; assert got == int(sys.argv[2]), got' \
  "$TMP/h5c/_SUCCESS" "$want" || fail "HDF5 + text: input_bytes is not $want"
# One dataset named twice, in two spellings, is read once.
mpimill_run "$ranks" -- run "$ROWSTATS" --input "$in/d.h5:/grp/u16" --input "$in/d.h5://grp//u16/" \
  --output "$TMP/h5d" --quiet 2> "$TMP/stderr"
[ "$(output_of "$TMP/h5d" | grep '^rows')" = "$(printf 'rows\t5')" ] &&
  grep -q "input $in/d.h5:/grp/u16 is listed twice: read once" "$TMP/stderr" ||
  fail "one dataset named twice: $(output_of "$TMP/h5d"), $(cat "$TMP/stderr")"
# ... and so is one dataset named through a soft and a hard link.
mpimill_run "$ranks" -- run "$ROWSTATS" --input "$in/d.h5:/grp/u16" --input "$in/d.h5:/soft" --input "$in/d.h5:/hard" \
  --output "$TMP/h5e" --quiet 2> "$TMP/stderr"
[ "$(output_of "$TMP/h5e" | grep '^rows')" = "$(printf 'rows\t5')" ] &&
  grep -q "input $in/d.h5:/soft is the same dataset as $in/d.h5:/grp/u16: read once" "$TMP/stderr" ||
  fail "one dataset named through links: $(output_of "$TMP/h5e"), $(cat "$TMP/stderr")"
# An external link names a dataset of another file, at the same address in
# its file as /x in x.h5: two datasets, both read.
"$PY" - "$in" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1] + "/e.h5", "w") as f:
    f.create_dataset("y", data=np.arange(7, dtype=np.uint16))
with h5py.File(sys.argv[1] + "/x.h5", "w") as f:
    f.create_dataset("x", data=np.arange(5, dtype=np.uint16))
    f["ext"] = h5py.ExternalLink("e.h5", "/y")
    assert h5py.h5o.get_info(f["x"].id).addr == h5py.h5o.get_info(f["ext"].id).addr
EOF
mpimill_run "$ranks" -- run "$ROWSTATS" --input "$in/x.h5:/x" --input "$in/x.h5:/ext" --output "$TMP/h5f" --quiet \
  2> "$TMP/stderr"
[ "$(output_of "$TMP/h5f" | grep '^rows')" = "$(printf 'rows\t12')" ] && [ ! -s "$TMP/stderr" ] ||
  fail "a dataset and an external link: $(output_of "$TMP/h5f"), $(cat "$TMP/stderr")"
# Errors every rank meets name no rank; HDF5's own cause is given.
expect_fail "error: input $in/d.h5:/missing: no dataset /missing" "$ROWSTATS" --input "$in/d.h5:/missing"
expect_fail "error: input $in/d.h5:/grp: /grp in .*d.h5 is a group, not a dataset" "$ROWSTATS" --input "$in/d.h5:/grp"
expect_fail "d.h5:/nocols: shape (5, 0): its rows hold no values" "$ROWSTATS" --input "$in/d.h5:/nocols"
head -c 4096 "$in/d.h5" > "$in/cut.h5"
expect_fail "cut.h5 with HDF5: truncated file: eof = 4096" "$ROWSTATS" --input "$in/cut.h5:/ints"
rm "$in/cut.h5"
# A selection that fails on one rank (fault.h's site 5): that rank stops
# reading, takes part in the collective close, and the job fails naming it.
if [ "$ranks" -gt 1 ]; then
  rc=0
  MPIMILL_FAULT_SITE=5 MPIMILL_FAULT_RANK=1 timeout 120 mpirun -q -n "$ranks" --oversubscribe \
    -x MPIMILL_FAULT_SITE -x MPIMILL_FAULT_RANK "$MPIMILL" run "$ROWSTATS" --input "$in/d.h5:/ints" \
    --output "$TMP/h5sel" --quiet 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] && grep -q "rank 1: input .*d.h5:/ints: reading rows .* failed" "$TMP/stderr" ||
    fail "HDF5 selection failing on rank 1: exit $rc (124: hung), $(cat "$TMP/stderr")"
fi
# A chunk index corrupt only in the last rank's rows (the last B-tree leaf's
# signature): that rank's read fails; the others once waited for ever in a
# collective H5Dread it had left.
"$PY" - "$in/bt.h5" <<'EOF'
import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("x", data=np.arange(100000, dtype="<f8"), chunks=(100,))
b = bytearray(open(sys.argv[1], "rb").read())
at = b.rindex(b"TREE")
b[at:at + 4] = b"XXXX"
open(sys.argv[1], "wb").write(b)
EOF
rc=0
timeout 120 mpirun -q -n "$ranks" --oversubscribe "$MPIMILL" run "$ROWSTATS" --input "$in/bt.h5:/x" \
  --output "$TMP/h5bt" --quiet 2> "$TMP/stderr" || rc=$?
who=$([ "$ranks" = 1 ] || echo "rank $((ranks - 1)): ")
[ "$rc" = 1 ] && grep -q "error: ${who}input .*bt.h5:/x: reading rows .* failed: wrong B-tree signature" "$TMP/stderr" &&
  [ "$(err_lines "$TMP/stderr")" = 1 ] && [ ! -e "$TMP/h5bt" ] ||
  fail "HDF5 chunk index corrupt in the last rank's rows: exit $rc (124: hung), $(cat "$TMP/stderr")"
expect_fail "d.h5:/names: unsupported type" "$ROWSTATS" --input "$in/d.h5:/names"
# Rows too wide for their sizes in bytes to be safe (2^61 values: the buffer's
# size wrapped to 0 and HDF5 wrote past it; the job was blamed for a SIGSEGV),
# or for one read (2^28 doubles, 2 GiB: the MPI-IO driver failed, "can't
# convert from size to size_i", where the docs allowed them).
"$PY" -c 'import sys, h5py
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("w", shape=(2, 2**61 + 1), chunks=(1, 1024), dtype="<f8")
    f.create_dataset("w28", shape=(2, 2**28), chunks=(1, 1024), dtype="<f8")' "$in/wide.h5"
expect_fail "wide.h5:/w: rows of 2305843009213693953 values are too wide (at most 268435455)" "$ROWSTATS" \
  --input "$in/wide.h5:/w"
expect_fail "wide.h5:/w28: rows of 268435456 values are too wide (at most 268435455)" "$ROWSTATS" \
  --input "$in/wide.h5:/w28"
expect_fail "notes.txt is not an HDF5 file" "$ROWSTATS" --input "$in/notes.txt:/x"
# (it named the plugin directory the search for the filter could not open)
expect_fail "d.h5:/lzf: reading rows .* failed: required filter 'lzf' is not registered" "$ROWSTATS" \
  --input "$in/d.h5:/lzf"
# ---- --format hdf5: one data.h5 in the commit, read back with h5py and h5dump ----
# Writes to data.h5 failing with EIO on the last rank only, at the first
# write or later (failwrite.so, preloaded): the job aborts naming the rank,
# commits nothing and does not hang (out of step, the ranks once waited in
# HDF5's collective calls for ever; Open MPI's ompio also reported the
# failed writes as done, so mpimill asks for ROMIO).
if [ "$ranks" -gt 1 ]; then
  for after in 0 2; do
    rc=0
    timeout 120 mpirun -q -n "$ranks" --oversubscribe -x LD_PRELOAD="$FAILWRITE" -x MILL_FAILWRITE_RANK=$((ranks - 1)) \
      -x MILL_FAILWRITE_AFTER=$after "$MPIMILL" run wordcount --input "$in/big.txt" --format hdf5 \
      --output "$TMP/h5eio" --quiet 2> "$TMP/stderr" || rc=$?
    grep -q "^mpimill: error: rank $((ranks - 1)): HDF5 output: MPI-IO on .*/data.h5 failed: .*input/output error" \
      "$TMP/stderr" && [ "$rc" != 0 ] && [ "$rc" != 124 ] && [ ! -e "$TMP/h5eio" ] ||
      fail "EIO writing data.h5 on the last rank after $after writes: exit $rc (124: hung), $(cat "$TMP/stderr")"
    "$MPIMILL" recover "$TMP/h5eio" > /dev/null || fail "recover after the EIO"
  done
fi
# A user who asks for ompio is warned that it hides failed writes.
OMPI_MCA_io=ompio mpimill_run "$ranks" -- run wordcount --input "$in/crlf.txt" --format hdf5 --output "$TMP/h5ompio" \
  --quiet 2> "$TMP/stderr" || fail "--format hdf5 under ompio: $(cat "$TMP/stderr")"
grep -q "^mpimill: warning: --format hdf5 under OMPI_MCA_io=ompio: .* hangs the job" "$TMP/stderr" ||
  fail "no warning for --format hdf5 under ompio: $(cat "$TMP/stderr")"
mpimill_run "$ranks" -- run wordcount --input "$in/big.txt" --input "$in/crlf.txt" --format hdf5 \
  --output "$TMP/h5out" --quiet
[ "$(ls "$TMP/h5out")" = "$(printf '_SUCCESS\ndata.h5')" ] || fail "--format hdf5 output: $(ls "$TMP/h5out")"
grep -q '"data.h5"' "$TMP/h5out/_SUCCESS" || fail "the manifest does not list data.h5"
"$PY" - "$TMP/h5out/data.h5" "$ranks" > "$TMP/got-h5" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
fmt = f.attrs["format"]
assert fmt in (b"mpimill-hdf5 1", "mpimill-hdf5 1"), fmt
assert int(f.attrs["ranks"][0]) == int(sys.argv[2])
kb, ko, v = f["key_bytes"][:].tobytes(), f["key_offsets"][:], f["values"][:]
assert len(ko) == len(v) + 1 and ko[-1] == len(kb) and int(f.attrs["records"][0]) == len(v)
assert sum(int(x) for x in f.attrs["per_rank"]) == len(v)
for d in ("key_bytes", "key_offsets", "values"):
    assert f[d].compression == "gzip" and f[d].chunks, d
for i in range(len(v)):
    sys.stdout.buffer.write(kb[ko[i]:ko[i + 1]] + b"\t" + str(int(v[i])).encode() + b"\n")
# The reduce phase's bytes are the keys and the raw values (they were 0).
import json, os
m = json.load(open(os.path.join(os.path.dirname(sys.argv[1]), "_SUCCESS")))
got = sum(r["phases"]["reduce"]["bytes"] for r in m["metrics"]["ranks"])
assert got == len(kb) + 8 * len(v), (got, len(kb) + 8 * len(v))
EOF
sort "$TMP/got-h5" | cmp -s "$TMP/want-mix" - || fail "--format hdf5 keys and values differ from the oracle"
h5dump -H "$TMP/h5out/data.h5" > "$TMP/h5dump" || fail "h5dump cannot read data.h5"
for d in key_bytes key_offsets values; do grep -q "DATASET \"$d\"" "$TMP/h5dump" || fail "h5dump: no /$d"; done
grep -q 'H5T_STD_U64LE' "$TMP/h5dump" || fail "h5dump: values are not u64"
# A bytes-valued job (grep): /value_bytes + /value_offsets equal the text parts.
mpimill_run "$ranks" -- run grep --opt pattern='^a' --input "$in/big.txt" --output "$TMP/grep-text" --quiet
mpimill_run "$ranks" -- run grep --opt pattern='^a' --input "$in/big.txt" --format hdf5 --output "$TMP/grep-h5" --quiet
"$PY" - "$TMP/grep-h5/data.h5" > "$TMP/got-grep" <<'EOF'
import sys, h5py
f = h5py.File(sys.argv[1], "r")
kb, ko = f["key_bytes"][:].tobytes(), f["key_offsets"][:]
vb, vo = f["value_bytes"][:].tobytes(), f["value_offsets"][:]
assert len(ko) == len(vo) and vo[-1] == len(vb)
for i in range(len(ko) - 1):
    sys.stdout.buffer.write(kb[ko[i]:ko[i + 1]] + b"\t" + vb[vo[i]:vo[i + 1]] + b"\n")
EOF
output_of "$TMP/grep-text" > "$TMP/want-grep"
[ -s "$TMP/want-grep" ] || fail "grep found nothing"
sort "$TMP/got-grep" | cmp -s "$TMP/want-grep" - || fail "--format hdf5 bytes values differ from the text output"
# An output larger than a round (4 MiB per rank and dataset) is written in
# several collective rounds, a rank with fewer rounds selecting nothing in
# the last ones: 1.2 M keys, 9.6 MB of key bytes and as much of offsets.
awk 'BEGIN { for (i = 1; i <= 1200000; i++) printf "k%07d\n", i }' > "$TMP/many.txt"
mpimill_run "$ranks" -- run wordcount --input "$TMP/many.txt" --format hdf5 --output "$TMP/h5many" --quiet
"$PY" - "$TMP/h5many/data.h5" <<'EOF' || fail "--format hdf5 in several rounds: keys or counts differ"
import sys, h5py
f = h5py.File(sys.argv[1], "r")
kb, ko, v = f["key_bytes"][:].tobytes(), f["key_offsets"][:], f["values"][:]
assert len(v) == 1200000 and len(ko) == 1200001 and ko[0] == 0 and ko[-1] == len(kb) == 9600000, (len(v), len(kb))
assert (v == 1).all()
keys = sorted(kb[ko[i]:ko[i + 1]] for i in range(len(v)))
assert keys == [b"k%07d" % i for i in range(1, 1200001)]
EOF
rm -rf "$TMP/many.txt" "$TMP/h5many"
rc=0; mpimill_run "$ranks" -- run wordcount --input "$in/big.txt" --format hdf5 --compress gzip \
  --output "$TMP/h5bad" 2> "$TMP/stderr" || rc=$?
[ "$rc" = 2 ] && grep -q "compress is for --format text" "$TMP/stderr" || fail "--format hdf5 --compress gzip: exit $rc"
# An HDF5 write that fails on one rank only (fault.h's site 4: H5Dwrite
# made, then reported failed) fails the job with one line on every rank,
# nothing committed; the ranks used to part ways at the attributes and
# wait in H5Fclose for ever.
# (It hung with a small output and rank 1 failing; not with big.txt.)
if [ "$ranks" -gt 1 ]; then
  rc=0
  seq 1 800 > "$TMP/small.txt"
  MPIMILL_FAULT_SITE=4 MPIMILL_FAULT_RANK=1 timeout 120 mpirun -q -n "$ranks" --oversubscribe \
    -x MPIMILL_FAULT_SITE -x MPIMILL_FAULT_RANK "$MPIMILL" run wordcount --input "$TMP/small.txt" --format hdf5 \
    --output "$TMP/h5fail" --quiet 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] && grep -q "rank 1: HDF5 output: writing the datasets of .* failed" "$TMP/stderr" ||
    fail "HDF5 write failing on one rank: exit $rc (124: hung), $(cat "$TMP/stderr")"
  [ ! -e "$TMP/h5fail" ] || fail "HDF5 write failing on one rank: output committed"
  "$MPIMILL" recover "$TMP/h5fail" > /dev/null || fail "recover after the aborted HDF5 write failed"
  check_no_leftovers "$TMP/h5fail"
fi
# A full filesystem under --format hdf5: the write failed with ENOSPC inside
# HDF5, whose ranks then waited in H5Fclose for ever. Room for the file is
# now reserved first, and the job stops there, naming the cause. As root,
# on a small tmpfs.
mkdir "$TMP/full"
if mount_tmpfs "$TMP/full" 256k; then
  rc=0
  timeout 120 mpirun -q -n "$ranks" --oversubscribe "$MPIMILL" run wordcount --input "$in/big.txt" --format hdf5 \
    --output "$TMP/full/o" --quiet 2> "$TMP/stderr" || rc=$?
  "$MPIMILL" recover "$TMP/full/o" > /dev/null 2>&1 || true
  leftovers=$(ls -A "$TMP/full")
  umount "$TMP/full"
  [ "$rc" = 1 ] && grep -q "HDF5 output: .*data.h5 needs up to .* MiB, more than its filesystem has" "$TMP/stderr" ||
    fail "HDF5 output on a full filesystem: exit $rc (124: hung), $(cat "$TMP/stderr")"
  [ -z "$leftovers" ] || fail "HDF5 output on a full filesystem left: $leftovers"
  # A small output fits a small filesystem (the room asked was at least 1 MiB).
  mount -t tmpfs -o size=512k tmpfs "$TMP/full"
  printf 'a b c\n' > "$TMP/tiny.txt"
  rc=0; timeout 120 mpirun -q -n "$ranks" --oversubscribe "$MPIMILL" run wordcount --input "$TMP/tiny.txt" --format hdf5 \
    --output "$TMP/full/o" --quiet 2> "$TMP/stderr" || rc=$?
  "$MPIMILL" verify "$TMP/full/o" > /dev/null 2>&1 || rc=verify
  umount "$TMP/full"
  [ "$rc" = 0 ] || fail "a tiny HDF5 output on a 512 KiB filesystem: $rc $(cat "$TMP/stderr")"
fi
rmdir "$TMP/full"
echo "io end to end at $ranks ranks: ok"
