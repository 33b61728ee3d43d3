# lib.sh -- helpers the bench scripts source; they set $out (a scratch dir) first.

# measure NAME CMD...: wall seconds and max RSS (KiB) of CMD into $out/NAME.time,
# its stdout into $out/NAME.stdout. For a pipeline (bash -c), %M is the largest
# single process's peak.
measure() {
  local name=$1; shift
  /usr/bin/time -f "%e %M" -o "$out/$name.time" "$@" > "$out/$name.stdout" 2> "$out/$name.stderr" ||
    { echo "$name failed:"; cat "$out/$name.stderr"; exit 1; }
}

# rss_per_rank OUT: the largest peak RSS of any rank from OUT's manifest, in KiB.
rss_per_rank() {
  python3 -c 'import json,sys; m=json.load(open(sys.argv[1])); print(max(r["peak_rss"] for r in m["metrics"]["ranks"])//1024)' "$1/_SUCCESS"
}
