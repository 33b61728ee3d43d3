#!/usr/bin/env bash
# bad_input.sh RANKS: bad input gives one line from rank 0, the right exit
# code, and leaves no output behind. An error of the whole job (a missing
# input, an existing output) names no rank.
. "$(dirname "$0")/lib.sh"
ranks=$1
printf 'x y\n' > "$TMP/ok.txt"
printf 'x y\n' > "$TMP/secret.txt"; chmod 000 "$TMP/secret.txt"
mkdir "$TMP/exists"
# $nodac runs mpimill as an ordinary user would (root without
# CAP_DAC_OVERRIDE: mode bits apply): root reads mode-000 files anyway.
nodac=$TMP/nodac
printf '#!/bin/sh\nexec setpriv --inh-caps=-dac_override,-dac_read_search --bounding-set=-dac_override,-dac_read_search "%s" "$@"\n' \
  "$MPIMILL" > "$nodac"
chmod +x "$nodac"

# expect CODE PATTERN ARGS...: runs mpimill run, checks exit code and stderr.
expect() {
  local code=$1 pattern=$2; shift 2
  local rc=0
  mpimill_run "$ranks" -- run "$@" > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  [ "$rc" = "$code" ] || fail "exit $rc, wanted $code for: $* ($(cat "$TMP/stderr"))"
  [ "$(err_lines "$TMP/stderr")" = 1 ] || fail "wanted one line of error for: $*, got: $(cat "$TMP/stderr")"
  grep -q -- "$pattern" "$TMP/stderr" || fail "error for $* lacks '$pattern': $(cat "$TMP/stderr")"
  [ ! -e "$TMP/out" ] || fail "output left behind by: $*"
  check_no_leftovers "$TMP/out"
}

expect 1 "error: input $TMP/missing.txt: No such file" wordcount --input "$TMP/missing.txt" --output "$TMP/out"
expect 1 "error: input $TMP/\*.nomatch: no file matches this pattern" wordcount --input "$TMP/*.nomatch" --output "$TMP/out"
# FILE:NAME with FILE a file names a dataset, from its root and not by a pattern.
expect 1 "input $TMP/ok.txt:g/d: an HDF5 dataset is named from the file's root: $TMP/ok.txt:/g/d" \
  wordcount --input "$TMP/ok.txt:g/d" --output "$TMP/out"
expect 1 "input $TMP/ok.txt:/g/\*: HDF5 dataset names are not patterns" wordcount --input "$TMP/ok.txt:/g/*" --output "$TMP/out"
# A glob skips matches named with '_' or '.' as a directory does (an
# earlier output's _SUCCESS), unless its pattern asks for them.
mkdir -p "$TMP/prev"
printf 'k\t1\n' > "$TMP/prev/part-00000"
printf '{"manifest": 1}\n' > "$TMP/prev/_SUCCESS"
mpimill_run "$ranks" -- run wordcount --input "$TMP/prev/*" --output "$TMP/globbed" --quiet
[ "$(cat "$TMP/globbed"/part-* | sort)" = "$(printf '1\t1\nk\t1')" ] ||
  fail "a glob read _SUCCESS: $(cat "$TMP/globbed"/part-* | tr '\n\t' '; ')"
rm -rf "$TMP/globbed"
mpimill_run "$ranks" -- run wordcount --input "$TMP/prev/_*" --output "$TMP/globbed" --quiet
cat "$TMP/globbed"/part-* | grep -q '^{"manifest":' || fail "a glob for _* did not read _SUCCESS"
rm -rf "$TMP/globbed"
mpimill_run "$ranks" -- run wordcount --input "$TMP/prev/[_.]*" --output "$TMP/globbed" --quiet
cat "$TMP/globbed"/part-* | grep -q '^{"manifest":' || fail "a glob for [_.]* did not read _SUCCESS"
rm -rf "$TMP/globbed"
expect 1 "input $TMP/prev/?SUCCESS: matches only names starting with '_' or '.', which are skipped" \
  wordcount --input "$TMP/prev/?SUCCESS" --output "$TMP/out"
