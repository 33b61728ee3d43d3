#!/usr/bin/env bash
# run.sh [SIZE] [BUILD_DIR] [REPEAT] -- word count, mpimill beside its baselines, in one run.
#
# Generates a Zipf corpus of SIZE (default 1G) with mill-gen (kept in
# bench/data/ for the next run), then times, back to back on the same file:
#   cat FILE > /dev/null          (reading the bytes)
#   LC_ALL=C wc -w FILE           (counting words only, one process)
#   mawk word count               (a real word count, one process)
#   mpimill wordcount, 2 ranks    (text output, committed)
#   mpimill wordcount, 4 ranks    (oversubscribed on 2 cores)
#   the same two with --split-size 0 (each rank reads exactly its equal
#   share: the node's ranks do not share pieces, io/share.c)
#   the same two with --mca pml ob1 (Open MPI's shared-memory/TCP messaging
#   chosen up front: by default it first probes UCX, ~0.25 s per run here)
#   a bare MPI program (bench_alltoallv moving nothing) at 2 and 4 ranks:
#   what starting that many ranks costs before any job runs
# and prints wall time, peak RSS per process, and the ratios the goals use.
# This machine's speed drifts from minute to minute, so `wc -w` and the four
# mpimill runs go round REPEAT times (default 3), interleaved, and each
# figure is the median of its REPEAT times; cat and mawk run once.
set -euo pipefail
size=${1:-1G}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build/release}
reps=${3:-3}
mpimill=$build/bin/mpimill
gen=$build/bin/mill-gen
bare=$build/bench/shuffle/bench_alltoallv
[ -x "$mpimill" ] || { echo "run.sh: build first (./run build), or pass the build directory" >&2; exit 2; }
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=$here/../data
mkdir -p "$data"
file=$data/zipf-$size.txt
[ -s "$file" ] || { echo "generating $file"; "$gen" --bytes "$size" --seed 42 "$file"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat "$file" > /dev/null # warm the page cache

. "$here/../lib.sh" # measure, rss_per_rank

measure cat.1 cat "$file"
measure mawk.1 mawk '{ for (i = 1; i <= NF; i++) c[$i]++ } END { for (w in c) print w "\t" c[w] }' "$file"
for i in $(seq "$reps"); do
  measure wc.$i wc -w "$file"
  measure mill2.$i mpirun -q -n 2 "$mpimill" run wordcount --input "$file" --output "$out/w2.$i" --quiet
  measure mill4.$i mpirun -q -n 4 --oversubscribe "$mpimill" run wordcount --input "$file" --output "$out/w4.$i" --quiet
  measure st2.$i mpirun -q -n 2 "$mpimill" run wordcount --input "$file" --output "$out/s2.$i" --quiet --split-size 0
  measure st4.$i mpirun -q -n 4 --oversubscribe "$mpimill" run wordcount --input "$file" --output "$out/s4.$i" --quiet \
    --split-size 0
  measure ob2.$i mpirun -q -n 2 --mca pml ob1 "$mpimill" run wordcount --input "$file" --output "$out/o2.$i" --quiet
  measure ob4.$i mpirun -q -n 4 --oversubscribe --mca pml ob1 "$mpimill" run wordcount --input "$file" --output "$out/o4.$i" --quiet
  measure bare2.$i mpirun -q -n 2 "$bare" 0 0 1
  measure bare4.$i mpirun -q -n 4 --oversubscribe "$bare" 0 0 1
done

# The result is checked, not only timed.
sort "$out/mawk.1.stdout" > "$out/mawk.sorted"
cat "$out"/w2.1/part-* | sort | cmp -s - "$out/mawk.sorted" || { echo "mpimill (2 ranks) differs from mawk"; exit 1; }

t() { cat "$out/$1".*.time | cut -d' ' -f1 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
m() { cut -d' ' -f2 "$out/$1.1.time"; }
printf '\nword count of %s (%s bytes), %s cores; times: median of %s\n\n' "$(basename "$file")" \
  "$(stat -c %s "$file")" "$(nproc)" "$reps"
printf '%-28s %9s %14s\n' "run" "seconds" "peak RSS MiB"
printf '%-28s %9s %14s\n' "cat > /dev/null" "$(t cat)" "$(( $(m cat) / 1024 ))"
printf '%-28s %9s %14s\n' "wc -w (counts only)" "$(t wc)" "$(( $(m wc) / 1024 ))"
printf '%-28s %9s %14s\n' "mawk word count" "$(t mawk)" "$(( $(m mawk) / 1024 ))"
printf '%-28s %9s %14s\n' "mpimill, 2 ranks" "$(t mill2)" "$(( $(rss_per_rank "$out/w2.1") / 1024 )) per rank"
printf '%-28s %9s %14s\n' "mpimill, 4 ranks (oversub.)" "$(t mill4)" "$(( $(rss_per_rank "$out/w4.1") / 1024 )) per rank"
printf '%-28s %9s %14s\n' "mpimill, 2 ranks, static" "$(t st2)" "$(( $(rss_per_rank "$out/s2.1") / 1024 )) per rank"
printf '%-28s %9s %14s\n' "mpimill, 4 ranks, static" "$(t st4)" "$(( $(rss_per_rank "$out/s4.1") / 1024 )) per rank"
printf '%-28s %9s %14s\n' "mpimill, 2 ranks, pml ob1" "$(t ob2)" "$(( $(rss_per_rank "$out/o2.1") / 1024 )) per rank"
printf '%-28s %9s %14s\n' "mpimill, 4 ranks, pml ob1" "$(t ob4)" "$(( $(rss_per_rank "$out/o4.1") / 1024 )) per rank"
printf '%-28s %9s\n' "bare MPI start, 2 ranks" "$(t bare2)"
printf '%-28s %9s\n' "bare MPI start, 4 ranks" "$(t bare4)"
echo
awk -v w="$(t wc)" -v a="$(t mawk)" -v m2="$(t mill2)" -v m4="$(t mill4)" -v o2="$(t ob2)" -v o4="$(t ob4)" \
    -v b2="$(t bare2)" -v b4="$(t bare4)" -v s2="$(t st2)" -v s4="$(t st4)" 'BEGIN {
  printf "mpimill 2 ranks / wc -w        = %.2fx   (goal <= 0.30x; pml ob1: %.2fx)\n", m2 / w, o2 / w
  printf "mpimill 2 ranks / mawk         = %.2fx\n", m2 / a
  printf "mpimill 4 ranks / 2 ranks      = %.2fx   (goal <= 1.00x per byte; pml ob1: %.2fx)\n", m4 / m2, o4 / o2
  printf "  the same, each less its bare MPI start = %.2fx\n", (m4 - b4) / (m2 - b2)
  printf "  with --split-size 0 (no sharing)       = %.2fx\n", s4 / s2
  printf "mpimill shared / static pieces = %.2fx at 2 ranks, %.2fx at 4\n", m2 / s2, m4 / s4
}'
python3 - "$out/w2.1/_SUCCESS" <<'PY'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
print("phase imbalance (max/mean), 2 ranks:", ", ".join(f"{k} {v:.2f}" for k, v in m["imbalance"].items()))
for r in m["ranks"]:
    ph = r["phases"]
    print(f"  rank {r['rank']}: " + ", ".join(f"{k} {v['end'] - v['start']:.2f} s" for k, v in ph.items()))
PY
