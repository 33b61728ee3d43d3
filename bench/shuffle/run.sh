#!/usr/bin/env bash
# run.sh [SIZE] [BUILD_DIR] -- the shuffle beside a bare MPI_Alltoallv of the same bytes.
#
# Runs a 2-rank word count over two corpora of SIZE (default 1G, made by
# mill-gen and kept in bench/data/): the Zipf corpus of bench/wordcount (few
# distinct words: a small shuffle) and the high-cardinality corpus of
# bench/outofcore (20 million distinct words: a large one). For each, from
# the manifest's metrics, per rank:
#   bytes to other ranks / ideal  (ideal: the key and value bytes alone of
#                                  the records that change rank)
#   the shuffle phase and its parts: packing the map table by owner, the
#   MPI_Alltoallv calls, and the rest (mostly parsing and combining what
#   arrives into the owner's table); the phase and its MPI_Alltoallv calls
#   each / a bare MPI_Alltoallv of the same bytes (bench_alltoallv, median
#   of 5)
# The runs use --mca pml ob1 (shared memory; no UCX probe at start).
set -euo pipefail
size=${1:-1G}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build/release}
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
data=$here/../data
mkdir -p "$data"
zipf=$data/zipf-$size.txt hc=$data/hc-$size.txt
[ -s "$zipf" ] || "$build/bin/mill-gen" --bytes "$size" --seed 42 "$zipf"
[ -s "$hc" ] || "$build/bin/mill-gen" --bytes "$size" --seed 9 --vocab 20000000 --zipf 0.8 "$hc"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
mpi=(mpirun -q -n 2 --mca pml ob1)

printf '%-10s %5s %12s %12s %9s %10s %8s %10s %8s %10s %9s %9s\n' corpus rank "remote MiB" "ideal MiB" "/ideal" \
  "shuffle s" "pack" "alltoallv" "rest" "bare s" "shuf/bare" "a2a/bare"
for f in "$zipf" "$hc"; do
  name=$(basename "$f" .txt)
  cat "$f" > /dev/null
  "${mpi[@]}" "$build/bin/mpimill" run wordcount --input "$f" --output "$out/$name" --quiet
  # remote and self bytes of the rank that sends most: the bare exchange moves as much.
  read -r remote self < <(python3 -c '
import json, sys
r = json.load(open(sys.argv[1]))["metrics"]["ranks"]
m = max(r, key=lambda x: x["bytes_remote"])
print(int(m["bytes_remote"]), int(m["bytes_sent"] - m["bytes_remote"]))' "$out/$name/_SUCCESS")
  bare=$("${mpi[@]}" "$build/bench/shuffle/bench_alltoallv" "$remote" "$self" 5)
  python3 - "$out/$name/_SUCCESS" "$name" "$bare" <<'PY'
import json, sys
ranks = json.load(open(sys.argv[1]))["metrics"]["ranks"]
bare = float(sys.argv[3])
for r in ranks:
    sh = r["phases"]["shuffle"]["end"] - r["phases"]["shuffle"]["start"]
    print(f"{sys.argv[2]:<10} {r['rank']:>5} {r['bytes_remote'] / 2**20:>12.2f} {r['payload_remote'] / 2**20:>12.2f}"
          f" {r['bytes_remote'] / max(r['payload_remote'], 1):>9.3f} {sh:>10.3f} {r['pack_s']:>8.3f}"
          f" {r['exchange_s']:>10.3f} {sh - r['pack_s'] - r['exchange_s']:>8.3f}"
          f" {bare:>10.4f} {sh / bare:>9.1f} {r['exchange_s'] / bare:>9.2f}")
PY
  rm -rf "${out:?}/$name"
done
echo
echo "goals: bytes / ideal <= 1.05; shuffle / bare <= 2"