# Neither '.' nor '..' (a '.*' matches them), nor a '_' directory by a
# pattern ending in '/'.
mkdir "$TMP/prev/_tmp"; printf 'stray\n' > "$TMP/prev/_tmp/x"
for pattern in "$TMP/prev/.*" "$TMP/prev/*/"; do
  expect 1 "input $(printf '%s' "$pattern" | sed 's/[.*[]/\\&/g'): matches only names starting with '_' or '.'" \
    wordcount --input "$pattern" --output "$TMP/out"
done
rm -rf "$TMP/prev/_tmp"
# A FIFO inside an input directory is skipped, with a warning.
mkfifo "$TMP/prev/pipe"
mpimill_run "$ranks" -- run wordcount --input "$TMP/prev" --output "$TMP/globbed" --quiet 2> "$TMP/stderr"
grep -q "warning: input $TMP/prev/pipe: not a regular file or directory: skipped" "$TMP/stderr" ||
  fail "no warning for a FIFO in an input directory: $(cat "$TMP/stderr")"
rm -rf "$TMP/prev" "$TMP/globbed"
# An output inside an input directory would be read back by the next run;
# an output that is itself the input (read, then replaced) is allowed.
mkdir -p "$TMP/nest"
printf 'a b\n' > "$TMP/nest/in.txt"
mkdir -p "$TMP/nest/sub"
expect 1 "output $TMP/nest/sub/../out is inside the input directory $TMP/nest/: a later run" \
  wordcount --input "$TMP/nest/" --output "$TMP/nest/sub/../out"
[ ! -e "$TMP/nest/out" ] || fail "an output inside its input directory was written"
# The same under a glob whose pattern the output's name matches.
expect 1 "output $TMP/nest/out is under the input pattern $TMP/nest/\*: a later run" \
  wordcount --input "$TMP/nest/*" --output "$TMP/nest/out"
[ ! -e "$TMP/nest/out" ] || fail "an output under its input glob was written"
mpimill_run "$ranks" -- run wordcount --input "$TMP/nest/*.txt" --output "$TMP/nest/out" --quiet ||
  fail "an output the input glob does not match was refused"
rm -rf "$TMP/nest/out"
mpimill_run "$ranks" -- run wordcount --input "$TMP/nest" --output "$TMP/iter" --quiet
mpimill_run "$ranks" -- run wordcount --input "$TMP/iter" --output "$TMP/iter" --overwrite --quiet ||
  fail "an output that is its own input was refused"
rm -rf "$TMP/nest" "$TMP/iter"
# An output that is a mount point cannot be replaced by a rename: refused
# before the job runs, not after (as root; elsewhere mount is not allowed).
mkdir "$TMP/mnt"
printf 'a b\n' > "$TMP/m.txt"
if mount_tmpfs "$TMP/mnt" 1m; then
  rc=0; mpimill_run "$ranks" -- run wordcount --input "$TMP/m.txt" --output "$TMP/mnt" --overwrite 2> "$TMP/stderr" || rc=$?
  umount "$TMP/mnt"
  [ "$rc" = 1 ] && grep -q "output $TMP/mnt is a mount point" "$TMP/stderr" || fail "mount point output: exit $rc, $(cat "$TMP/stderr")"
fi
# A full disk: the error names the output, not only the part file.
python3 -c "import os; print('\\n'.join(os.urandom(8).hex() for _ in range(200000)))" > "$TMP/m.txt"
if mount_tmpfs "$TMP/mnt" 1m; then
  for c in none gzip; do
    rc=0; mpimill_run "$ranks" -- run distinct --input "$TMP/m.txt" --output "$TMP/mnt/out" --compress $c \
      2> "$TMP/stderr" || rc=$?
    [ "$rc" = 1 ] && grep -q "write part-0000[0-9]*\(.gz\)\? (output $TMP/mnt/out): No space left on device" \
      "$TMP/stderr" || fail "a full disk (--compress $c): exit $rc, $(cat "$TMP/stderr")"
    check_no_leftovers "$TMP/mnt/out"
  done
  umount "$TMP/mnt"
