#!/usr/bin/env python3
"""crash_test.py -- crash, fault and safety tests of the output commit.

Runs `mpirun mpimill run wordcount` and kills it at every numbered fault
point (runtime/fault.h) and at random instants, makes file operations of the
commit path fail (countdown), and plants unsafe entries for recovery and
verify. After every run it recovers the output with `mpimill recover` (once
killed mid-recovery when there is something to recover, then for real) and
checks the invariants against an independent oracle (collections.Counter):

  I1 the output is absent, the previous version, or the complete new result;
  I2 a run that exited 0 has the new result (never rolled back);
  I3 `mpimill verify` passes on whatever is published;
  I4 nothing but the output is left in its parent (no staging, no lock);
  I5 a second recovery changes nothing;
  I6 a failed run prints one clear error line.

usage: crash_test.py --mpimill BIN MODE [--long] [--seed N] [--work DIR]
MODE: points | random | countdown | safety | all | plain | formats | hdf5
(plain: as if on NFS or FUSE, whose rename takes no flags -- failure site 6
for every run and recovery -- the points around the rename, point 15
between the two renames of an --overwrite, and each rename failing.
formats: the countdown of a replace writing --compress gzip parts, and
--single-file's shared data file and index.
hdf5: --format hdf5, whose data.h5 parallel HDF5 writes through MPI-IO
into staging: every point at 2 ranks and 30 random kills (with --long, at
3 and 4 ranks too, 1000 kills and the countdown of a replace). Needs h5py,
to read what was published.)
Exit status 0 when every run kept every invariant; prints counts.
"""
import argparse
import collections
import gzip
import hashlib
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

FAULT_POINTS = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 14]  # 12 is inside recovery
PLAIN_POINTS = [8, 15, 9, 10, 11, 13, 14]  # around the rename; 15 only without rename flags
POINT_IN_RECOVERY = 12
RUN_ARGS = []  # more `mpimill run` arguments for every job (mode formats)
ENV_BASE = {k: v for k, v in os.environ.items() if not k.startswith("MPIMILL_FAULT")}
ENV_BASE.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1",
                OMPI_MCA_rmaps_base_oversubscribe="1", LC_ALL="C")


class Stats:
    def __init__(self):
        self.runs = 0          # mpirun invocations checked
        self.crashes = 0       # of those, runs where something was killed
        self.recovery_kills = 0
        self.violations = []
        self.lock = threading.Lock()

    def add(self, **kw):
        with self.lock:
            for k, v in kw.items():
                setattr(self, k, getattr(self, k) + v)

    def fail(self, case, msg):
        with self.lock:
            self.violations.append(f"{case}: {msg}")
        print(f"VIOLATION {case}: {msg}", flush=True)


# ---- corpus and oracle ----------------------------------------------------

def make_corpus(path, seed, nfiles, lines):
    rng = random.Random(seed)
    vocab = ["w%d%s" % (i, "xyz"[i % 3] * (i % 5)) for i in range(400)] + ["Hello", "hello", "a\u00e9b"]
    os.makedirs(path)
    for f in range(nfiles):
        with open(os.path.join(path, "in-%d.txt" % f), "w", encoding="utf-8") as fh:
            for _ in range(lines):
                n = rng.randint(1, 12)
                fh.write(" ".join(rng.choice(vocab[: rng.randint(5, len(vocab))]) for _ in range(n)))
                fh.write("\t\n" if rng.random() < 0.1 else "\n")


def oracle(path):
    c = collections.Counter()
    for name in sorted(os.listdir(path)):
        with open(os.path.join(path, name), "rb") as fh:
            c.update(fh.read().split())
    return sorted(b"%s\t%d" % (w, n) for w, n in c.items())


def h5_lines(path):
    """The records of a --format hdf5 output, as 'key\tcount' lines."""
    import h5py  # only mode hdf5 needs it; main() found it
    with h5py.File(path, "r") as f:
        kb, ko, v = f["key_bytes"][:].tobytes(), f["key_offsets"][:], f["values"][:]
    if len(ko) != len(v) + 1 or ko[-1] != len(kb):
        return [b"(inconsistent datasets)"]
    return [kb[ko[i]:ko[i + 1]] + b"\t%d" % v[i] for i in range(len(v))]


