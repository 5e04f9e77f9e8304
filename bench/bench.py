#!/usr/bin/python3
"""make bench: owld side by side with its peers, on loopback, in one run.

This first part measures SMTP durable ingest: smtp-source (from Debian's
postfix package) sends N messages of 5 KB over 1, 10 and 50 parallel
sessions to one local user; the figure is messages per second from the
start until the last 250.  Peers: Postfix (its 250 comes after its queue
file is fsynced) and smtp-sink (stores nothing: the protocol-only ceiling
of this machine).  Each figure is the median of --runs runs; the ratio is
owld / peer.  Every server runs from a temp directory on a free loopback
port and only the processes started here are stopped.

Still to come (issue 7): end to end, POP3 retrieval with a C load
client, idle connections, the 50 MB message, CPU cost, the plot.
"""
import argparse
import os
import platform
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tests", "integ"))
from conftest import wait_port  # noqa: E402
from test_interop_postfix import MAIN_CF, MASTER_CF  # noqa: E402
from test_relay import free_port  # noqa: E402

BUILD = os.path.join(ROOT, os.environ.get("OWLD_BUILD", "build"))


def machine():
    cpu = "?"
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem = int(open("/proc/meminfo").read().split()[1]) // 1024
    fs = subprocess.run(["df", "-T", tempfile.gettempdir()], capture_output=True,
                        text=True).stdout.splitlines()[-1].split()[1]
    return "%s, %d cores, %d MiB, %s %s, temp dir on %s" % (
        cpu, os.cpu_count(), mem, platform.system(), platform.release(), fs)


class Owld:
    name = "owld"

    def __init__(self, base):
        self.d = tempfile.mkdtemp(prefix="owld-", dir=base)
        r = subprocess.run([os.path.join(BUILD, "owlctl"), "-D", self.d, "user",
                            "add", "u@localhost"], input="pw\n", text=True,
                           capture_output=True)
        assert r.returncode == 0, r.stderr
        self.port = free_port()
        self.proc = subprocess.Popen(
            [os.path.join(BUILD, "owld"), "-D", self.d,
             "-o", "smtp.listen=127.0.0.1:%d" % self.port,
             "-o", "pop3.listen=", "-o", "submission.listen=",
             "-o", "max_connections=1000",
             "-o", "log.file=" + os.path.join(self.d, "log")],
            stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.rcpt = "u@localhost"

    def stored(self):
        new = os.path.join(self.d, "mail", "localhost", "u", "new")
        return len(os.listdir(new)) if os.path.isdir(new) else 0

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=30)


class Postfix:
    name = "postfix"

    def __init__(self, base):
        import pwd
        d = self.d = tempfile.mkdtemp(prefix="owlpost-bench-postfix-")
        os.chmod(d, 0o755)
        for sub in ("etc", "spool", "data", "vmail"):
            os.makedirs(os.path.join(d, sub))
        pw = pwd.getpwnam("postfix")
        for sub in ("data", "vmail"):
            os.chown(os.path.join(d, sub), pw.pw_uid, pw.pw_gid)
        self.port = free_port()
        open(os.path.join(d, "etc", "main.cf"), "w").write(
            MAIN_CF.format(d=d, uid=pw.pw_uid, gid=pw.pw_gid) +
            "smtpd_client_connection_count_limit = 0\n"
            "default_process_limit = 200\n")
        open(os.path.join(d, "etc", "master.cf"), "w").write(
            MASTER_CF.format(port=self.port))
        open(os.path.join(d, "etc", "vmailbox"), "w").write("u@pf.test u/\n")
        subprocess.run(["postfix", "-c", os.path.join(d, "etc"), "start"],
                       check=True, capture_output=True)
        wait_port(self.port)
        self.rcpt = "u@pf.test"

    def stop(self):
        subprocess.run(["postfix", "-c", os.path.join(self.d, "etc"), "abort"],
                       capture_output=True)
        shutil.rmtree(self.d, ignore_errors=True)


class Sink:
    name = "smtp-sink"

    def __init__(self, base):
        self.port = free_port()
        self.proc = subprocess.Popen(
            ["smtp-sink", "-u", "nobody", "127.0.0.1:%d" % self.port, "1000"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)
        self.rcpt = "u@sink.test"

    def stop(self):
        self.proc.kill()
        self.proc.wait()


def ingest(server, sessions, count, size=5000):
    t0 = time.monotonic()
    r = subprocess.run(["smtp-source", "-d", "-s", str(sessions), "-m", str(count),
                        "-l", str(size), "-f", "bench@example.org",
                        "-t", server.rcpt, "127.0.0.1:%d" % server.port],
                       capture_output=True, text=True, timeout=600)
    elapsed = time.monotonic() - t0
    if r.returncode != 0 or r.stderr.strip():
        raise RuntimeError("smtp-source against %s: %s" % (server.name,
                                                           r.stderr.strip()))
    return count / elapsed


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=5000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--sessions", default="1,10,50")
    ap.add_argument("--smoke", action="store_true",
                    help="a few seconds: check that the scripts still work")
    a = ap.parse_args()
    if a.smoke:
        a.messages, a.runs, a.sessions = 100, 1, "1,10"
    sessions = [int(s) for s in a.sessions.split(",")]
    base = tempfile.mkdtemp(prefix="owlpost-bench-")
    print("owlpost bench, %s" % time.strftime("%Y-%m-%d"))
    print("machine: %s" % machine())
    print("SMTP durable ingest: %d messages of 5 KB, median of %d runs, msg/s"
          % (a.messages, a.runs))
    print("%-9s %10s %10s %10s %12s %14s" % ("sessions", "owld", "postfix",
                                             "smtp-sink", "owld/postfix",
                                             "owld/smtp-sink"))
    servers = []
    try:
        for s in sessions:
            fig = {}
            for cls in (Owld, Postfix, Sink):
                rates = []
                for _ in range(a.runs):
                    srv = cls(base)
                    servers.append(srv)
                    try:
                        rates.append(ingest(srv, s, a.messages))
                        if cls is Owld:
                            assert srv.stored() == a.messages, \
                                "owld stored %d of %d" % (srv.stored(), a.messages)
                    finally:
                        srv.stop()
                        servers.remove(srv)
                fig[cls.name] = statistics.median(rates)
            print("%-9d %10.0f %10.0f %10.0f %12.2f %14.2f" % (
                s, fig["owld"], fig["postfix"], fig["smtp-sink"],
                fig["owld"] / fig["postfix"], fig["owld"] / fig["smtp-sink"]))
            sys.stdout.flush()
    finally:
        for srv in servers:
            srv.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