fi
printf 'a b\n' > "$TMP/m.txt"
# verify of an output another job replaces meanwhile (held 10 s after it
# read the manifest, fault point 16) says so, not "missing: part-00000".
if [ "$ranks" = 1 ]; then
  mpimill_run 1 -- run wordcount --input "$TMP/ok.txt" --output "$TMP/vr" --quiet
  MPIMILL_FAULT_DELAY_MS=10000 "$MPIMILL" verify "$TMP/vr" > "$TMP/stdout" 2> "$TMP/stderr" & vp=$!
  for i in $(seq 100); do  # until verify holds the output open (it then waits 10 s at point 16)
    ls -l /proc/$vp/fd 2> /dev/null | grep -q -- "-> $TMP/vr\$" && break
    sleep 0.1
  done
  mpimill_run 1 -- run wordcount --input "$TMP/m.txt" --output "$TMP/vr" --overwrite --quiet
  rc=0; wait $vp || rc=$?
  [ "$rc" = 1 ] && grep -q "verify $TMP/vr: the output was replaced or removed while being verified" "$TMP/stderr" ||
    fail "verify during an --overwrite: exit $rc, $(cat "$TMP/stdout" "$TMP/stderr")"
  "$MPIMILL" verify "$TMP/vr" > /dev/null || fail "the replacing output does not verify"
  rm -rf "$TMP/vr"
fi
# --overwrite of an output whose files this user cannot remove: refused
# before the job runs, the old output intact. The rename would have worked,
# and left the old output at the staging name for good.
mkdir "$TMP/ro"
mpimill_run "$ranks" -- run wordcount --input "$TMP/ok.txt" --output "$TMP/ro/out" --quiet
chmod 555 "$TMP/ro/out"
rc=0
MPIMILL=$nodac mpimill_run "$ranks" -- run wordcount --input "$TMP/m.txt" --output "$TMP/ro/out" --overwrite \
  2> "$TMP/stderr" || rc=$?
[ "$rc" = 1 ] && grep -q "output $TMP/ro/out cannot be replaced: its files cannot be removed (Permission denied)" \
  "$TMP/stderr" || fail "an output that cannot be emptied: exit $rc, $(cat "$TMP/stderr")"
[ "$(ls -A "$TMP/ro")" = out ] && "$MPIMILL" verify "$TMP/ro/out" > /dev/null ||
  fail "an output that cannot be emptied was touched: $(ls -A "$TMP/ro")"
chmod 755 "$TMP/ro/out"
# recover where this user cannot write (another user's output): nothing to
# do is exit 0, not "lock file: Permission denied"; leftovers are counted.
chmod 555 "$TMP/ro"
rc=0; "$nodac" recover "$TMP/ro/out" > "$TMP/stdout" 2>&1 || rc=$?
[ "$rc" = 0 ] && grep -q "out: nothing to recover (its parent directory is not writable here)" "$TMP/stdout" ||
  fail "recover in a directory it cannot write, nothing to do: exit $rc, $(cat "$TMP/stdout")"
chmod 755 "$TMP/ro" && mkdir "$TMP/ro/.out.mill-staging-0123456789abcdef" && chmod 555 "$TMP/ro"
rc=0; "$nodac" recover "$TMP/ro/out" > "$TMP/stdout" 2>&1 || rc=$?
[ "$rc" = 1 ] && grep -q "1 entry left by jobs, interrupted or running, in a directory this user cannot write" \
  "$TMP/stdout" || fail "recover in a directory it cannot write, a leftover: exit $rc, $(cat "$TMP/stdout")"
