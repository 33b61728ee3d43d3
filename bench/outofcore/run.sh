#!/usr/bin/env bash
# run.sh [SIZE] [MEMORY] [BUILD_DIR] -- out-of-core word count beside the in-memory one.
#
# Generates a high-cardinality corpus (SIZE, default 1G; 20 million distinct
# words, Zipf 0.8, kept in bench/data/), then runs the same 2-rank word count
# with the default memory budget and with --memory MEMORY (default 256M), and
# prints wall time, peak RSS and spilled bytes per rank, and the throughput
# ratio. The two outputs must be identical.
set -euo pipefail
size=${1:-1G} mem=${2:-256M}
here=$(cd "$(dirname "$0")" && pwd)
build=${3:-$here/../../build/release}
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=$here/../data
mkdir -p "$data"
file=$data/hc-$size.txt
[ -s "$file" ] || { echo "generating $file"; "$build/bin/mill-gen" --bytes "$size" --seed 9 --vocab 20000000 --zipf 0.8 "$file"; }
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat "$file" > /dev/null

run() { # NAME ARGS...
  local name=$1; shift
  /usr/bin/time -f "%e" -o "$out/$name.time" mpirun -q -n 2 "$build/bin/mpimill" run wordcount \
    --input "$file" --output "$out/$name" --quiet "$@"
}
run inmem
run ooc --memory "$mem" --tmp "$out"
cmp -s <(cat "$out"/inmem/part-* | sort) <(cat "$out"/ooc/part-* | sort) || { echo "outputs differ"; exit 1; }
python3 - "$out" "$mem" <<'PY'
import json, sys
out, mem = sys.argv[1], sys.argv[2]
rows = {}
for name in ("inmem", "ooc"):
    m = json.load(open(f"{out}/{name}/_SUCCESS"))["metrics"]
    t = float(open(f"{out}/{name}.time").read().split()[0])
    rows[name] = (t, max(r["peak_rss"] for r in m["ranks"]) / 2**20, max(r["spill_bytes"] for r in m["ranks"]) / 2**20, m["keys_out"])
print(f"{'run':<26}{'seconds':>9}{'peak RSS MiB/rank':>19}{'spilled MiB/rank':>18}{'keys':>12}")
for name, label in (("inmem", "default budget"), ("ooc", f"--memory {mem}")):
    t, rss, sp, k = rows[name]
    print(f"{label:<26}{t:>9.2f}{rss:>19.0f}{sp:>18.0f}{k:>12}")
print(f"out-of-core throughput / in-memory = {rows['inmem'][0] / rows['ooc'][0]:.2f}x   (goal >= 0.50x)")
PY
