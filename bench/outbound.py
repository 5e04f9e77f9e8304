#!/usr/bin/python3
"""make bench-outbound: owld's outbound relay and STARTTLS ingest, side by
side with Debian's Postfix in the same run (issue 23).

The servers, smtp-sink, smtp-source and the CPU accounting (each server in
a cgroup of its own, every process of it counted) are bench.py's; this
file only adds the two workloads.  Loopback only.  In each of --rounds
rounds the targets take turns (owld, postfix, owld, postfix...), each on a
fresh server; a figure is the median over the rounds with (min-max).

a. Relayed as they arrive: --relay messages of 5 KB go in over 10 SMTP
   sessions (smtp-source) while the relay runs, to a remote domain; the
   server relays them to smtp-sink (owld: relay.host, Postfix: relayhost).
   msg/s from the first connection until the queue is empty (every
   message handed on); server CPU per message over that time (ingest and
   relay: everything the server did for the message).  Also the ingest
   rate alone (until the last 250), and the messages still queued then
   and how long they took: the relay's own lag behind its input.
b. STARTTLS ingest: 10 client sessions, threads of --client-procs (2)
   processes (Python's ssl; one process bounds the rate near one core,
   ten processes on two cores favoured Postfix's many processes over
   owld's one event loop; the clients' CPU is printed), each connecting,
   STARTTLS, EHLO, then 1 (--tls1 messages in all) or 100
   (--tls100 in all) messages of 5 KB to a local mailbox, QUIT; each
   client offers its last TLS session again (as an MTA with a session
   cache does).  msg/s until the last 250; server CPU per message until
   every message is in the Maildir; the share of handshakes resumed.
   Postfix runs tlsmgr and a session cache, so it can resume too.

Targets (issue 23): (a) owld >= 1.5x Postfix's msg/s, and CPU/msg <= half
of Postfix's; (b) 1 msg/conn at 10 sessions >= 2x Postfix.  --smoke runs
a few hundred messages, one round: the scripts work, figures mean little.
"""
import argparse
import multiprocessing
import os
import resource
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
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

def read_reply(f):
    while True:
        line = f.readline()
        if not line:
            raise RuntimeError("connection closed")
        if line[3:4] != b"-":
            return line


def expect(f, code):
    line = read_reply(f)
    if not line.startswith(code):
        raise RuntimeError("wanted %s, got %r" % (code, line))


