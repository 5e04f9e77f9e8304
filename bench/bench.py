#!/usr/bin/python3
"""make bench: owld side by side with Postfix, Dovecot and smtp-sink.

Every server runs from its own temp directory on free loopback ports,
with its own configuration (never the system instance), inside a cgroup
of its own when this machine lets us make one (for CPU time and for the
list of its processes); only the processes started here are stopped.
Each figure is the median of --runs runs; ratios are owld / peer unless
the heading says otherwise.

1. SMTP durable ingest: smtp-source (Debian's postfix package) sends N
   messages of 5 KB over 1, 10 and 50 sessions to one local user;
   messages/s from the start until the last 250.
2. End to end: the same runs, until every message is a file in the
   recipient's Maildir (counted); Postfix delivers with virtual(8).
3. Server CPU per message over those runs (cgroup CPU time, every
   process of the server), and owld's instructions per message under
   callgrind (repeatable on a noisy machine).
4. POP3 retrieval: bench/pop3load (C) RETRs every message of 10,000
   5 KB messages, one user alone and four users at once; LIST+UIDL
   time on the mailbox the first and the second time it is opened.
   Peer: Dovecot, on a copy of the same Maildirs.
4b. Opening a big mailbox (also alone: make bench-open): a whole POP3
   session, login + STAT + LIST + UIDL + QUIT, on a Maildir of 10,000 and
   of 100,000 small messages written straight into new/ with owld's
   names (no index yet), then again (the index exists, the cache is
   warm); owld and Dovecot in turn, each on a fresh tree, --open-rounds
   rounds: median (min-max), and owld's RSS growth during and after each
   session next to Dovecot's (PSS of all its processes).
5. Idle connections: N connections that have read the greeting and say
   nothing; proportional set size added per connection, summed over
   every process of the server.
6. Large message: one 50 MB message in over SMTP and out over POP3;
   peak RSS of the largest server process during each transfer.
A PNG plot of ingest and end-to-end throughput against sessions is
written with gnuplot when it is installed.
"""
import argparse
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
    """A cgroup of our own (v1 cpuacct or v2), or None where we may not."""
    seq = 0

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
                os.rmdir(self.path)
                return
            except OSError:
                time.sleep(0.1)


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


# --- the servers -------------------------------------------------------------

