#!/usr/bin/env bash
# run.sh [BUILD_DIR] -- peak RSS per rank against the --memory budget, for the
# shapes of work that used to pass it.
#
# Each case runs at 2 ranks with a small --memory and prints the largest
# rank's peak RSS (from the manifest) beside the goal, budget + 64 MiB, as a
# ratio (goal: <= 1.00):
#   - one long line: a 27 MB line of 3 M words, one map call (--memory 16M);
#   - a histogram of 1 000 000 bins over 2 M values (--memory 16M), whose
#     bin names are the job's own memory, outside the budget;
#   - --format hdf5 output of 5 M distinct keys (--memory 64M);
#   - the same keys as text parts, the baseline of the HDF5 case.
# Data is generated into a scratch directory (about 200 MB) and removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../../build/release}
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
PY=python3
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import h5py' 2>/dev/null; then PY=$p; break; fi
done
"$PY" - "$out" <<'EOF'
import random, sys, h5py, numpy as np
d = sys.argv[1]
r = random.Random(3)
open(f"{d}/line.txt", "w").write(" ".join("w%07d" % r.randrange(3000000) for _ in range(3000000)) + "\n")
h5py.File(f"{d}/x.h5", "w").create_dataset("x", data=np.random.default_rng(1).uniform(0, 1, 2000000))
with open(f"{d}/keys.txt", "w") as f:
    for i in range(5000000):
        f.write("key-%010d\n" % i)
EOF
run() { # NAME MEMORY ARGS...
  local name=$1 mem=$2; shift 2
  mpirun -q -n 2 "$build/bin/mpimill" run "$@" --output "$out/$name" --memory "$mem" --tmp "$out" --quiet
  "$PY" - "$out/$name/_SUCCESS" "$name" "$mem" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))["metrics"]
mem = int(sys.argv[3][:-1]) * 2**20
rss = max(r["peak_rss"] for r in m["ranks"])
print(f"{sys.argv[2]:<22}{sys.argv[3]:>9}{rss / 2**20:>12.0f}{(mem + 2**26) / 2**20:>10.0f}{rss / (mem + 2**26):>9.2f}")
EOF
}
printf '%-22s%9s%12s%10s%9s\n' case memory "peak MiB" "goal MiB" ratio
run one-long-line 16M wordcount --input "$out/line.txt"
run histogram-1M-bins 16M histogram --input "$out/x.h5:/x" --opt bins=1000000 --opt min=0 --opt max=1
run hdf5-5M-keys 64M wordcount --input "$out/keys.txt" --format hdf5
run text-5M-keys 64M wordcount --input "$out/keys.txt"
