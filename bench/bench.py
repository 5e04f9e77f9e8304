#!/usr/bin/python3
"""make bench: owld side by side with Postfix, Dovecot and smtp-sink.

Every server runs from its own temp directory on free loopback ports,
with its own configuration (never the system instance), inside a cgroup
of its own when this machine lets us make one (for CPU time and for the
list of its processes); only the processes started here are stopped.
Each figure is median (min-max) of --rounds rounds (3), every target
(owld and its peers) run in turn inside every round, the order rotated
between rounds (A B C, B C A, C A B), after a quiet gate (CPU idle above
--quiet-idle over --quiet-window s, for at most --quiet-cap s); each run
is printed with the idle share seen and the foreign CPU during it (see
"fair runs" below).  A figure whose runs differ by more than --unsteady
of its median is marked unsteady and gets no met / not met verdict.
Ratios are owld / peer unless the heading says otherwise.  Sections are
functions in a registry (see "sections" below; --only picks them).

1. SMTP durable ingest: smtp-source (Debian's postfix package) sends N
   messages of 5 KB over 1, 10 and 50 sessions to one local user;
   messages/s from the start until the last 250.
2. End to end: the same runs, until every message is a file in the
   recipient's Maildir (counted); Postfix delivers with virtual(8).
3. Server CPU per message over those runs (cgroup CPU time, every
   process of the server), and owld's instructions per message under
   callgrind (repeatable on a noisy machine).
4. POP3 retrieval: bench/pop3load (C) RETRs every message of 10,000
   5 KB messages, one user alone and four users at once.  Peer: Dovecot,
   on a copy of the same Maildirs; both servers up, runs in turn.
4b. Opening a big mailbox (also alone: make bench-open): a whole POP3
   session, connect + login + STAT + LIST + UIDL + QUIT (what a user
   waits for; owld does its first-open work in the login), on a Maildir
   of 10,000 and of 100,000 small messages written straight into new/
   with owld's names (no index yet), then again (the index exists, the
   cache is warm); owld and Dovecot in turn, each on a fresh tree,
   --open-rounds rounds: median (min-max), and owld's RSS growth during
   and after each session next to Dovecot's (PSS of all its processes).
5. Idle connections: N connections that have read the greeting and say
   nothing; proportional set size added per connection, summed over
   every process of the server.
6. Large message: one 50 MB message in over SMTP and out over POP3;
   peak RSS of the largest server process during each transfer.
7. IMAP (also alone: make bench-imap): owld and Dovecot's imapd in turn
   inside each of --imap-rounds rounds, each on a fresh server and a
   fresh Maildir written straight to disk (the same files), load from
   bench/imapload.py: UID FETCH 1:* BODY.PEEK[] of 10,000 5 KB messages,
   1 client and 4 at once on the same folder; SELECT + UID FETCH 1:*
   (FLAGS) of 100,000, first (no index) and second open; 10,000 APPENDs
   of 5 KB; PSS per connection in IDLE (1,000, and 10,000 for owld); RSS
   growth during a 50 MB APPEND and FETCH; median (min-max), ratios and
   the targets of issue 18.  --imap-self-check: Dovecot in owld's column.
   An owld without IMAP fails the section (owld's side only) unless
   BENCH_IMAP_OPTIONAL=1, which prints it as skipped.
A PNG plot of ingest and end-to-end throughput against sessions is
written with gnuplot when it is installed.
"""
import argparse
import importlib
import os
import platform
import pwd
import re
import resource
import shutil
import signal
import smtplib
import poplib
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
from conftest import status_kib, wait_port  # noqa: E402
from test_interop_postfix import MAIN_CF, MASTER_CF  # noqa: E402
from test_interop_owl import DOVECOT_CONF  # noqa: E402
from test_relay import free_port  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("OWLD_BUILD", "build"))
PASSWORD = "pw"


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(open("/proc/meminfo").read().split()[1]) // 1024
    dev, fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True,
                             text=True).stdout.splitlines()[-1].split()[:2]
    try:  # fsync costs differ a lot with and without a journal
        with open("/sys/fs/ext4/%s/journal_task" % os.path.basename(dev)) as f:
            if f.read().strip() == "<none>":
                fs += " without a journal"
    except OSError:
        pass
    return "%s, %d cores, %d MiB, %s %s, temp dir on %s" % (
        cpu, os.cpu_count(), mem, platform.system(), platform.release(), fs)


# --- processes, CPU and memory ------------------------------------------------

class Cgroup:
    """A cgroup of our own (v1 cpuacct or v2), or None where we may not.
    live: the cgroups not yet removed; retired: the CPU seconds of those
    removed (read just before), so that ours_cpu() can count every
    process the bench started, even those gone."""
    seq = 0
    live = set()
    retired = 0.0

    @classmethod
    def make(cls):
        Cgroup.seq += 1
        name = "owlbench-%d-%d" % (os.getpid(), Cgroup.seq)
        for root, v in (("/sys/fs/cgroup/cpuacct", 1), ("/sys/fs/cgroup", 2)):
            probe = "cpuacct.usage" if v == 1 else "cgroup.controllers"
            if not os.path.exists(os.path.join(root, probe)):
                continue
            try:
                os.mkdir(os.path.join(root, name))
            except OSError:
                continue
            cg = cls()
            cg.path, cg.v = os.path.join(root, name), v
            Cgroup.live.add(cg)
            return cg
        return None

    def join(self):  # runs in the child, before exec
        try:
            with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
                f.write(str(os.getpid()))
        except OSError:
            pass  # spawn() notices and falls back to the process tree

    def procs(self):
        with open(os.path.join(self.path, "cgroup.procs")) as f:
            return [int(p) for p in f.read().split()]

    def cpu(self):
        if self.v == 1:
            with open(os.path.join(self.path, "cpuacct.usage")) as f:
                return int(f.read()) / 1e9
        with open(os.path.join(self.path, "cpu.stat")) as f:
            for line in f:
                if line.startswith("usage_usec"):
                    return int(line.split()[1]) / 1e6
        return None

    def remove(self):
        deadline = time.time() + 10
        while time.time() < deadline:
            for p in self.procs():
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            try:
                cpu = self.cpu()
                os.rmdir(self.path)
            except OSError:
                time.sleep(0.1)
                continue
            Cgroup.retired += cpu or 0.0
            Cgroup.live.discard(self)
            return


