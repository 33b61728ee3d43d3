#!/usr/bin/env bash
# run.sh [ROWS] [BUILD_DIR] -- the CSV jobs (groupby, join), mpimill beside its baselines, in one run.
#
# Generates with mawk (seed 42; kept in bench/data/ for the next run):
#   sales-ROWS.csv   id,region,product,price,qty -- ROWS rows (default 20000000,
#                    about 0.6 GiB); id is a customer among ROWS/20, product
#                    one of 1000, price 0.01..999.99, qty 1..20
#   people-ROWS.csv  id,name,city -- customers 1..ROWS/20, 10% absent (their
#                    sales join nothing), 2% twice (their sales join two rows)
# then times, back to back on the same files, warm page cache:
#   groupby by=product agg=count,sum:price,min:price,max:price,sum:qty
#     mawk -F, (one process)  |  mpimill groupby, 2 ranks
#   inner join of sales with people on id
#     mawk hash join (people in an array, sales streamed, one process)
#     sort | join (coreutils; sort --parallel=2)
#     mpimill join, 2 ranks
# checks that the runs agree (groupby: counts, min, max, integer sums exactly,
# price sums to 1e-9 relative; join: row count and checksum of the sorted
# rows) and prints wall time, peak RSS and the ratios mpimill / baseline.
set -euo pipefail
rows=${1:-20000000}
here=$(cd "$(dirname "$0")" && pwd)
build=${2:-$here/../../build/release}
mpimill=$build/bin/mpimill
[ -x "$mpimill" ] || { echo "run.sh: build first (./run build), or pass the build directory" >&2; exit 2; }
[[ $rows =~ ^[1-9][0-9]*$ ]] || { echo "run.sh: ROWS must be a positive integer, not '$rows'" >&2; exit 2; }
export LC_ALL=C OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# pml ob1: without it, Open MPI probes UCX at start-up, 0.25 s per run on this machine.
mpirun=(mpirun -q -n 2 --mca pml ob1)
data=$(cd "$here/.." && pwd)/data
mkdir -p "$data"
sales=$data/sales-$rows.csv people=$data/people-$rows.csv
if [ ! -s "$sales" ] || [ ! -s "$people" ]; then
  echo "generating $sales and $people"
  # Written under temporary names and renamed: a killed run leaves no half file to reuse.
  mawk -v rows="$rows" -v sales="$sales.tmp" -v people="$people.tmp" 'BEGIN {
    srand(42); np = int(rows / 20); if (np < 1) np = 1
    split("north south east west central coast mountain islands", reg, " ")
    print "id,region,product,price,qty" > sales
    for (i = 1; i <= rows; i++)
      print int(rand() * np) + 1 "," reg[int(rand() * 8) + 1] ",product" int(rand() * 1000) "," \
        (int(rand() * 99999) + 1) / 100 "," int(rand() * 20) + 1 > sales
    print "id,name,city" > people
    for (i = 1; i <= np; i++) {
      if (rand() < 0.1) continue
      print i ",name" i ",city" int(rand() * 500) > people
      if (rand() < 0.02) print i ",alias" i ",city" int(rand() * 500) > people
    }
  }'
  mv "$people.tmp" "$people"
  mv "$sales.tmp" "$sales"
fi
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cat "$sales" "$people" > /dev/null # warm the page cache

. "$here/../lib.sh" # measure, rss_per_rank

# groupby ---------------------------------------------------------------------
measure gb_mawk mawk -F, 'FNR > 1 {
  k = $3; p = $4 + 0
  if (!(k in c)) { mn[k] = p; mx[k] = p }
  c[k]++; s[k] += p; q[k] += $5
  if (p < mn[k]) mn[k] = p
  if (p > mx[k]) mx[k] = p
} END { for (k in c) printf "%s\t%d\t%.17g\t%.17g\t%.17g\t%.17g\n", k, c[k], s[k], mn[k], mx[k], q[k] }' "$sales"
measure gb_mill "${mpirun[@]}" "$mpimill" run groupby --input "$sales" --output "$out/gb" --quiet \
  --opt by=product --opt agg=count,sum:price,min:price,max:price,sum:qty

