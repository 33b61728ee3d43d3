#!/usr/bin/env bash
# per-byte.sh [SMALL] [LARGE] [BUILD_DIR] [REPEAT] -- 4 ranks against 2, per byte.
#
# The goal "4 ranks (oversubscribed on 2 cores) no slower than 2, per byte"
# is about the time each byte costs, not the fixed costs of a run (starting
# the ranks, the commit). This times word count at 2 and 4 ranks over two
# Zipf corpora, SMALL (default 1G) and LARGE (default 4G), made by mill-gen
# and kept in bench/data/, REPEAT times (default 4), the four runs
# interleaved; each figure is a median. The time per byte is the slope
# between the two sizes: (t(LARGE) - t(SMALL)) / (LARGE - SMALL) bytes, in
# which whatever a run costs whatever its input cancels out.
set -euo pipefail
small=${1:-1G} large=${2:-4G}
here=$(cd "$(dirname "$0")" && pwd)
build=${3:-$here/../../build/release}
reps=${4:-4}
mpimill=$build/bin/mpimill
[ -x "$mpimill" ] || { echo "per-byte.sh: build first (./run build), or pass the build directory" >&2; exit 2; }
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=$here/../data
mkdir -p "$data"
for s in "$small" "$large"; do
  [ -s "$data/zipf-$s.txt" ] || { echo "generating $data/zipf-$s.txt"; "$build/bin/mill-gen" --bytes "$s" --seed 42 "$data/zipf-$s.txt"; }
done
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
. "$here/../lib.sh" # measure

for i in $(seq "$reps"); do
  for s in "$small" "$large"; do
    f=$data/zipf-$s.txt
    cat "$f" > /dev/null # in the page cache, as for every run
    measure "2.$s.$i" mpirun -q -n 2 "$mpimill" run wordcount --input "$f" --output "$out/o" --quiet
    rm -rf "$out/o"
    measure "4.$s.$i" mpirun -q -n 4 --oversubscribe "$mpimill" run wordcount --input "$f" --output "$out/o" --quiet
    rm -rf "$out/o"
  done
done
t() { cat "$out/$1".*.time | cut -d' ' -f1 | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
bytes() { stat -c %s "$data/zipf-$1.txt"; }
printf '\nword count, %s cores; times: median of %s\n\n' "$(nproc)" "$reps"
printf '%-8s %12s %12s\n' ranks "$small s" "$large s"
for n in 2 4; do printf '%-8s %12s %12s\n' "$n" "$(t "$n.$small")" "$(t "$n.$large")"; done
awk -v a2="$(t "2.$small")" -v b2="$(t "2.$large")" -v a4="$(t "4.$small")" -v b4="$(t "4.$large")" \
    -v d="$(( $(bytes "$large") - $(bytes "$small") ))" 'BEGIN {
  printf "\nper GiB between the sizes: 2 ranks %.3f s, 4 ranks %.3f s\n", (b2 - a2) / d * 2^30, (b4 - a4) / d * 2^30
  printf "4 ranks / 2 ranks per byte = %.2fx   (goal <= 1.00x)\n", (b4 - a4) / (b2 - a2)
  printf "4 ranks / 2 ranks, whole runs: %.2fx at the small size, %.2fx at the large\n", a4 / a2, b4 / b2
}'
# The same ratio within each repeat (its four runs back to back): how far
# the machine's drift moves it.
for i in $(seq "$reps"); do
  r() { cut -d' ' -f1 "$out/$1.$i.time"; }
  awk -v a2="$(r "2.$small")" -v b2="$(r "2.$large")" -v a4="$(r "4.$small")" -v b4="$(r "4.$large")" \
      'BEGIN { printf "%.3f\n", (b4 - a4) / (b2 - a2) }'
done | sort -n | awk '{ v[NR] = $1 } END { printf "per repeat: %d ratios, min %.2fx, median %.2fx, max %.2fx\n", NR, v[1], v[int((NR + 1) / 2)], v[NR] }'
