#!/bin/sh
# spin_check.sh MODEL -- model-check the MCS lock protocol (tests/lock/mcs.pml).
# Passes only when the protocol verifies with 2, 3 and 4 processes (no
# assertion violation, no invalid end state, search complete) AND every
# seeded bug (-DBUG=1, -DBUG=2) is rejected. Works in a temporary directory.
# Environment: SPIN (default spin), CC (default cc).
set -u
[ $# -eq 1 ] || { echo "usage: $0 mcs.pml" >&2; exit 2; }
model=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
SPIN=${SPIN:-spin}
CC=${CC:-cc}
tmp=$(mktemp -d) || exit 2
trap 'rm -rf "$tmp"' EXIT INT TERM
cd "$tmp" || exit 2
status=0

# check N BUG [RW]: prints the pan summary line; sets $errors ("" when pan broke).
check() {
    errors=
    rm -f pan pan.* ./*.trail
    if ! "$SPIN" -DN="$1" -DBUG="$2" -DRW="${3:-1}" -a "$model" >spin.log 2>&1; then
        cat spin.log; return
    fi
    if ! "$CC" -O2 -w -DCOLLAPSE -DMEMLIM=1024 -o pan pan.c >cc.log 2>&1; then
        cat cc.log; return
    fi
    ./pan -m2000000 >pan.log 2>&1
    errors=$(sed -n 's/.*errors: \([0-9][0-9]*\).*/\1/p' pan.log | tail -n 1)
    if grep -q -E 'max search depth too small|out of memory' pan.log; then
        echo "N=$1 BUG=$2: incomplete search"; grep -E 'depth|memory' pan.log; errors=
    fi
    states=$(sed -n 's/^ *\([0-9.e+]*\) states, stored.*/\1/p' pan.log | head -n 1)
    echo "N=$1 BUG=$2 RW=${3:-1}: errors: ${errors:-?}, ${states:-?} states"
}

# Reader-writer protocol with 2 and 3 processes; exclusive MCS with 4.
for cfg in "2 0 1" "3 0 1" "4 0 0"; do
    set -- $cfg
    n=$1
    check "$@"
    if [ "$errors" != 0 ]; then
        echo "FAIL: the protocol does not verify with $n processes"
        grep -E 'assertion|invalid end|error' pan.log | head -n 5
        status=1
    fi
done
for bug in 1 2; do
    check 2 "$bug" 1
    if [ -z "$errors" ] || [ "$errors" = 0 ]; then
        echo "FAIL: seeded bug $bug was not detected"
        status=1
    else
        grep -E 'assertion violated|invalid end state' pan.log | head -n 1
    fi
done
[ $status = 0 ] && echo "model: ok"
exit $status