# The results are checked, not only timed: same groups; count, min, max and the
# integer qty sums exactly; price sums (order of additions differs) to 1e-9.
sort "$out/gb_mawk.stdout" > "$out/gb_mawk.sorted"
sort -m "$out"/gb/part-* > "$out/gb_mill.sorted"
groups=$(mawk -F'\t' 'NR == FNR { want[$1] = $0; n++; next }
  function fail(why) { printf "groupby: mpimill differs from mawk: %s\n  mawk:    %s\n  mpimill: %s\n", why, want[$1], $0 > "/dev/stderr"; bad = 1; exit 1 }
  {
    if (!($1 in want)) fail("group " $1 " not in mawk")
    split(want[$1], w, "\t")
    if (NF != 6) fail("not 6 fields")
    for (i = 2; i <= 6; i++) if (i != 3 && w[i] + 0 != $i + 0) fail("field " i)
    d = w[3] - $3; if (d < 0) d = -d
    if (d > 1e-9 * (w[3] < 0 ? -w[3] : w[3])) fail("price sum")
    delete want[$1]; m++
  }
  END { if (bad) exit 1; for (k in want) { print "groupby: group " k " missing in mpimill" > "/dev/stderr"; exit 1 }
        if (m != n || m == 0) exit 1; print m }' "$out/gb_mawk.sorted" "$out/gb_mill.sorted") ||
  { echo "groupby: mpimill (2 ranks) differs from mawk (outputs in $out kept)"; trap - EXIT; exit 1; }

# join ------------------------------------------------------------------------
# All three write KEY<TAB>SALESROW<TAB>PEOPLEROW lines, as mpimill join does.
# mawk: a key's first people row in r[], any further ones in d[] (2% of keys),
# each after a newline.
measure jn_mawk mawk -F, -v 'OFS=\t' 'FNR == 1 { next }
  NR == FNR { if ($1 in r) d[$1] = d[$1] "\n" $0; else r[$1] = $0; next }
  ($1 in r) { print $1, $0, r[$1]; if ($1 in d) { n = split(d[$1], x, "\n"); for (i = 2; i <= n; i++) print $1, $0, x[i] } }' \
  "$people" "$sales"
# people sorted first into a file, sales sorted into join's stdin: a pipeline
# that bash waits for, so that time's %M sees sort (process substitutions are
# not waited for). sort orders the lines of one key by the whole line, so
# join's output, reformatted, is already in the byte order of those lines.
measure jn_sort bash -c 'tail -n +2 "$2" | sort -t, -k1,1 > "$4" && tail -n +2 "$1" | sort -t, -k1,1 -S 1G --parallel=2 |
  join -t, - "$4" | mawk -F, "$3"' \
  sh "$sales" "$people" '{ print $1 "\t" $1 "," $2 "," $3 "," $4 "," $5 "\t" $1 "," $6 "," $7 }' "$out/people.sorted"
measure jn_mill "${mpirun[@]}" "$mpimill" run join --input "$sales" --input "$people" --output "$out/jn" --quiet \
  --opt left="$sales" --opt right="$people" --opt on=id

# Checked: row count and md5 of the rows in byte order. mpimill's parts are
# each sorted, so a merge sorts them; mawk's rows are in sales order.
wc -l < "$out/jn_mawk.stdout" > "$out/jn_mawk.count"
sort -S 1G --parallel=2 "$out/jn_mawk.stdout" | md5sum > "$out/jn_mawk.md5"
wc -l < "$out/jn_sort.stdout" > "$out/jn_sort.count"
sort -C "$out/jn_sort.stdout" || { echo "join: sort | join's rows are not in byte order ($out kept)"; trap - EXIT; exit 1; }
md5sum < "$out/jn_sort.stdout" > "$out/jn_sort.md5"
cat "$out"/jn/part-* | wc -l > "$out/jn_mill.count"
sort -m "$out"/jn/part-* | md5sum > "$out/jn_mill.md5"
for b in jn_mawk jn_sort; do
  name=${b/jn_mawk/the mawk hash join}; name=${name/jn_sort/sort | join}
  if ! cmp -s "$out/$b.count" "$out/jn_mill.count" || ! cmp -s "$out/$b.md5" "$out/jn_mill.md5"; then
    echo "join: mpimill (2 ranks) differs from $name: rows $(cat "$out/jn_mill.count") vs $(cat "$out/$b.count"), md5 $(cut -c1-32 "$out/jn_mill.md5") vs $(cut -c1-32 "$out/$b.md5") (outputs in $out kept)"
    trap - EXIT; exit 1
  fi
done
joined=$(cat "$out/jn_mill.count")
[ "$joined" -gt 0 ] || { echo "join: no rows joined: a useless benchmark"; exit 1; }

# table -----------------------------------------------------------------------
t() { cut -d' ' -f1 "$out/$1.time"; }
m() { echo $(( $(cut -d' ' -f2 "$out/$1.time") / 1024 )); }
gb_rss=$(( $(rss_per_rank "$out/gb") / 1024 )) jn_rss=$(( $(rss_per_rank "$out/jn") / 1024 ))
printf '\nCSV jobs on %s (%s bytes, %s rows) and %s (%s rows), %s cores\n\n' "$(basename "$sales")" \
  "$(stat -c %s "$sales")" "$rows" "$(basename "$people")" "$(( $(wc -l < "$people") - 1 ))" "$(nproc)"
printf '%-34s %9s %14s\n' "run" "seconds" "peak RSS MiB"
printf '%-34s %9s %14s\n' "groupby: mawk -F, (1 process)" "$(t gb_mawk)" "$(m gb_mawk)"
printf '%-34s %9s %14s\n' "groupby: mpimill, 2 ranks" "$(t gb_mill)" "$gb_rss per rank"
printf '%-34s %9s %14s\n' "join: mawk hash join (1 process)" "$(t jn_mawk)" "$(m jn_mawk)"
printf '%-34s %9s %14s\n' "join: sort | join (coreutils)" "$(t jn_sort)" "$(m jn_sort) largest"
printf '%-34s %9s %14s\n' "join: mpimill, 2 ranks" "$(t jn_mill)" "$jn_rss per rank"
echo
awk -v ga="$(t gb_mawk)" -v gm="$(t gb_mill)" -v ja="$(t jn_mawk)" -v js="$(t jn_sort)" -v jm="$(t jn_mill)" \
  -v gar="$(m gb_mawk)" -v gmr="$gb_rss" -v jar="$(m jn_mawk)" -v jsr="$(m jn_sort)" -v jmr="$jn_rss" 'BEGIN {
  r = "%-30s = %5.2fx time, %6.2fx peak RSS (per rank)\n"
  printf r, "mpimill groupby / mawk", gm / ga, gmr / (gar ? gar : 1)
  printf r, "mpimill join / mawk hash join", jm / ja, jmr / (jar ? jar : 1)
  printf r, "mpimill join / sort | join", jm / js, jmr / (jsr ? jsr : 1)
}'
echo "checked: groupby $groups groups equal to mawk's; join $joined rows, equal to both baselines' (count, md5 of sorted rows)"
