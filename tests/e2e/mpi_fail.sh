#!/usr/bin/env bash
# mpi_fail.sh CASE: every MPI call the runtime makes, made to fail in turn
# (mpifail.so, a PMPI interposer: MPIFAIL), ends in one of two ways, and
# never hangs:
#   - exit 0, and the output is the new result (verify passes, the words
#     equal the oracle): the runtime had a way around the failure;
#   - a non-zero exit with an error line, and the output either the old one
#     untouched or the complete new one (a failure past the commit point, or
#     an agreement that failed and aborted the job): verify passes and the
#     words are the old input's or the new one's, before and after recover,
#     which leaves nothing beside the output.
# A first run counts each function's calls; then the 1st, 2nd, middle and
# last call of each is failed on every rank, and those of the one-sided and
# progress calls on rank 1 alone. CASE: text (parts, --overwrite), single
# (--single-file, --overwrite) or hdf5 (--format hdf5, --overwrite: parallel
# HDF5's own MPI calls and its MPI-IO, failed the same way).
. "$(dirname "$0")/lib.sh"
case=$1
[ -f "$MPIFAIL" ] || fail "MPIFAIL=$MPIFAIL: no interposer"
"$MILLGEN" --bytes 1M --seed 5 "$TMP/in.txt"
"$MILLGEN" --bytes 200K --seed 6 "$TMP/old.txt"
oracle "$TMP/in.txt" > "$TMP/want"
oracle "$TMP/old.txt" > "$TMP/want_old"
args=(run wordcount --input "$TMP/in.txt" --output "$TMP/out" --overwrite --split-size 128K --quiet)
[ "$case" = single ] && args+=(--single-file)
if [ "$case" = hdf5 ]; then
  args+=(--format hdf5)
  PY=$(h5py_python)
fi
words() {
  if [ -f "$1/data.h5" ]; then
    "$PY" -c 'import sys, h5py
f = h5py.File(sys.argv[1], "r")
kb, ko, v = f["key_bytes"][:].tobytes(), f["key_offsets"][:], f["values"][:]
for i in range(len(v)): sys.stdout.buffer.write(kb[ko[i]:ko[i + 1]] + b"\t%d\n" % v[i])' "$1/data.h5" | sort
  elif [ -f "$1/data" ]; then sort "$1/data"; else cat "$1"/part-* | sort; fi
}

# run_with ENV...: the job at 2 ranks with the interposer and ENV (NAME=VALUE).
asan=$(ldd "$MPIMILL" | awk '/libasan/ { print $3 }') # the asan preset: its runtime must load first
run_with() {
  local x=(-x LD_PRELOAD="${asan:+$asan:}$MPIFAIL") e
  for e in "$@"; do x+=(-x "$e"); done
  timeout 120 mpirun -q -n 2 --oversubscribe "${x[@]}" "$MPIMILL" "${args[@]}" < /dev/null
}

fresh_old() { # the old output every run starts from
  rm -rf "$TMP/out"
  "$MPIMILL" run wordcount --input "$TMP/old.txt" --output "$TMP/out" --quiet
}

fresh_old
run_with MILL_TEST_MPI_COUNT=1 2> "$TMP/count" || fail "the counting run failed: $(tail -3 "$TMP/count")"
[ "$(words "$TMP/out")" = "$(cat "$TMP/want")" ] || fail "the counting run's output differs from the oracle"
# NAME COUNT, the larger of the two ranks' counts.
sed -n 's/^mpifail: rank [0-9]*: \([A-Za-z_]*\) \([0-9]*\)$/\1 \2/p' "$TMP/count" | sort -k1,1 -k2,2nr |
  sort -u -k1,1 > "$TMP/calls"
[ "$(wc -l < "$TMP/calls")" -ge 20 ] || fail "only $(wc -l < "$TMP/calls") MPI functions counted: $(cat "$TMP/calls")"

bad=0 runs=0 unmade=0
check() { # SPEC RC: judges the run that just ended (stderr in $TMP/err)
  local spec=$1 rc=$2 why=""
  if [ "$rc" = 124 ]; then
    why="hung (killed after 120 s)"
  elif ! grep -q "fails$" "$TMP/err"; then
    unmade=$((unmade + 1)) # that rank made fewer calls this time
    return 0
  elif [ "$rc" = 0 ]; then
    "$MPIMILL" verify "$TMP/out" > "$TMP/verify" 2>&1 || why="exit 0 but verify fails: $(head -2 "$TMP/verify")"
    [ -n "$why" ] || [ "$(words "$TMP/out")" = "$(cat "$TMP/want")" ] || why="exit 0 but the output differs from the oracle"
  else
    grep -q "error" "$TMP/err" || why="exit $rc with no error line: $(grep -v '^mpifail' "$TMP/err" | head -2)"
    for step in run recover; do
      [ -n "$why" ] && break
      [ "$step" = recover ] && { "$MPIMILL" recover "$TMP/out" > /dev/null 2>&1 || why="recover failed"; }
      "$MPIMILL" verify "$TMP/out" > "$TMP/verify" 2>&1 || { why="exit $rc, after $step the output fails verify"; break; }
      words "$TMP/out" > "$TMP/got" 2> /dev/null || true # neither parts nor data: no output at all
      cmp -s "$TMP/got" "$TMP/want_old" || cmp -s "$TMP/got" "$TMP/want" ||
        why="exit $rc, after $step the output is neither the old one nor the new one"
    done
    [ -n "$why" ] || ! ls -a "$TMP" | grep -Eq '\.mill-(staging|old|lock)' || why="leftovers after recover: $(ls -a "$TMP")"
  fi
  runs=$((runs + 1))
  if [ -n "$why" ]; then
    bad=$((bad + 1))
    echo "FAIL: MPI_$spec: $why" >&2
    grep -v '^mpifail: rank [0-9]*: [A-Za-z_]* [0-9]*$' "$TMP/err" | head -3 | sed 's/^/    /' >&2
  fi
}