chmod 755 "$TMP/ro"
# recover on a read-only filesystem (an archived output): nothing to do is
# exit 0, not "lock file: Read-only file system"; leftovers are named.
if [ "$ranks" = 1 ] && mount_tmpfs "$TMP/mnt" 1m; then
  mpimill_run 1 -- run wordcount --input "$TMP/m.txt" --output "$TMP/mnt/out" --quiet
  mkdir "$TMP/mnt/.out.mill-staging-0123456789abcdef"
  mount -o remount,ro "$TMP/mnt"
  rc=0; "$MPIMILL" recover "$TMP/mnt/out" > "$TMP/stdout" 2> "$TMP/stderr" || rc=$?
  rc2=0; grep -q "1 entry left by interrupted jobs, on a read-only filesystem" "$TMP/stderr" || rc2=1
  mount -o remount,rw "$TMP/mnt" && rmdir "$TMP/mnt/.out.mill-staging-0123456789abcdef" && mount -o remount,ro "$TMP/mnt"
  rc3=0; "$MPIMILL" recover "$TMP/mnt/out" > "$TMP/stdout2" 2>&1 || rc3=$?
  # A new output there names its parent, not just an internal lock file.
  rc4=0; mpimill_run 1 -- run wordcount --input "$TMP/m.txt" --output "$TMP/mnt/new" 2> "$TMP/stderr4" || rc4=$?
  umount "$TMP/mnt"
  [ "$rc4" = 1 ] && grep -q "Read-only file system (the output's parent directory must be writable)" "$TMP/stderr4" ||
    fail "an output on a read-only filesystem: exit $rc4, $(cat "$TMP/stderr4")"
  [ "$rc" = 1 ] && [ "$rc2" = 0 ] || fail "recover of leftovers on a read-only filesystem: exit $rc, $(cat "$TMP/stderr")"
  [ "$rc3" = 0 ] && grep -q "nothing to recover (read-only filesystem)" "$TMP/stdout2" ||
    fail "recover on a read-only filesystem with nothing to do: exit $rc3, $(cat "$TMP/stdout2")"
fi
rmdir "$TMP/mnt"; rm "$TMP/m.txt"
MPIMILL=$nodac expect 1 "secret.txt: Permission denied" wordcount --input "$TMP/secret.txt" --output "$TMP/out"
# (an HDF5 input it cannot read was "not an HDF5 file")
MPIMILL=$nodac expect 1 "input $TMP/secret.txt:/x: $TMP/secret.txt: Permission denied" \
  histogram --input "$TMP/secret.txt:/x" --output "$TMP/out" --opt bins=2 --opt min=0 --opt max=1
expect 1 "error: output $TMP/exists exists" wordcount --input "$TMP/ok.txt" --output "$TMP/exists"
# The names of the commit's own entries: another output's recovery would
# take such an output for its leftovers (and removed .out.mill-staging-keep).
for o in .out.mill-staging-keep .out.mill-old-1 .out.mill-lock; do
  expect 2 "output $TMP/$o: a name of the form .NAME.mill-staging-\*, .NAME.mill-old-\* or .NAME.mill-lock is kept" \
    wordcount --input "$TMP/ok.txt" --output "$TMP/$o"
done
expect 2 "error: unknown job 'nosuchjob'" nosuchjob --input "$TMP/ok.txt" --output "$TMP/out"
expect 2 "job wordcount has no option 'color'" wordcount --input "$TMP/ok.txt" --output "$TMP/out" --opt color=red
expect 1 "option lower=yes: expected 0 or 1" wordcount --input "$TMP/ok.txt" --output "$TMP/out" --opt lower=yes
expect 2 "unknown option '--bogus'" wordcount --input "$TMP/ok.txt" --output "$TMP/out" --bogus
expect 2 "no --output" wordcount --input "$TMP/ok.txt"
# The other commands' usage errors are one line too (they printed the
# usage, or the usage after the line).
for cmd in "report --bogus $TMP" "report" "verify" "verify a b" "recover --x"; do
  rc=0; "$MPIMILL" $cmd > /dev/null 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 2 ] && [ "$(err_lines "$TMP/stderr")" = 1 ] && grep -q "^mpimill: ${cmd%% *}: " "$TMP/stderr" ||
    fail "mpimill $cmd: exit $rc, $(cat "$TMP/stderr")"
