#!/bin/sh
# commit_bench.sh -- what the atomic commit costs in a word count.
#
# usage: bench/commit/commit_bench.sh [SIZE] [RANKS] [REPEATS]
#   SIZE     corpus size for mill-gen (default 1G), RANKS (default 2),
#   REPEATS  runs measured (default 3).
# env: MPIMILL, MILLGEN (default build/release/bin/...), BENCH_DIR (work directory on
#      the file system to measure; default a new directory under /tmp; a
#      corpus already there is reused), GEN_ARGS (extra mill-gen arguments,
#      e.g. "--vocab 20000000" for a large output, so hashing shows).
#
# Each run is `mpirun mpimill run wordcount` with MPIMILL_COMMIT_STATS=1,
# which makes rank 0 report the commit's own phases (prepare: fsync + hash
# of every part on every rank and the vote; publish: manifest, its fsync,
# rename and the parent's fsync; cleanup: the replaced output and the lock).
# Printed per run: wall time of the whole job, commit total, and the ratio.
# Runs alternate between a fresh output and --overwrite of the previous one,
# so both rename modes (NOREPLACE, EXCHANGE) are measured.
set -eu
SIZE=${1:-1G}
RANKS=${2:-2}
REPEATS=${3:-3}
MPIMILL=${MPIMILL:-build/release/bin/mpimill}
MILLGEN=${MILLGEN:-build/release/bin/mill-gen}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
DIR=${BENCH_DIR:-$(mktemp -d /tmp/mill-commit-bench.XXXXXX)}
mkdir -p "$DIR"
CORPUS="$DIR/corpus-$SIZE$(echo "${GEN_ARGS:-}" | tr -d ' -')"
if [ ! -d "$CORPUS" ]; then
    # shellcheck disable=SC2086
    "$MILLGEN" --bytes "$SIZE" --seed 7 --files "$((RANKS * 2))" ${GEN_ARGS:-} "$CORPUS"
fi
rm -rf "$DIR/out"
echo "commit_bench: $SIZE corpus ${GEN_ARGS:-}, $RANKS ranks, $REPEATS runs, in $DIR"
printf '%-4s %-10s %10s %10s %10s %10s %8s\n' run mode wall_s prepare_s publish_s commit_s ratio
i=1
while [ "$i" -le "$REPEATS" ]; do
    mode=fresh
    flag=
    if [ -d "$DIR/out" ]; then mode=overwrite; flag=--overwrite; fi
    t0=$(date +%s.%N)
    MPIMILL_COMMIT_STATS=1 mpirun -q -n "$RANKS" --oversubscribe "$MPIMILL" run wordcount \
        --input "$CORPUS" --output "$DIR/out" --quiet $flag 2>"$DIR/stats"
    t1=$(date +%s.%N)
    line=$(grep 'mpimill: commit:' "$DIR/stats")
    awk -v run="$i" -v mode="$mode" -v t0="$t0" -v t1="$t1" -v l="$line" 'BEGIN {
        n = split(l, w, " ");
        for (k = 1; k <= n; k++) {
            if (w[k] == "prepare+vote") prep = w[k + 1];
            if (w[k] == "publish") pub = w[k + 1];
            if (w[k] == "total") tot = w[k + 1];
        }
        wall = t1 - t0;
        printf "%-4d %-10s %10.3f %10.4f %10.4f %10.4f %7.2f%%\n", run, mode, wall, prep, pub, tot, 100 * tot / wall;
    }'
    i=$((i + 1))
done
"$MPIMILL" verify "$DIR/out"
if [ -z "${BENCH_DIR:-}" ]; then rm -rf "$DIR"; fi
