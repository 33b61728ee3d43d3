#!/usr/bin/env bash
# bench_io.sh [BUILD_DIR] [MIB]: mpimill's readers against their baselines,
# one core each, warm page cache, best of 3 runs:
#   text  mill__read_all over a text file   vs  cat FILE > /dev/null
#   gzip  the gzip line reader               vs  zcat FILE > /dev/null
#   hdf5  read of a f64 dataset (hdf5in.c)  vs  pread of the dataset's bytes
# Prints MiB/s of both and the ratio (goals: text >= 0.80, gzip >= 0.90,
# hdf5 >= 0.80). Also the readers at 2 ranks (MiB/s, all ranks together).
set -euo pipefail
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build-io}
mib=${2:-256}
bin=$build/bench/io/bench_read
gen=$build/bin/mill-gen
[ -x "$bin" ] || { echo "build bench_read first: cmake --build $build --target bench_read mill_gen" >&2; exit 1; }
dir=$(mktemp -d /tmp/mill-bench-io.XXXXXX)
trap 'rm -rf "$dir"' EXIT
PY=; for p in python3 /usr/bin/python3; do "$p" -c 'import h5py' 2>/dev/null && { PY=$p; break; }; done

"$gen" --bytes "${mib}M" --seed 5 "$dir/t.txt" >/dev/null
gzip -6 -c "$dir/t.txt" > "$dir/t.gz"
size=$(stat -c %s "$dir/t.txt")

best() { sort -n | head -1; }
# secs CMD...: best wall time of 3 runs of a shell command.
secs() { for i in 1 2 3; do /usr/bin/time -f %e "$@" 2>&1 >/dev/null | tail -1; done | best; }
# mill N INPUT...: best seconds of 3 bench_read runs at N ranks.
mill() { local n=$1; shift; for i in 1 2 3; do mpirun -q -n "$n" --oversubscribe "$bin" "$@" | cut -d' ' -f1; done | best; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", b / a}'; }     # ratio MILL_SECS BASE_SECS: speed of mill / speed of base
rate() { awk -v s="$1" -v b="$2" 'BEGIN {printf "%.0f", b / s / 1048576}'; }
row() { printf '%-5s %8s MiB/s  %-26s %8s MiB/s  ratio %s  (2 ranks: %s MiB/s)\n' "$1" "$(rate "$3" "$5")" "$2" \
               "$(rate "$4" "$5")" "$(ratio "$3" "$4")" "$(rate "$6" "$5")"; }

cat "$dir/t.txt" "$dir/t.gz" > /dev/null   # warm the cache
t_cat=$(secs cat "$dir/t.txt"); t_txt=$(mill 1 "$dir/t.txt"); t_txt2=$(mill 2 "$dir/t.txt")
row text "cat" "$t_txt" "$t_cat" "$size" "$t_txt2"
t_zcat=$(secs zcat "$dir/t.gz"); t_gz=$(mill 1 "$dir/t.gz")
cp "$dir/t.gz" "$dir/u.gz"; t_gz2=$(mill 2 "$dir/t.gz" "$dir/u.gz")
row gzip "zcat" "$t_gz" "$t_zcat" "$size" "$(awk -v t="$t_gz2" 'BEGIN {print t / 2}')"

if [ -n "$PY" ]; then
  off_len=$("$PY" - "$dir/d.h5" "$mib" <<'PY'
import sys, h5py, numpy as np
n = int(sys.argv[2]) * 1048576 // 8
with h5py.File(sys.argv[1], "w") as f:
    d = f.create_dataset("x", data=np.arange(n, dtype=np.float64).reshape(n // 4, 4))
    print(d.id.get_offset(), n * 8)
PY
)
  cat "$dir/d.h5" > /dev/null
  t_raw=$(mill 1 --raw "$dir/d.h5" $off_len); t_h5=$(mill 1 "$dir/d.h5:/x"); t_h52=$(mill 2 "$dir/d.h5:/x")
  row hdf5 "pread of the same bytes" "$t_h5" "$t_raw" "${off_len#* }" "$t_h52"
else
  echo "hdf5  skipped: no python3 with h5py"
fi
