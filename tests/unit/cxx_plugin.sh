#!/usr/bin/env bash
# cxx_plugin.sh CXX SRC INCLUDE MPIMILL: a job written in C++ with MILL_JOB
# builds against the header, exports mill_job_entry unmangled, and loads.
set -euo pipefail
cxx=$1 src=$2 inc=$3 mpimill=$4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
"$cxx" -std=c++20 -Wall -Wextra -Werror -shared -fPIC -I "$inc" "$src" -o "$tmp/cxx.so"
nm -D --defined-only "$tmp/cxx.so" | grep -qw mill_job_entry ||
  { echo "FAIL: mill_job_entry is not exported unmangled: $(nm -D --defined-only "$tmp/cxx.so")"; exit 1; }
MPIMILL_JOB_PATH=$tmp "$mpimill" jobs > "$tmp/jobs"
grep -q "^cxx  *a C++ job$" "$tmp/jobs" || { echo "FAIL: the C++ job does not load: $(cat "$tmp/jobs")"; exit 1; }
echo "C++ plugin: ok"
