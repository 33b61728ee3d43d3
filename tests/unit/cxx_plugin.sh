#!/usr/bin/env bash
# cxx_plugin.sh SRC INCLUDE MPIMILL CXX...: a job written in C++ with MILL_JOB
# builds against the header with each compiler, warnings as errors (g++'s
# -Wextra warns about designated initializers left out), exports
# mill_job_entry unmangled, and loads.
set -euo pipefail
src=$1 inc=$2 mpimill=$3
shift 3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for cxx in "$@"; do
  "$cxx" -std=c++20 -Wall -Wextra -Wpedantic -Werror -shared -fPIC -I "$inc" "$src" -o "$tmp/cxx.so"
  nm -D --defined-only "$tmp/cxx.so" | grep -qw mill_job_entry ||
    { echo "FAIL: $cxx: mill_job_entry is not exported unmangled: $(nm -D --defined-only "$tmp/cxx.so")"; exit 1; }
done
MPIMILL_JOB_PATH=$tmp "$mpimill" jobs > "$tmp/jobs"
grep -q "^cxx  *a C++ job$" "$tmp/jobs" || { echo "FAIL: the C++ job does not load: $(cat "$tmp/jobs")"; exit 1; }
echo "C++ plugin: ok"
