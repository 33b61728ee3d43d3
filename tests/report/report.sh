#!/usr/bin/env bash
# report.sh -- `mpimill report` end to end: runs wordcount on 3 ranks, checks
# the table against the manifest, the HTML page's structure, that the output
# directory is left as committed, the error exits, and finally renders the
# page in headless Chromium and checks the picture.
# Needs: MPIMILL, MILLGEN, CHECK (check_report.py); CHROMIUM (optional) names
# the browser. Exits 77 (skip) when Chromium cannot run, unless CI=true,
# where that is a failure.
set -euo pipefail
export LC_ALL=C
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
: "${MPIMILL:?}" "${MILLGEN:?}" "${CHECK:?}"

TMP=$(mktemp -d /tmp/mill-report.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
N=3

"$MILLGEN" --bytes 8M --seed 7 "$TMP/in.txt" >/dev/null
timeout 300 mpirun -q -n $N --oversubscribe "$MPIMILL" run wordcount --input "$TMP/in.txt" --output "$TMP/out" --quiet \
  || fail "mpimill run failed"

# The table, and the page beside the output (never inside it).
"$MPIMILL" report "$TMP/out" >"$TMP/table.txt" || fail "mpimill report exited $?"
cat "$TMP/table.txt"
python3 "$CHECK" table "$TMP/out/_SUCCESS" "$TMP/table.txt" $N
grep -qx "html: $TMP/out-report.html" "$TMP/table.txt" || fail "no 'html: $TMP/out-report.html' line"
python3 "$CHECK" html "$TMP/out-report.html" $N
"$MPIMILL" verify "$TMP/out" >/dev/null || fail "the output no longer verifies after the report"
[ "$(ls "$TMP/out" | grep -cv '^part-')" = 1 ] || fail "extra files in the output: $(ls "$TMP/out")"

# Time before the start barrier (loading, listing, a slow setup) is in the
# total but not on the axis: the end line stays by the bars (it was drawn
# that much further right).
cp -r "$TMP/out" "$TMP/slowsetup"
python3 - "$TMP/slowsetup/_SUCCESS" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["metrics"]["seconds"] += 5
m["metrics"]["setup_seconds"] += 5
json.dump(m, open(sys.argv[1], "w"))
EOF
"$MPIMILL" report --html "$TMP/slow.html" "$TMP/slowsetup" > /dev/null || fail "report of a slow setup exited $?"
python3 "$CHECK" html "$TMP/slow.html" $N

# --html FILE, and the same with a trailing slash on DIR; --no-html.
"$MPIMILL" report --html "$TMP/page.html" "$TMP/out/" >/dev/null || fail "report --html exited $?"
python3 "$CHECK" html "$TMP/page.html" $N
rm "$TMP/out-report.html"
"$MPIMILL" report --no-html "$TMP/out" >/dev/null
[ ! -e "$TMP/out-report.html" ] || fail "--no-html wrote a page"

# Errors: one line naming the file, exit 1; bad usage, exit 2.
expect() { # CODE PATTERN ARGS...: mpimill report ARGS exits CODE, first stderr line matches PATTERN
  local code=$1 pat=$2 rc=0
  shift 2
  "$MPIMILL" report "$@" >"$TMP/o" 2>"$TMP/e" || rc=$?
  [ "$rc" = "$code" ] || fail "report $* exited $rc, want $code: $(cat "$TMP/e")"
  head -n1 "$TMP/e" | grep -q -- "$pat" || fail "report $*: message '$(head -n1 "$TMP/e")' lacks '$pat'"
  if [ "$code" = 1 ]; then
    [ "$(wc -l <"$TMP/e")" = 1 ] || fail "report $*: more than one line: $(cat "$TMP/e")"
  fi
}
mkdir -p "$TMP/nomanifest" "$TMP/nometrics" "$TMP/torn"
echo '{"job": "x", "files": []}' >"$TMP/nometrics/_SUCCESS"
head -c 300 "$TMP/out/_SUCCESS" >"$TMP/torn/_SUCCESS"
expect 1 "$TMP/missing: No such file" "$TMP/missing"
expect 1 "$TMP/nomanifest/_SUCCESS: No such file" "$TMP/nomanifest"
expect 1 "$TMP/nometrics/_SUCCESS: the manifest holds no metrics" "$TMP/nometrics"
expect 1 "$TMP/torn/_SUCCESS: malformed JSON" "$TMP/torn"
# A time past any run's (the page's tick loop never ended at 1.7e308), and
# a job name with control bytes (printed raw, it split the table's first
# line and drove the terminal).
mkdir -p "$TMP/huge" "$TMP/ctl"
python3 - "$TMP/out/_SUCCESS" "$TMP/huge/_SUCCESS" "$TMP/ctl/_SUCCESS" <<'EOF'
import json, sys
m = json.load(open(sys.argv[1]))
m["metrics"]["ranks"][0]["phases"]["reduce"]["end"] = 1.7e308
json.dump(m, open(sys.argv[2], "w"))
m = json.load(open(sys.argv[1]))
m["job"] = "x\n\x1b]0;pwned\x07\u009b31m\u00e9"  # and a C1 CSI; the é stays
json.dump(m, open(sys.argv[3], "w"))
EOF
rc=0; timeout 20 "$MPIMILL" report --no-html "$TMP/huge" > /dev/null 2> "$TMP/e" || rc=$?
[ "$rc" = 1 ] && grep -q "$TMP/huge/_SUCCESS: .*\"end\" is 1.7e+308: not a time in seconds" "$TMP/e" ||
  fail "a time of 1.7e308: exit $rc (124: hung), $(cat "$TMP/e")"
"$MPIMILL" report --no-html "$TMP/ctl" > "$TMP/o" || fail "report of a job name with control bytes exited $?"
head -n1 "$TMP/o" | grep -qF 'job x\x0a\x1b]0;pwned\x07\xc2\x9b31mé, ' && ! grep -q $'\x1b\|\xc2\x9b' "$TMP/o" ||
  fail "a job name's control bytes reached the terminal: $(head -n2 "$TMP/o" | cat -A)"
expect 2 "usage\|no DIR" # no arguments
expect 2 "unknown option '--bogus'" --bogus "$TMP/out"
expect 2 "one DIR only" "$TMP/out" "$TMP/out"
expect 2 "needs a FILE" "$TMP/out" --html
expect 2 "is inside" --html "$TMP/out/r.html" "$TMP/out"
[ ! -e "$TMP/out/r.html" ] || fail "a page was written inside the output"
expect 2 "needs a FILE" --html --no-html "$TMP/out"
[ ! -e ./--no-html ] || fail "--html --no-html wrote a page named --no-html"
ln -s "$TMP/out/_SUCCESS" "$TMP/into"
expect 2 "is inside" --html "$TMP/into" "$TMP/out" # a link is followed, also into DIR
ln -s "$TMP/nowhere/x.html" "$TMP/dangling"
expect 1 "dangling: a link to nothing" --html "$TMP/dangling" "$TMP/out"
# A link to a page is written through, and a FIFO (as /dev/stdout may be) is
# written to, not replaced.
echo old > "$TMP/target.html"; ln -s target.html "$TMP/link.html"
"$MPIMILL" report --html "$TMP/link.html" "$TMP/out" > /dev/null || fail "report --html LINK exited $?"
[ -L "$TMP/link.html" ] && grep -q '<svg' "$TMP/target.html" || fail "--html LINK replaced the link"
mkfifo "$TMP/fifo"
cat "$TMP/fifo" > "$TMP/fromfifo" & reader=$!
"$MPIMILL" report --html "$TMP/fifo" "$TMP/out" > /dev/null || fail "report --html FIFO exited $?"
wait "$reader"
[ -p "$TMP/fifo" ] && grep -q '<svg' "$TMP/fromfifo" || fail "--html FIFO: replaced, or nothing read"
ln -s /proc/self/fd/1 "$TMP/stdout" # as /dev/stdout is; through a pipe here
"$MPIMILL" report --html "$TMP/stdout" "$TMP/out" | cat > "$TMP/piped"
grep -q '<svg' "$TMP/piped" && [ -L "$TMP/stdout" ] ||
  fail "--html to a link to stdout: no page, or the link replaced"
"$MPIMILL" report --help | grep -q "usage: mpimill report" || fail "report --help"

# A manifest written before the commit phase and the read, exchange and
# write times were measured still reads; those show as "-".
# input_bytes is the manifest's own, whatever the input paths look like (a
# directory named run: is not an HDF5 file); a manifest without it (older)
# shows what the ranks mapped.
mkdir "$TMP/inb"
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
m["inputs"] = [{"path": "run:/a", "size": 1000}, {"path": "run:/b", "size": 30}, {"path": "b.txt", "size": 7}]
m["metrics"]["input_bytes"] = 1037
json.dump(m, open(sys.argv[2], "w"))' "$TMP/out/_SUCCESS" "$TMP/inb/_SUCCESS"
"$MPIMILL" report --no-html "$TMP/inb" | grep -q "input_bytes 1037," || fail "input_bytes is not the manifest's"
mkdir "$TMP/old"
python3 -c '
import json, sys
m = json.load(open(sys.argv[1]))
for r in m["metrics"]["ranks"]:
    del r["phases"]["commit"], r["read_s"], r["exchange_s"], r["write_s"]
del m["metrics"]["imbalance"]["commit"], m["metrics"]["input_bytes"]
json.dump(m, open(sys.argv[2], "w"))' "$TMP/out/_SUCCESS" "$TMP/old/_SUCCESS"
"$MPIMILL" report --html "$TMP/old.html" "$TMP/old" >"$TMP/old.txt" || fail "report of an older manifest exited $?"
awk '$1 == "0" { if ($3 != "-" || $NF == "-") bad = 1; n++ } END { exit !(n == 1 && !bad) }' "$TMP/old.txt" \
  || fail "older manifest: want '-' for read_s and numbers elsewhere: $(cat "$TMP/old.txt")"
grep -q "commit -$" "$TMP/old.txt" || fail "older manifest: want 'commit -' in the imbalance line: $(cat "$TMP/old.txt")"
mapped=$(python3 -c 'import json, sys; print(sum(r["phases"]["map"]["bytes"] for r in json.load(open(sys.argv[1]))["metrics"]["ranks"]))' "$TMP/out/_SUCCESS")
grep -q "input_bytes $mapped," "$TMP/old.txt" || fail "older manifest: want input_bytes $mapped (mapped): $(cat "$TMP/old.txt")"

# The page in a browser: headless Chromium takes a screenshot.
skip() {
  if [ "${CI:-}" = true ]; then fail "$* (CI=true: Chromium must run here; ./run installs it)"; fi
  echo "SKIP: $* -- install the Debian package chromium to run this part" >&2
  exit 77
}
CHROMIUM=${CHROMIUM-$(command -v chromium || command -v chromium-browser || true)} # CHROMIUM= overrides
[ -n "$CHROMIUM" ] || skip "no chromium on PATH"
"$MPIMILL" report "$TMP/out" >/dev/null
mkdir "$TMP/profile"
timeout 120 "$CHROMIUM" --headless --no-sandbox --disable-gpu --disable-quic --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync --user-data-dir="$TMP/profile" \
  --screenshot="$TMP/shot.png" --window-size=1200,800 "file://$TMP/out-report.html" >"$TMP/chromium.log" 2>&1 \
  || { tail -n 20 "$TMP/chromium.log" >&2; skip "chromium failed"; }
[ -s "$TMP/shot.png" ] || { tail -n 20 "$TMP/chromium.log" >&2; skip "chromium wrote no screenshot"; }
python3 "$CHECK" png "$TMP/shot.png" $N
if [ -n "${REPORT_KEEP_SHOT:-}" ]; then cp "$TMP/shot.png" "$REPORT_KEEP_SHOT"; fi
echo "ok: report"
