#!/usr/bin/env bash
# fuzz.sh [SECONDS]: builds the CSV and gzip fuzz targets with clang
# (-fsanitize=fuzzer,address,undefined) and runs each for SECONDS (default
# 30, or $FUZZ_SECONDS). Crashes land in $FUZZ_OUT (default a temp dir).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
secs=${1:-${FUZZ_SECONDS:-30}}
CLANG=${CLANG:-$(command -v clang || command -v clang-14)}
out=${FUZZ_OUT:-$(mktemp -d /tmp/mill-fuzz.XXXXXX)}
mkdir -p "$out"
mpi_inc=$(mpicc -showme:compile)
flags=(-g -O1 -std=c17 -D_GNU_SOURCE -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
       -I"$root/io" -I"$root/runtime/include" $mpi_inc)
io=("$root/io/csv.c" "$root/io/gzip.c" "$root/io/text.c" "$root/io/ident.c")
for t in csv gzip; do
  "$CLANG" "${flags[@]}" -o "$out/fuzz_$t" "$here/fuzz_$t.c" "${io[@]}" -lz
  mkdir -p "$out/corpus_$t"
done
# Seeds: a few CSV rows and gzip streams.
printf '\x00a,b\n1,"x ""y"""\n' > "$out/corpus_csv/seed1"
printf '\x01a,b\n1,"x\ny"\n2,3\n' > "$out/corpus_csv/seed2"
{ printf '\x00'; printf 'one\ntwo\r\n' | gzip -c; printf 'three' | gzip -c; } > "$out/corpus_gzip/seed1"
printf '\x03line one\nline two\r\n\nlast' > "$out/corpus_gzip/seed2"
for t in csv gzip; do
  echo "fuzz_$t: $secs s"
  (cd "$out" && ASAN_OPTIONS=detect_leaks=1 "./fuzz_$t" -max_total_time="$secs" -max_len=65536 \
     -artifact_prefix="$out/crash-$t-" "corpus_$t" 2>&1 | tail -n 3)
  if ls "$out"/crash-$t-* >/dev/null 2>&1; then echo "FAIL: fuzz_$t found a crash in $out" >&2; exit 1; fi
done
[ -n "${FUZZ_OUT:-}" ] || rm -rf "$out"
echo "fuzz: ok"
