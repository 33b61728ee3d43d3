#!/usr/bin/env bash
# run.sh [LINES] [BUILD_DIR] -- one hot key: list-building jobs against their
# baselines, at LINES (default 1000000) and 4x LINES, in one run.
#
# invindex over LINES lines of the one word "a" (one posting list of LINES
# entries), beside a Python dict-of-lists index; the same lines as two
# files, given against the output's bytewise order (z.txt, then a.txt: every
# posting of the second comes before the list's last); join of LINES left rows
# under one key with one right row, beside coreutils `join`. A combine that
# copies the list at every append grows as LINES^2 (the 4x / 1x column near
# 16); one that appends in place (mill_value_resize) as LINES (near 4).
# Prints wall seconds, and mpimill's time over the baseline's.
set -euo pipefail
n=${1:-1000000}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build/release}
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); div "$t1 - $t0" 1; }
div() { awk "BEGIN { print ($1) / ($2) }"; }
mill() { rm -rf "$d/out"; mpirun -q -n 2 "$build/bin/mpimill" run "$@" --output "$d/out" --quiet; }
printf '%-9s %9s %11s %11s %8s\n' job lines "mpimill s" "baseline s" ratio
declare -A t
for m in 1 4; do
  k=$((n * m))
  { yes a || true; } | head -n "$k" > "$d/hot.txt"
  { echo id,v; seq -f '1,%08g' "$k"; } > "$d/l.csv"
  printf 'id,name\n1,x\n2,y\n' > "$d/r.csv"
  a=$(secs mill invindex --input "$d/hot.txt")
  b=$(secs python3 -c 'import sys
ix = {}
for i, l in enumerate(open(sys.argv[1]), 1):
    for w in set(l.split()): ix.setdefault(w, []).append(i)
print(sum(len(v) for v in ix.values()))' "$d/hot.txt")
  printf '%-9s %9d %11.2f %11.2f %8.2f\n' invindex "$k" "$a" "$b" "$(div "$a" "$b")"
  t[invindex$m]=$a
  head -n "$((k / 2))" "$d/hot.txt" > "$d/z.txt"
  cp "$d/z.txt" "$d/a.txt"
  a=$(secs mill invindex --input "$d/z.txt" --input "$d/a.txt")
  b=$(secs python3 -c 'import sys
ix = {}
for f in sys.argv[1:]:
    for i, l in enumerate(open(f), 1):
        for w in set(l.split()): ix.setdefault(w, []).append((f, i))
print(sum(len(sorted(v)) for v in ix.values()))' "$d/z.txt" "$d/a.txt")
  printf '%-9s %9d %11.2f %11.2f %8.2f\n' inv-z,a "$k" "$a" "$b" "$(div "$a" "$b")"
  t[inv-z,a$m]=$a
  a=$(secs mill join --input "$d/l.csv" --input "$d/r.csv" --opt left="$d/l.csv" --opt right="$d/r.csv" --opt on=id)
  b=$(secs join -t, "$d/l.csv" "$d/r.csv")
  printf '%-9s %9d %11.2f %11.2f %8.2f\n' join "$k" "$a" "$b" "$(div "$a" "$b")"
  t[join$m]=$a
done
echo
for j in invindex inv-z,a join; do
  printf '%s: 4x the lines took %.1fx the time (in place: ~4; copying the list: ~16)\n' "$j" \
    "$(div "${t[${j}4]}" "${t[${j}1]}")"
done