class Owld(Server):
    name = "owld"

    def __init__(self, base, users=("u",), opts=(), wrap=(), fast_hash=False):
        """wrap: a command to run owld under (valgrind); fast_hash: SHA-512
        crypt passwords instead of yescrypt's 16 MiB and ~50 ms per login,
        for figures of the mailbox alone (Dovecot's are {PLAIN})."""
        self.d = tempfile.mkdtemp(prefix="owld-", dir=base)
        for u in users:
            r = subprocess.run([os.path.join(BUILD, "owlctl"), "-D", self.d, "user",
                                "add", u + "@localhost"], input=PASSWORD + "\n",
                               text=True, capture_output=True)
            assert r.returncode == 0, r.stderr
        if fast_hash:
            h = subprocess.run(["openssl", "passwd", "-6", "-salt", "owlbench",
                                PASSWORD], capture_output=True, text=True,
                               check=True).stdout.strip()
            with open(os.path.join(self.d, "users"), "w") as f:
                f.write("".join("%s@localhost:{CRYPT}%s\n" % (u, h) for u in users))
        self.port, self.pop3_port = free_port(), free_port()
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
        for o in opts:
            argv += ["-o", o]
        self.proc = self.spawn(argv, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
        wait_port(self.port, timeout=120 if wrap else 20)

    @staticmethod
    def rcpt(u):
        return u + "@localhost"

    pop3_user = rcpt

    def maildir(self, u):
        return os.path.join(self.d, "mail", "localhost", u)

    def count(self, u):
        return count_maildir(self.maildir(u))

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=120)
        self.release()


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

    def __init__(self, base, maildirs, users=()):
        """maildirs: user -> a Maildir to copy in (the same mail owld had);
        users: more users, whose Maildirs the caller makes."""
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
        conf = os.path.join(d, "etc", "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=d, port=self.pop3_port) +
                    "default_process_limit = 1100\n"
                    "default_client_limit = 4000\n")
        with open(os.path.join(d, "etc", "dovecot.passwd"), "w") as f:
            f.write("".join("%s:{PLAIN}%s\n" % (u, PASSWORD)
                            for u in list(maildirs) + list(users)))
        self.proc = self.spawn(["dovecot", "-c", conf, "-F"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.pop3_port)

    @staticmethod
    def pop3_user(u):
        return u

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.release()


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
                       capture_output=True, text=True, timeout=1200)
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
                       capture_output=True, text=True, timeout=1200)
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
    srv = cls(base)
    try:
        cpu0 = srv.cpu()
        t0 = time.monotonic()
        smtp_source(srv.port, srv.rcpt("u"), sessions, n)
        t1 = time.monotonic()
        if cls is Sink:
            return n / (t1 - t0), None, None
        wait_count(srv, "u", n)
        t2 = time.monotonic()
        cpu1 = srv.cpu()
        cpu = (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None
        return n / (t1 - t0), n / (t2 - t0), cpu
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


def section_ingest(a, base, plot):
    print("## 1. SMTP durable ingest: %d messages of 5 KB, msg/s until the last 250"
          % a.messages)
    print()
    res = {}
    # One server at a time: on ext4 without a journal, creating files
    # right after many were deleted (Postfix removes its queue files)
    # scans the recently freed inodes; nothing is deleted until the end.
    for cls in (Owld, Postfix, Sink):
        for s in a.sessions:
            runs = [ingest_run(cls, base, s, a.messages) for _ in range(a.runs)]
            res[s, cls.name] = [med(col) for col in zip(*runs)]
    table(["sessions", "owld", "postfix", "smtp-sink", "owld/postfix",
           "owld/smtp-sink"],
          [["%d" % s, fmt(res[s, "owld"][0]), fmt(res[s, "postfix"][0]),
            fmt(res[s, "smtp-sink"][0]), ratio(res[s, "owld"][0], res[s, "postfix"][0]),
            ratio(res[s, "owld"][0], res[s, "smtp-sink"][0])] for s in a.sessions])
    print("## 2. End to end: msg/s until every message is a file in the Maildir")
    print()
    table(["sessions", "owld", "postfix", "owld/postfix"],
          [["%d" % s, fmt(res[s, "owld"][1]), fmt(res[s, "postfix"][1]),
            ratio(res[s, "owld"][1], res[s, "postfix"][1])] for s in a.sessions])
    print("## 3. Server CPU per message, ms (every process of the server, "
          "receive to mailbox)")
    print()
    table(["sessions", "owld", "postfix", "postfix/owld"],
          [["%d" % s, fmt(res[s, "owld"][2], "%.3f"), fmt(res[s, "postfix"][2], "%.3f"),
            ratio(res[s, "postfix"][2], res[s, "owld"][2])] for s in a.sessions])
    n1, n2 = a.callgrind
    i1, i2 = callgrind_ir(base, n1), callgrind_ir(base, n2)
    if i1 is not None and i2 is not None:
        print("owld instructions per message (callgrind, one session, "
              "(Ir(%d) - Ir(%d)) / %d): %d" % (n2, n1, n2 - n1, (i2 - i1) // (n2 - n1)))
    else:
        print("owld instructions per message: n/a (valgrind missing)")
    print()
    plot["ingest"] = [(s, res[s, "owld"][0], res[s, "postfix"][0], res[s, "smtp-sink"][0],
                       res[s, "owld"][1], res[s, "postfix"][1]) for s in a.sessions]


# --- 4: POP3 -------------------------------------------------------------------

def section_pop3(a, base):
    users = ["p%d" % i for i in range(1, 5)]
    print("## 4. POP3 retrieval: %d messages of 5 KB per user, one command at a time"
          % a.pop3_messages)
    print()
    res = {}
    o = Owld(base, users)
    try:
        for u in users:
            smtp_source(o.port, o.rcpt(u), 10, a.pop3_messages)
            wait_count(o, u, a.pop3_messages)
        maildirs = {u: o.maildir(u) for u in users}
        res["owld"] = pop3_figures(a, o, users)
    finally:
        o.stop()
    dv = Dovecot(base, maildirs)
    try:
        res["dovecot"] = pop3_figures(a, dv, users)
    finally:
        dv.stop()
    rows = []
    for key, label, spec in (("r1", "1 client, msg/s", "%.0f"),
                             ("r1mb", "1 client, MB/s", "%.1f"),
                             ("r4", "4 clients, msg/s", "%.0f"),
                             ("r4mb", "4 clients, MB/s", "%.1f")):
        rows.append([label, fmt(res["owld"][key], spec), fmt(res["dovecot"][key], spec),
                     ratio(res["owld"][key], res["dovecot"][key])])
    for key, label in (("l_fresh", "LIST+UIDL ms, first open"),
                       ("l_warm", "LIST+UIDL ms, second open")):
        rows.append([label, fmt(res["owld"][key], "%.1f"),
                     fmt(res["dovecot"][key], "%.1f"),
                     ratio(res["dovecot"][key], res["owld"][key]) + " (dovecot/owld)"])
    table(["", "owld", "dovecot", "owld/dovecot"], rows)


def pop3_figures(a, srv, users):
    names = [srv.pop3_user(u) for u in users]
    f = {}
    f["l_fresh"] = pop3load(srv.pop3_port, names[:1], "-l")["list_seconds"] * 1000
    f["l_warm"] = pop3load(srv.pop3_port, names[:1], "-l")["list_seconds"] * 1000
    for key, who in (("r1", names[:1]), ("r4", names)):
        rates, mbs = [], []
        for _ in range(a.runs):
            r = pop3load(srv.pop3_port, who, "-r")
            assert r["messages"] == a.pop3_messages * len(who), r
            rates.append(r["messages"] / r["seconds"])
            mbs.append(r["bytes"] / r["seconds"] / 1e6)
        f[key], f[key + "mb"] = med(rates), med(mbs)
    return f


# --- 4b: opening a big mailbox -------------------------------------------------

def make_maildir(d, n, uid=-1, gid=-1):
    """n small messages written straight into d/new/ with names as owld's
    delivery makes them (TIME.M<usec>P<pid>Q<seq>.HOST,S=<size>,W=<crlf
    size>, store_unique_name and maildir_deliver), about 1 s per 100,000."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub))
    if uid >= 0:
        for sub in ("", "tmp", "new", "cur"):
            os.chown(os.path.join(d, sub), uid, gid)
    body = (b"From: bench@example.org\nTo: u@localhost\nSubject: open\n\n" +
            b"x" * 70 + b"\n")
    tail = ".bench.example,S=%d,W=%d" % (len(body), len(body) + body.count(b"\n"))
    dirfd = os.open(os.path.join(d, "new"), os.O_RDONLY | os.O_DIRECTORY)
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
    try:
        for i in range(n):
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


def open_session(srv, user, mem):
    """One POP3 session, login + STAT + LIST + UIDL + QUIT: its seconds
    and mem() at three points: before, mid-session (before QUIT), after."""
    before = mem()
    p = subprocess.Popen([os.path.join(BUILD, "pop3load"), "-p", str(srv.pop3_port),
                          "-w", PASSWORD, "-l", "-H", user],
                         stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
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
    index): the first and the second session's seconds, and the growth,
    KiB, of owld's RSS (dovecot: the PSS of every process) during and
    after each, from before the first."""
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
    return t1, t2, d1 - b1, a1 - b1, d2 - b1, a2 - b1, o1, o2


def open_ms_logged(srv):
    """The open_ms of each POP3 login in owld's log, in order: the time the
    mailbox open itself took (store_view_open, on a worker thread)."""
    try:
        with open(os.path.join(srv.d, "log")) as f:
            return [float(m.group(1)) for m in
                    re.finditer(r"event=login .*open_ms=([0-9.]+)", f.read())]
    except OSError:
        return []


def section_open(a, base):
    print("## 4b. Opening a big mailbox: one POP3 session, login + STAT + LIST + "
          "UIDL + QUIT, ms; median (min-max) of %d rounds, owld and dovecot in turn"
          % a.open_rounds)
    print()
    print("Each round: a fresh server and a fresh Maildir of small messages in new/ "
          "(no index yet), then the first and the second session.  owld's "
          "passwords are SHA-512 crypt here and dovecot's {PLAIN}, so the figure is "
          "the mailbox's.  Memory: growth from before the first session, KiB/1024; "
          "owld: VmRSS of its one process; dovecot: PSS of all its processes "
          "(its pop3 process exits with the session).")
    print()
    rows, mrows, orows = [], [], []
    for n in a.open_sizes:
        res = {"owld": [], "dovecot": []}
        for _ in range(a.open_rounds):
            for cls in (Owld, Dovecot):
                res[cls.name].append(open_round(cls, base, n))
        cols = {k: list(zip(*v)) for k, v in res.items()}

        def cell(name, i, scale, spec):
            xs = [x * scale for x in cols[name][i]]
            return "%s (%s-%s)" % (spec % med(xs), spec % min(xs), spec % max(xs))

        for i, label in ((0, "first open"), (1, "second open")):
            o, d = med(cols["owld"][i]), med(cols["dovecot"][i])
            rows.append(["%d, %s" % (n, label), cell("owld", i, 1000, "%.0f"),
                         cell("dovecot", i, 1000, "%.0f"), ratio(o, d)])
        for i, label in ((2, "during the first"), (3, "after the first"),
                         (4, "during the second"), (5, "after the second")):
            o, d = med(cols["owld"][i]), med(cols["dovecot"][i])
            during = i in (2, 4)  # after: dovecot's pop3 process is gone
            mrows.append(["%d, %s" % (n, label), cell("owld", i, 1 / 1024, "%.1f"),
                          cell("dovecot", i, 1 / 1024, "%.1f"),
                          ratio(o, d) if during else "-"])
        for i, label in ((6, "first open"), (7, "second open")):
            orows.append(["%d, %s" % (n, label), cell("owld", i, 1, "%.0f")])
    table(["messages, session", "owld ms", "dovecot ms", "owld/dovecot"], rows)
    table(["messages, memory growth MiB", "owld RSS", "dovecot PSS",
           "owld/dovecot"], mrows)
    print("The open alone (owld's log, open_ms of the login: the lock, the claim "
          "of new/, the listing of cur/ and the UID index, on a worker thread):")
    print()
    table(["messages, open", "owld ms"], orows)


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


def section_idle(a, base):
    print("## 5. Idle connections: PSS added per connection, KiB "
          "(every server process)")
    print()
    raise_nofile(max(a.idle))
    rows = []
    for n in a.idle:
        # a fresh owld each: the second test would reuse the first's heap
        smtp = run_servers(lambda: Owld(base), lambda o: idle_kib(o, o.port, b"220", n))
        pop3 = run_servers(lambda: Owld(base),
                           lambda o: idle_kib(o, o.pop3_port, b"+OK", n))
        pf = dv = None
        if n <= a.idle_peers:
            pf = run_servers(lambda: Postfix(base),
                             lambda p: idle_kib(p, p.port, b"220", n))
            empty = tempfile.mkdtemp(dir=base)
            for sub in ("new", "cur", "tmp"):
                os.mkdir(os.path.join(empty, sub))
            dv = run_servers(lambda: Dovecot(base, {"u": empty}),
                             lambda p: idle_kib(p, p.pop3_port, b"+OK", n))
        rows.append(["%d" % n, fmt(smtp, "%.1f"), fmt(pf, "%.1f"),
                     fmt(pop3, "%.1f"), fmt(dv, "%.1f")])
    table(["connections", "owld SMTP", "postfix SMTP", "owld POP3", "dovecot POP3"],
          rows)
    print("(peers only up to %d connections: one process each, about 1 MiB apiece)"
          % a.idle_peers)
    print()


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


def section_large(a, base):
    size = a.large
    msg = big_message(size)
    print("## 6. Large message: %d MB in over SMTP, out over POP3; "
          "peak RSS of the largest server process, MiB" % (size // 1000000))
    print()
    o = Owld(base, opts=["smtp.max_size=%d" % (size * 2)])
    try:
        oin, obase = peak_kib(o, smtp_send(o.port, o.rcpt("u"), msg))
        oout, obase2 = peak_kib(o, pop3_retr(o.pop3_port, o.pop3_user("u"), size))
    finally:
        o.stop()
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
    mib = lambda k: "%.1f" % (k / 1024)  # noqa: E731
    table(["", "owld", "owld growth", "postfix / dovecot"],
          [["SMTP in", mib(oin), mib(oin - obase), mib(pin)],
           ["POP3 out", mib(oout), mib(oout - obase2), mib(dout)]])


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
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sessions", default="1,10,50")
    ap.add_argument("--pop3-messages", type=int, default=10000)
    ap.add_argument("--idle", default="1000,10000")
    ap.add_argument("--idle-peers", type=int, default=1000)
    ap.add_argument("--large", type=int, default=50 * 1000 * 1000)
    ap.add_argument("--open-sizes", default="10000,100000",
                    help="mailbox sizes of section 4b, messages")
    ap.add_argument("--open-rounds", type=int, default=3)
    ap.add_argument("--only", default="ingest,pop3,open,idle,large")
    ap.add_argument("--plot", default=os.path.join(BUILD, "bench.png"))
    ap.add_argument("--smoke", action="store_true",
                    help="seconds, not minutes: check that the scripts still work")
    a = ap.parse_args()
    a.callgrind = (100, 300)
    if a.smoke:
        a.messages, a.runs, a.sessions = 50, 1, "1,10"
        a.pop3_messages, a.idle, a.idle_peers, a.large = 20, "20", 20, 1000000
        a.open_sizes, a.open_rounds = "50", 1
        a.callgrind = (2, 5)
    a.sessions = [int(s) for s in a.sessions.split(",")]
    a.idle = [int(s) for s in a.idle.split(",")]
    a.open_sizes = [int(s) for s in a.open_sizes.split(",")]
    only = a.only.split(",")
    base = tempfile.mkdtemp(prefix="owlpost-bench-")
    os.chmod(base, 0o755)
    plot = {}
    print("# owlpost bench, %s" % time.strftime("%Y-%m-%d"))
    print()
    print("machine: %s; medians of %d runs" % (machine(), a.runs))
    print()
    try:
        if "ingest" in only:
            section_ingest(a, base, plot)
        if "pop3" in only:
            section_pop3(a, base)
        if "open" in only:
            section_open(a, base)
        if "idle" in only:
            section_idle(a, base)
        if "large" in only:
            section_large(a, base)
        write_plot(a.plot, plot)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
