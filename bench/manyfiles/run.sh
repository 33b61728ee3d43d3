#!/usr/bin/env bash
# run.sh [FILES] [BUILD_DIR] [RANKS] -- many small inputs: per-file work
# against its baselines, at FILES (default 20000) and 4x FILES, in one run,
# with RANKS ranks (default 2; more are oversubscribed: every rank of a node
# places all the whole files, so per-rank costs show at 16 or 32).
#
# wordcount over FILES gzip files whose sizes rise with their names (whole
# files are placed on ranks largest first: a placement that sorts them in
# n^2 shows here), beside `zcat | wc -w`; the same words as FILES plain
# text files, beside `cat | wc -w`; groupby over FILES CSV files of
# two rows (the CSV columns are resolved per file), beside awk. Linear
# per-file work makes the 4x / 1x column near 4; quadratic near 16.
# Prints wall seconds, and mpimill's time over the baseline's.
set -euo pipefail
n=${1:-20000}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build/release}
ranks=${3:-2}
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
awk=$(command -v mawk || command -v awk)
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
secs() { local t0 t1; t0=$(date +%s.%N); "$@" > /dev/null; t1=$(date +%s.%N); div "$t1 - $t0" 1; }
div() { awk "BEGIN { print ($1) / ($2) }"; }
mill() { rm -rf "$d/out"; mpirun -q --oversubscribe -n "$ranks" "$build/bin/mpimill" run "$@" --output "$d/out" --quiet; }
zwc() { find "$d/gz" -name '*.gz' -exec zcat {} + | wc -w; }
twc() { find "$d/txt" -name '*.txt' -exec cat {} + | wc -w; }
agg() { find "$d/csv" -name '*.csv' -exec "$awk" -F, 'FNR > 1 { s[$1] += $2 } END { for (k in s) print k "\t" s[k] }' {} +; }
printf '%-9s %9s %11s %11s %8s\n' job files "mpimill s" "baseline s" ratio
declare -A t
for m in 1 4; do
  k=$((n * m))
  rm -rf "$d/gz" "$d/txt" "$d/csv"
  mkdir "$d/gz" "$d/txt" "$d/csv"
  python3 - "$d" "$k" <<'PY'
import gzip, random, sys
d, n = sys.argv[1], int(sys.argv[2])
r = random.Random(1)
for i in range(n):
    words = " ".join("%x" % r.getrandbits(32) for _ in range(1 + i * 20 // n))
    with open("%s/gz/f%07d.gz" % (d, i), "wb") as f:
        f.write(gzip.compress(words.encode() + b"\n", mtime=0))
    with open("%s/txt/f%07d.txt" % (d, i), "w") as f:
        f.write(words + "\n")
    with open("%s/csv/f%07d.csv" % (d, i), "w") as f:
        f.write("k,v\nk%d,%d\n" % (i % 5, i))
PY
  a=$(secs mill wordcount --input "$d/gz")
  b=$(secs zwc)
  printf '%-9s %9d %11.2f %11.2f %8.2f\n' wc-gz "$k" "$a" "$b" "$(div "$a" "$b")"
  t[wc-gz$m]=$a
  a=$(secs mill wordcount --input "$d/txt")
  b=$(secs twc)
  printf '%-9s %9d %11.2f %11.2f %8.2f\n' wc-txt "$k" "$a" "$b" "$(div "$a" "$b")"
  t[wc-txt$m]=$a
  a=$(secs mill groupby --input "$d/csv" --opt by=k --opt agg=sum:v)
  b=$(secs agg)
  printf '%-9s %9d %11.2f %11.2f %8.2f\n' groupby "$k" "$a" "$b" "$(div "$a" "$b")"
  t[groupby$m]=$a
done
echo
for j in wc-gz wc-txt groupby; do
  printf '%s: 4x the files took %.1fx the time (linear: ~4; quadratic: ~16)\n' "$j" "$(div "${t[${j}4]}" "${t[${j}1]}")"
done