done
"$MPIMILL" help verify | grep -q "^usage: mpimill verify DIR" || fail "mpimill help verify: not verify's usage"
expect 2 "--tmp $TMP/ok.txt: Not a directory" wordcount --input "$TMP/ok.txt" --output "$TMP/out" --tmp "$TMP/ok.txt"
expect 1 "job $TMP/ok.txt: cannot load" "$TMP/ok.txt" --input "$TMP/ok.txt" --output "$TMP/out"
[ -d "$TMP/exists" ] && [ -z "$(ls -A "$TMP/exists")" ] || fail "existing output was touched"
# A path of 4000 bytes leaves room for the reason after it (the message
# was cut at 1 KiB, inside the path).
deep=$TMP; for i in $(seq 19); do deep=$deep/$(printf 'd%.0s' $(seq 200)); done
mkdir -p "$deep"
expect 1 "input $deep/missing.txt: No such file or directory$" wordcount --input "$deep/missing.txt" --output "$TMP/out"
# A newline in a name stays inside the one line of the error, escaped.
expect 1 "error: input $TMP/mis\\\\nsing: No such file" wordcount --input "$TMP/mis"$'\n'"sing" --output "$TMP/out"
# A file reached twice is read once, with a warning (its words counted
# twice before): named twice, by a directory and a path into it, by a link.
mkdir "$TMP/dup"; cp "$TMP/ok.txt" "$TMP/dup/a.txt"; ln -s a.txt "$TMP/dup/b.txt"
for args in "$TMP/ok.txt:$TMP/ok.txt:input $TMP/ok.txt is listed twice: read once" \
            "$TMP/dup:$TMP/dup/./a.txt:input $TMP/dup/b.txt is the same file as $TMP/dup/a.txt: read once"; do
  IFS=: read -r one two want <<< "$args"
  rm -rf "$TMP/dupout"
  mpimill_run "$ranks" -- run wordcount --input "$one" --input "$two" --output "$TMP/dupout" --quiet 2> "$TMP/stderr" ||
    fail "inputs reached twice: $(cat "$TMP/stderr")"
  grep -q "warning: $want" "$TMP/stderr" && [ "$(output_of "$TMP/dupout" | tr '\t\n' '  ')" = "x 1 y 1 " ] ||
    fail "inputs $one and $two: $(output_of "$TMP/dupout" | tr '\t\n' '  '), $(cat "$TMP/stderr")"
done
rm -rf "$TMP/dupout"
# --input @LIST reads the paths a file names, one per line (blank lines
# and '#' comments skipped), as if each were given: beyond the command
# line's length. A missing or empty list fails naming it; an output inside
# a listed directory is refused as for --input DIR.
mkdir "$TMP/lst"; echo "p q" > "$TMP/lst/a.txt"; echo "q r" > "$TMP/lst/b.txt"
printf '# inputs\n%s\n\n%s\n' "$TMP/lst/a.txt" "$TMP/lst/b.txt" > "$TMP/list.txt"
mpimill_run "$ranks" -- run wordcount --input "@$TMP/list.txt" --input "$TMP/ok.txt" --output "$TMP/lstout" --quiet ||
  fail "--input @LIST"
[ "$(output_of "$TMP/lstout" | tr '\t\n' '  ')" = "p 1 q 2 r 1 x 1 y 1 " ] ||
  fail "--input @LIST: $(output_of "$TMP/lstout" | tr '\t\n' '  ')"
rm -rf "$TMP/lstout"
expect 1 "input @$TMP/nolist.txt: No such file or directory$" wordcount --input "@$TMP/nolist.txt" --output "$TMP/out"
printf '# nothing\n\n' > "$TMP/empty-list.txt"
expect 1 "input @$TMP/empty-list.txt: the list names no input" wordcount --input "@$TMP/empty-list.txt" --output "$TMP/out"
echo "$TMP/lst" > "$TMP/dir-list.txt"
expect 1 "output $TMP/lst/out is inside the input directory $TMP/lst" wordcount --input "@$TMP/dir-list.txt" \
  --output "$TMP/lst/out"
