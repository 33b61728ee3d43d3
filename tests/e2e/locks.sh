#!/usr/bin/env bash
# locks.sh RANKS [MPIRUN-OPTIONS...]: the plugin's named locks under mpimill
# run: a non-atomic file update under mill_lock loses nothing, fencing
# tokens grow, a lock held too long fails the job naming the holder, and a
# lock never released fails the job, readers under mill_lock_shared never
# meet a writer, and a rank failing with a lock held
# releases it (the others do not wait out the timeout), and ranks waiting
# for a lock stop at a signal; names that share a lock deadlock when taken
# by name, not by mill_lock_order.
. "$(dirname "$0")/lib.sh"
ranks=$1; shift
mca=("$@")
seq 1 3000 > "$TMP/in.txt"
echo 0 > "$TMP/counter"
mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/out" \
  --opt mode=count --opt file="$TMP/counter" --quiet
[ "$(cat "$TMP/counter")" = 3000 ] || fail "lost updates under mill_lock: counter $(cat "$TMP/counter"), want 3000"
# Readers under mill_lock_shared never see a writer under mill_lock at work.
mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/rw" \
  --opt mode=rw --opt file="$TMP/marker" > "$TMP/stdout" 2> "$TMP/stderr" || fail "mode=rw: $(cat "$TMP/stderr")"
grep -q "counters: reads=1500, writes=1500" "$TMP/stdout" ||
  fail "mode=rw: $(cat "$TMP/stdout")"

rc=0; mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/o2" \
  --opt mode=leak 2> "$TMP/stderr" || rc=$?
# The rank that holds it is named (not rank 0, which holds nothing).
who=; [ "$ranks" -gt 1 ] && who="rank $((ranks - 1)): "
[ "$rc" = 1 ] && grep -q "error: ${who}job locker ended holding 1 lock, 'leaked' first" "$TMP/stderr" ||
  fail "leaked lock: exit $rc, $(cat "$TMP/stderr")"
[ ! -e "$TMP/o2" ] || fail "output committed with a leaked lock"

if [ "$ranks" -gt 1 ]; then
  rc=0; mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/o3" \
    --opt mode=hold --lock-timeout 1 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] && grep -q "lock 'x'.*rank 0" "$TMP/stderr" && [ "$(grep -o "lock 'x'" "$TMP/stderr" | wc -l)" = 1 ] ||
    fail "timeout (the lock named once): exit $rc, $(cat "$TMP/stderr")"
  [ ! -e "$TMP/o3" ] || fail "output committed after a lock timeout"
  # A rank that fails holding a lock releases it before agreeing on the
  # failure: the others go on instead of waiting out --lock-timeout, and
  # the job fails with the failing rank's own message.
  rc=0; start=$SECONDS
  mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/o4" \
    --opt mode=fail --lock-timeout 60 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] && grep -q "failing while holding x" "$TMP/stderr" ||
    fail "failing holder: exit $rc, $(cat "$TMP/stderr")"
  [ $((SECONDS - start)) -lt 45 ] || fail "failing holder: the others waited $((SECONDS - start)) s for its lock"
  [ ! -e "$TMP/o4" ] || fail "output committed after a failure"
  # A rank queued for a lock stops at a signal (Slurm's warning, a time
  # limit, scancel) at once, not when --lock-timeout runs out.
  rc=0; start=$SECONDS
  mpirun -q -n "$ranks" --oversubscribe "${mca[@]}" "$MPIMILL" run "$PLUGINS/locker.so" \
    --input "$TMP/in.txt" --output "$TMP/o7" --opt mode=hold --lock-timeout 200 2> "$TMP/stderr" & pid=$!
  for _ in $(seq 600); do ls -a "$TMP" | grep -q mill-staging && break; sleep 0.1; done
  sleep 1 # the others queue behind rank 0
  kill -USR1 "$pid"
  wait "$pid" || rc=$?
  [ "$rc" = 138 ] && grep -q "stopped by SIGUSR1" "$TMP/stderr" ||
    fail "a signal to ranks waiting for a lock: exit $rc, $(cat "$TMP/stderr")"
  [ $((SECONDS - start)) -lt 100 ] || fail "ranks waiting for a lock stopped only after $((SECONDS - start)) s"
  [ ! -e "$TMP/o7" ] || fail "output committed after a signal"
  # Two names that share a lock (equal mill_lock_order), taken in the
  # order of the names by two ranks: each holds what the other waits for.
  # Taken by mill_lock_order, never.
  rc=0; mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/o5" \
    --opt mode=order --opt by=name --lock-timeout 4 2> "$TMP/stderr" || rc=$?
  [ "$rc" = 1 ] && grep -q "timed out" "$TMP/stderr" || fail "colliding names by name: exit $rc, $(cat "$TMP/stderr")"
  mpimill_run "$ranks" "${mca[@]}" -- run "$PLUGINS/locker.so" --input "$TMP/in.txt" --output "$TMP/o6" \
    --opt mode=order --opt by=order --lock-timeout 20 --quiet || fail "colliding names by mill_lock_order deadlocked"
fi
echo "named locks at $ranks ranks ${mca[*]}: ok"