def descendants(root):
    """root and every process below it (when there is no cgroup)."""
    parent = {}
    for p in os.listdir("/proc"):
        if p.isdigit():
            try:
                with open("/proc/%s/stat" % p) as f:
                    parent[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
            except OSError:
                pass
    out, todo = [], [root]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(c for c, pp in parent.items() if pp == p)
    return out


def pss_kib(pids):
    total = 0
    for p in pids:
        try:
            with open("/proc/%d/smaps_rollup" % p) as f:
                for line in f:
                    if line.startswith("Pss:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def reset_peaks(pids):
    for p in pids:
        try:
            with open("/proc/%d/clear_refs" % p, "w") as f:
                f.write("5")  # resets VmHWM to the current RSS
        except OSError:
            pass


class Server:
    """A server under test: its processes, CPU and memory."""
    cg = None
    proc = None

    def spawn(self, argv, **kw):
        self.cg = Cgroup.make()
        p = subprocess.Popen(argv, preexec_fn=self.cg.join if self.cg else None, **kw)
        if self.cg is not None and p.pid not in self.cg.procs():
            self.cg.remove()  # we may make a cgroup but not move into it
            self.cg = None
        return p

    def root_pid(self):
        return self.proc.pid

    def procs(self):
        if self.cg is not None:
            return self.cg.procs()
        return descendants(self.root_pid())

    def cpu(self):
        return self.cg.cpu() if self.cg is not None else None

    def pss(self):
        return pss_kib(self.procs())

    def release(self):
        if self.cg is not None:
            self.cg.remove()


# --- fair runs: a quiet machine, the targets in turn, the spread --------------
#
# Every figure is made of runs: each target (owld, a peer) once in each of
# --rounds rounds, the targets in turn inside every round and the order
# rotated from round to round (A B C, B C A, C A B, ...), so that a drift
# of the machine (other work, the disk's state, steal time) falls on every
# target alike instead of on whichever ran last.  Before each run the
# quiet gate waits until the machine's CPUs are idle above --quiet-idle
# over --quiet-window seconds (from /proc/stat), for at most --quiet-cap
# seconds; each run records the idle share the gate saw and the foreign
# CPU during the run: the CPU time (user and system) of every process of
# the machine less the bench's own (its cgroups: the servers, the load
# clients, and this script) and less the kernel's threads' (writeback,
# ksoftirqd: they work for the bench too), which are shown apart.  A run
# during which that foreign CPU passed --redo-foreign of a core is made
# again (--redo times at most; the least disturbed is kept).  A
# figure is median (min-max) over its rounds; one whose runs differ by
# more than --unsteady of the median is marked "unsteady", its ratio too,
# and gets no met / not met verdict.

CLIENTS = []  # the load clients' cgroup, made on first use ([] before)


def client_kw():
    """Popen keywords that put a load client (smtp-source, pop3load,
    imapload, owlctl) into the bench's clients' cgroup, so that its CPU
    counts as the bench's and not as foreign; {} where there is none."""
    if not CLIENTS:
        CLIENTS.append(Cgroup.make())
    cg = CLIENTS[0]
    return {"preexec_fn": cg.join} if cg is not None else {}


def ours_cpu():
    """CPU seconds of everything the bench started (the cgroups, live and
    removed) and of this script; None without cgroups."""
    client_kw()
    if CLIENTS[0] is None:
        return None
    t = os.times()
    return (t.user + t.system + Cgroup.retired +
            sum(cg.cpu() or 0.0 for cg in list(Cgroup.live)))


def cpu_stat():
    """(idle, busy, all) CPU seconds of the machine since boot, all CPUs,
    from /proc/stat: idle is idle alone (a CPU in iowait has a disk request
    of someone's outstanding), busy is user, nice and system (what tasks
    cost; irq and softirq are the kernel's, steal another VM's)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:9]]
    tick = os.sysconf("SC_CLK_TCK")
    user, nice, system, idle, iowait, irq, softirq, steal = v
    return idle / tick, (user + nice + system) / tick, sum(v) / tick


def steal_seconds():
    """CPU seconds stolen from this VM by the host since boot, all CPUs
    (/proc/stat's steal): other VMs' work, which no gate here can see."""
    with open("/proc/stat") as f:
        v = f.readline().split()
    return int(v[8]) / os.sysconf("SC_CLK_TCK") if len(v) > 8 else 0.0


def kthreads_cpu():
    """{pid: CPU seconds} of the kernel's threads (kthreadd's children:
    writeback, ksoftirqd, ...): they work for every process, the bench's
    fsyncs and loopback traffic too, so they are counted apart, not as
    foreign.  Per thread: kworkers come and go (kernel_delta)."""
    tick = os.sysconf("SC_CLK_TCK")
    out = {}
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % p) as f:
                v = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if v[1] == "2" or p == "2":  # ppid (field 4), utime, stime (14, 15)
            out[p] = (int(v[11]) + int(v[12])) / tick
    return out


def kernel_delta(k0, k1):
    """CPU seconds kernel threads spent between two kthreads_cpu(): of
    those alive at the end (one gone took its time with it)."""
    return sum(t - k0.get(p, 0.0) for p, t in k1.items())


class Gate:
    """The quiet gate's record of one run: idle (the idle share of the
    last window before the run), waited (seconds), quiet (False: the cap
    came first), foreign (CPU seconds of processes not the bench's during
    the run, None without cgroups), kernel (the kernel threads' CPU
    seconds) and wall (the run's seconds)."""
    foreign = None
    kernel = None
    steal = None
    wall = None
    tries = 1

    def __init__(self, idle, waited, quiet):
        self.idle, self.waited, self.quiet = idle, waited, quiet

    def foreign_share(self):
        """Foreign CPU as a share of one core over the run."""
        if self.foreign is None or not self.wall:
            return None
        return self.foreign / self.wall

    def __str__(self):
        out = "idle %.0f %% after %.1f s%s" % (
            self.idle * 100, self.waited, "" if self.quiet else " (cap: NOT quiet)")
        share = self.foreign_share()
        if share is not None:
            out += ", foreign CPU %.0f %% of a core" % (share * 100)
        if self.kernel is not None and self.wall:
            out += " (kernel threads %.0f %%)" % (self.kernel / self.wall * 100)
        if self.steal and self.wall and self.steal / self.wall >= 0.005:
            out += ", steal %.0f %%" % (self.steal / self.wall * 100)
        if self.tries > 1:
            out += ", the least disturbed of %d tries" % self.tries
        return out


def quiet_gate(a):
    """Waits for a quiet machine: first sync(2), so that no run pays for
    the writeback of the runs before it (a relay run leaves thousands of
    queue files dirty); then windows of a.quiet_window seconds until one
    is idle above a.quiet_idle, or a.quiet_cap seconds have passed."""
    os.sync()
    t0 = time.monotonic()
    while True:
        i0, _, all0 = cpu_stat()
        time.sleep(a.quiet_window)
        i1, _, all1 = cpu_stat()
        idle = (i1 - i0) / (all1 - all0) if all1 > all0 else 1.0
        waited = time.monotonic() - t0
        if idle >= a.quiet_idle:
            return Gate(idle, waited, True)
        if waited >= a.quiet_cap:
            return Gate(idle, waited, False)


def gated_run(a, fn):
    """fn() after the quiet gate: (fn's result, the gate's record with the
    foreign CPU during fn).  A run during which foreign CPU took more than
    a.redo_foreign of a core is made again, a.redo times at most, and the
    least disturbed one kept (the criterion is the machine's, not the
    figure's, and the same for every target)."""
    best = None
    for tries in range(1, a.redo + 2):
        value, gate = gated_once(a, fn)
        gate.tries = tries
        share = gate.foreign_share()
        if best is None or (share or 0) < (best[1].foreign_share() or 0):
            best = value, gate
        if share is None or share <= a.redo_foreign:
            break
        if tries <= a.redo:
            print("  (disturbed: foreign CPU %.0f %% of a core; again)" % (share * 100))
    best[1].tries = tries
    return best


def gated_once(a, fn):
    gate = quiet_gate(a)
    k0, ours0, (_, busy0, _) = kthreads_cpu(), ours_cpu(), cpu_stat()
    s0, t0 = steal_seconds(), time.monotonic()
    value = fn()
    t1, s1 = time.monotonic(), steal_seconds()
    k1, ours1, (_, busy1, _) = kthreads_cpu(), ours_cpu(), cpu_stat()
    gate.wall, gate.kernel, gate.steal = t1 - t0, kernel_delta(k0, k1), s1 - s0
    if ours0 is not None and ours1 is not None:
        gate.foreign = max(0.0, (busy1 - busy0) - (ours1 - ours0) - gate.kernel)
    return value, gate


class Runs:
    """One target's runs of one case: values (a dict of figures per run)
    and gates (the quiet gate's record per run)."""

    def __init__(self):
        self.values, self.gates = [], []

    def col(self, key, scale=1.0):
        return [v[key] * scale for v in self.values
                if v.get(key) is not None and v[key] == v[key]]

    def med(self, key):
        return med(self.col(key))

    def steady(self, key, a):
        return steady(self.col(key), a)


def steady(xs, a, floor=0.0):
    """Whether runs xs agree: (max-min)/median within a.unsteady, or
    max-min within floor (for figures near 0, memory growth: a fraction
    of almost nothing says nothing); one run or none: nothing to say,
    taken as steady."""
    xs = [x for x in xs if x is not None]
    if len(xs) < 2 or max(xs) - min(xs) <= floor:
        return True
    m = statistics.median(xs)
    if m == 0:
        return max(xs) == min(xs)
    return (max(xs) - min(xs)) / abs(m) <= a.unsteady


def rotated(targets, r):
    """The targets in round r's order: A B C, then B C A, then C A B."""
    k = r % len(targets) if targets else 0
    return targets[k:] + targets[:k]


def alternate(a, cases, targets, fn, errors=None, rounds=None, what=""):
    """fn(kind, case) for each case, each target, each round, after the
    quiet gate; inside a round every case has its targets in turn, the
    order rotated from round to round.  cases: [(label, case)]; targets:
    [(label, kind)], or a function of the case giving them.  Each run is
    printed with its gate's record.  {case label: {target label: Runs}}.
    errors: a list to record a failure in (that target is then not run
    again for this case); None: a failure is raised."""
    rounds = a.rounds if rounds is None else rounds
    res, failed = {}, set()
    for r in range(rounds):
        for clabel, case in cases:
            ts = targets(case) if callable(targets) else targets
            got = res.setdefault(clabel, {t: Runs() for t, _ in ts})
            for tlabel, kind in rotated(ts, r):
                if (clabel, tlabel) in failed:
                    continue
                try:
                    value, gate = gated_run(a, lambda: fn(kind, case))
                except (RuntimeError, AssertionError, OSError) as e:
                    if errors is None:
                        raise
                    failed.add((clabel, tlabel))
                    errors.append("%s: %s" % (tlabel, e))
                    print("error: %s: %s" % (tlabel, e))
                    sys.stdout.flush()
                    continue
                got[tlabel].values.append(value)
                got[tlabel].gates.append(gate)
                print("  run: %sround %d/%d, %s%s: %s; %s" % (
                    what + ", " if what else "", r + 1, rounds, tlabel,
                    ", " + clabel if clabel else "", run_figures(value), gate))
                sys.stdout.flush()
    return res


def run_figures(value):
    return " ".join("%s=%.4g" % (k, v) for k, v in value.items()
                    if isinstance(v, (int, float)))


def gate_summary(res):
    """One line on the quiet gate over every run of res (alternate's)."""
    gates = [g for by_target in res.values() for runs in by_target.values()
             for g in runs.gates]
    if not gates:
        return "quiet gate: no runs"
    idles = [g.idle * 100 for g in gates]
    loud = sum(1 for g in gates if not g.quiet)
    shares = [g.foreign_share() * 100 for g in gates
              if g.foreign_share() is not None]
    return ("quiet gate over %d runs: idle share before a run %.0f %% median "
            "(%.0f-%.0f), %d not quiet at the cap; foreign CPU during a run %s"
            % (len(gates), med(idles), min(idles), max(idles), loud,
               "%.0f %% of a core median, %.0f %% at most" % (med(shares), max(shares))
               if shares else "n/a (no cgroups)"))


def cell(xs, spec, a, scale=1.0, floor=0.0):
    """median (min-max) of runs xs, "unsteady" when they disagree (floor:
    steady()'s, after scale)."""
    xs = [x * scale for x in xs if x is not None]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return spec % xs[0]
    out = "%s (%s-%s)" % (spec % med(xs), spec % min(xs), spec % max(xs))
    return out if steady(xs, a, floor) else out + " unsteady"


def fair_ratio(num, den, a):
    """The ratio of two figures' medians (num, den: their runs), with the
    range of the ratios of the runs of the same round (the pairs that
    shared the machine's state) when every round has both, marked
    unsteady when either figure is."""
    r = ratio(med(num), med(den))
    if r == "n/a":
        return r
    pairs = [x / y for x, y in zip(num, den) if y]
    if len(num) == len(den) == len(pairs) >= 2:
        r += " (%.2f-%.2f by round)" % (min(pairs), max(pairs))
    if not (steady(num, a) and steady(den, a)):
        r += " unsteady"
    return r


def judged(value, steady_ok, nruns, ok, want, a):
    """The target's verdict on a median: "want: met / not met"; none for
    an unsteady figure, or one of fewer than 3 rounds."""
    if value is None:
        return want + ": n/a"
    if not steady_ok:
        return want + ": no verdict (unsteady)"
    if nruns < 3:
        return want + ": no verdict (%d round%s)" % (nruns, "" if nruns == 1 else "s")
    return want + ": " + ("met" if ok else "not met")


# --- sections: make bench's parts, in the order they run ---------------------
#
# A section is a function section(a, base, out): a the parsed options, base
# a temp directory of the run's (removed at the end), out a dict shared by
# the sections (the plot's data).  It prints its own Markdown heading and
# tables, made with alternate() (the gate, the targets in turn) and cell(),
# fair_ratio() and judged() (the spread and the verdicts).  register() adds
# one under a name for --only; add_args(ap) may add its options and
# smoke(a) make them small for --smoke.  A section in another file (say
# bench/outbound.py) imports bench, defines its function with these
# helpers, and calls bench.register("outbound", section_outbound, ...) when
# imported; list its module in PLUGINS below and main() imports it.

SECTIONS = {}  # name -> (function, add_args, smoke), in registration order
PLUGINS = ["outbound", "msgauth"]  # modules in bench/ that register sections


def register(name, fn, add_args=None, smoke=None):
    SECTIONS[name] = (fn, add_args, smoke)
    return fn


# --- the servers -------------------------------------------------------------

class Owld(Server):
    name = "owld"

    def __init__(self, base, users=("u",), opts=(), wrap=(), fast_hash=False,
                 imap=False):
        """wrap: a command to run owld under (valgrind); fast_hash: SHA-512
        crypt passwords instead of yescrypt's 16 MiB and ~50 ms per login,
        for figures of the mailbox alone (Dovecot's are {PLAIN}), written
        straight into the users file (thousands of users in a second);
        imap: serve IMAP on a free port (imap_port), else none where this
        owld knows imap.listen."""
        self.d = tempfile.mkdtemp(prefix="owld-", dir=base)
        if fast_hash:
            h = subprocess.run(["openssl", "passwd", "-6", "-salt", "owlbench",
                                PASSWORD], capture_output=True, text=True,
                               check=True, **client_kw()).stdout.strip()
            fd = os.open(os.path.join(self.d, "users"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("".join("%s@localhost:{CRYPT}%s\n" % (u, h) for u in users))
        else:
            for u in users:
                r = subprocess.run([os.path.join(BUILD, "owlctl"), "-D", self.d,
                                    "user", "add", u + "@localhost"],
                                   input=PASSWORD + "\n", text=True,
                                   capture_output=True, **client_kw())
                assert r.returncode == 0, r.stderr
        # a free port may be taken before owld binds it (a load client's
        # connection gets it as its own port): then again on others
        for attempt in range(5):
            self.port, self.pop3_port = free_port(), free_port()
            self.imap_port = free_port() if imap else None
            argv = list(wrap) + [os.path.join(BUILD, "owld"), "-D", self.d,
                    "-o", "smtp.listen=127.0.0.1:%d" % self.port,
                    "-o", "pop3.listen=127.0.0.1:%d" % self.pop3_port,
                    "-o", "submission.listen=",
                    "-o", "imap.listen=",
                    "-o", "max_connections=11000",
                    # the load generators are thousands of clients from one
                    # address: the per-address limits would refuse them
                    "-o", "max_connections_per_ip=0",
                    "-o", "connection_rate_limit=0",
                    "-o", "log.file=" + os.path.join(self.d, "log")]
            if imap:
                argv += ["-o", "imap.listen=127.0.0.1:%d" % self.imap_port]
                if owld_knows("imap.max_connections"):  # IDLE: 10,000 held
                    argv += ["-o", "imap.max_connections=11000"]
            elif owld_knows("imap.listen"):  # not its default port 1143
                argv += ["-o", "imap.listen="]
            for o in opts:
                argv += ["-o", o]
            with open(os.path.join(self.d, "stderr"), "w") as err:
                self.proc = self.spawn(argv, stdout=subprocess.DEVNULL, stderr=err)
            try:
                self.wait_started(120 if wrap else 20)
                return
            except RuntimeError as e:
                self.stop()
                if "Address already in use" not in str(e) or attempt == 4:
                    raise

    def wait_started(self, timeout):
        """Until owld accepts on its SMTP port; RuntimeError with owld's
        last words if it exits first or never accepts."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                with open(os.path.join(self.d, "stderr")) as f:
                    last = (f.read().strip().splitlines() or ["nothing"])[-1]
                raise RuntimeError("owld exited with status %d at start: %s"
                                   % (self.proc.returncode, last))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("owld: nothing listens on port %d" % self.port)

    @staticmethod
    def rcpt(u):
        return u + "@localhost"

    pop3_user = rcpt

    def maildir(self, u):
        return os.path.join(self.d, "mail", "localhost", u)

    def count(self, u):
        return count_maildir(self.maildir(u))

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.release()


KNOWN_KEYS = None


def owld_knows(key):
    """Whether this owld has configuration key key (owlctl check prints
    every key with its value)."""
    global KNOWN_KEYS
    if KNOWN_KEYS is None:
        d = tempfile.mkdtemp(prefix="owlctl-")
        try:
            out = subprocess.run([os.path.join(BUILD, "owlctl"), "-D", d, "check"],
                                 capture_output=True, text=True).stdout
        finally:
            shutil.rmtree(d, ignore_errors=True)
        KNOWN_KEYS = {ln.split(" = ", 1)[0] for ln in out.splitlines()
                      if " = " in ln and not ln.startswith("#")}
    return key in KNOWN_KEYS


def count_maildir(d):
    n = 0
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        if os.path.isdir(p):
            n += len(os.listdir(p))
    return n


def postfix_dir(base, prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir=base)
    os.chmod(d, 0o755)
    os.makedirs(os.path.join(d, "etc"))
    return d


class Postfix(Server):
    name = "postfix"

    def __init__(self, base, users=("u",)):
        d = self.d = postfix_dir(base, "postfix-")
        for sub in ("spool", "data", "vmail"):
            os.makedirs(os.path.join(d, sub))
        pw = pwd.getpwnam("postfix")
        for sub in ("data", "vmail"):
            os.chown(os.path.join(d, sub), pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        with open(os.path.join(d, "etc", "main.cf"), "w") as f:
            f.write(MAIN_CF.format(d=d, uid=pw.pw_uid, gid=pw.pw_gid) +
                    "smtpd_client_connection_count_limit = 0\n"
                    "smtpd_client_connection_rate_limit = 0\n"
                    "default_process_limit = 1100\n"
                    "message_size_limit = 100000000\n"
                    "virtual_mailbox_limit = 0\n")
        with open(os.path.join(d, "etc", "master.cf"), "w") as f:
            f.write(MASTER_CF.format(port=self.port))
        with open(os.path.join(d, "etc", "vmailbox"), "w") as f:
            f.write("".join("%s@pf.test %s/\n" % (u, u) for u in users))
        p = self.spawn(["postfix", "-c", os.path.join(d, "etc"), "start"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        err = p.communicate()[1]
        assert p.returncode == 0, err
        wait_port(self.port)

    def root_pid(self):
        with open(os.path.join(self.d, "spool", "pid", "master.pid")) as f:
            return int(f.read())

    @staticmethod
    def rcpt(u):
        return u + "@pf.test"

    def maildir(self, u):
        return os.path.join(self.d, "vmail", u)

    def count(self, u):
        return count_maildir(self.maildir(u))

    def stop(self):
        subprocess.run(["postfix", "-c", os.path.join(self.d, "etc"), "abort"],
                       capture_output=True)
        self.release()


class Dovecot(Server):
    name = "dovecot"

    def __init__(self, base, maildirs, users=(), imap=False):
        """maildirs: user -> a Maildir to copy in (the same mail owld had);
        users: more users, whose Maildirs the caller makes; imap: serve
        IMAP too, on a free port (imap_port), with no limit of sessions per
        user and address (mail_max_userip_connections, 10 by default)."""
        d = self.d = postfix_dir(base, "dovecot-")
        pw = pwd.getpwnam("postfix")
        os.makedirs(os.path.join(d, "vmail"))
        for u, src in maildirs.items():
            dst = os.path.join(d, "vmail", u)
            shutil.copytree(src, dst)
        for top, dirs, files in os.walk(os.path.join(d, "vmail")):
            for n in dirs + files + [""]:
                os.chown(os.path.join(top, n), pw.pw_uid, pw.pw_gid)
        self.pop3_port = free_port()
        self.imap_port = free_port() if imap else None
        text = DOVECOT_CONF.format(d=d, port=self.pop3_port)
        if imap:
            text = dovecot_imap_conf(text, self.imap_port)
        conf = os.path.join(d, "etc", "dovecot.conf")
        with open(conf, "w") as f:
            f.write(text +
                    "default_process_limit = 1100\n"
                    "default_client_limit = 4000\n")
        with open(os.path.join(d, "etc", "dovecot.passwd"), "w") as f:
            f.write("".join("%s:{PLAIN}%s\n" % (u, PASSWORD)
                            for u in list(maildirs) + list(users)))
        self.proc = self.spawn(["dovecot", "-c", conf, "-F"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.pop3_port)
        if imap:
            wait_port(self.imap_port)

    @staticmethod
    def pop3_user(u):
        return u

    def stop(self):
        # A login process that has not finished its handshake with the
        # stats process holds the master's exit for 5 s: after 0.5 s every
        # process of this instance is killed instead.
        pids = self.procs()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            for p in [self.proc.pid] + pids:
                try:
                    os.kill(p, signal.SIGKILL)
                except OSError:
                    pass
            self.proc.wait()
        self.release()


def dovecot_imap_conf(text, port):
    """DOVECOT_CONF (POP3 only, IMAP's listener on port 0) serving IMAP
    on 127.0.0.1:port as well."""
    for old, new in (("protocols = pop3\n", "protocols = pop3 imap\n"),
                     ("  inet_listener imap {\n    port = 0\n",
                      "  inet_listener imap {\n    address = 127.0.0.1\n"
                      "    port = %d\n" % port)):
        assert text.count(old) == 1, "DOVECOT_CONF changed: %r" % old
        text = text.replace(old, new)
    return text + ("protocol imap {\n"
                   "  mail_max_userip_connections = 20000\n"
                   "}\n")


class Sink(Server):
    name = "smtp-sink"

    def __init__(self, base, users=("u",)):
        self.port = free_port()
        self.proc = self.spawn(
            ["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % self.port, "1000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    @staticmethod
    def rcpt(u):
        return u + "@sink.test"

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        self.release()


# --- helpers -----------------------------------------------------------------

def smtp_source(port, rcpt, sessions, count, size=5000):
    r = subprocess.run(["smtp-source", "-d", "-s", str(sessions), "-m", str(count),
                        "-l", str(size), "-f", "bench@example.org", "-t", rcpt,
                        "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=1200,
                       **client_kw())
    if r.returncode != 0 or r.stderr.strip():
        raise RuntimeError("smtp-source to %s: %s" % (rcpt, r.stderr.strip()))


def wait_count(srv, user, n, timeout=600):
    deadline = time.monotonic() + timeout
    while srv.count(user) < n:
        if time.monotonic() > deadline:
            raise RuntimeError("%s: %d of %d messages in the mailbox" %
                               (srv.name, srv.count(user), n))
        time.sleep(0.005)
    assert srv.count(user) == n, "%s stored %d of %d" % (srv.name, srv.count(user), n)


def pop3load(port, users, *flags):
    r = subprocess.run([os.path.join(BUILD, "pop3load"), "-p", str(port),
                        "-w", PASSWORD] + list(flags) + list(users),
                       capture_output=True, text=True, timeout=1200,
                       **client_kw())
    if r.returncode != 0:
        raise RuntimeError(r.stderr.strip())
    return {k: float(v) for k, v in (f.split("=") for f in r.stdout.split())}


def run_servers(servers, fn):
    """fn(servers()), stopping that server afterwards."""
    srv = servers()
    try:
        return fn(srv)
    finally:
        srv.stop()


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, spec="%.0f"):
    return "n/a" if x is None else spec % x


def ratio(a, b):
    return "n/a" if a is None or b is None or b == 0 else "%.2f" % (a / b)


def table(head, rows):
    print("| " + " | ".join(head) + " |")
    print("|" + "|".join("---:" for _ in head) + "|")
    for r in rows:
        print("| " + " | ".join(r) + " |")
    print()
    sys.stdout.flush()


# --- 1-3: ingest, end to end, CPU ------------------------------------------------

def ingest_run(cls, base, sessions, n):
    """One run: a fresh server, n messages over sessions sessions; msg/s
    until the last 250 ("in"), until the last file in the Maildir ("e2e")
    and the server's CPU ms per message ("cpu"; smtp-sink: "in" only)."""
    srv = cls(base)
    try:
        cpu0 = srv.cpu()
        t0 = time.monotonic()
        smtp_source(srv.port, srv.rcpt("u"), sessions, n)
        t1 = time.monotonic()
        if cls is Sink:
            return {"in": n / (t1 - t0)}
        wait_count(srv, "u", n)
        t2 = time.monotonic()
        cpu1 = srv.cpu()
        cpu = (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None
        return {"in": n / (t1 - t0), "e2e": n / (t2 - t0), "cpu": cpu}
    finally:
        srv.stop()


def callgrind_ir(base, n):
    """Instructions owld executes for n messages over one session."""
    if not shutil.which("valgrind"):
        return None
    out = os.path.join(base, "callgrind-%d.out" % n)
    o = Owld(base, wrap=["valgrind", "--tool=callgrind", "--callgrind-out-file=" + out])
    try:
        if n:
            smtp_source(o.port, o.rcpt("u"), 1, n)
    finally:
        o.stop()
    for line in open(out):
        if line.startswith("summary:") or line.startswith("totals:"):
            return int(line.split()[1])
    return None


def ratio_row(a, label, num, den, want=None, least=None, more=True):
    """A table row of two figures' runs, their ratio (num/den's medians)
    and, with want, the verdict on it: >= least (more) or <= least."""
    r = None if med(num) is None or not med(den) else med(num) / med(den)
    row = [label, fair_ratio(num, den, a)]
    if want is not None:
        ok = r is not None and (r >= least if more else r <= least)
        row.append(judged(r, steady(num, a) and steady(den, a),
                          min(len(num), len(den)), ok, want, a))
    return row


def section_ingest(a, base, out):
    print("## 1. SMTP durable ingest: %d messages of 5 KB, msg/s until the last 250"
          % a.messages)
    print()
    print("Each run a fresh server; owld, Postfix and smtp-sink in turn inside "
          "every round (the order rotated), every session count in each "
          "round; median (min-max) of %d rounds.  Nothing is deleted until "
          "the end (on ext4 without a journal, creating files right after "
          "many were deleted scans the freed inodes)." % a.rounds)
    print()
    targets = [("owld", Owld), ("postfix", Postfix), ("smtp-sink", Sink)]
    res = alternate(a, [("%d sessions" % s, s) for s in a.sessions], targets,
                    lambda cls, s: ingest_run(cls, base, s, a.messages),
                    what="ingest")
    print()

    def runs(s, who, key):
        return res["%d sessions" % s][who].col(key)

    rows = []
    for s in a.sessions:
        o, p, k = (runs(s, t, "in") for t in ("owld", "postfix", "smtp-sink"))
        to_pf = ratio_row(a, "", o, p, ">= 3 (10 sessions and more)", 3)
        if s < 10:
            to_pf[2] = "-"
        rows.append(["%d" % s, cell(o, "%.0f", a), cell(p, "%.0f", a),
                     cell(k, "%.0f", a)] + to_pf[1:] +
                    ratio_row(a, "", o, k, ">= 0.5", 0.5)[1:])
    table(["sessions", "owld", "postfix", "smtp-sink", "owld/postfix", "target",
           "owld/smtp-sink", "target"], rows)
    print("## 2. End to end: msg/s until every message is a file in the Maildir")
    print()
    rows = []
    for s in a.sessions:
        o, p = runs(s, "owld", "e2e"), runs(s, "postfix", "e2e")
        rows.append(["%d" % s, cell(o, "%.0f", a), cell(p, "%.0f", a)] +
                    ratio_row(a, "", o, p, ">= 3.5", 3.5)[1:])
    table(["sessions", "owld", "postfix", "owld/postfix", "target"], rows)
    print("## 3. Server CPU per message, ms (every process of the server, "
          "receive to mailbox)")
    print()
    rows = []
    for s in a.sessions:
        o, p = runs(s, "owld", "cpu"), runs(s, "postfix", "cpu")
        rows.append(["%d" % s, cell(o, "%.3f", a), cell(p, "%.3f", a)] +
                    ratio_row(a, "", p, o, ">= 5", 5)[1:])
    table(["sessions", "owld", "postfix", "postfix/owld", "target"], rows)
    print(gate_summary(res))
    print()
    n1, n2 = a.callgrind
    i1, i2 = callgrind_ir(base, n1), callgrind_ir(base, n2)
    if i1 is not None and i2 is not None:
        print("owld instructions per message (callgrind, one session, "
              "(Ir(%d) - Ir(%d)) / %d): %d" % (n2, n1, n2 - n1, (i2 - i1) // (n2 - n1)))
    else:
        print("owld instructions per message: n/a (valgrind missing)")
    print()
    out["ingest"] = [(s, med(runs(s, "owld", "in")), med(runs(s, "postfix", "in")),
                      med(runs(s, "smtp-sink", "in")), med(runs(s, "owld", "e2e")),
                      med(runs(s, "postfix", "e2e"))) for s in a.sessions]


register("ingest", section_ingest)


# --- 4: POP3 -------------------------------------------------------------------

def retr_run(srv, names, n):
    """RETR of every message by each of names at once: msg/s and MB/s."""
    r = pop3load(srv.pop3_port, names, "-r")
    assert r["messages"] == n * len(names), r
    return {"msgs": r["messages"] / r["seconds"],
            "mb": r["bytes"] / r["seconds"] / 1e6}


def section_pop3(a, base, out):
    users = ["p%d" % i for i in range(1, 5)]
    print("## 4. POP3 retrieval: %d messages of 5 KB per user, one command at a time"
          % a.pop3_messages)
    print()
    print("owld's mailboxes are filled over SMTP, Dovecot gets a copy of the "
          "same Maildirs; both servers stay up, each user's mailbox is "
          "opened once on each untimed, then RETR runs owld and Dovecot in "
          "turn inside every round (the order rotated), median (min-max) of "
          "%d rounds.  The time a user waits to open a mailbox, login "
          "included: section 4b." % a.rounds)
    print()
    o = Owld(base, users)
    try:
        for u in users:
            smtp_source(o.port, o.rcpt(u), 10, a.pop3_messages)
            wait_count(o, u, a.pop3_messages)
        dv = Dovecot(base, {u: o.maildir(u) for u in users})
        try:
            for srv in (o, dv):
                pop3load(srv.pop3_port, [srv.pop3_user(u) for u in users], "-l")
            res = alternate(a, [("1 client", 1), ("4 clients", 4)],
                            [("owld", o), ("dovecot", dv)],
                            lambda srv, c: retr_run(
                                srv, [srv.pop3_user(u) for u in users[:c]],
                                a.pop3_messages), what="pop3")
        finally:
            dv.stop()
    finally:
        o.stop()
    print()
    rows = []
    for c in ("1 client", "4 clients"):
        ow, dw = res[c]["owld"], res[c]["dovecot"]
        rows.append(["%s, msg/s" % c, cell(ow.col("msgs"), "%.0f", a),
                     cell(dw.col("msgs"), "%.0f", a)] +
                    ratio_row(a, "", ow.col("msgs"), dw.col("msgs"), ">= 1.5", 1.5)[1:])
        rows.append(["%s, MB/s" % c, cell(ow.col("mb"), "%.1f", a),
                     cell(dw.col("mb"), "%.1f", a),
                     fair_ratio(ow.col("mb"), dw.col("mb"), a), ""])
    table(["RETR", "owld", "dovecot", "owld/dovecot", "target"], rows)
    print(gate_summary(res))
    print()


register("pop3", section_pop3)


# --- 4b: opening a big mailbox -------------------------------------------------

def make_maildir(d, n, uid=-1, gid=-1, size=None):
    """n small messages written straight into d/new/ with names as owld's
    delivery makes them (TIME.M<usec>P<pid>Q<seq>.HOST,S=<size>,W=<crlf
    size>, store_unique_name and maildir_deliver), about 1 s per 100,000;
    size: messages of size octets instead, each its own (Subject and
    Message-ID carry its number), in lines of 76 and LF line ends as
    owld stores them."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub))
    if uid >= 0:
        for sub in ("", "tmp", "new", "cur"):
            os.chown(os.path.join(d, sub), uid, gid)
    body = (b"From: bench@example.org\nTo: u@localhost\nSubject: open\n\n" +
            b"x" * 70 + b"\n")
    dirfd = os.open(os.path.join(d, "new"), os.O_RDONLY | os.O_DIRECTORY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        for i in range(n):
            if size is not None:
                body = sized_message(i, size)
            tail = ".bench.example,S=%d,W=%d" % (len(body),
                                                 len(body) + body.count(b"\n"))
            # 1000 a second, as a busy delivery would make them
            name = "%d.M%dP4242Q%d%s" % (1700000000 + i // 1000, (i % 1000) * 997,
                                         i + 1, tail)
            fd = os.open(name, flags, 0o600, dir_fd=dirfd)
            try:
                os.write(fd, body)
                if uid >= 0:
                    os.fchown(fd, uid, gid)
            finally:
                os.close(fd)
    finally:
        os.close(dirfd)


def sized_message(i, size):
    """Message i of a folder: size octets, LF line ends."""
    head = ("From: bench@example.org\nTo: u@localhost\nSubject: fetch %d\n"
            "Date: Tue, 14 Nov 2023 22:13:20 +0000\n"
            "Message-ID: <%d.fetch@bench.example>\n\n" % (i, i)).encode()
    line = b"z" * 76 + b"\n"
    body = (head + line * ((size - len(head)) // len(line) + 1))[:size - 1]
    return body + b"\n"


def open_session(srv, user, mem):
    """One POP3 session, login + STAT + LIST + UIDL + QUIT: its seconds
    and mem() at three points: before, mid-session (before QUIT), after."""
    before = mem()
    p = subprocess.Popen([os.path.join(BUILD, "pop3load"), "-p", str(srv.pop3_port),
                          "-w", PASSWORD, "-l", "-H", user],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **client_kw())
    try:
        line = p.stdout.readline()
        if line.strip() != "held":
            raise RuntimeError("pop3load: %s" % p.stderr.read().strip())
        during = mem()
        out, err = p.communicate("go\n", timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0:
        raise RuntimeError(err.strip())
    r = {k: float(v) for k, v in (f.split("=") for f in out.split())}
    time.sleep(0.2)  # the session's end is logged and freed
    return r["session_seconds"], before, during, mem()


def open_round(cls, base, n):
    """A fresh server and a fresh Maildir of n messages (all in new/, no
    index): the first and the second session's seconds ("first",
    "second"), the growth, KiB, of owld's RSS (dovecot: the PSS of every
    process) during and after each, from before the first ("during1",
    "after1", "during2", "after2"), and owld's open_ms of each ("open1",
    "open2"; NaN for dovecot)."""
    user = "o"
    if cls is Owld:
        srv = Owld(base, (user,), fast_hash=True)
        make_maildir(srv.maildir(user), n)
        pid = srv.proc.pid
        mem = lambda: status_kib(pid, "VmRSS")  # noqa: E731
        login = srv.pop3_user(user)
    else:
        pw = pwd.getpwnam("postfix")
        srv = Dovecot(base, {}, users=(user,))
        make_maildir(os.path.join(srv.d, "vmail", user), n, pw.pw_uid, pw.pw_gid)
        mem = srv.pss
        login = user
    try:
        t1, b1, d1, a1 = open_session(srv, login, mem)
        t2, _, d2, a2 = open_session(srv, login, mem)
        opens = open_ms_logged(srv) if cls is Owld else []
    finally:
        srv.stop()
        shutil.rmtree(srv.d, ignore_errors=True)
    o1, o2 = (opens + [float("nan")] * 2)[:2]
    return {"first": t1, "second": t2, "during1": d1 - b1, "after1": a1 - b1,
            "during2": d2 - b1, "after2": a2 - b1, "open1": o1, "open2": o2}


def open_ms_logged(srv):
    """The open_ms of each POP3 login in owld's log, in order: the time the
    mailbox open itself took (store_view_open, on a worker thread)."""
    try:
        with open(os.path.join(srv.d, "log")) as f:
            return [float(m.group(1)) for m in
                    re.finditer(r"event=login .*open_ms=([0-9.]+)", f.read())]
    except OSError:
        return []


def section_open(a, base, out):
    rounds = a.open_rounds or a.rounds
    print("## 4b. Opening a big mailbox: one whole POP3 session, connect + login "
          "+ STAT + LIST + UIDL + QUIT, ms; median (min-max) of %d rounds, owld "
          "and dovecot in turn inside every round (the order rotated)" % rounds)
    print()
    print("Each run: a fresh server and a fresh Maildir of small messages in new/ "
          "(no index yet), then the first and the second session.  owld's "
          "passwords are SHA-512 crypt here and dovecot's {PLAIN}, so the figure is "
          "the mailbox's.  Memory: growth from before the first session, KiB/1024; "
          "owld: VmRSS of its one process; dovecot: PSS of all its processes "
          "(its pop3 process exits with the session).")
    print()
    res = alternate(a, [("%d messages" % n, n) for n in a.open_sizes],
                    [("owld", Owld), ("dovecot", Dovecot)],
                    lambda cls, n: open_round(cls, base, n), rounds=rounds,
                    what="open")
    print()
    rows, mrows, orows = [], [], []
    for n in a.open_sizes:
        ow, dw = res["%d messages" % n]["owld"], res["%d messages" % n]["dovecot"]
        for key, label in (("first", "first open"), ("second", "second open")):
            o, d = ow.col(key, 1000), dw.col(key, 1000)
            want = ratio_row(a, "", d, o, "owld within 2x of dovecot's time", 0.5)
            rows.append(["%d, %s" % (n, label), cell(o, "%.0f", a),
                         cell(d, "%.0f", a)] + want[1:2] +
                        [want[2] if key == "first" else ""])
        for key, label in (("during1", "during the first"),
                           ("after1", "after the first"),
                           ("during2", "during the second"),
                           ("after2", "after the second")):
            o, d = ow.col(key, 1 / 1024), dw.col(key, 1 / 1024)
            during = key.startswith("during")  # after: dovecot's pop3 is gone
            mrows.append(["%d, %s" % (n, label), cell(o, "%.1f", a, floor=0.5),
                          cell(d, "%.1f", a, floor=0.5),
                          ratio(med(o), med(d)) if during else "-",
                          judged(med(o), steady(o, a, 0.5), len(o),
                                 med(o) is not None and med(o) <= 8, "<= 8", a)])
        for key, label in (("open1", "first open"), ("open2", "second open")):
            o = ow.col(key)
            target = ""
            if key == "open2" and n >= 100000:
                target = judged(med(o), steady(o, a), len(o),
                                med(o) is not None and med(o) <= 150, "<= 150 ms", a)
            orows.append(["%d, %s" % (n, label), cell(o, "%.0f", a), target])
    table(["messages, session", "owld ms", "dovecot ms", "dovecot/owld (faster)",
           "target"], rows)
    table(["messages, memory growth MiB", "owld RSS", "dovecot PSS",
           "owld/dovecot", "target (owld)"], mrows)
    print("The open alone (owld's log, open_ms of the login: the lock, the "
          "listings of new/ and cur/ and the UID index, on a worker thread):")
    print()
    table(["messages, open", "owld ms", "target"], orows)
    print(gate_summary(res))
    print()


register("open", section_open)


# --- 5: idle connections ---------------------------------------------------------

def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = n + 256
    if hard != resource.RLIM_INFINITY and want > hard:
        raise RuntimeError("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def idle_kib(srv, port, greeting, n):
    """PSS added per idle connection, KiB, over every server process."""
    before = srv.pss()
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection(("127.0.0.1", port), timeout=60)
            socks.append(s)
            got = s.recv(512)
            if not got.startswith(greeting):
                raise RuntimeError("%s: greeting %r" % (srv.name, got))
        time.sleep(0.5)
        after = srv.pss()
    finally:
        for s in socks:
            s.close()
    return (after - before) / n


def idle_run(kind, base, n):
    """n idle connections to a fresh server of kind: {"kib": PSS added per
    connection} (a fresh owld each: a second test would reuse the first's
    heap)."""
    if kind == "owld SMTP":
        kib = run_servers(lambda: Owld(base), lambda o: idle_kib(o, o.port, b"220", n))
    elif kind == "owld POP3":
        kib = run_servers(lambda: Owld(base),
                          lambda o: idle_kib(o, o.pop3_port, b"+OK", n))
    elif kind == "postfix SMTP":
        kib = run_servers(lambda: Postfix(base),
                          lambda p: idle_kib(p, p.port, b"220", n))
    else:
        empty = tempfile.mkdtemp(dir=base)
        for sub in ("new", "cur", "tmp"):
            os.mkdir(os.path.join(empty, sub))
        kib = run_servers(lambda: Dovecot(base, {"u": empty}),
                          lambda p: idle_kib(p, p.pop3_port, b"+OK", n))
    return {"kib": kib}


def section_idle(a, base, out):
    print("## 5. Idle connections: PSS added per connection, KiB "
          "(every server process); median (min-max) of %d rounds, the servers "
          "in turn inside every round" % a.rounds)
    print()
    raise_nofile(max(a.idle))
    kinds = ["owld SMTP", "postfix SMTP", "owld POP3", "dovecot POP3"]

    def targets(n):
        return [(k, k) for k in kinds if k.startswith("owld") or n <= a.idle_peers]
    res = alternate(a, [("%d connections" % n, n) for n in a.idle], targets,
                    lambda kind, n: idle_run(kind, base, n), what="idle")
    print()
    rows = []
    for n in a.idle:
        got = res["%d connections" % n]
        row = ["%d" % n]
        for k in kinds:
            row.append(cell(got[k].col("kib"), "%.1f", a, floor=1)
                       if k in got else "-")
        for k in ("owld SMTP", "owld POP3"):
            xs = got[k].col("kib")
            row.append(judged(med(xs), steady(xs, a, 1), len(xs),
                              med(xs) is not None and med(xs) <= 8, "<= 8", a))
        rows.append(row)
    table(["connections"] + kinds + ["target, SMTP", "target, POP3"], rows)
    print("(peers only up to %d connections: one process each, about 1 MiB apiece)"
          % a.idle_peers)
    print()
    print(gate_summary(res))
    print()


register("idle", section_idle)


# --- 6: large message ---------------------------------------------------------

def big_message(size):
    line = b"x" * 76 + b"\r\n"
    head = b"From: bench@example.org\r\nTo: u\r\nSubject: large\r\n\r\n"
    return head + line * ((size - len(head)) // len(line))


def peak_kib(srv, transfer):
    """The largest VmHWM of the server's processes during transfer(mark),
    counted from mark() (after the login: yescrypt alone takes 16 MiB)."""
    state = {}

    def mark():
        pids = srv.procs()
        reset_peaks(pids)
        state["before"] = max(status_kib(p, "VmRSS", 0) for p in pids)
    mark()
    transfer(mark)
    peak = max(status_kib(p, "VmHWM", 0) for p in srv.procs())
    return peak, state["before"]


def smtp_send(port, rcpt, msg):
    def transfer(mark):
        with smtplib.SMTP("127.0.0.1", port, timeout=300) as c:
            c.sendmail("bench@example.org", [rcpt], msg)
    return transfer


def pop3_retr(port, user, size):
    def transfer(mark):
        c = poplib.POP3("127.0.0.1", port, timeout=300)
        c.user(user)
        c.pass_(PASSWORD)
        mark()
        _, lines, octets = c.retr(1)
        assert octets >= size, octets
        c.quit()
    return transfer


def large_run(kind, base, size, msg):
    """One message of size octets in over SMTP and out over POP3: peak
    RSS KiB of the largest server process during each ("in", "out"), and
    for owld the growth from before each ("in_growth", "out_growth");
    peers: Postfix in, Dovecot out (on Postfix's Maildir)."""
    if kind == "owld":
        o = Owld(base, opts=["smtp.max_size=%d" % (size * 2)])
        try:
            oin, obase = peak_kib(o, smtp_send(o.port, o.rcpt("u"), msg))
            oout, obase2 = peak_kib(o, pop3_retr(o.pop3_port, o.pop3_user("u"),
                                                 size))
        finally:
            o.stop()
        return {"in": oin, "out": oout, "in_growth": oin - obase,
                "out_growth": oout - obase2}
    pf = Postfix(base)
    try:
        pin, _ = peak_kib(pf, smtp_send(pf.port, pf.rcpt("u"), msg))
        wait_count(pf, "u", 1)
        dv = Dovecot(base, {"u": pf.maildir("u")})
        try:
            dout, _ = peak_kib(dv, pop3_retr(dv.pop3_port, "u", size))
        finally:
            dv.stop()
    finally:
        pf.stop()
    return {"in": pin, "out": dout}


def section_large(a, base, out):
    size = a.large
    msg = big_message(size)
    print("## 6. Large message: %d MB in over SMTP, out over POP3; "
          "peak RSS of the largest server process, MiB; median (min-max) of "
          "%d rounds, owld and its peers in turn" % (size // 1000000, a.rounds))
    print()
    res = alternate(a, [("", None)],
                    [("owld", "owld"), ("postfix / dovecot", "peers")],
                    lambda kind, _: large_run(kind, base, size, msg),
                    what="large")[""]
    print()
    ow, pw = res["owld"], res["postfix / dovecot"]
    rows = []
    for key, label in (("in", "SMTP in"), ("out", "POP3 out")):
        g = ow.col(key + "_growth", 1 / 1024)
        rows.append([label, cell(ow.col(key, 1 / 1024), "%.1f", a, floor=0.5),
                     cell(g, "%.1f", a, floor=0.5),
                     cell(pw.col(key, 1 / 1024), "%.1f", a, floor=0.5),
                     judged(med(g), steady(g, a, 0.5), len(g),
                            med(g) is not None and med(g) < 8, "growth < 8", a)])
    table(["", "owld", "owld growth", "postfix / dovecot", "target"], rows)
    print(gate_summary({"": res}))
    print()


register("large", section_large)


# --- 7: IMAP --------------------------------------------------------------------

IMAPLOAD = os.path.join(ROOT, "bench", "imapload.py")


class ImapNotServed(Exception):
    pass


def imap_optional():
    """BENCH_IMAP_OPTIONAL=1: an owld that does not serve IMAP yet is
    skipped, not a failure (for runs before IMAP is merged)."""
    return os.environ.get("BENCH_IMAP_OPTIONAL") == "1"


def wait_imap_greeting(port, proc, timeout=20):
    """Waits for an IMAP greeting on 127.0.0.1:port; ImapNotServed if proc
    exits or nothing greets in time."""
    deadline = time.monotonic() + timeout
    last = "nothing listens"
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ImapNotServed("owld exited with status %d" % proc.returncode)
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                got = s.recv(512)
                if got.startswith(b"* OK"):
                    return
                last = "greeting %r" % got[:80]
        except OSError as e:
            last = str(e)
        time.sleep(0.1)
    raise ImapNotServed("no IMAP greeting on 127.0.0.1:%d (%s)" % (port, last))


def imap_server(kind, base, users, a):
    """A fresh server, "owld" or "dovecot", serving IMAP to users (their
    Maildirs are the caller's: make_maildir(srv.inbox(u), ...,
    *srv.owner)); srv.imap_login(u) is the name to log in with."""
    if kind == "owld":
        if not owld_knows("imap.listen"):
            raise ImapNotServed("this owld has no imap.listen key")
        # APPEND's limit is smtp.max_size's unless imap.append_max says
        # otherwise; no limit of sessions per user, as for Dovecot
        opts = ["smtp.max_size=%d" % max(2 * a.imap_big, 36700160)]
        if owld_knows("imap.max_sessions_per_user"):
            opts.append("imap.max_sessions_per_user=0")
        opts += a.owld_imap_opt
        srv = Owld(base, users, opts=opts, fast_hash=True, imap=True)
        try:
            wait_imap_greeting(srv.imap_port, srv.proc)
        except ImapNotServed:
            srv.stop()
            raise
        srv.imap_login = lambda u: u + "@localhost"
        srv.inbox = srv.maildir
        srv.owner = (-1, -1)
    else:
        srv = Dovecot(base, {}, users=users, imap=True)
        pw = pwd.getpwnam("postfix")
        srv.imap_login = lambda u: u
        srv.inbox = lambda u: os.path.join(srv.d, "vmail", u)
        srv.owner = (pw.pw_uid, pw.pw_gid)
    return srv


def with_imap_server(kind, base, users, a, fn):
    """fn(srv) on a fresh server; the server and its tree go afterwards."""
    srv = imap_server(kind, base, users, a)
    try:
        return fn(srv)
    finally:
        srv.stop()
        shutil.rmtree(srv.d, ignore_errors=True)


def imapload(srv, user, mode, *flags, held=None):
    """bench/imapload.py against srv as user: its key=value line as floats.
    held: for the modes that stop before (and after) the timed command,
    held("before") and held("after") are called there."""
    argv = [sys.executable, IMAPLOAD, "-p", str(srv.imap_port),
            "-u", srv.imap_login(user), "-w", PASSWORD, mode] + [str(f) for f in flags]
    p = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **client_kw())
    try:
        if held is not None:
            for point in ("before", "after"):
                line = p.stdout.readline()
                if not line.startswith("held"):
                    break
                held(point)
                p.stdin.write("go\n")
                p.stdin.flush()
                if mode == "hold":
                    break  # one stop only
        out, err = p.communicate(timeout=1800)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    if p.returncode != 0:
        raise RuntimeError(err.strip() or "imapload %s died" % mode)
    return {k: float(v) for k, v in (f.split("=") for f in out.split())}


def imap_fetch_round(kind, base, a):
    """One FETCH folder, 1 client then 4 clients at once on it: msg/s,
    MB/s and the load client's CPU share."""
    n = a.imap_fetch

    def run(srv):
        make_maildir(srv.inbox("f"), n, *srv.owner, size=5000)
        imapload(srv, "f", "fetch", "-n", n)  # untimed: index made, cache warm
        out = {}
        for c in (1, 4):
            r = imapload(srv, "f", "fetch", "-c", c, "-n", n)
            assert r["messages"] == n * c, r
            out["f%d" % c] = r["messages"] / r["seconds"]
            out["f%dmb" % c] = r["bytes"] / r["seconds"] / 1e6
            out["cpu%d" % c] = r["client_cpu"] / r["seconds"] / c
        return out
    return with_imap_server(kind, base, ("f",), a, run)


def imap_open_round(kind, base, a):
    """SELECT + UID FETCH 1:* (FLAGS) on a fresh Maildir (all in new/, no
    index), then again in a second session: seconds of each."""
    def run(srv):
        make_maildir(srv.inbox("o"), a.imap_open, *srv.owner)
        r1 = imapload(srv, "o", "open", "-n", a.imap_open)
        r2 = imapload(srv, "o", "open", "-n", a.imap_open)
        return {"first": r1["seconds"], "second": r2["seconds"]}
    return with_imap_server(kind, base, ("o",), a, run)


def imap_append_round(kind, base, a):
    """APPENDs of 5 KB messages to an empty INBOX, one client: msg/s."""
    n = a.imap_append

    def run(srv):
        make_maildir(srv.inbox("a"), 0, *srv.owner)
        r = imapload(srv, "a", "append", "-n", n, "-s", 5000)
        stored = count_maildir(srv.inbox("a"))
        if stored != n:
            raise RuntimeError("%d messages in the Maildir after %d APPENDs"
                               % (stored, n))
        return {"append": n / r["seconds"]}
    return with_imap_server(kind, base, ("a",), a, run)


def imap_idle_round(kind, base, a, n):
    """n connections, each its own user (or spread over a.imap_idle_users),
    logged in, INBOX selected, in IDLE: PSS added per connection, KiB
    (every process of the server; owld has one), counted from after one
    whole session of another user (so its one-time costs are not spread
    over the n)."""
    nusers = min(n, a.imap_idle_users) if a.imap_idle_users else n
    users = ["i%d" % k for k in range(1, nusers + 1)] + ["w"]

    def run(srv):
        for u in users:
            make_maildir(srv.inbox(u), 0, *srv.owner)
        imapload(srv, "w", "hold", "-n", 1, held=lambda point: None)
        time.sleep(0.5)
        state = {"before": srv.pss()}

        def held(point):
            time.sleep(1)
            state["after"] = srv.pss()
        r = imapload(srv, "i%d", "hold", "-n", n, "-U", nusers, "-P", min(8, n),
                     held=held)
        if r["connections"] != n:
            raise RuntimeError("%d connections of %d held" % (r["connections"], n))
        return {"idle": (state["after"] - state["before"]) / n,
                "total": state["after"]}
    return with_imap_server(kind, base, users, a, run)


def mem_mark(srv):
    """Resets the peak RSS of every process of srv; their RSS now."""
    pids = srv.procs()
    reset_peaks(pids)
    return {p: status_kib(p, "VmRSS", 0) for p in pids}


def mem_growth(srv, marks):
    """The largest growth of one process's peak RSS since mem_mark, KiB
    (a process born since counts from 0)."""
    return max(status_kib(p, "VmHWM", 0) - marks.get(p, 0) for p in srv.procs())


def imap_big_round(kind, base, a):
    """One APPEND of a.imap_big octets, then one FETCH of it in another
    session: the growth of the peak RSS of the server's largest grower
    (owld: its one process; dovecot: its imap process) from after the
    SELECT to the command's tagged OK, KiB."""
    def run(srv):
        make_maildir(srv.inbox("b"), 0, *srv.owner)
        out = {}
        for mode in ("bigappend", "bigfetch"):
            state = {}

            def held(point):
                if point == "before":
                    state["marks"] = mem_mark(srv)
                else:
                    state["growth"] = mem_growth(srv, state["marks"])
            imapload(srv, "b", mode, "-s", a.imap_big, held=held)
            out[mode] = state["growth"]
        return out
    return with_imap_server(kind, base, ("b",), a, run)


def raise_nofile_max(want):
    """RLIMIT_NOFILE (inherited by the servers and the load client) up to
    want, raising the hard limit where we may; the soft limit we got."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < want:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
            return want
        except (ValueError, OSError):
            pass
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def imap_rounds(a, targets, rounds, fn, errors, gates):
    """fn(kind) for each target in each round after the quiet gate, the
    order rotated from round to round (alternate()); {label: [results]}.
    A failure is recorded in errors (and printed) and that target is not
    run again for this figure; gates gets alternate()'s result, for
    gate_summary()."""
    got = alternate(a, [("", None)], targets, lambda kind, _: fn(kind), errors,
                    rounds=rounds, what="imap")
    gates[len(gates)] = got[""]
    return {label: runs.values for label, runs in got[""].items()}


def section_imap(a, base, out):
    n_fetch, n_open = a.imap_fetch, a.imap_open
    rounds = a.imap_rounds or a.rounds
    print("## 7. IMAP: owld and Dovecot imapd, median (min-max) of %d rounds, "
          "the two in turn inside each round (order alternating)" % rounds)
    print()
    print("Every figure on a fresh server and a fresh Maildir written straight "
          "to disk (the same files for both, in new/ with owld's names, "
          "S= and W= in them).  Load: bench/imapload.py, one command at a "
          "time, literals read exactly; logins untimed (owld's passwords "
          "SHA-512 crypt, Dovecot's {PLAIN}).  Dovecot 2.3 with its defaults "
          "(mail_fsync=optimized, no IDLE hibernation).")
    print()
    if a.imap_self_check:
        targets = [("dovecot (as owld)", "dovecot"), ("dovecot", "dovecot")]
    else:
        targets = [("owld", "owld"), ("dovecot", "dovecot")]
    mine, peer = targets[0][0], targets[1][0]
    errors, not_served = [], None
    load0 = os.getloadavg()
    if targets[0][1] == "owld":
        try:
            with_imap_server("owld", base, ("probe",), a, lambda srv: None)
        except ImapNotServed as e:
            not_served = str(e)
            if imap_optional():
                print("owld: IMAP not served (skipped): %s" % not_served)
            else:
                print("owld: IMAP not served: %s.  FAILED (owld only; the Dovecot "
                      "side still runs; BENCH_IMAP_OPTIONAL=1 skips this)" % not_served)
            print()
            targets = targets[1:]
        except (RuntimeError, AssertionError, OSError) as e:
            errors.append("owld: %s" % e)
            print("error: owld: %s.  FAILED (the Dovecot side still runs)" % e)
            print()
            targets = targets[1:]
    gates = {}

    def run(fn):
        return imap_rounds(a, targets, rounds, fn, errors, gates)

    fetch = run(lambda kind: imap_fetch_round(kind, base, a))
    opens = run(lambda kind: imap_open_round(kind, base, a))
    appends = run(lambda kind: imap_append_round(kind, base, a))
    bigs = run(lambda kind: imap_big_round(kind, base, a))
    idle_sizes = [n for n in a.imap_idle if n <= a.imap_idle_peers]
    owld_only = [n for n in a.imap_idle if n > a.imap_idle_peers]
    idles = {}
    limit = raise_nofile_max(max(a.imap_idle) + 1024)
    for n in idle_sizes:
        idles[n] = run(lambda kind: imap_idle_round(kind, base, a, n))
    nofile_short = {}
    for n in owld_only:
        if limit < n + 1024:
            nofile_short[n] = limit
            continue
        idles[n] = imap_rounds(a, [t for t in targets if t[0] == mine], rounds,
                               lambda kind: imap_idle_round(kind, base, a, n),
                               errors, gates)

    def col(res, label, key):
        return [r[key] for r in res.get(label, [])]

    def m(res, label, key):
        return med(col(res, label, key))

    def ge(x, y, want):
        return None if x is None or y is None or y == 0 else x / y >= want

    def faster(r):
        """"1.61 faster (1.40-1.88 by round) unsteady" of fair_ratio's."""
        head, _, tail = r.partition(" ")
        return head + " faster" + (" " + tail if tail else "")

    def spread(xs, spec, scale=1.0, floor=0.0):
        return cell(xs, spec, a, scale, floor)

    def verdict(ok, *cols, floor=0.0):
        """met / not met on the medians, none when a figure is unsteady
        or has fewer than 3 rounds."""
        if ok is None:
            return "n/a"
        if not all(steady(c, a, floor) for c in cols):
            return "no verdict (unsteady)"
        if cols and min(len(c) for c in cols) < 3:
            return "no verdict (%d round%s)" % (min(len(c) for c in cols),
                                                "" if min(len(c) for c in cols) == 1
                                                else "s")
        return "met" if ok else "not met"

    rows = []
    for c in (1, 4):
        o, d = m(fetch, mine, "f%d" % c), m(fetch, peer, "f%d" % c)
        rows.append(["FETCH BODY.PEEK[] of %d x 5 KB, %d client%s, msg/s"
                     % (n_fetch, c, "s" if c > 1 else ""),
                     spread(col(fetch, mine, "f%d" % c), "%.0f"),
                     spread(col(fetch, peer, "f%d" % c), "%.0f"),
                     fair_ratio(col(fetch, mine, "f%d" % c),
                                col(fetch, peer, "f%d" % c), a),
                     ">= 1.5: " + verdict(ge(o, d, 1.5), col(fetch, mine, "f%d" % c),
                                          col(fetch, peer, "f%d" % c))])
        rows.append(["same, MB/s", spread(col(fetch, mine, "f%dmb" % c), "%.1f"),
                     spread(col(fetch, peer, "f%dmb" % c), "%.1f"),
                     fair_ratio(col(fetch, mine, "f%dmb" % c),
                                col(fetch, peer, "f%dmb" % c), a),
                     ""])
    for key, label in (("first", "first open (no index)"),
                       ("second", "second open")):
        o, d = m(opens, mine, key), m(opens, peer, key)
        rows.append(["SELECT + UID FETCH 1:* (FLAGS) of %d, %s, ms"
                     % (n_open, label),
                     spread(col(opens, mine, key), "%.0f", 1000),
                     spread(col(opens, peer, key), "%.0f", 1000),
                     faster(fair_ratio(col(opens, peer, key), col(opens, mine, key),
                                       a)) if o and d else "n/a",
                     ">= 2 faster: " + verdict(ge(d, o, 2), col(opens, mine, key),
                                               col(opens, peer, key))])
    o, d = m(appends, mine, "append"), m(appends, peer, "append")
    rows.append(["APPEND of %d x 5 KB, 1 client, msg/s" % a.imap_append,
                 spread(col(appends, mine, "append"), "%.0f"),
                 spread(col(appends, peer, "append"), "%.0f"),
                 fair_ratio(col(appends, mine, "append"), col(appends, peer, "append"),
                            a),
                 ">= 1: " + verdict(ge(o, d, 1), col(appends, mine, "append"),
                                    col(appends, peer, "append"))])
    for n in a.imap_idle:
        if n in nofile_short:
            rows.append(["IDLE, PSS per connection KiB, %d connections" % n,
                         "not run (RLIMIT_NOFILE %d)" % nofile_short[n], "-", "",
                         "<= 16, %d held: not met" % n])
            continue
        o = m(idles[n], mine, "idle")
        d = m(idles[n], peer, "idle") if n in idle_sizes else None
        held = len(col(idles[n], mine, "idle")) == rounds
        want = "<= 16" + (", %d held" % n if n >= 10000 else "")
        ok = None if o is None else o <= 16 and held
        rows.append(["IDLE, PSS per connection KiB, %d connections" % n,
                     spread(col(idles[n], mine, "idle"), "%.1f", floor=1),
                     spread(col(idles[n], peer, "idle"), "%.1f", floor=1)
                     if n in idle_sizes else "-",
                     ratio(o, d) if n in idle_sizes else "",
                     want + ": " + verdict(ok, col(idles[n], mine, "idle"),
                                           floor=1)])
    for key, label in (("bigappend", "APPEND"), ("bigfetch", "FETCH")):
        o = m(bigs, mine, key)
        rows.append(["%g MB %s, RSS growth MiB" % (a.imap_big / 1e6, label),
                     spread(col(bigs, mine, key), "%.1f", 1 / 1024, 0.5),
                     spread(col(bigs, peer, key), "%.1f", 1 / 1024, 0.5), "",
                     "< 8: " + verdict(None if o is None else o / 1024 < 8,
                                       [x / 1024 for x in col(bigs, mine, key)],
                                       floor=0.5)])
    print()
    table(["figure", mine, peer, "ratio", "target (on the median)"], rows)
    print("load average (1, 5, 15 min) before the section: %.2f %.2f %.2f, "
          "after: %.2f %.2f %.2f (%d cores; others' load skews every figure)"
          % (load0 + os.getloadavg() + (os.cpu_count(),)))
    for label in (mine, peer):
        c1, c4 = m(fetch, label, "cpu1"), m(fetch, label, "cpu4")
        if c1 is not None:
            print("load client CPU during %s's FETCH, share of the wall time "
                  "per client: %.0f %% (1 client), %.0f %% (4 clients)"
                  % (label, c1 * 100, c4 * 100))
    print(gate_summary(gates))
    print()
    print("FETCH: the folder is read once untimed first, then one client, "
          "then four at once on the same folder (the same user's INBOX), each "
          "client timed from its UID FETCH 1:* BODY.PEEK[] to the tagged OK "
          "(MB: octets of the literals).  Open: both commands timed together "
          "in one session, then again in a second session.  APPEND: "
          "synchronizing literals, each waits for its tagged OK.  IDLE: each "
          "connection its own user%s (LOGIN, SELECT INBOX, IDLE); PSS added, "
          "every process of the server (owld: its one process), after one "
          "session of another user.  Large: growth of the peak RSS of the "
          "server's largest grower (owld: its process; Dovecot: its imap "
          "process) from after the SELECT to the tagged OK."
          % (" (here: spread over %d users)" % a.imap_idle_users
             if a.imap_idle_users else ""))
    print()
    sys.stdout.flush()
    failures = list(errors)
    if not_served and not imap_optional():
        failures.insert(0, "owld: IMAP not served: " + not_served)
    if failures:
        raise SystemExit("bench: IMAP section FAILED: " + "; ".join(failures))


register("imap", section_imap)


# --- plot -----------------------------------------------------------------------

def write_plot(path, plot):
    if "ingest" not in plot or not shutil.which("gnuplot"):
        print("plot: skipped (%s)" % ("no gnuplot" if "ingest" in plot else "no data"))
        return
    data = path + ".dat"
    with open(data, "w") as f:
        for row in plot["ingest"]:
            f.write(" ".join(fmt(x, "%.1f") if x is not None else "NaN"
                             for x in row) + "\n")
    script = """set terminal png size 800,500
set output '{out}'
set title 'SMTP, 5 KB messages, {date}'
set xlabel 'sessions'
set ylabel 'messages/s'
set logscale x
set key top left
set grid
plot '{d}' using 1:2 with linespoints title 'owld ingest', \\
     '{d}' using 1:5 with linespoints title 'owld end to end', \\
     '{d}' using 1:3 with linespoints title 'postfix ingest', \\
     '{d}' using 1:6 with linespoints title 'postfix end to end', \\
     '{d}' using 1:4 with linespoints dashtype 2 title 'smtp-sink (stores nothing)'
""".format(out=path, d=data, date=time.strftime("%Y-%m-%d"))
    subprocess.run(["gnuplot"], input=script, text=True, check=True)
    print("plot: %s" % path)


def main():
    # a plugin's "import bench" must find this module, not load a second copy
    sys.modules.setdefault("bench", sys.modules[__name__])
    for name in PLUGINS:
        importlib.import_module(name)
    ap = argparse.ArgumentParser()
    ap.add_argument("--rounds", type=int, default=3,
                    help="rounds of every figure (each target once a round)")
    ap.add_argument("--runs", type=int, dest="rounds", default=argparse.SUPPRESS,
                    help="the old name of --rounds")
    ap.add_argument("--quiet-idle", type=float, default=0.90,
                    help="the quiet gate: CPU idle share to wait for before a run")
    ap.add_argument("--quiet-window", type=float, default=3.0,
                    help="the quiet gate: seconds the idle share is measured over")
    ap.add_argument("--quiet-cap", type=float, default=60.0,
                    help="the quiet gate: seconds to wait at most (then the run "
                    "goes ahead, marked not quiet)")
    ap.add_argument("--redo-foreign", type=float, default=0.25,
                    help="a run during which other processes took more than "
                    "this share of a core is made again")
    ap.add_argument("--redo", type=int, default=2,
                    help="at most this many times (the least disturbed kept)")
    ap.add_argument("--unsteady", type=float, default=0.25,
                    help="a figure whose runs differ by more than this share "
                    "of their median, (max-min)/median, is unsteady")
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--sessions", default="1,10,50")
    ap.add_argument("--pop3-messages", type=int, default=10000)
    ap.add_argument("--idle", default="1000,10000")
    ap.add_argument("--idle-peers", type=int, default=1000)
    ap.add_argument("--large", type=int, default=50 * 1000 * 1000)
    ap.add_argument("--open-sizes", default="10000,100000",
                    help="mailbox sizes of section 4b, messages")
    ap.add_argument("--open-rounds", type=int, default=None,
                    help="section 4b's rounds (default: --rounds)")
    ap.add_argument("--imap-fetch", type=int, default=10000,
                    help="section 7: messages of 5 KB in the FETCH folder")
    ap.add_argument("--imap-open", type=int, default=100000,
                    help="section 7: messages of the SELECT + FLAGS folder")
    ap.add_argument("--imap-append", type=int, default=10000,
                    help="section 7: messages of 5 KB APPENDed")
    ap.add_argument("--imap-idle", default="1000,10000",
                    help="section 7: connections in IDLE")
    ap.add_argument("--imap-idle-peers", type=int, default=1000,
                    help="section 7: Dovecot's IDLE only up to this many")
    ap.add_argument("--imap-idle-users", type=int, default=0,
                    help="section 7: IDLE connections spread over this many "
                    "users (0: each its own; owld's first login of a user "
                    "makes its special-use folders, about 24 fsyncs)")
    ap.add_argument("--imap-big", type=int, default=50 * 1000 * 1000,
                    help="section 7: octets of the large APPEND and FETCH")
    ap.add_argument("--imap-rounds", type=int, default=None,
                    help="section 7's rounds (default: --rounds)")
    ap.add_argument("--imap-self-check", action="store_true",
                    help="section 7 with Dovecot in owld's column: checks "
                    "the harness (ratios near 1)")
    ap.add_argument("--owld-imap-opt", action="append", default=[],
                    metavar="KEY=VALUE", help="section 7: more owld -o options")
    ap.add_argument("--only", default=",".join(SECTIONS),
                    help="sections to run, of: " + ", ".join(SECTIONS))
    ap.add_argument("--plot", default=os.path.join(BUILD, "bench.png"))
    ap.add_argument("--smoke", action="store_true",
                    help="seconds, not minutes: check that the scripts still work")
    for _, add_args, _ in SECTIONS.values():
        if add_args is not None:
            add_args(ap)
    a = ap.parse_args()
    a.callgrind = (100, 300)
    if a.smoke:
        # two rounds (the rotation), a gate that gives up at once
        a.rounds, a.quiet_window, a.quiet_cap, a.redo = 2, 0.05, 0.1, 0
        a.messages, a.sessions = 50, "10"
        a.pop3_messages, a.idle, a.idle_peers, a.large = 20, "20", 20, 1000000
        a.open_sizes, a.open_rounds = "50", 2
        a.imap_fetch, a.imap_open, a.imap_append = 200, 500, 100
        a.imap_idle, a.imap_idle_peers, a.imap_big = "50", 50, 1000000
        a.imap_rounds = 1
        a.callgrind = (2, 5)
        for _, _, smoke in SECTIONS.values():
            if smoke is not None:
                smoke(a)
    a.sessions = [int(s) for s in a.sessions.split(",")]
    a.idle = [int(s) for s in a.idle.split(",")]
    a.open_sizes = [int(s) for s in a.open_sizes.split(",")]
    a.imap_idle = [int(s) for s in a.imap_idle.split(",")]
    only = [s for s in a.only.split(",") if s]
    unknown = [s for s in only if s not in SECTIONS]
    if unknown:
        ap.error("--only: no section %s (there are: %s)"
                 % (", ".join(unknown), ", ".join(SECTIONS)))
    base = tempfile.mkdtemp(prefix="owlpost-bench-")
    os.chmod(base, 0o755)
    out = {}
    # kill's TERM (a background job ignores ^C's INT) stops the servers,
    # removes the cgroups and the temp tree as an error does
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("bench: terminated"))
    print("# owlpost bench, %s" % time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()))
    print()
    print("machine: %s" % machine())
    print()
    print("Every figure: median (min-max) of %d rounds, its targets in turn "
          "inside every round, the order rotated between rounds; unsteady: "
          "(max-min)/median above %.0f %% (no verdict then).  Quiet gate before "
          "each run: CPU idle %.0f %% or more over %g s (/proc/stat), waiting "
          "%g s at most; each run's line gives the idle share it saw and the "
          "foreign CPU (processes not the bench's) during it; a run with "
          "foreign CPU above %.0f %% of a core is made again, %d times at "
          "most, the least disturbed kept.  Load average at the start: "
          "%.2f %.2f %.2f."
          % ((a.rounds, a.unsteady * 100, a.quiet_idle * 100, a.quiet_window,
              a.quiet_cap, a.redo_foreign * 100, a.redo) + os.getloadavg()))
    print()
    sys.stdout.flush()
    try:
        for name in SECTIONS:
            if name in only:
                t0 = time.monotonic()
                SECTIONS[name][0](a, base, out)
                print("(section %s: %.0f s)" % (name, time.monotonic() - t0))
                print()
        write_plot(a.plot, out)
    finally:
        for cg in list(Cgroup.live):
            cg.remove()
        shutil.rmtree(base, ignore_errors=True)
    print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())


if __name__ == "__main__":
    main()
