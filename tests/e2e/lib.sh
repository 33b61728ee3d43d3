# lib.sh -- shared helpers for the end-to-end tests (sourced).
# Needs: MPIMILL (the mpimill binary), MILLGEN (mill-gen).
set -euo pipefail
export LC_ALL=C
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1

TMP=$(mktemp -d /tmp/mill-e2e.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

fail() { echo "FAIL: $*" >&2; exit 1; }

# err_lines FILE: the lines of a run's stderr, less Open MPI's own libevent
# warning that mpirun prints now and then when oversubscribed ranks exit
# early ("[warn] Epoll MOD(1) on fd 27 failed. ... Bad file descriptor"):
# mpirun's, not mpimill's, whose one-line errors the tests count.
err_lines() { grep -cv '^\[warn\] Epoll ' "$1"; }

# h5py_python: prints a python3 that imports h5py (Debian's when a python3
# of its own, pyenv's or a venv's, comes first in PATH), or fails.
h5py_python() {
  local p
  for p in python3 /usr/bin/python3; do
    if "$p" -c 'import h5py' 2> /dev/null; then echo "$p"; return; fi
  done
  fail "no python3 with h5py (apt-get install python3-h5py)"
}

# mpimill_run N [mpirun options --] ARGS...: runs mpimill on N ranks.
mpimill_run() {
  local n=$1; shift
  local mca=()
  while [ $# -gt 0 ] && [ "$1" != "--" ] && [ "${1#--mca}" != "$1" -o "${#mca[@]}" -gt 0 ] && [ "$1" != "run" ]; do
    mca+=("$1"); shift
  done
  [ "${1:-}" = "--" ] && shift
  timeout 300 mpirun -q -n "$n" --oversubscribe "${mca[@]}" "$MPIMILL" "$@"
}

# oracle FILES...: word counts by tr/sort/uniq, as key<TAB>count sorted by key.
oracle() {
  for f in "$@"; do cat "$f"; echo; done | tr -s ' \t\n\v\f\r' '\n\n\n\n\n\n' | grep -v '^$' | sort | uniq -c |
    awk '{print $2 "\t" $1}' | sort
}

# output_of DIR: all parts of a committed output, sorted.
output_of() {
  [ -f "$1/_SUCCESS" ] || fail "$1 has no _SUCCESS"
  cat "$1"/part-* | sort
}

# Each part must be sorted by key on its own (bytewise).
check_parts_sorted() {
  for p in "$1"/part-*; do
    cut -f1 "$p" | sort -c 2>/dev/null || fail "$p is not sorted by key"
  done
}

# mount_tmpfs DIR SIZE: mounts a small tmpfs at DIR (root only), or says
# which check is skipped and returns 1.
mount_tmpfs() {
  [ "$(id -u)" = 0 ] && mount -t tmpfs -o size="$2" tmpfs "$1" 2> /dev/null && return 0
  echo "SKIP (${FUNCNAME[1]:-main}, line ${BASH_LINENO[0]}): cannot mount a tmpfs at $1 here" >&2
  return 1
}

# No staging directory, replaced output or lock file may remain beside an
# output (the commit's .NAME.mill-staging-*, .NAME.mill-old-*, .NAME.mill-lock).
check_no_leftovers() {
  local parent
  parent=$(dirname "$1")
  if ls -a "$parent" | grep -Eq '\.mill-(staging|old|lock)'; then
    fail "commit leftovers in $parent: $(ls -a "$parent" | tr "\n" " ")"
  fi
}