rm -rf "$TMP/lst" "$TMP"/*list.txt
# A directory of 12 files named twice: ten lines, then one for the rest.
mkdir "$TMP/dup12"; for i in $(seq 10 21); do echo "w$i" > "$TMP/dup12/f$i.txt"; done
mpimill_run "$ranks" -- run wordcount --input "$TMP/dup12" --input "$TMP/dup12" --output "$TMP/dupout" --quiet \
  2> "$TMP/stderr" || fail "a directory named twice: $(cat "$TMP/stderr")"
[ "$(grep -c "warning: input $TMP/dup12/f.*is listed twice: read once" "$TMP/stderr")" = 10 ] &&
  grep -q "warning: 2 more inputs reached twice: each read once" "$TMP/stderr" &&
  [ "$(output_of "$TMP/dupout" | wc -l)" = 12 ] && ! output_of "$TMP/dupout" | grep -vq $'\t1$' ||
  fail "a directory named twice: $(output_of "$TMP/dupout" | tr '\t\n' '  '), $(cat "$TMP/stderr")"
rm -rf "$TMP/dupout" "$TMP/dup12"
# A directory link back to a directory being listed is a loop: skipped with
# a warning, not followed until ELOOP fails the job.
mkdir "$TMP/loopy"; cp "$TMP/ok.txt" "$TMP/loopy/a.txt"; ln -s . "$TMP/loopy/again"
mpimill_run "$ranks" -- run wordcount --input "$TMP/loopy" --output "$TMP/loopout" --quiet 2> "$TMP/stderr" ||
  fail "a directory link loop: $(cat "$TMP/stderr")"
grep -q "warning: input $TMP/loopy/again: a link back to a directory it is in: skipped" "$TMP/stderr" &&
  [ "$(output_of "$TMP/loopout" | tr '\t\n' '  ')" = "x 1 y 1 " ] ||
  fail "a directory link loop: $(output_of "$TMP/loopout" | tr '\t\n' '  '), $(cat "$TMP/stderr")"
rm -rf "$TMP/loopout"
# In an input directory, names starting with . or _ are not input (_SUCCESS,
# .crc files, a hidden subdirectory), at any depth; named alone, they are.
mkdir -p "$TMP/hid/.git" "$TMP/hid/sub/_logs"; cp "$TMP/ok.txt" "$TMP/hid/sub/a.txt"
for f in .hidden _meta .git/x sub/_SUCCESS sub/_logs/y sub/.a.txt.crc; do echo "skipme $f" > "$TMP/hid/$f"; done
mpimill_run "$ranks" -- run wordcount --input "$TMP/hid" --output "$TMP/hidout" --quiet ||
  fail "a directory with hidden entries"
[ "$(output_of "$TMP/hidout" | tr '\t\n' '  ')" = "x 1 y 1 " ] ||
  fail "names starting with . or _ were read: $(output_of "$TMP/hidout" | tr '\t\n' '  ')"
mpimill_run "$ranks" -- run wordcount --input "$TMP/hid/_meta" --output "$TMP/hidone" --quiet &&
  [ "$(output_of "$TMP/hidone" | tr '\t\n' '  ')" = "_meta 1 skipme 1 " ] || fail "a file named alone: $(output_of "$TMP/hidone")"
rm -rf "$TMP/hid" "$TMP/hidout" "$TMP/hidone"
expect 2 "output $TMP/out/.: not a usable directory name" wordcount --input "$TMP/ok.txt" --output "$TMP/out/."
# An existing file is named as what it is (the message offered --overwrite,
# which then refused it).
touch "$TMP/afile"
expect 1 "error: output $TMP/afile exists and is not a directory" wordcount --input "$TMP/ok.txt" --output "$TMP/afile"
# --overwrite replaces an output or an empty directory, never a directory of
# other files: here the job's own input, which it deleted.
mkdir "$TMP/res" "$TMP/empty"
cp "$TMP/ok.txt" "$TMP/res/raw.txt"
expect 1 "error: output $TMP/res exists and is not an output (no _SUCCESS; it holds raw.txt)" \
  wordcount --input "$TMP/res/raw.txt" --output "$TMP/res" --overwrite
[ "$(ls -A "$TMP/res")" = raw.txt ] || fail "--overwrite touched a directory of other files: $(ls -A "$TMP/res")"
mpimill_run "$ranks" -- run wordcount --input "$TMP/ok.txt" --output "$TMP/empty" --overwrite --quiet &&
  [ -f "$TMP/empty/_SUCCESS" ] || fail "--overwrite of an empty directory"
mpimill_run "$ranks" -- run wordcount --input "$TMP/ok.txt" --output "$TMP/empty" --overwrite --quiet ||
  fail "--overwrite of an output"
# recover through a link to an output finishes what a killed job left beside
# the target (it said "nothing to recover").
if [ "$ranks" = 1 ]; then
  mkdir "$TMP/lk"
  mpimill_run 1 -- run wordcount --input "$TMP/ok.txt" --output "$TMP/lk/out" --quiet
  ln -s out "$TMP/lk/latest"
  MPIMILL_FAULT_POINT=9 mpimill_run 1 -- run wordcount --input "$TMP/ok.txt" --output "$TMP/lk/out" --overwrite \
    > /dev/null 2>&1 && fail "fault point 9 did not stop the job"
  [ -n "$(ls -A "$TMP/lk" | grep mill-)" ] || fail "the killed job left nothing to recover: a useless test"
  "$MPIMILL" recover "$TMP/lk/latest" > "$TMP/stdout" 2>&1 || fail "recover through a link: $(cat "$TMP/stdout")"
  grep -q "latest is a link to $TMP/lk/out" "$TMP/stdout" && [ -z "$(ls -A "$TMP/lk" | grep mill-)" ] ||
    fail "recover through a link left $(ls -A "$TMP/lk"): $(cat "$TMP/stdout")"
  "$MPIMILL" verify "$TMP/lk/out" > /dev/null || fail "the output does not verify after recover through a link"
  # Killed while the old output was set aside (a rename without flags, as
  # on NFS): the link's target is missing, and recover restores it.
  MPIMILL_FAULT_SITE=6 MPIMILL_FAULT_POINT=15 mpimill_run 1 -- run wordcount --input "$TMP/ok.txt" --output "$TMP/lk/out" \
    --overwrite > /dev/null 2>&1 && fail "fault point 15 did not stop the job"
  [ ! -e "$TMP/lk/out" ] || fail "fault point 15 left the output in place: a useless test"
  "$MPIMILL" recover "$TMP/lk/latest" > "$TMP/stdout" 2>&1 || fail "recover through a dangling link: $(cat "$TMP/stdout")"
  "$MPIMILL" verify "$TMP/lk/out" > /dev/null && [ -z "$(ls -A "$TMP/lk" | grep mill-)" ] ||
    fail "recover through a dangling link left $(ls -A "$TMP/lk"): $(cat "$TMP/stdout")"
fi
# Without a one-sided component that spans the ranks (between nodes over
# TCP, Debian's Open MPI leaves pt2pt out), the job says what to pass.
if [ "$ranks" -gt 1 ]; then
  printf 'a b\n' > "$TMP/osc.txt"
  rc=0; mpimill_run "$ranks" --mca btl tcp,self --mca osc '^ucx,pt2pt,sm' -- run wordcount --input "$TMP/osc.txt" \
    --output "$TMP/osc" --quiet 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] && grep -q "cannot create the job's lock window: .*give mpirun --mca osc pt2pt" "$TMP/stderr" &&
    [ ! -e "$TMP/osc" ] || fail "no one-sided component: exit $rc, $(cat "$TMP/stderr")"
fi
echo "bad input at $ranks ranks: ok"
