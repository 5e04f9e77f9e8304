#!/usr/bin/python3
"""Section 8 of make bench ("outbound"; make bench-outbound runs it alone):
owld's outbound relay and STARTTLS ingest, side by side with Debian's
Postfix in the same run (issue 23).

A section of bench.py's registry: the servers, smtp-sink, smtp-source, the
CPU accounting (each server in a cgroup of its own, every process of it
counted), the quiet gate, the targets in turn inside every round (the
order rotated) and the spread are bench.py's; this file only adds the two
workloads.  Loopback only.

a. Relayed as they arrive: --outbound-relay messages of 5 KB go in over
   10 SMTP sessions (smtp-source) while the relay runs, to a remote
   domain; the server relays them to smtp-sink (owld: relay.host,
   Postfix: relayhost).  msg/s from the first connection until the queue
   is empty (every message handed on); server CPU per message over that
   time (ingest and relay: everything the server did for the message).
   Also the ingest rate alone (until the last 250), and the messages
   still queued then and how long they took: the relay's own lag behind
   its input.
b. STARTTLS ingest: 10 client sessions, the threads of bench/smtptls
   (C on OpenSSL; the Python clients before it used a whole core and
   bounded the rate they measured; the client's CPU is printed), each
   connecting, STARTTLS, EHLO, then 1
   (--outbound-tls1 messages in all) or 100 (--outbound-tls100 in all)
   messages of 5 KB to a local mailbox, QUIT; each client offers its last
   TLS session again (as an MTA with a session cache does).  msg/s until
   the last 250; server CPU per message until every message is in the
   Maildir; the share of handshakes resumed.  Postfix runs tlsmgr and a
   session cache, so it can resume too.

Targets (issue 23): (a) owld >= 1.5x Postfix's msg/s, and CPU/msg <= half
of Postfix's; (b) 1 msg/conn at 10 sessions >= 2x Postfix.  --smoke runs
a few hundred messages: the scripts work, figures mean little.
"""
import os
import resource
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402

SESSIONS = 10
BODY = b"".join(b"Line %04d of the benchmark message, 5 KB in all.......\r\n" % i
                for i in range(90))[:5000]


# --- servers -------------------------------------------------------------------