def output_lines(out):
    lines = []
    for name in sorted(os.listdir(out)):
        if name == "data.h5":
            lines += h5_lines(os.path.join(out, name))
        elif name.startswith("part-") or name == "data":
            with open(os.path.join(out, name), "rb") as fh:
                data = fh.read()
            lines += (gzip.decompress(data) if name.endswith(".gz") else data).splitlines()
    return sorted(lines)


def snapshot(top):
    """Every entry below top with its type, mode and content hash."""
    snap = {}
    for root, dirs, files in os.walk(top):
        for n in dirs + files:
            p = os.path.join(root, n)
            st = os.lstat(p)
            h = ""
            if os.path.isfile(p) and not os.path.islink(p):
                with open(p, "rb") as fh:
                    h = hashlib.sha256(fh.read()).hexdigest()
            elif os.path.islink(p):
                h = "->" + os.readlink(p)
            snap[os.path.relpath(p, top)] = (st.st_mode, h)
    return snap


# ---- processes ----------------------------------------------------------------

def procs_mentioning(tag):
    pids = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open("/proc/%s/cmdline" % d, "rb") as fh:
                if tag.encode() in fh.read():
                    pids.append(int(d))
        except OSError:
            pass
    return pids


def reap(tag, grace=15.0):
    """Waits until no process started for this case (its unique path is on
    the command line) is alive; SIGKILLs stragglers after grace seconds."""
    deadline = time.time() + grace
    while True:
        pids = procs_mentioning(tag)
        if not pids:
            return
        if time.time() > deadline:
            for p in pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
        time.sleep(0.05)


def run_job(mpimill, nranks, corpus, out, overwrite, env_extra, kill_after=None, kill_mode="all"):
    cmd = ["mpirun", "-q", "-n", str(nranks), "--oversubscribe", mpimill, "run", "wordcount",
           "--input", corpus, "--output", out, "--quiet"] + (["--overwrite"] if overwrite else []) + RUN_ARGS
    env = dict(ENV_BASE, **env_extra)
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         start_new_session=True)
    killed = False
    if kill_after is not None:
        try:
            p.wait(timeout=kill_after)
        except subprocess.TimeoutExpired:
            killed = True
            if kill_mode == "all":  # the whole job at one instant, like a node loss
                for pid in [p.pid] + procs_mentioning(out):
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except OSError:
                        pass
            else:  # mpirun alone, which forwards the signal to the ranks
                p.send_signal(signal.SIGTERM)
    try:
        so, se = p.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        p.kill()
        so, se = p.communicate()
        se += b"\n(crash_test: mpirun timed out)"
    reap(out)
    return p.returncode, so.decode(errors="replace"), se.decode(errors="replace"), killed


def mill(mpimill, *args, env_extra=None):
    env = dict(ENV_BASE, **(env_extra or {}))
    r = subprocess.run([mpimill] + list(args), env=env, capture_output=True, timeout=120)
    return r.returncode, r.stdout.decode(errors="replace"), r.stderr.decode(errors="replace")


# ---- checking one run ------------------------------------------------------

class Fixture:
    def __init__(self, mpimill, work, size_lines):
        self.mpimill = mpimill
        self.work = work
        self.old_corpus = os.path.join(work, "corpus-old")
        self.new_corpus = os.path.join(work, "corpus-new")
        make_corpus(self.old_corpus, 1, 3, size_lines)
        make_corpus(self.new_corpus, 2, 4, size_lines)
        self.old = oracle(self.old_corpus)
        self.new = oracle(self.new_corpus)
        assert self.old != self.new
        self.template = os.path.join(work, "template", "out")
        os.makedirs(os.path.dirname(self.template))
        rc, so, se, _ = run_job(mpimill, 2, self.old_corpus, self.template, False, {})
        if rc != 0 or output_lines(self.template) != self.old:
            sys.exit("crash_test: cannot make the previous version: rc=%d %s" % (rc, se))
        self.ncase = 0
        self.lock = threading.Lock()

    def new_case(self, replace):
        with self.lock:
            self.ncase += 1
            d = os.path.join(self.work, "case-%05d" % self.ncase)
        os.makedirs(d)
        out = os.path.join(d, "out")
        if replace:
            shutil.copytree(self.template, out)
        return d, out