while read -r name n; do
  # Init: mpimill says "MPI_Init failed" before it does anything. Finalize:
  # failed unmade, mpirun reports a rank that exited without finalizing.
  case $name in Init | Finalize) continue ;; esac
  first=(1 2)
  # hdf5: the text case fails the first calls, made before the output is
  # written; here the middle and last ones, and every MPI-IO function's.
  [ "$case" = hdf5 ] && [ "${name#File_}" = "$name" ] && first=()
  for k in $(printf '%s\n' "${first[@]}" $(((n + 1) / 2)) "$n" | awk -v n="$n" '$1 <= n' | sort -un); do
    ranks=("")
    case $name in Test | Iprobe | Win_flush | Win_sync | Fetch_and_op | Accumulate | Compare_and_swap) ranks+=(1) ;; esac
    for r in "${ranks[@]}"; do
      spec=$name:$k${r:+:$r}
      fresh_old
      rc=0
      run_with MILL_TEST_MPI_FAIL="$spec" > /dev/null 2> "$TMP/err" || rc=$?
      check "$spec" "$rc"
    done
  done
done < "$TMP/calls"
[ "$bad" = 0 ] || fail "$bad of $runs runs with a failed MPI call broke the contract ($case)"
[ "$runs" -ge 50 ] || fail "only $runs runs failed a call ($unmade did not reach theirs)"
echo "mpi_fail $case: $runs runs, each failing an MPI call, ok ($unmade did not reach theirs)"

# hdf5, the input side: a histogram of an HDF5 dataset, each MPI-IO call
# HDF5 makes to read it (every one: a few) failed on every rank. One
# failing on rank 0 alone inside H5Fopen (rank 0 reads the superblock and
# broadcasts it) used to leave both ranks waiting for ever.
[ "$case" = hdf5 ] || exit 0
"$PY" -c 'import sys, h5py, numpy as np
with h5py.File(sys.argv[1], "w") as f: f["x"] = np.arange(300000, dtype="f8") % 97' "$TMP/d.h5"
args=(run histogram --input "$TMP/d.h5:/x" --output "$TMP/hist" --opt bins=10 --opt min=0 --opt max=100 --quiet)
run_with MILL_TEST_MPI_COUNT=1 2> "$TMP/count" || fail "the counting histogram failed: $(tail -3 "$TMP/count")"
mv "$TMP/hist" "$TMP/hist_want"
sed -n 's/^mpifail: rank [0-9]*: \(File_[A-Za-z_]*\) \([0-9]*\)$/\1 \2/p' "$TMP/count" | grep -v errhandler |
  sort -k1,1 -k2,2nr | sort -u -k1,1 > "$TMP/calls"
grep -q File_read_at "$TMP/calls" || fail "the histogram made no MPI-IO reads: $(cat "$TMP/calls")"
hruns=0
while read -r name n; do
  [ "$n" -le 20 ] || fail "MPI_$name: $n calls to read one dataset"
  for k in $(seq "$n"); do
    rc=0
    run_with MILL_TEST_MPI_FAIL="$name:$k" > /dev/null 2> "$TMP/err" || rc=$?
    grep -q "fails$" "$TMP/err" || continue
    hruns=$((hruns + 1)) why=""
    if [ "$rc" = 124 ]; then why="hung (killed after 120 s)"
    elif [ "$rc" = 0 ]; then [ "$(cat "$TMP/hist"/part-*)" = "$(cat "$TMP/hist_want"/part-*)" ] || why="exit 0, other bins"
    else
      grep -q "^mpimill: error: .*d.h5" "$TMP/err" || why="exit $rc with no error line naming the input"
      "$MPIMILL" recover "$TMP/hist" > /dev/null 2>&1 || why="recover failed"
      [ ! -e "$TMP/hist" ] && ! ls -a "$TMP" | grep -q '\.hist\.mill-' || why="exit $rc, but an output or leftovers: $(ls -a "$TMP")"
    fi
    rm -rf "$TMP/hist"
    [ -z "$why" ] || { bad=$((bad + 1)); echo "FAIL: input MPI_$name:$k: $why" >&2; grep -v '^mpifail' "$TMP/err" | head -3 >&2; }
  done
done < "$TMP/calls"
[ "$bad" = 0 ] || fail "$bad of $hruns histogram runs with a failed MPI-IO call broke the contract"
[ "$hruns" -ge 5 ] || fail "only $hruns histogram runs failed an MPI-IO call"
echo "mpi_fail hdf5 input: $hruns runs, each failing an MPI-IO call, ok"
