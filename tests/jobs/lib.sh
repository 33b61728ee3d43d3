# lib.sh -- helpers for the built-in jobs' tests (sourced after ../e2e/lib.sh).
. "$(dirname "${BASH_SOURCE[0]}")/../e2e/lib.sh"

# run_job RANKS JOB ARGS...: runs a job quietly (at 1 rank without mpirun,
# as a singleton); fails the test when it fails.
run_job() {
  local n=$1 rc=0; shift
  if [ "$n" = 1 ]; then
    timeout 300 "$MPIMILL" run "$@" --quiet > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  else
    mpimill_run "$n" -- run "$@" --quiet > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  fi
  [ "$rc" = 0 ] || fail "mpimill run $* at $n ranks: exit $rc ($(cat "$TMP/stderr"))"
}

# expect_fail RANKS CODE PATTERN JOB ARGS...: the run exits CODE, prints one
# error line containing PATTERN, and commits nothing. At 1 rank mpimill runs
# without mpirun (a singleton: much faster to fail than under mpirun).
expect_fail() {
  local n=$1 code=$2 pattern=$3; shift 3
  local rc=0
  rm -rf "$TMP/bad"
  if [ "$n" = 1 ]; then
    timeout 120 "$MPIMILL" run "$@" --output "$TMP/bad" > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  else
    mpimill_run "$n" -- run "$@" --output "$TMP/bad" > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  fi
  [ "$rc" = "$code" ] || fail "exit $rc, wanted $code for: $* ($(cat "$TMP/stderr"))"
  [ "$(err_lines "$TMP/stderr")" = 1 ] || fail "wanted one error line for: $*, got: $(cat "$TMP/stderr")"
  grep -q -- "$pattern" "$TMP/stderr" || fail "error for $* lacks '$pattern': $(cat "$TMP/stderr")"
  [ ! -e "$TMP/bad" ] || fail "output committed by: $*"
}

# same WANT DIR WHAT: the sorted output of DIR equals the file WANT.
same() {
  output_of "$2" > "$TMP/got"
  cmp -s "$1" "$TMP/got" || { diff "$1" "$TMP/got" | head -6 >&2 || true; diff "$1" "$TMP/got" | grep "^>" | head -6 >&2 || true; echo "want $(wc -l < "$1") lines, got $(wc -l < "$TMP/got")" >&2; fail "$3"; }
  check_parts_sorted_full "$2"
}

# Each part must be in byte order by whole line: keys may hold tabs (groupby
# by=A,B), and a key's rows come in byte order (join). A tab sorts below
# every printable byte, so a key that is a prefix of another stays first.
check_parts_sorted_full() {
  for p in "$1"/part-*; do
    LC_ALL=C sort -c "$p" 2>/dev/null || fail "$p is not sorted by its whole lines"
  done
}