def check(fx, stats, case, d, out, replace, rc, se, kill_recovery=True, allow_committed_error=False,
          rank0_killed=False):
    """Recovers and checks I1..I6 for one finished or killed run. rank0_killed:
    a fault killed rank 0, the one that prints the error: the others can
    still exit 1 first, and mpirun with them, without an error line."""
    stats.add(runs=1)
    if "timed out" in se:
        stats.fail(case, "mpirun hung: " + se[-300:])
    leftovers = [n for n in os.listdir(d) if n != "out"]
    if kill_recovery and leftovers:
        r, _, _ = mill(fx.mpimill, "recover", out,
                       env_extra={"MPIMILL_FAULT_POINT": str(POINT_IN_RECOVERY), "MPIMILL_FAULT_RANK": "all"})
        if r == -signal.SIGKILL:
            stats.add(recovery_kills=1)
    r, ro, re_ = mill(fx.mpimill, "recover", out)
    if r != 0:
        stats.fail(case, "recover exited %d: %s" % (r, re_.strip()))
        return
    left = sorted(n for n in os.listdir(d) if n != "out")
    if left:
        stats.fail(case, "leftovers after recovery: %s" % left)
    if not os.path.exists(out):
        state = "absent"
        if replace:
            stats.fail(case, "the previous output disappeared")
    else:
        lines = output_lines(out)
        state = "new" if lines == fx.new else "old" if (replace and lines == fx.old) else "corrupt"
        if state == "corrupt":
            stats.fail(case, "output is neither the old nor the new result (%d lines)" % len(lines))
        v, vo, ve = mill(fx.mpimill, "verify", out)
        if v != 0:
            stats.fail(case, "verify failed on the %s output: %s %s" % (state, vo.strip(), ve.strip()))
    if rc == 0 and state != "new":
        stats.fail(case, "run reported success but the output is %s" % state)
    if rc == 1:  # a clean failure (a killed run exits with a signal status)
        errs = [l for l in se.splitlines() if l.startswith("mpimill: error:")]
        if len(errs) != 1 and not (rank0_killed and not errs):
            stats.fail(case, "exit %d with %d error lines: %r" % (rc, len(errs), se[-400:]))
        if state == "new" and not allow_committed_error and "committed" not in se:
            stats.fail(case, "failed run (exit %d) published the new output: %r" % (rc, se[-300:]))
    before = snapshot(d)
    r2, _, re2 = mill(fx.mpimill, "recover", out)
    if r2 != 0 or snapshot(d) != before:
        stats.fail(case, "second recovery changed something or failed: %s" % re2.strip())
    shutil.rmtree(d, ignore_errors=True)
    return state


# ---- modes ----------------------------------------------------------------------

def pool_run(args, tasks):
    """Runs the task callables on args.jobs threads (each case has its own
    directory, and its processes are told apart by that path)."""
    with ThreadPoolExecutor(max_workers=args.jobs) as ex:
        for f in [ex.submit(t) for t in tasks]:
            f.result()


def mode_points(fx, stats, args, points=FAULT_POINTS, ranks=None):
    ranks = ranks or ([2, 3, 4] if args.long else [2, 4])
    signals = ["KILL", "TERM"] if args.long else ["KILL"]
    reps = 4 if args.long else 1

    def one(point, victim, n, sig, replace, rep):
        d, out = fx.new_case(replace)
        case = "point=%d victim=%s n=%d sig=%s %s rep=%d" % (
            point, victim, n, sig, "replace" if replace else "fresh", rep)
        env = {"MPIMILL_FAULT_POINT": str(point), "MPIMILL_FAULT_RANK": victim, "MPIMILL_FAULT_SIGNAL": sig}
        if point == 14:  # reached only when aborting: make the victim vote NO
            env.update(MPIMILL_FAULT_COUNTDOWN="4", MPIMILL_FAULT_ERRNO="EIO")
        rc, so, se, _ = run_job(fx.mpimill, n, fx.new_corpus, out, replace, env)
        fired = "mpimill: fault:" in se
        stats.add(crashes=int(fired))
        if fired:
            with lock:
                hit.add((point, n))
        st = check(fx, stats, case, d, out, replace, rc, se,
                   rank0_killed=fired and sig == "KILL" and victim in ("0", "all"))
        if args.verbose:
            print("%-55s rc=%-4s fired=%d -> %s" % (case, rc, fired, st), flush=True)

    tasks = []
    for rep in range(reps):
        for n in ranks:
            victims = ["0", "1", "last", "all"] if n > 2 else ["0", "1", "all"]
            for sig in signals:
                for point in points:
                    for victim in victims:
                        for replace in (False, True):
                            tasks.append(lambda a=(point, victim, n, sig, replace, rep): one(*a))
    lock, hit = threading.Lock(), set()
    pool_run(args, tasks)
    # A point no run reached tests nothing: each must fire at every size.
    for n in ranks:
        for point in points:
            if (point, n) not in hit:
                stats.fail("point=%d n=%d" % (point, n), "the fault never fired")


