#!/usr/bin/env bash
# install.sh BUILD_DIR: installs mpimill into a temporary prefix, builds a
# copy of the installed template job out of tree with find_package(mpimill)
# and with pkg-config, and runs it under mpirun against a wc -l oracle; the
# same for a job that calls MPI and for a job in C++.
. "$(dirname "$0")/../e2e/lib.sh"
build=$1
prefix=$TMP/prefix
cmake --install "$build" --prefix "$prefix" > "$TMP/install.log"
for f in bin/mpimill include/mpimill/job.h lib/mpimill/jobs/wordcount.so lib/pkgconfig/mpimill.pc \
         lib/cmake/mpimill/mpimillConfig.cmake share/mpimill/template/linecount.c; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
"$prefix/bin/mpimill" jobs | grep -q '^wordcount ' || fail "installed mpimill does not list wordcount"
# The library exports the API of job.h (but mill_job_entry, a plugin's) and
# the command's entry points (mill__*_main and two more), nothing else.
lib=$prefix/lib/libmpimill.so
want=$( (grep -oE '\bmill_[a-z0-9_]+ *\(' "$prefix/include/mpimill/job.h" | tr -d '( ' | grep -vx mill_job_entry
         printf '%s\n' mill__run_main mill__pipeline_main mill__submit_main mill__recover_main mill__verify_main \
           mill__report_main mill__plugin_list mill__signals_install) | sort -u)
got=$(nm -D --defined-only "$lib" | awk '$2 ~ /^[TDBR]$/ && $3 !~ /^_/ { print $3 }' | sort -u)
[ "$got" = "$want" ] || fail "libmpimill.so exports: $(diff <(echo "$want") <(echo "$got") | grep '^[<>]' | tr '\n' ' ')"

# The installed template, as writing-jobs.md tells users to copy it.
cp -r "$prefix/share/mpimill/template" "$TMP/template"
cmake -S "$TMP/template" -B "$TMP/job" -DCMAKE_PREFIX_PATH="$prefix" > "$TMP/job.log" ||
  { cat "$TMP/job.log"; fail "configuring the template job failed"; }
cmake --build "$TMP/job" > "$TMP/jobbuild.log" || { cat "$TMP/jobbuild.log"; fail "building the template job failed"; }

# The same job through pkg-config.
PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc -shared -fPIC $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags mpimill) \
  -o "$TMP/linecount-pc.so" "$TMP/template/linecount.c" || fail "pkg-config build failed"