def tls_client(port, rcpt, conns, per_conn, out):
    """One client session: conns connections of per_conn messages each."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    sess, resumed = None, 0
    data = (b"From: bench@example.org\r\nTo: " + rcpt.encode() +
            b"\r\nSubject: bench\r\n\r\n" + BODY + b"\r\n.\r\n")
    for _ in range(conns):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        # the handshake's last flight and EHLO are two small writes: no
        # Nagle wait for the server's delayed ACK (40 ms) between them
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        f = s.makefile("rb")
        expect(f, b"220")
        s.sendall(b"EHLO client.bench.test\r\n")
        expect(f, b"250")
        s.sendall(b"STARTTLS\r\n")
        expect(f, b"220")
        t = ctx.wrap_socket(s, session=sess)
        resumed += t.session_reused
        f = t.makefile("rb")
        t.sendall(b"EHLO client.bench.test\r\n")
        expect(f, b"250")
        for _ in range(per_conn):
            t.sendall(b"MAIL FROM:<bench@example.org>\r\nRCPT TO:<" +
                      rcpt.encode() + b">\r\nDATA\r\n")
            expect(f, b"250")
            expect(f, b"250")
            expect(f, b"354")
            t.sendall(data)
            expect(f, b"250")
        t.sendall(b"QUIT\r\n")
        read_reply(f)
        sess = t.session
        t.close()
    out.append(resumed)


def tls_proc(port, rcpt, threads, conns, per_conn, q, go):
    """One client process: threads sessions, from the moment go is set."""
    out = []
    ts = [threading.Thread(target=tls_client, args=(port, rcpt, conns, per_conn, out))
          for _ in range(threads)]
    q.put(None)  # up
    go.wait()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    q.put(out if len(out) == threads else None)


def tls_run(kind, base, n, per_conn, procs):
    srv = owld_tls(base) if kind == "owld" else postfix_tls(base)
    try:
        conns = max(1, n // (SESSIONS * per_conn))
        n = conns * SESSIONS * per_conn
        q, go = multiprocessing.Queue(), multiprocessing.Event()
        ps = [multiprocessing.Process(target=tls_proc, args=(
            srv.port, srv.rcpt("u"), SESSIONS // procs, conns, per_conn, q, go))
            for _ in range(procs)]
        for p in ps:
            p.start()
        for _ in ps:
            q.get(timeout=60)
        cpu0 = srv.cpu()
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.monotonic()
        go.set()
        outs = [q.get(timeout=1200) for _ in ps]
        t1 = time.monotonic()
        for p in ps:
            p.join()
        if any(o is None for o in outs):
            raise RuntimeError("a TLS client failed against %s" % kind)
        resumed = sum(sum(o) for o in outs)
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        # the load generator's CPU in cores: near procs, it bounds the rate
        client = (ru1.ru_utime + ru1.ru_stime - ru0.ru_utime - ru0.ru_stime) / (t1 - t0)
        bench.wait_count(srv, "u", n)
        cpu1 = srv.cpu()
        cpu = (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None
        return n / (t1 - t0), cpu, 100.0 * resumed / (conns * SESSIONS), client
    finally:
        srv.stop()


# --- report ------------------------------------------------------------------------

def spread(xs, spec):
    xs = [x for x in xs if x is not None]
    if not xs:
        return "n/a"
    m = bench.med(xs)
    if len(xs) == 1:
        return spec % m
    return (spec + " (" + spec + "-" + spec + ")") % (m, min(xs), max(xs))


def ratio(a, b):
    a, b = bench.med([x for x in a if x is not None]), bench.med([x for x in b if x is not None])
    return None if a is None or b is None or b == 0 else a / b


def verdict(r, want, more=True):
    if r is None:
        return "n/a"
    ok = r >= want if more else r <= want
    return "%.2f (target %s %.1f: %s)" % (r, ">=" if more else "<=", want,
                                          "met" if ok else "NOT met")


def rounds(a, fn):
    """fn(kind) per target, alternated inside each round."""
    res = {"owld": [], "postfix": []}
    for _ in range(a.rounds):
        for kind in ("owld", "postfix"):
            res[kind].append(fn(kind))
    return res


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--relay", type=int, default=5000, help="messages for (a)")
    ap.add_argument("--tls1", type=int, default=2000,
                    help="messages for (b) at 1 per connection")
    ap.add_argument("--tls100", type=int, default=5000,
                    help="messages for (b) at 100 per connection")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--client-procs", type=int, default=2,
                    help="processes the 10 STARTTLS sessions are spread over")
    ap.add_argument("--only", default="relay,tls")
    ap.add_argument("--smoke", action="store_true",
                    help="a few hundred messages, one round")
    a = ap.parse_args()
    if a.smoke:
        a.relay, a.tls1, a.tls100, a.rounds = 300, 100, 1000, 1
    base = tempfile.mkdtemp(prefix="owlpost-outbound-")
    os.chmod(base, 0o755)
    only = a.only.split(",")
    print("# owlpost outbound bench, %s" % time.strftime("%Y-%m-%d %H:%M"))
    print()
    print("machine: %s; load average at the start: %.2f %.2f %.2f; "
          "%d rounds, owld and postfix alternated, median (min-max)"
          % ((bench.machine(),) + os.getloadavg() + (a.rounds,)))
    print()
    try:
        if "relay" in only:
            res = rounds(a, lambda k: relay_run(k, base, a.relay))
            print("## a. Relayed as they arrive: %d messages of 5 KB in over %d "
                  "sessions, relayed to smtp-sink" % (a.relay, SESSIONS))
            print()
            bench.table(["", "owld", "postfix", "owld/postfix"], [
                ["msg/s", spread([r[0] for r in res["owld"]], "%.0f"),
                 spread([r[0] for r in res["postfix"]], "%.0f"),
                 verdict(ratio([r[0] for r in res["owld"]],
                               [r[0] for r in res["postfix"]]), 1.5)],
                ["server CPU ms/msg", spread([r[1] for r in res["owld"]], "%.2f"),
                 spread([r[1] for r in res["postfix"]], "%.2f"),
                 verdict(ratio([r[1] for r in res["owld"]],
                               [r[1] for r in res["postfix"]]), 0.5, more=False)],
                ["ingest alone: msg/s until the last 250",
                 spread([r[2] for r in res["owld"]], "%.0f"),
                 spread([r[2] for r in res["postfix"]], "%.0f"),
                 "%.2f" % ratio([r[2] for r in res["owld"]], [r[2] for r in res["postfix"]])],
                ["queued at the last 250", spread([r[3] for r in res["owld"]], "%.0f"),
                 spread([r[3] for r in res["postfix"]], "%.0f"), ""],
                ["s from the last 250 to an empty queue",
                 spread([r[4] for r in res["owld"]], "%.2f"),
                 spread([r[4] for r in res["postfix"]], "%.2f"), ""]])
        if "tls" in only:
            for per, n, want in ((1, a.tls1, 2.0), (100, a.tls100, None)):
                res = rounds(a, lambda k: tls_run(k, base, n, per, a.client_procs))
                print("## b. STARTTLS ingest, %d message(s) per connection, %d "
                      "sessions (%d client processes), %d messages"
                      % (per, SESSIONS, a.client_procs, n))
                print()
                r = ratio([x[0] for x in res["owld"]], [x[0] for x in res["postfix"]])
                bench.table(["", "owld", "postfix", "owld/postfix"], [
                    ["msg/s", spread([x[0] for x in res["owld"]], "%.0f"),
                     spread([x[0] for x in res["postfix"]], "%.0f"),
                     verdict(r, want) if want else ("%.2f" % r if r else "n/a")],
                    ["server CPU ms/msg", spread([x[1] for x in res["owld"]], "%.2f"),
                     spread([x[1] for x in res["postfix"]], "%.2f"),
                     "%.2f" % ratio([x[1] for x in res["owld"]], [x[1] for x in res["postfix"]])
                     if ratio([x[1] for x in res["owld"]], [x[1] for x in res["postfix"]])
                     else "n/a"],
                    ["handshakes resumed %", spread([x[2] for x in res["owld"]], "%.0f"),
                     spread([x[2] for x in res["postfix"]], "%.0f"), ""],
                    ["client CPU, cores", spread([x[3] for x in res["owld"]], "%.2f"),
                     spread([x[3] for x in res["postfix"]], "%.2f"), ""]])
        print("load average at the end: %.2f %.2f %.2f" % os.getloadavg())
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