def mode_random(fx, stats, args, count=None):
    rng = random.Random(args.seed)
    count = count or (1000 if args.long else 50)

    def one(i, n, replace, delay, t, kill_mode):
        d, out = fx.new_case(replace)
        case = "random#%d n=%d t=%.2fs delay=%dms %s %s" % (i, n, t, delay, kill_mode,
                                                            "replace" if replace else "fresh")
        rc, so, se, killed = run_job(fx.mpimill, n, fx.new_corpus, out, replace,
                                     {"MPIMILL_FAULT_DELAY_MS": str(delay)}, kill_after=t, kill_mode=kill_mode)
        stats.add(crashes=int(killed))
        if killed:
            with lock:
                kills.append(case)
        st = check(fx, stats, case, d, out, replace, None if killed else rc, se)
        if args.verbose:
            print("%-60s rc=%-4s killed=%d -> %s" % (case, rc, killed, st), flush=True)

    tasks = []
    for i in range(count):
        n = rng.choice([2, 3, 4])
        replace = rng.random() < 0.5
        delay = rng.choice([20, 60, 120])
        t = rng.uniform(0.2, 0.6 + delay * 0.014)
        kill_mode = "all" if rng.random() < 0.75 else "term-mpirun"
        tasks.append(lambda a=(i, n, replace, delay, t, kill_mode): one(*a))
    lock, kills = threading.Lock(), []
    pool_run(args, tasks)
    if len(kills) < count // 10:  # about two thirds are killed mid-run here
        stats.fail("random", "only %d of %d runs were killed before they ended" % (len(kills), count))


def mode_countdown(fx, stats, args, replaces=(False, True), ops=None):
    def combo(err, text, persist, replace, victim):
        for k in range(1, 200):
            d, out = fx.new_case(replace)
            case = "countdown=%d %s persist=%s rank=%s %s" % (
                k, err, persist, victim, "replace" if replace else "fresh")
            env = {"MPIMILL_FAULT_COUNTDOWN": str(k), "MPIMILL_FAULT_ERRNO": err,
                   "MPIMILL_FAULT_PERSIST": persist, "MPIMILL_FAULT_RANK": victim}
            if ops:
                env["MPIMILL_FAULT_OPS"] = ops
            rc, so, se, _ = run_job(fx.mpimill, 2, fx.new_corpus, out, replace, env)
            fired = "mpimill: fault: rank" in se and "file operation" in se
            # A failed fsync is never retried: after the parent's, the job
            # changes nothing more and leaves what it replaced to recovery.
            if replace and "fsync of its parent directory failed" in se and \
                    not any(".mill-staging-" in n or ".mill-old-" in n for n in os.listdir(d)):
                stats.fail(case, "cleanup ran after the parent's fsync failed")
            if rc != 0:
                stats.add(crashes=1)
                if text not in se:
                    stats.fail(case, "error does not name %s: %r" % (text, se[-300:]))
            st = check(fx, stats, case, d, out, replace, rc, se, kill_recovery=False)
            if args.verbose:
                print("%-50s rc=%-3s fired=%d -> %s" % (case, rc, fired, st), flush=True)
            if not fired:
                if k == 1:
                    stats.fail(case, "the first file operation's fault never fired")
                break

    tasks = []
    for err, text in (("EIO", "Input/output error"), ("ENOSPC", "No space left on device")):
        for persist in ("0", "1"):
            for replace in replaces:
                for victim in (["all", "0", "1"] if args.long else ["all"]):
                    tasks.append(lambda a=(err, text, persist, replace, victim): combo(*a))
    pool_run(args, tasks)


