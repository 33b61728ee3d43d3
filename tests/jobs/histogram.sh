#!/usr/bin/env bash
# histogram.sh RANKS: the histogram job over HDF5 datasets (1-D float64 with
# NaNs and values out of range, 2-D int32 with column=, chunked and
# compressed) against python3/h5py; counters; option errors.
. "$(dirname "$0")/lib.sh"
ranks=$1
in=$TMP/in
mkdir -p "$in"
PY=
for p in python3 /usr/bin/python3; do
  if "$p" -c 'import h5py' 2>/dev/null; then PY=$p; break; fi
done
[ -n "$PY" ] || fail "no python3 with h5py (apt-get install python3-h5py)"
"$PY" - "$in/d.h5" <<'PY'
import sys, h5py, numpy as np
r = np.random.default_rng(5)
x = r.normal(0.0, 1.0, 50001)
x[::997] = np.nan
x[5] = 4.0       # == max: the last bin
x[6] = -3.0      # == min: bin 0
for k in range(1, 37):  # every inner edge of bins=37 over [-3, 4]: each opens its bin
    x[6 + k] = -3.0 + k * (7.0 / 37)
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("x", data=x)
    f.create_dataset("g/m", data=r.integers(-100, 100, size=(20003, 3), dtype=np.int32),
                     chunks=(1000, 3), compression="gzip")
    f.create_dataset("fine", data=1e15 + np.arange(9) * 0.125)  # doubles 0.125 apart
    f.create_dataset("sub", data=np.array([0.0, 3e-323, 8e-323]))  # subnormals
PY

# oracle DATASET BINS MIN MAX COLUMN: numpy.histogram over the printed
# edges (MIN + i*(MAX-MIN)/BINS, none past MAX): LO <= x < HI, the last bin
# closed.
oracle() {
  "$PY" - "$in/d.h5" "$@" <<'PY'
import math, sys, h5py
path, ds, bins, mn, mx, col = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), int(sys.argv[6])
def fmt(x):
    for p in (15, 16, 17):
        s = "%.*g" % (p, x)
        if float(s) == x:
            return s
data = h5py.File(path)[ds][...].astype(float)
vals = data.ravel().tolist() if col == 0 else data[:, col - 1].tolist()
import numpy as np
c = {"nan": 0, "below_min": 0, "above_max": 0}
inside = []
for v in vals:
    if math.isnan(v): c["nan"] += 1
    elif v < mn: c["below_min"] += 1
    elif v > mx: c["above_max"] += 1
    else: inside.append(v)
w, width = (mx - mn) / bins, len(str(bins - 1))
edges = [min(mn + i * w, mx) for i in range(bins)] + [mx]
n = np.histogram(inside, bins=edges)[0].tolist()
for i in range(bins):
    print("%0*d\t%s\t%s\t%d" % (width, i, fmt(edges[i]), fmt(edges[i + 1]), n[i]))
print(",".join("%s=%d" % (k, v) for k, v in c.items() if v), file=sys.stderr)
PY
}
oracle /x 37 -3 4 0 > "$TMP/want" 2> "$TMP/counters"
mpimill_run "$ranks" -- run histogram --input "$in/d.h5:/x" --output "$TMP/x" --opt bins=37 --opt min=-3 --opt max=4 \
  > "$TMP/stdout" || fail "histogram /x failed"
same "$TMP/want" "$TMP/x" "histogram of /x differs from python at $ranks ranks"
for c in $(tr ',' ' ' < "$TMP/counters"); do
  grep -qw -- "$c" "$TMP/stdout" || fail "summary lacks $c: $(cat "$TMP/stdout")"
done
oracle /g/m 10 -50 50.5 2 > "$TMP/want" 2> /dev/null
run_job "$ranks" histogram --input "$in/d.h5:/g/m" --output "$TMP/m" --opt bins=10 --opt min=-50 --opt max=50.5 --opt column=2
same "$TMP/want" "$TMP/m" "histogram of /g/m column 2 differs from python at $ranks ranks"
# Bins narrower than the doubles' spacing: many printed edges are equal,
# and a value goes to the last bin whose edge is at or below it (it went to
# a bin whose LO and HI were equal, many bins before).
oracle /fine 1000 1e15 1000000000000001 0 > "$TMP/want" 2> /dev/null
run_job "$ranks" histogram --input "$in/d.h5:/fine" --output "$TMP/fine" --opt bins=1000 --opt min=1e15 \
  --opt max=1000000000000001
same "$TMP/want" "$TMP/fine" "histogram of bins finer than doubles differs from numpy at $ranks ranks"
# A subnormal span: the width rounds up, and the last edges would pass max
# (the last bin's LO was above its HI, and max went to the bin before it).
oracle /sub 10 0 8e-323 0 > "$TMP/want" 2> /dev/null
run_job "$ranks" histogram --input "$in/d.h5:/sub" --output "$TMP/sub" --opt bins=10 --opt min=0 --opt max=8e-323
same "$TMP/want" "$TMP/sub" "histogram of a subnormal span differs from numpy at $ranks ranks"

[ "$ranks" = 1 ] || { echo "histogram at $ranks ranks: ok"; exit 0; }
expect_fail "$ranks" 1 "option max is required" histogram --input "$in/d.h5:/x" --opt bins=3 --opt min=0
expect_fail "$ranks" 1 "options min=2 max=1: expected finite numbers with min < max" histogram --input "$in/d.h5:/x" --opt bins=3 --opt min=2 --opt max=1
expect_fail "$ranks" 1 "max - min is too large for a double" histogram --input "$in/d.h5:/x" --opt bins=3 --opt min=-1e308 --opt max=1e308
expect_fail "$ranks" 1 "option bins=0: expected 1 to 1000000" histogram --input "$in/d.h5:/x" --opt bins=0 --opt min=0 --opt max=1
expect_fail "$ranks" 1 "option column=4: rows of $in/d.h5:/g/m have 3 values" histogram --input "$in/d.h5:/g/m" --opt bins=3 --opt min=0 --opt max=1 --opt column=4
# The job reads HDF5 datasets only (mill_job.inputs): a text file is refused
# before it is read, even empty or with a path like FILE:/DATASET; and a
# text job refuses a dataset rather than taking its rows of doubles as text.
mkdir "$in/run7:"
printf '12345678\n' > "$in/run7:/energy"
: > "$in/empty.txt"
expect_fail "$ranks" 1 "input $in/run7:/energy is text: job histogram reads HDF5 datasets (FILE.h5:/DATASET)$" histogram --input "$in/run7:/energy" --opt bins=2 --opt min=-1e300 --opt max=1e300
expect_fail "$ranks" 1 "input $in/empty.txt is text: job histogram reads HDF5" histogram --input "$in/d.h5:/x" --input "$in/empty.txt" --opt bins=2 --opt min=0 --opt max=1
expect_fail "$ranks" 1 "input $in/d.h5:/x is an HDF5 dataset: job distinct reads text and CSV (\*.csv, \*.csv.gz)$" distinct --input "$in/d.h5:/x"
echo "histogram at $ranks ranks: ok"