def postfix_reload(p, main_cf="", master_cf=""):
    """Adds lines to a running bench.Postfix's configuration and reloads."""
    etc = os.path.join(p.d, "etc")
    with open(os.path.join(etc, "main.cf"), "a") as f:
        f.write(main_cf)
    with open(os.path.join(etc, "master.cf"), "a") as f:
        f.write(master_cf)
    r = subprocess.run(["postfix", "-c", etc, "reload"], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stderr


def ehlo_offers(port, word, timeout=20):
    """Waits until the server at port offers word in its EHLO reply."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                f = s.makefile("rb")
                f.readline()
                s.sendall(b"EHLO bench.test\r\n")
                lines = []
                while True:
                    line = f.readline()
                    lines.append(line)
                    if line[3:4] != b"-":
                        break
                s.sendall(b"QUIT\r\n")
                if any(word.encode() in ln for ln in lines):
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("no %s offered on port %d" % (word, port))


def make_cert(base):
    cert, key = os.path.join(base, "cert.pem"), os.path.join(base, "key.pem")
    if not os.path.exists(cert):
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                        "-out", cert, "-days", "2", "-subj", "/CN=localhost"],
                       check=True, capture_output=True)
        os.chmod(key, 0o644)  # Postfix's smtpd and owld read it
    return cert, key


def owld_relay(base, sink):
    return bench.Owld(base, opts=["relay.host=127.0.0.1:%d" % sink.port])


def postfix_relay(base, sink):
    p = bench.Postfix(base)
    postfix_reload(p, "relayhost = [127.0.0.1]:%d\n" % sink.port)
    time.sleep(1)  # qmgr and smtp restart with the new relayhost
    return p


def owld_tls(base):
    cert, key = make_cert(base)
    o = bench.Owld(base, opts=["tls.cert=" + cert, "tls.key=" + key])
    ehlo_offers(o.port, "STARTTLS")
    return o


def postfix_tls(base):
    cert, key = make_cert(base)
    p = bench.Postfix(base)
    postfix_reload(p, "smtpd_tls_cert_file = %s\n"
                      "smtpd_tls_key_file = %s\n"
                      "smtpd_tls_security_level = may\n"
                      "smtpd_tls_session_cache_database = "
                      "btree:${data_directory}/smtpd_scache\n"
                      "tls_random_source = dev:/dev/urandom\n" % (cert, key),
                   "tlsmgr    unix - - n 1000? 1 tlsmgr\n")
    ehlo_offers(p.port, "STARTTLS")
    return p


# --- queues --------------------------------------------------------------------

def queue_len(srv):
    """Messages still queued (owld: envelopes; Postfix: every queue)."""
    if isinstance(srv, bench.Postfix):
        spool = os.path.join(srv.d, "spool")
        dirs = ("maildrop", "incoming", "active", "deferred", "hold")
    else:
        spool = os.path.join(srv.d, "queue")
        dirs = ("env",)
    n = 0
    for d in dirs:
        for _, _, files in os.walk(os.path.join(spool, d)):
            n += len(files)
    return n


def deferred(srv):
    if isinstance(srv, bench.Postfix):
        d = os.path.join(srv.d, "spool", "deferred")
        return sum(len(f) for _, _, f in os.walk(d))
    with open(os.path.join(srv.d, "log")) as f:
        return sum(1 for ln in f if "event=deferred" in ln)


def wait_empty(srv, timeout=600):
    deadline = time.monotonic() + timeout
    while queue_len(srv) > 0:
        if time.monotonic() > deadline:
            raise RuntimeError("%s: %d messages still queued" % (srv.name, queue_len(srv)))
        time.sleep(0.005)


# --- a: relayed as they arrive ---------------------------------------------------

def relay_run(kind, base, n):
    sink = bench.Sink(base)
    srv = None
    try:
        srv = owld_relay(base, sink) if kind == "owld" else postfix_relay(base, sink)
        cpu0 = srv.cpu()
        t0 = time.monotonic()
        bench.smtp_source(srv.port, "u@sink.test", SESSIONS, n)
        t_in = time.monotonic()
        left = queue_len(srv)
        wait_empty(srv)
        t1 = time.monotonic()
        cpu1 = srv.cpu()
        if deferred(srv):
            raise RuntimeError("%s deferred messages" % kind)
        cpu = (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None
        return n / (t1 - t0), cpu, n / (t_in - t0), left, t1 - t_in
    finally:
        if srv is not None:
            srv.stop()
        sink.stop()


# --- b: STARTTLS ingest ------------------------------------------------------------

def tls_run(kind, base, n, per_conn):
    """STARTTLS ingest: bench/smtptls (C, OpenSSL) runs SESSIONS threads
    of connections with per_conn messages each; msg/s from its first
    connection to its last QUIT, the server's CPU per message until all
    are stored, the share of handshakes resumed, and the client's CPU in
    cores (near 1 it would bound the rate, as the Python clients did)."""
    srv = owld_tls(base) if kind == "owld" else postfix_tls(base)
    try:
        conns = max(1, n // (SESSIONS * per_conn))
        n = conns * SESSIONS * per_conn
        cpu0 = srv.cpu()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        r = subprocess.run([os.path.join(bench.BUILD, "smtptls"), "-p",
                            str(srv.port), "-t", srv.rcpt("u"), "-s",
                            str(SESSIONS), "-c", str(conns), "-m",
                            str(per_conn)], capture_output=True, text=True,
                           timeout=1200, **bench.client_kw())
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        if r.returncode != 0:
            raise RuntimeError("smtptls against %s: %s" % (kind, r.stderr.strip()))
        got = dict(f.split("=") for f in r.stdout.split())
        secs = float(got["seconds"])
        if int(got["messages"]) != n:
            raise RuntimeError("smtptls sent %s of %d" % (got["messages"], n))
        client = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / secs
        bench.wait_count(srv, "u", n)
        cpu1 = srv.cpu()
        cpu = (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None
        return n / secs, cpu, 100.0 * int(got["resumed"]) / (conns * SESSIONS), client
    finally:
        srv.stop()


# --- the section ----------------------------------------------------------------

RELAY_KEYS = ("msgs", "cpu_ms", "ingest", "left", "lag")
TLS_KEYS = ("msgs", "cpu_ms", "resumed", "client")


def add_args(ap):
    ap.add_argument("--outbound-relay", type=int, default=5000,
                    help="outbound (a): messages relayed as they arrive")
    ap.add_argument("--outbound-tls1", type=int, default=2000,
                    help="outbound (b): messages at 1 per STARTTLS connection")
    ap.add_argument("--outbound-tls100", type=int, default=5000,
                    help="outbound (b): messages at 100 per connection")


def smoke(a):
    a.outbound_relay, a.outbound_tls1, a.outbound_tls100 = 150, 100, 1000


def relay_figures(kind, base, n):
    return dict(zip(RELAY_KEYS, relay_run(kind, base, n)))


def tls_figures(kind, base, n, per):
    return dict(zip(TLS_KEYS, tls_run(kind, base, n, per)))


def rows_of(a, ow, pf, keys):
    """Table rows: (key, label, spec, want, least, more), the ratio and
    its verdict by bench.ratio_row."""
    rows = []
    for key, label, spec, want, least, more in keys:
        o, p = ow.col(key), pf.col(key)
        row = [label, bench.cell(o, spec, a), bench.cell(p, spec, a)]
        row += bench.ratio_row(a, "", o, p, want, least, more)[1:]
        rows.append(row + [""] * (5 - len(row)))
    return rows


def section_outbound(a, base, out):
    targets = [("owld", "owld"), ("postfix", "postfix")]
    head = ["", "owld", "postfix", "owld/postfix", "target"]
    print("## 8. Outbound: relayed as they arrive, and STARTTLS ingest "
          "(issue 23)")
    print()
    print("Each run a fresh server; owld and Postfix in turn inside every "
          "round (the order rotated), after the quiet gate; median "
          "(min-max) of %d rounds.  (a) %d messages of 5 KB in over %d "
          "sessions while the relay hands them to smtp-sink; (b) %d "
          "sessions of bench/smtptls (C, OpenSSL), STARTTLS then 1 (%d in "
          "all) or 100 (%d in all) messages per connection to a local "
          "mailbox, each session offering its last TLS session again."
          % (a.rounds, a.outbound_relay, SESSIONS, SESSIONS,
             a.outbound_tls1, a.outbound_tls100))
    print()
    res = bench.alternate(a, [("relay", None)], targets,
                          lambda kind, _: relay_figures(kind, base,
                                                        a.outbound_relay),
                          what="outbound relay")
    print()
    ow, pf = res["relay"]["owld"], res["relay"]["postfix"]
    bench.table(head, rows_of(a, ow, pf, [
        ("msgs", "(a) relayed as they arrive, msg/s", "%.0f", ">= 1.5", 1.5,
         True),
        ("cpu_ms", "(a) server CPU ms per message", "%.2f", "<= 0.5", 0.5,
         False),
        ("ingest", "(a) ingest alone, msg/s until the last 250", "%.0f",
         None, None, True),
        ("left", "(a) queued at the last 250", "%.0f", None, None, True),
        ("lag", "(a) s from the last 250 to an empty queue", "%.2f", None,
         None, True)]))
    print(bench.gate_summary(res))
    print()
    cases = [("1 message per connection", (1, a.outbound_tls1)),
             ("100 messages per connection", (100, a.outbound_tls100))]
    res = bench.alternate(a, cases, targets,
                          lambda kind, c: tls_figures(kind, base, c[1], c[0]),
                          what="outbound tls")
    print()
    rows = []
    for label, (per, _) in cases:
        ow, pf = res[label]["owld"], res[label]["postfix"]
        want = (">= 2", 2.0) if per == 1 else (None, None)
        rows += rows_of(a, ow, pf, [
            ("msgs", "(b) %s, msg/s" % label, "%.0f", want[0], want[1], True),
            ("cpu_ms", "(b) %s, server CPU ms per message" % label, "%.2f",
             None, None, True),
            ("resumed", "(b) %s, handshakes resumed %%" % label, "%.0f",
             None, None, True),
            ("client", "(b) %s, client CPU, cores" % label, "%.2f", None,
             None, True)])
    bench.table(head, rows)
    print(bench.gate_summary(res))
    print()


bench.register("outbound", section_outbound, add_args=add_args, smoke=smoke)


if __name__ == "__main__":
    sys.argv[1:1] = ["--only", "outbound"]
    bench.PLUGINS.append("outbound")
    bench.main()