def mode_safety(fx, stats, args):
    """Plants unsafe entries; recovery and verify must refuse, touching nothing."""
    m = fx.mpimill

    def expect(case, cond, msg):
        stats.runs += 1
        if not cond:
            stats.fail(case, msg)

    def setup():
        d, out = fx.new_case(True)
        outside = os.path.join(fx.work, "outside-%d" % fx.ncase)
        os.makedirs(outside)
        with open(os.path.join(outside, "victim"), "w") as fh:
            fh.write("precious\n")
        return d, out, outside

    def staging_with_manifest(d, names):
        s = os.path.join(d, ".out.mill-staging-bad")
        os.makedirs(s)
        files = ",".join('{"name": "%s", "size": 9}' % n for n in names)
        with open(os.path.join(s, "_SUCCESS"), "w") as fh:
            fh.write('{"attempt": "bad", "files": [%s]}\n' % files)
        return s

    cases = []
    # 1. a staging entry that is a symbolic link to a directory outside
    d, out, outside = setup()
    os.symlink(outside, os.path.join(d, ".out.mill-staging-evil"))
    cases.append(("staging entry is a symlink", d, out, outside, "symbolic link"))
    # 2. a symlink inside a staging directory
    d, out, outside = setup()
    s = os.path.join(d, ".out.mill-staging-x")
    os.makedirs(s)
    os.symlink(os.path.join(outside, "victim"), os.path.join(s, "part-00000"))
    cases.append(("symlink inside staging", d, out, outside, "symbolic link"))
    # 3. staging manifest naming ../victim, an absolute path, a sub/path
    for bad in ["../outside/victim", "/etc/passwd", "a/../../victim", ".."]:
        d, out, outside = setup()
        staging_with_manifest(d, [bad.replace("outside", os.path.basename(outside))])
        cases.append(("staging manifest names %s" % bad, d, out, outside, "unsafe"))
    # 4. a staging manifest that is itself a symlink
    d, out, outside = setup()
    s = os.path.join(d, ".out.mill-staging-y")
    os.makedirs(s)
    os.symlink(os.path.join(outside, "victim"), os.path.join(s, "_SUCCESS"))
    cases.append(("staging manifest is a symlink", d, out, outside, "symbolic link"))
    # 5. the lock file is a symlink
    d, out, outside = setup()
    os.symlink(os.path.join(outside, "victim"), os.path.join(d, ".out.mill-lock"))
    cases.append(("lock file is a symlink", d, out, outside, "symbolic link"))
    # 5a. with a staging entry to recover, the output's manifest is a
    # symlink, or names a file outside: refused as a staging one would be
    for bad in ("link", "../victim"):
        d, out, outside = setup()
        os.makedirs(os.path.join(d, ".out.mill-staging-z"))
        man = os.path.join(out, "_SUCCESS")
        os.unlink(man)
        if bad == "link":
            os.symlink(os.path.join(outside, "victim"), man)
        else:
            with open(man, "w") as fh:
                fh.write('{"attempt": "z", "files": [{"name": "%s", "size": 9}]}' % bad)
        cases.append(("output manifest is a symlink" if bad == "link" else "output manifest names " + bad,
                      d, out, outside, "symbolic link" if bad == "link" else "unsafe"))
    # 5b. a staging manifest that is a FIFO: refused, not waited on for ever
    d, out, outside = setup()
    s = os.path.join(d, ".out.mill-staging-f")
    os.makedirs(s)
    os.mkfifo(os.path.join(s, "_SUCCESS"))
    cases.append(("staging manifest is a FIFO", d, out, outside, "not a regular file"))

    for name, d, out, outside, word in cases:
        before_out, before_outside = snapshot(d), snapshot(outside)
        r, so, se = mill(m, "recover", out)
        expect(name, r == 1, "recover exited %d, wanted 1" % r)
        expect(name, word in se, "error does not say %r: %r" % (word, se))
        expect(name, snapshot(outside) == before_outside, "something outside was touched")
        expect(name, snapshot(d) == before_out, "the refused entry or the output was changed")
        # a job writing the same output refuses too, and changes nothing
        rc, _, jse, _ = run_job(m, 2, fx.new_corpus, out, True, {})
        expect(name + " (job)", rc == 1 and jse.count("mpimill: error:") == 1,
               "job exit %d: %r" % (rc, jse[-300:]))
        expect(name + " (job)", snapshot(outside) == before_outside, "job touched something outside")
        expect(name + " (job)", output_lines(out) == fx.old, "job changed the output")
        shutil.rmtree(d)

    # 6. verify refuses unsafe manifests and links, and names differing files
    for bad in ["../victim", "/etc/passwd", "x/y"]:
        d, out, outside = setup()
        with open(os.path.join(out, "_SUCCESS"), "w") as fh:
            fh.write('{"attempt": "z", "files": [{"name": "%s", "size": 9}]}' % bad)
        r, so, se = mill(m, "verify", out)
        expect("verify manifest names %s" % bad, r == 1 and "unsafe" in se, "verify: %d %r" % (r, se))
        shutil.rmtree(d)
    d, out, outside = setup()
    os.unlink(os.path.join(out, "_SUCCESS"))
    os.mkfifo(os.path.join(out, "_SUCCESS"))
    for cmd in ("verify", "report"):
        try:
            r, so, se = mill(m, cmd, out) if cmd == "verify" else mill(m, cmd, "--no-html", out)
        except subprocess.TimeoutExpired:
            r, se = -1, "hung on the FIFO"
        expect("%s of a FIFO manifest" % cmd, r == 1 and "not a regular file" in se, "%s: %d %r" % (cmd, r, se))
    shutil.rmtree(d)
    d, out, outside = setup()
    part = os.path.join(out, "part-00000")
    os.unlink(part)
    os.symlink(os.path.join(outside, "victim"), part)
    r, so, se = mill(m, "verify", out)
    expect("verify part is a symlink", r == 1 and "part-00000" in so and "symbolic link" in so,
           "verify: %d %r %r" % (r, so, se))
    shutil.rmtree(d)
    d, out, outside = setup()
    with open(os.path.join(out, "part-00001"), "ab") as fh:
        fh.write(b"x\t1\n")
    with open(os.path.join(out, "stray"), "w") as fh:
        fh.write("s")
    r, so, se = mill(m, "verify", out)
    expect("verify detects a changed and an extra file",
           r == 1 and "part-00001" in so and "stray" in so and "part-00000" not in so, "verify: %d %r" % (r, so))
    shutil.rmtree(d)
    # 7. an existing output without --overwrite: exit 1, one line, nothing changed
    for n in (1, 3):
        d, out, outside = setup()
        before = snapshot(d)
        rc, so, se, _ = run_job(m, n, fx.new_corpus, out, False, {})
        lines = [l for l in se.splitlines() if l.strip()]
        expect("exists without --overwrite n=%d" % n,
               rc == 1 and len(lines) == 1 and "exists" in lines[0] and snapshot(d) == before,
               "exit %d, stderr %r" % (rc, se))
        shutil.rmtree(d)
    # 8. published mode follows the umask; staging is 0700 meanwhile
    d, out = fx.new_case(False)
    old = os.umask(0o027)
    try:
        rc, so, se, _ = run_job(m, 2, fx.new_corpus, out, False, {})
    finally:
        os.umask(old)
    mode = os.stat(out).st_mode & 0o777
    fmode = os.stat(os.path.join(out, "part-00000")).st_mode & 0o777
    expect("umask 027", rc == 0 and mode == 0o750 and fmode == 0o640, "modes %o %o rc=%d" % (mode, fmode, rc))
    shutil.rmtree(d)
    d, out = fx.new_case(False)
    rc, so, se, _ = run_job(m, 2, fx.new_corpus, out, False,
                            {"MPIMILL_FAULT_POINT": "3", "MPIMILL_FAULT_RANK": "0", "MPIMILL_FAULT_DELAY_MS": "0"})
    st = [n for n in os.listdir(d) if ".mill-staging-" in n]
    expect("staging is 0700", st and (os.stat(os.path.join(d, st[0])).st_mode & 0o777) == 0o700,
           "staging %s" % st)
    mill(m, "recover", out)
    shutil.rmtree(d)
    # 9. two jobs on one output are serialized by the lock: the second waits
    #    for the first (slowed down), then replaces its result; with a short
    #    wait it gives up with one line and changes nothing.
    d, out = fx.new_case(True)
    slow = {"MPIMILL_FAULT_DELAY_MS": "400"}
    res = {}
    ta = threading.Thread(target=lambda: res.setdefault("a", run_job(m, 2, fx.old_corpus, out, True, slow)))
    ta.start()
    time.sleep(1.0)
    rb = run_job(m, 2, fx.new_corpus, out, True, {"MPIMILL_LOCK_WAIT_MS": "200"})
    expect("lock busy", rb[0] == 1 and "in use by another job" in rb[2], "job B: %d %r" % (rb[0], rb[2]))
    rc_ = run_job(m, 2, fx.new_corpus, out, True, {})
    ta.join()
    expect("lock serializes", res["a"][0] == 0 and rc_[0] == 0 and output_lines(out) == fx.new
           and os.listdir(d) == ["out"], "A %d, B %d, left %s" % (res["a"][0], rc_[0], os.listdir(d)))
    shutil.rmtree(d)
    # 10. recovery's aside names (.out.mill-old-ATTEMPT, plain-rename
    #     overwrites) are only its own: with out absent, a planted link is
    #     not renamed onto out, nor is the killed staging directory of an
    #     output called out.mill-old-x; a stray file does not block jobs.
    d, out = fx.new_case(False)
    os.symlink("/etc", os.path.join(d, ".out.mill-old-abc"))
    r, so, se = mill(m, "recover", out)
    expect("aside link", r == 0 and not os.path.lexists(out), "recover %d %r %r; out exists: %s"
           % (r, so, se, os.path.lexists(out)))
    shutil.rmtree(d)
    d, out = fx.new_case(False)
    other = out + ".mill-old-x"
    rk, _, _, _ = run_job(m, 2, fx.new_corpus, other, False, {"MPIMILL_FAULT_POINT": "8", "MPIMILL_FAULT_RANK": "0"})
    r, so, se = mill(m, "recover", out)
    expect("another output's staging", r == 0 and not os.path.lexists(out)
           and any(".mill-staging-" in n for n in os.listdir(d)), "recover %d %r %r; left %s"
           % (r, so, se, os.listdir(d)))
    mill(m, "recover", other)
    shutil.rmtree(d)
    d, out = fx.new_case(True)
    with open(os.path.join(d, ".out.mill-old-notes"), "w") as fh:
        fh.write("notes\n")
    rc, so, se, _ = run_job(m, 2, fx.new_corpus, out, True, {})
    expect("stray aside file", rc == 0 and output_lines(out) == fx.new, "job %d %r" % (rc, se))
    shutil.rmtree(d)
    # 11. the output name changes under a running --overwrite job (the lock
    #     keeps out jobs, not users): a directory of someone's files, or a
    #     link, put there after the job checked the name, is not replaced.
    def swap_while_running(replace, plant, word):
        d, out = fx.new_case(replace)
        outside = os.path.join(d, "outside")
        os.makedirs(outside)
        with open(os.path.join(outside, "victim"), "w") as fh:
            fh.write("precious\n")
        res = {}
        t = threading.Thread(target=lambda: res.setdefault("r", run_job(
            m, 2, fx.new_corpus, out, True, {"MPIMILL_FAULT_DELAY_MS": "300"})))
        t.start()
        deadline = time.time() + 30
        while time.time() < deadline and not any(".mill-staging-" in n for n in os.listdir(d)):
            time.sleep(0.01)
        if replace:
            shutil.rmtree(out)
        plant(out, outside)

        def mine():
            return {k: v for k, v in snapshot(d).items() if ".mill-" not in k}
        before = mine()
        t.join()
        rc, _, se, _ = res["r"]
        case = "name changed during the run (%s, %s)" % ("replace" if replace else "fresh", word)
        expect(case, rc == 1 and word in se and se.count("mpimill: error:") == 1, "job %d %r" % (rc, se[-300:]))
        expect(case, mine() == before and sorted(os.listdir(d)) == ["out", "outside"],
               "the planted entry or something beside it changed: %s" % os.listdir(d))
        shutil.rmtree(d)

    def plant_dir(out, outside):
        os.makedirs(out)
        with open(os.path.join(out, "mine.txt"), "w") as fh:
            fh.write("mine\n")

    swap_while_running(False, plant_dir, "not an output")
    swap_while_running(True, lambda out, outside: os.symlink(outside, out), "symbolic link")
    # 12. with the output absent and two earlier outputs set aside, which
    #     one to put back is a guess: recovery refuses and changes nothing.
    d, out = fx.new_case(True)
    shutil.copytree(out, os.path.join(d, ".out.mill-old-a1"))
    os.rename(out, os.path.join(d, ".out.mill-old-b2"))
    before = snapshot(d)
    r, so, se = mill(m, "recover", out)
    expect("two asides", r == 1 and "set aside" in se and snapshot(d) == before, "recover %d %r" % (r, se))
    shutil.rmtree(d)