mkdir "$TMP/in"
"$MILLGEN" --bytes 100K --seed 3 --files 5 "$TMP/in"
for job in "$TMP/job/linecount.so" "$TMP/linecount-pc.so"; do
  rm -rf "$TMP/out"
  MPIMILL=$prefix/bin/mpimill mpimill_run 2 -- run "$job" --input "$TMP/in" --output "$TMP/out" --quiet
  want=$(for f in "$TMP"/in/*; do printf '%s\t%s\n' "$f" "$(wc -l < "$f")"; done | sort)
  [ "$(output_of "$TMP/out")" = "$want" ] || fail "linecount output differs: $(output_of "$TMP/out")"
done
# The .pc file's jobdir is the installed jobs directory, written without "//".
jobdir=$(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --variable=jobdir mpimill)
[ -e "$jobdir/wordcount.so" ] && [[ $jobdir != *//* ]] || fail "pkg-config jobdir: $jobdir"
# A job calling MPI on mill_comm() builds both ways with nothing added: the
# package and the .pc file carry the MPI mpimill was built with.
mkdir "$TMP/commjob"
cat > "$TMP/commjob/ranks.c" <<'C'
#include <mpi.h>
#include <mpimill/job.h>
static uint64_t ranks;
static int setup(mill_ctx *ctx) {
    int one = 1, n = 0;
    if (MPI_Allreduce(&one, &n, 1, MPI_INT, MPI_SUM, mill_comm(ctx)) != MPI_SUCCESS) return MILL_EMPI;
    ranks = (uint64_t)n;
    return 0;
}
static int map(mill_ctx *ctx, const mill_record *r) { (void)r; return mill_emit_u64(ctx, "ranks", 5, ranks); }
MILL_JOB(.name = "ranks", .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_MAX, .setup = setup, .map = map)
C
cat > "$TMP/commjob/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(ranks C)
find_package(mpimill REQUIRED)
mpimill_add_job(ranks ranks.c)
CM
cmake -S "$TMP/commjob" -B "$TMP/commjob/build" -DCMAKE_PREFIX_PATH="$prefix" > "$TMP/commjob.log" &&
  cmake --build "$TMP/commjob/build" >> "$TMP/commjob.log" || { cat "$TMP/commjob.log"; fail "a mill_comm job does not build with CMake"; }
cc -shared -fPIC $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags mpimill) -o "$TMP/ranks-pc.so" \
  "$TMP/commjob/ranks.c" $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --libs mpimill) ||
  fail "a mill_comm job does not build with pkg-config"
for job in "$TMP/commjob/build/ranks.so" "$TMP/ranks-pc.so"; do
  rm -rf "$TMP/out"
  MPIMILL=$prefix/bin/mpimill mpimill_run 2 -- run "$job" --input "$TMP/in" --output "$TMP/out" --quiet
  [ "$(output_of "$TMP/out")" = "$(printf 'ranks\t2')" ] || fail "$job: $(output_of "$TMP/out")"
done

# A job in C++, in a project without C: the package finds MPI for C++, and
# the plugin exports mill_job_entry alone (no std:: template instances).
mkdir "$TMP/cxxjob"
cat > "$TMP/cxxjob/words.cpp" <<'CXX'
#include <mpi.h>
#include <mpimill/job.h>
#include <string>
#include <unordered_map>
static std::unordered_map<std::string, int> seen;
static int setup(mill_ctx *ctx) {
    int one = 1, n = 0;
    return MPI_Allreduce(&one, &n, 1, MPI_INT, MPI_SUM, mill_comm(ctx)) == MPI_SUCCESS && n == 2 ? 0 : MILL_EMPI;
}
static int map(mill_ctx *ctx, const mill_record *r) {
    std::string line(r->data, r->len);
    seen[line]++;
    return mill_emit_u64(ctx, line.data(), line.size() < 2 ? line.size() : 2, 1);
}
MILL_JOB(.name = "words", .value_type = MILL_VALUE_U64, .combine_op = MILL_COMBINE_SUM, .setup = setup, .map = map)
CXX
cat > "$TMP/cxxjob/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.18)
project(words LANGUAGES CXX)
set(CMAKE_CXX_STANDARD 20)
find_package(mpimill REQUIRED)
mpimill_add_job(words words.cpp)
target_compile_options(words PRIVATE -Wall -Wextra -Werror)
CM
cmake -S "$TMP/cxxjob" -B "$TMP/cxxjob/build" -DCMAKE_PREFIX_PATH="$prefix" > "$TMP/cxxjob.log" 2>&1 &&
  cmake --build "$TMP/cxxjob/build" >> "$TMP/cxxjob.log" 2>&1 || { cat "$TMP/cxxjob.log"; fail "a C++ job does not build with CMake"; }
exported=$(nm -D --defined-only "$TMP/cxxjob/build/words.so" | awk '$2 ~ /^[TDBRVWuiw]$/ { print $3 }')
[ "$exported" = mill_job_entry ] || fail "the C++ job exports more than mill_job_entry: $(echo $exported | head -c 300)"
rm -rf "$TMP/out"
MPIMILL=$prefix/bin/mpimill mpimill_run 2 -- run "$TMP/cxxjob/build/words.so" --input "$TMP/in" --output "$TMP/out" --quiet
want=$(cat "$TMP"/in/* | cut -c1-2 | sort | uniq -c | awk '{ printf "%s\t%s\n", $2, $1 }' | LC_ALL=C sort)
[ "$(output_of "$TMP/out" | LC_ALL=C sort)" = "$want" ] || fail "C++ job output differs: $(output_of "$TMP/out" | head -3)"

# A name is found through MPIMILL_JOB_PATH.
cp "$TMP/job/linecount.so" "$TMP/"
rm -rf "$TMP/out"
MPIMILL_JOB_PATH=$TMP MPIMILL=$prefix/bin/mpimill mpimill_run 1 -- run linecount --input "$TMP/in" --output "$TMP/out" --quiet
echo "install and out-of-tree job: ok"
