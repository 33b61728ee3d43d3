#!/usr/bin/env bash
# install.sh BUILD_DIR SOURCE_DIR: installs mpimill into a temporary prefix,
# builds jobs/template out of tree with find_package(mpimill) and with
# pkg-config, and runs it under mpirun against a wc -l oracle.
. "$(dirname "$0")/../e2e/lib.sh"
build=$1 src=$2
prefix=$TMP/prefix
cmake --install "$build" --prefix "$prefix" > "$TMP/install.log"
for f in bin/mpimill include/mpimill/job.h lib/mpimill/jobs/wordcount.so lib/pkgconfig/mpimill.pc \
         lib/cmake/mpimill/mpimillConfig.cmake; do
  [ -e "$prefix/$f" ] || fail "not installed: $f"
done
"$prefix/bin/mpimill" jobs | grep -q '^wordcount ' || fail "installed mpimill does not list wordcount"

cmake -S "$src/jobs/template" -B "$TMP/job" -DCMAKE_PREFIX_PATH="$prefix" > "$TMP/job.log" ||
  { cat "$TMP/job.log"; fail "configuring the template job failed"; }
cmake --build "$TMP/job" > "$TMP/jobbuild.log" || { cat "$TMP/jobbuild.log"; fail "building the template job failed"; }

# The same job through pkg-config.
PKG_CONFIG_PATH=$prefix/lib/pkgconfig cc -shared -fPIC $(PKG_CONFIG_PATH=$prefix/lib/pkgconfig pkg-config --cflags mpimill) \
  -o "$TMP/linecount-pc.so" "$src/jobs/template/linecount.c" || fail "pkg-config build failed"

mkdir "$TMP/in"
"$MILLGEN" --bytes 100K --seed 3 --files 5 "$TMP/in"
for job in "$TMP/job/linecount.so" "$TMP/linecount-pc.so"; do
  rm -rf "$TMP/out"
  MPIMILL=$prefix/bin/mpimill mpimill_run 2 -- run "$job" --input "$TMP/in" --output "$TMP/out" --quiet
  want=$(for f in "$TMP"/in/*; do printf '%s\t%s\n' "$f" "$(wc -l < "$f")"; done | sort)
  [ "$(output_of "$TMP/out")" = "$want" ] || fail "linecount output differs: $(output_of "$TMP/out")"
done
# A name is found through MPIMILL_JOB_PATH.
cp "$TMP/job/linecount.so" "$TMP/"
rm -rf "$TMP/out"
MPIMILL_JOB_PATH=$TMP MPIMILL=$prefix/bin/mpimill mpimill_run 1 -- run linecount --input "$TMP/in" --output "$TMP/out" --quiet
echo "install and out-of-tree job: ok"