def mode_plain(fx, stats, args):
    ENV_BASE["MPIMILL_FAULT_SITE"] = "6"
    # Without faults, a fresh output and a replacement both commit.
    for replace in (False, True):
        d, out = fx.new_case(replace)
        case = "plain rename, no fault, %s" % ("replace" if replace else "fresh")
        rc, so, se, _ = run_job(fx.mpimill, 2, fx.new_corpus, out, replace, {})
        if check(fx, stats, case, d, out, replace, rc, se) != "new" or rc != 0:
            stats.fail(case, "did not commit: exit %s %r" % (rc, se[-300:]))
    mode_points(fx, stats, args, points=PLAIN_POINTS, ranks=[2])
    mode_countdown(fx, stats, args, replaces=(False, True), ops="rename")


def mode_formats(fx, stats, args):
    # Each format's own writes and fsyncs on rank 1 are counted: the first
    # few writes fail each of them in turn, with its own message.
    wants = {"--compress": {"write": ["write part-00001.gz"]},
             "--single-file": {"write": ["appending to _index", "writing data at offset"],
                               "fsync": ["single-file: fsync"]}}
    for extra in (["--compress", "gzip"], ["--single-file"]):
        RUN_ARGS[:] = extra
        for ops, texts in wants[extra[0]].items():
            seen = ""
            for k in range(1, 6):
                d, out = fx.new_case(True)
                env = {"MPIMILL_FAULT_COUNTDOWN": str(k), "MPIMILL_FAULT_OPS": ops, "MPIMILL_FAULT_RANK": "1"}
                rc, so, se, _ = run_job(fx.mpimill, 2, fx.new_corpus, out, True, env)
                seen += se
                check(fx, stats, "%s %s countdown=%d rank=1" % (" ".join(extra), ops, k), d, out, True, rc, se)
            for t in texts:
                if t not in seen:
                    stats.fail(" ".join(extra), "no failed %s of rank 1 said %r" % (ops, t))
        mode_countdown(fx, stats, args, replaces=(True,))
    RUN_ARGS[:] = []


