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
                               check=True).stdout.strip()
            fd = os.open(os.path.join(self.d, "users"),
                         os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write("".join("%s@localhost:{CRYPT}%s\n" % (u, h) for u in users))
        else:
            for u in users:
                r = subprocess.run([os.path.join(BUILD, "owlctl"), "-D", self.d,
                                    "user", "add", u + "@localhost"],
                                   input=PASSWORD + "\n", text=True,
                                   capture_output=True)
                assert r.returncode == 0, r.stderr
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
        except RuntimeError:
            self.stop()
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
                         stderr=subprocess.PIPE, text=True)
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


def imap_rounds(targets, rounds, fn, errors):
    """fn(kind) for each target in each round, the order alternating from
    round to round; {label: [results]}.  A failure is recorded in errors
    (and printed) and that target is not run again for this figure."""
    res = {label: [] for label, _ in targets}
    failed = set()
    for r in range(rounds):
        for label, kind in (targets if r % 2 == 0 else targets[::-1]):
            if label in failed:
                continue
            try:
                res[label].append(fn(kind))
            except (RuntimeError, AssertionError, OSError) as e:
                failed.add(label)
                errors.append("%s: %s" % (label, e))
                print("error: %s: %s" % (label, e))
                sys.stdout.flush()
    return res


def spread(xs, spec, scale=1.0):
    """median (min-max) of a figure over rounds."""
    xs = [x * scale for x in xs if x is not None]
    if not xs:
        return "n/a"
    if len(xs) == 1:
        return spec % xs[0]
    return "%s (%s-%s)" % (spec % med(xs), spec % min(xs), spec % max(xs))


def verdict(ok):
    return "n/a" if ok is None else ("met" if ok else "not met")


def section_imap(a, base):
    n_fetch, n_open = a.imap_fetch, a.imap_open
    print("## 7. IMAP: owld and Dovecot imapd, median (min-max) of %d rounds, "
          "the two in turn inside each round (order alternating)" % a.imap_rounds)
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
    rounds = a.imap_rounds

    def run(fn):
        return imap_rounds(targets, rounds, fn, errors)

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
        idles[n] = imap_rounds([t for t in targets if t[0] == mine], rounds,
                               lambda kind: imap_idle_round(kind, base, a, n), errors)

    def col(res, label, key):
        return [r[key] for r in res.get(label, [])]

    def m(res, label, key):
        return med(col(res, label, key))

    def ge(x, y, want):
        return None if x is None or y is None or y == 0 else x / y >= want

    rows = []
    for c in (1, 4):
        o, d = m(fetch, mine, "f%d" % c), m(fetch, peer, "f%d" % c)
        rows.append(["FETCH BODY.PEEK[] of %d x 5 KB, %d client%s, msg/s"
                     % (n_fetch, c, "s" if c > 1 else ""),
                     spread(col(fetch, mine, "f%d" % c), "%.0f"),
                     spread(col(fetch, peer, "f%d" % c), "%.0f"), ratio(o, d),
                     ">= 1.5: " + verdict(ge(o, d, 1.5))])
        rows.append(["same, MB/s", spread(col(fetch, mine, "f%dmb" % c), "%.1f"),
                     spread(col(fetch, peer, "f%dmb" % c), "%.1f"),
                     ratio(m(fetch, mine, "f%dmb" % c), m(fetch, peer, "f%dmb" % c)),
                     ""])
    for key, label in (("first", "first open (no index)"),
                       ("second", "second open")):
        o, d = m(opens, mine, key), m(opens, peer, key)
        rows.append(["SELECT + UID FETCH 1:* (FLAGS) of %d, %s, ms"
                     % (n_open, label),
                     spread(col(opens, mine, key), "%.0f", 1000),
                     spread(col(opens, peer, key), "%.0f", 1000),
                     ratio(d, o) + (" faster" if o and d else ""),
                     ">= 2 faster: " + verdict(ge(d, o, 2))])
    o, d = m(appends, mine, "append"), m(appends, peer, "append")
    rows.append(["APPEND of %d x 5 KB, 1 client, msg/s" % a.imap_append,
                 spread(col(appends, mine, "append"), "%.0f"),
                 spread(col(appends, peer, "append"), "%.0f"), ratio(o, d),
                 ">= 1: " + verdict(ge(o, d, 1))])
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
                     spread(col(idles[n], mine, "idle"), "%.1f"),
                     spread(col(idles[n], peer, "idle"), "%.1f")
                     if n in idle_sizes else "-",
                     ratio(o, d) if n in idle_sizes else "",
                     want + ": " + verdict(ok)])
    for key, label in (("bigappend", "APPEND"), ("bigfetch", "FETCH")):
        o = m(bigs, mine, key)
        rows.append(["%g MB %s, RSS growth MiB" % (a.imap_big / 1e6, label),
                     spread(col(bigs, mine, key), "%.1f", 1 / 1024),
                     spread(col(bigs, peer, key), "%.1f", 1 / 1024), "",
                     "< 8: " + verdict(None if o is None else o / 1024 < 8)])
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
    ap.add_argument("--imap-rounds", type=int, default=3)
    ap.add_argument("--imap-self-check", action="store_true",
                    help="section 7 with Dovecot in owld's column: checks "
                    "the harness (ratios near 1)")
    ap.add_argument("--owld-imap-opt", action="append", default=[],
                    metavar="KEY=VALUE", help="section 7: more owld -o options")
    ap.add_argument("--only", default="ingest,pop3,open,idle,large,imap")
    ap.add_argument("--plot", default=os.path.join(BUILD, "bench.png"))
    ap.add_argument("--smoke", action="store_true",
                    help="seconds, not minutes: check that the scripts still work")
    a = ap.parse_args()
    a.callgrind = (100, 300)
    if a.smoke:
        a.messages, a.runs, a.sessions = 50, 1, "1,10"
        a.pop3_messages, a.idle, a.idle_peers, a.large = 20, "20", 20, 1000000
        a.open_sizes, a.open_rounds = "50", 1
        a.imap_fetch, a.imap_open, a.imap_append = 200, 500, 100
        a.imap_idle, a.imap_idle_peers, a.imap_big = "50", 50, 1000000
        a.imap_rounds = 1
        a.callgrind = (2, 5)
    a.sessions = [int(s) for s in a.sessions.split(",")]
    a.idle = [int(s) for s in a.idle.split(",")]
    a.open_sizes = [int(s) for s in a.open_sizes.split(",")]
    a.imap_idle = [int(s) for s in a.imap_idle.split(",")]
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
        if "imap" in only:
            section_imap(a, base)
        write_plot(a.plot, plot)
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
