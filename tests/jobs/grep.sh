#!/usr/bin/env bash
# grep.sh RANKS: the grep job against grep -nE / -c / -v / -i over text
# (line numbers across byte-range splits, CRLF, no final newline, long
# lines, empty files), gzip and a directory of files; option errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
in=$TMP/in
mkdir -p "$in/many"
"$MILLGEN" --bytes 1M --seed 31 "$in/big.txt" > /dev/null
"$MILLGEN" --bytes 60K --seed 32 --crlf "$in/crlf.txt" > /dev/null
"$MILLGEN" --bytes 40K --seed 33 --no-final-newline "$in/nofinal.txt" > /dev/null
"$MILLGEN" --bytes 100K --seed 34 --files 9 "$in/many" > /dev/null
"$MILLGEN" --bytes 80K --seed 35 "$TMP/z.txt" > /dev/null
gzip -c "$TMP/z.txt" > "$in/z.gz"
: > "$in/empty.txt"
{ head -c 50000 /dev/zero | tr '\0' 'q'; printf ' urparb end\n\nurparb\n'; } > "$in/long.txt"
files=$(find "$in" -type f | sort)

# oracle FLAGS PATTERN: grep -n over each file (zcat for .gz, CR stripped),
# as FILE:%010d<TAB>TEXT, sorted.
oracle_grep() {
  local flags=$1 pat=$2 f
  for f in $files; do
    case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac | sed 's/\r$//' | { grep -n $flags -- "$pat" || true; } |
      awk -v f="$f" '{ i = index($0, ":"); printf "%s:%010d\t%s\n", f, substr($0, 1, i - 1), substr($0, i + 1) }'
  done | sort
}

pat='urparb (s|m)|^[a-d]+ |e[[:alpha:]]{8}$'
oracle_grep -E "$pat" > "$TMP/want"
[ -s "$TMP/want" ] || fail "the pattern selects nothing: a useless test"
run_job "$ranks" grep --input "$in" --output "$TMP/out" --opt "pattern=$pat"
same "$TMP/want" "$TMP/out" "grep differs from grep -nE at $ranks ranks"

# A directory named with a trailing slash gives the same keys (in/a.txt, never in//a.txt).
run_job "$ranks" grep --input "$in/" --output "$TMP/slash" --opt "pattern=$pat"
same "$TMP/want" "$TMP/slash" "grep over \"$in/\" differs from grep over \"$in\""

oracle_grep -vE 'a' > "$TMP/want"
run_job "$ranks" grep --input "$in" --output "$TMP/inv" --opt pattern=a --opt invert=1
same "$TMP/want" "$TMP/inv" "invert=1 differs from grep -nvE"

oracle_grep -iE 'URPARB [S-Z]' > "$TMP/want"
run_job "$ranks" grep --input "$in" --output "$TMP/icase" --opt 'pattern=URPARB [S-Z]' --opt icase=1
same "$TMP/want" "$TMP/icase" "icase=1 differs from grep -niE"

# count=1: grep -c per file; files without lines (empty.txt) are absent.
for f in $files; do
  [ -s "$f" ] || continue
  printf '%s\t%s\n' "$f" "$(case $f in *.gz) zcat "$f" ;; *) cat "$f" ;; esac | { grep -cE 'rb (s|m)' || true; })"
done | sort > "$TMP/want"
run_job "$ranks" grep --input "$in" --output "$TMP/count" --opt 'pattern=rb (s|m)' --opt count=1
same "$TMP/want" "$TMP/count" "count=1 differs from grep -c"
python3 - "$TMP/count/_SUCCESS" "$(awk -F'\t' '{ s += $2 } END { print s }' "$TMP/want")" <<'PY' ||
import json, sys
assert json.load(open(sys.argv[1]))["counters"].get("selected_lines") == int(sys.argv[2])
PY
  fail "count=1: the counter selected_lines is not the lines counted"

# Option errors (setup runs the same on every rank: checked at 1 rank).
[ "$ranks" = 1 ] || { echo "grep at $ranks ranks: ok"; exit 0; }
expect_fail "$ranks" 1 "option pattern is required" grep --input "$in/crlf.txt"
expect_fail "$ranks" 1 "option pattern=a(b: " grep --input "$in/crlf.txt" --opt 'pattern=a(b'
expect_fail "$ranks" 1 "option invert=yes: expected 0 or 1" grep --input "$in/crlf.txt" --opt pattern=a --opt invert=yes
expect_fail "$ranks" 2 "job grep has no option 'colour'" grep --input "$in/crlf.txt" --opt pattern=a --opt colour=1
echo "grep at $ranks ranks: ok"