def mode_hdf5(fx, stats, args):
    # The previous version is text parts; each new one is a data.h5. A
    # kill inside H5Dwrite or H5Fclose leaves a short or unreadable file in
    # staging, which must never be published.
    RUN_ARGS[:] = ["--format", "hdf5"]
    mode_points(fx, stats, args, ranks=None if args.long else [2])
    mode_random(fx, stats, args, count=None if args.long else 30)
    if args.long:  # the commit's file operations are those of text parts
        mode_countdown(fx, stats, args, replaces=(True,))
    RUN_ARGS[:] = []


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mpimill", required=True)
    ap.add_argument("mode", choices=["points", "random", "countdown", "safety", "all", "plain", "formats", "hdf5"])
    ap.add_argument("--long", action="store_true", help=">= 2000 crash runs (not for CI)")
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--work", help="work directory (default: a new temporary one, removed after)")
    ap.add_argument("--lines", type=int, default=1500, help="lines per corpus file")
    ap.add_argument("-v", "--verbose", action="store_true")
    ap.add_argument("-j", "--jobs", type=int, default=3, help="cases run at once (default 3)")
    args = ap.parse_args()
    if args.mode == "hdf5":
        try:
            import h5py  # noqa: F401
        except ImportError:  # a python3 of its own (pyenv, venv) before Debian's
            if os.path.exists("/usr/bin/python3") and sys.executable != "/usr/bin/python3":
                os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
            sys.exit("crash_test: mode hdf5 needs h5py (apt-get install python3-h5py)")
    mpimill = os.path.abspath(args.mpimill)
    work = args.work or tempfile.mkdtemp(prefix="mill-crash-")
    os.makedirs(work, exist_ok=True)
    t0 = time.time()
    stats = Stats()
    try:
        fx = Fixture(mpimill, work, args.lines)
        modes = ["points", "random", "countdown", "safety"] if args.mode == "all" else [args.mode]
        for mode in modes:
            globals()["mode_" + mode](fx, stats, args)
    finally:
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    print("crash_test %s: %d runs checked, %d crashed/failed runs, %d recoveries killed, %d violations, %.0f s"
          % (args.mode, stats.runs, stats.crashes, stats.recovery_kills, len(stats.violations), time.time() - t0))
    for v in stats.violations[:50]:
        print("  " + v)
    return 1 if stats.violations else 0


if __name__ == "__main__":
    sys.exit(main())
