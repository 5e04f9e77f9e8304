"""Running owld as a service: systemd's readiness protocol (READY=1,
RELOADING=1/READY=1 at SIGHUP, STOPPING=1 at SIGTERM, read from a unix
datagram socket as systemd would), the TLS pair reloaded by SIGHUP and by
`owlctl reload` (new connections see the new certificate, an established
session goes on, a bad pair keeps the old one and is logged), `owlctl
status` in text and JSON, and the --json of user list and queue list."""
import base64
import datetime
import hashlib
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time

import pytest

from conftest import Client, OWLCTL

from test_tls import make_cert


def _notify_socket(path, abstract=False):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + path if abstract else path)
    s.settimeout(10)
    return s


def _next(sock):
    return sock.recv(4096).decode()


@pytest.mark.parametrize("abstract", [False, True])
def test_notify_ready_reloading_stopping(owld, tmp_path, abstract):
    name = str(tmp_path / "notify") if not abstract else \
        "owld-test-%d-%d" % (os.getpid(), time.time_ns())
    ns = _notify_socket(name, abstract)
    o = owld(env={"NOTIFY_SOCKET": ("@" if abstract else "") + name})
    msg = _next(ns)
    assert msg.split("\n")[0] == "READY=1", msg
    # ready means serving: the SMTP port answers
    c = o.connect()
    assert c.reply()[0] == 220
    c.close()
    o.proc.send_signal(signal.SIGHUP)
    msg = _next(ns)
    assert msg.startswith("RELOADING=1\nMONOTONIC_USEC="), msg
    assert _next(ns) == "READY=1"
    o.proc.send_signal(signal.SIGTERM)
    assert _next(ns) == "STOPPING=1"
    assert o.proc.wait(15) == 0
    ns.close()


def test_no_notify_socket_is_fine(server):
    # without NOTIFY_SOCKET nothing is sent and nothing is logged
    server.proc.send_signal(signal.SIGHUP)
    server.wait_log(r"event=reload ")
    assert "notify-failed" not in server.logtext()


def _fingerprint(port):
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    raw = socket.create_connection(("127.0.0.1", port), timeout=10)
    s = ctx.wrap_socket(raw)
    fp = hashlib.sha256(s.getpeercert(binary_form=True)).hexdigest()
    return s, fp


def _file_fp(cert):
    der = ssl.PEM_cert_to_DER_cert(open(cert).read())
    return hashlib.sha256(der).hexdigest()


@pytest.fixture
def reloadable(owld, tmp_path):
    """owld serving tls/cert.pem + key.pem (copies of pair a), and pairs a
    and b to put in their place."""
    d = tmp_path / "certs"
    d.mkdir()
    pairs = {n: make_cert(str(d), n) for n in ("a", "b")}
    live = tmp_path / "live"
    live.mkdir()
    cert, key = str(live / "cert.pem"), str(live / "key.pem")

    def install(cert_from, key_from):
        # as certbot's deploy hook would: new files renamed into place
        shutil.copy(cert_from, cert + ".new")
        shutil.copy(key_from, key + ".new")
        os.rename(cert + ".new", cert)
        os.rename(key + ".new", key)
    install(*pairs["a"])
    o = owld(["tls.cert=" + cert, "tls.key=" + key,
              "submissions.listen=127.0.0.1:0"])
    return o, pairs, install


def test_sighup_reloads_the_certificate(reloadable):
    o, pairs, install = reloadable
    fa, fb = _file_fp(pairs["a"][0]), _file_fp(pairs["b"][0])
    old, fp = _fingerprint(o.subs_port)
    assert fp == fa
    c = Client(old)
    assert c.reply()[0] == 220
    assert c.cmd("EHLO before")[0] == 250
    install(*pairs["b"])
    o.proc.send_signal(signal.SIGHUP)
    o.wait_log(r"event=reload users=2 aliases=0 tls=reloaded "
               r"not_after=\d+ sha256=" + fb)
    new, fp = _fingerprint(o.subs_port)
    assert fp == fb
    new.close()
    # the session that shook hands with the old pair goes on
    assert c.cmd("EHLO after")[0] == 250
    auth = base64.b64encode(b"\0alice@localhost\0pw-alice").decode()
    assert c.cmd("AUTH PLAIN " + auth)[0] == 235
    assert c.cmd("MAIL FROM:<alice@localhost>")[0] == 250
    assert c.cmd("RCPT TO:<alice@localhost>")[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(b"Subject: old pair\r\n\r\nstill here\r\n.\r\n")
    assert c.reply()[0] == 250
    c.cmd("QUIT")
    c.close()
    assert len(o.messages("alice")) == 1


def test_bad_pair_keeps_the_old_one(reloadable):
    o, pairs, install = reloadable
    fa = _file_fp(pairs["a"][0])
    # b's certificate with a's key: they do not match
    install(pairs["b"][0], pairs["a"][1])
    o.proc.send_signal(signal.SIGHUP)
    o.wait_log(r"event=tls-reload-failed error=\"tls.key [^\n]*key values "
               r"mismatch\" using=old")
    o.wait_log(r"event=reload users=2 aliases=0 tls=kept")
    s, fp = _fingerprint(o.subs_port)
    assert fp == fa
    s.close()
    # a missing key file: the same
    os.unlink(o.opts[1].split("=", 1)[1])
    o.proc.send_signal(signal.SIGHUP)
    o.wait_log(r"event=tls-reload-failed error=\"tls.key ", count=1)
    o.wait_log(r"event=reload users=2 aliases=0 tls=kept", count=2)
    s, fp = _fingerprint(o.subs_port)
    assert fp == fa
    s.close()


def test_owlctl_reload(reloadable):
    o, pairs, install = reloadable
    fb = _file_fp(pairs["b"][0])
    install(*pairs["b"])
    r = o.ctl("reload")
    assert r.stdout.startswith("reloaded: users=2 aliases=0 tls=reloaded ")
    assert fb in r.stdout
    s, fp = _fingerprint(o.subs_port)
    assert fp == fb
    s.close()
    install(pairs["a"][0], pairs["b"][1])
    r = o.ctl("reload", check=False)
    assert r.returncode == 1
    assert "tls=kept" in r.stderr and "mismatch" in r.stderr
    s, fp = _fingerprint(o.subs_port)
    assert fp == fb
    s.close()


def test_owlctl_reload_rereads_users(server):
    os.rename(server.log, server.log + ".1")
    subprocess.run([OWLCTL, "-D", server.datadir, "user", "add",
                    "carol@localhost"], input="pw\n", text=True, check=True)
    r = server.ctl("reload")
    assert "users=3" in r.stdout and "tls=off" in r.stdout
    # the log was reopened
    assert "event=reload users=3 aliases=0 tls=off" in \
        open(server.log).read()


def test_status(reloadable):
    o, pairs, _ = reloadable
    r = o.ctl("status")
    lines = r.stdout.splitlines()
    assert lines[0].startswith("owld 0.1.0, up 0d 00h 00m ")
    assert lines[1] == "sessions: smtp 0, pop3 0, imap 0"
    assert lines[2] == "queue: 0 messages"
    assert lines[3] == "last minute: 0 messages in, 0 deliveries out"
    assert lines[4].startswith("certificate: expires ")
    # two SMTP sessions (one on submissions), one POP3, one IMAP
    c1 = o.connect()
    c1.reply()
    c2, _ = _fingerprint(o.subs_port)
    Client(c2).reply()
    p = o.pop3()
    p.readline()
    i = o.imap()
    i.readline()
    o.send(["alice@localhost"], b"Subject: 1\r\n\r\none\r\n")
    o.send(["bob@localhost", "alice@localhost"], b"Subject: 2\r\n\r\n2\r\n")
    js = json.loads(o.ctl("status", "--json").stdout)
    assert js["version"] == "0.1.0"
    assert js["sessions"] == {"smtp": 2, "pop3": 1, "imap": 1}
    assert js["queue"] == 0 and js["in_1m"] == 2 and js["out_1m"] == 0
    assert js["cert"]["sha256"] == _file_fp(pairs["a"][0])
    end = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-in",
                          pairs["a"][0]], capture_output=True, text=True,
                         check=True).stdout.strip().split("=", 1)[1]
    want = datetime.datetime.strptime(end, "%b %d %H:%M:%S %Y %Z")
    assert js["cert"]["not_after"] == want.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert js["cert"]["days_left"] in (1, 2)
    for x in (c1, Client(c2), p, i):
        x.close()


def test_status_counts_the_queue_and_deliveries_out(owld, sink):
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port,
              "relay.networks=127.0.0.0/8"])
    o.send(["x@example.net", "y@example.net"], b"Subject: out\r\n\r\nx\r\n")
    s.wait(1)
    o.wait_log(r"event=sent .*to=<y@example.net>")
    js = json.loads(o.ctl("status", "--json").stdout)
    assert js["in_1m"] == 1 and js["out_1m"] == 2
    assert js["cert"] is None
    # a held message stays in the queue
    s2 = sink(rcpt=lambda a: "451 4.3.0 later")
    o2 = owld(["relay.host=127.0.0.1:%d" % s2.port,
               "relay.networks=127.0.0.0/8"])
    o2.send(["z@example.net"], b"Subject: later\r\n\r\nx\r\n")
    o2.wait_log(r"event=deferred")
    js = json.loads(o2.ctl("status", "--json").stdout)
    assert js["queue"] == 1 and js["out_1m"] == 0
    q = json.loads(o2.ctl("queue", "list", "--json").stdout)
    assert len(q) == 1
    assert q[0]["recipients"][0]["address"] == "z@example.net"


def test_status_without_owld(tmp_path):
    for args in (["status"], ["status", "--json"], ["reload"]):
        r = subprocess.run([OWLCTL, "-D", str(tmp_path)] + args,
                           capture_output=True, text=True)
        assert r.returncode == 1
        assert "owld is not running" in r.stderr
    r = subprocess.run([OWLCTL, "-D", str(tmp_path), "status", "x"],
                       capture_output=True, text=True)
    assert r.returncode == 64


def test_user_list_json(server):
    js = json.loads(server.ctl("user", "list", "--json").stdout)
    assert js == [{"user": "alice@localhost"}, {"user": "bob@localhost"}]


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_owlctl_as_root_becomes_user():
    """As root with user= set (the package's user = owlpost), owlctl
    writes as that user, so owld, which runs as it, can read the file."""
    import pathlib
    import pwd
    import tempfile
    nobody = pwd.getpwnam("nobody")
    top = pathlib.Path(tempfile.mkdtemp(prefix="owl-ctlu-", dir="/tmp"))
    os.chown(top, nobody.pw_uid, nobody.pw_gid)
    try:
        _owlctl_as_nobody(top, nobody)
    finally:
        shutil.rmtree(top)


def _owlctl_as_nobody(top, nobody):
    r = subprocess.run([OWLCTL, "-D", str(top / "data"), "-o", "user=nobody",
                        "user", "add", "carol@localhost"], input="pw\n",
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    st = os.stat(top / "data" / "users")
    assert (st.st_uid, st.st_gid) == (nobody.pw_uid, nobody.pw_gid)
    r = subprocess.run([OWLCTL, "-D", str(top / "data"), "-o",
                        "user=no-such-user-here", "user", "list"],
                       capture_output=True, text=True)
    assert r.returncode == 78 and "unknown user" in r.stderr


def _free_low_port():
    for p in range(900, 1000):
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", p))
            return p
        except OSError:
            pass
        finally:
            s.close()
    pytest.skip("no free port in 900-999")


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None,
                    reason="needs root and setpriv (util-linux)")
def test_runs_as_the_unit_runs_it():
    """As owld.service starts it: an unprivileged user with only
    CAP_NET_BIND_SERVICE (ambient, and the whole bounding set) and no new
    privileges; owld binds a port below 1024, says READY=1, serves, holds
    no other capability, and stops with STOPPING=1 and exit 0."""
    import pathlib
    import pwd
    import tempfile
    nobody = pwd.getpwnam("nobody")
    top = pathlib.Path(tempfile.mkdtemp(prefix="owl-unit-", dir="/tmp"))
    os.chown(top, nobody.pw_uid, nobody.pw_gid)
    port = _free_low_port()
    # abstract: no directory permissions stand between nobody and it
    name = "owld-unit-%d-%d" % (os.getpid(), time.time_ns())
    ns = _notify_socket(name, abstract=True)
    cmd = ["setpriv", "--reuid=%d" % nobody.pw_uid,
           "--regid=%d" % nobody.pw_gid, "--clear-groups",
           "--inh-caps=-all,+net_bind_service",
           "--ambient-caps=-all,+net_bind_service",
           "--bounding-set=-all,+net_bind_service", "--no-new-privs",
           OWLCTL.replace("owlctl", "owld"), "-D", str(top / "data"),
           "-o", "smtp.listen=127.0.0.1:%d" % port,
           "-o", "submission.listen=", "-o", "pop3.listen=",
           "-o", "imap.listen=", "-o", "user=nobody",
           "-o", "log.file=" + str(top / "log")]
    p = subprocess.Popen(cmd, env=dict(os.environ, NOTIFY_SOCKET="@" + name),
                         stderr=subprocess.PIPE, text=True)
    try:
        assert _next(ns).startswith("READY=1")
        c = Client(socket.create_connection(("127.0.0.1", port), timeout=10))
        assert c.reply()[0] == 220
        c.close()
        with open("/proc/%d/status" % p.pid) as f:
            st = dict(l.split(":", 1) for l in f)
        assert st["Uid"].split() == [str(nobody.pw_uid)] * 4
        for k in ("CapEff", "CapPrm", "CapBnd", "CapAmb"):
            assert int(st[k], 16) == 1 << 10, (k, st[k])  # NET_BIND_SERVICE
        assert st["NoNewPrivs"].strip() == "1"
        p.send_signal(signal.SIGTERM)
        assert _next(ns) == "STOPPING=1"
        assert p.wait(15) == 0
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        p.stderr.close()
        ns.close()
        shutil.rmtree(top)


def _get(port, request):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(request)
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except ConnectionResetError:  # closed with our input unread
            break
        if not chunk:
            break
        data += chunk
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.decode(), body.decode()


def _metrics(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            k, v = line.rsplit(" ", 1)
            out[k] = float(v)
    return out


def test_metrics_endpoint(reloadable):
    o, pairs, _ = reloadable
    assert "proto=metrics" not in o.logtext()  # off by default
    o.stop()
    o.opts.append("metrics.listen=127.0.0.1:0")
    o.start()
    import re
    port = int(re.findall(r"event=listen proto=metrics addr=127\.0\.0\.1:"
                          r"(\d+)", o.logtext())[-1])
    c = o.connect()
    c.reply()
    o.send(["alice@localhost"], b"Subject: m\r\n\r\nm\r\n")
    head, body = _get(port, b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    assert head.startswith("HTTP/1.0 200 OK\r\n")
    assert "Content-Type: text/plain; version=0.0.4" in head
    assert "Content-Length: %d\r\n" % len(body.encode()) in head
    m = _metrics(body)
    assert m["owlpost_up"] == 1
    assert m['owlpost_sessions{proto="smtp"}'] == 1
    assert m['owlpost_sessions{proto="imap"}'] == 0
    assert m["owlpost_messages_in_total"] == 1
    assert m["owlpost_queue_messages"] == 0
    assert m["owlpost_deliveries_out_total"] == 0
    st = json.loads(o.ctl("status", "--json").stdout)
    assert m["owlpost_tls_cert_not_after_seconds"] == \
        st["cert"]["not_after_unix"]
    assert "# TYPE owlpost_messages_in_total counter" in body
    head, _ = _get(port, b"GET /other HTTP/1.0\r\n\r\n")
    assert head.startswith("HTTP/1.0 404 ")
    head, _ = _get(port, b"POST /metrics HTTP/1.0\r\n\r\n")
    assert head.startswith("HTTP/1.0 405 ")
    # bounded: a line past 1 KiB, or too many header lines, is dropped
    head, _ = _get(port, b"GET /metrics HTTP/1.0\r\nX: " + b"a" * 2000 +
                   b"\r\n\r\n")
    assert head == ""
    head, _ = _get(port, b"GET /metrics HTTP/1.0\r\n" + b"X: y\r\n" * 40 +
                   b"\r\n")
    assert head == ""
    c.close()


def test_metrics_listen_that_cannot_bind(owld, tmp_path):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(1)
    o = owld(["metrics.listen=127.0.0.1:%d" % s.getsockname()[1]],
             start=False)
    with pytest.raises(RuntimeError, match="metrics.listen"):
        o.start()
    assert o.proc.wait(10) == 71
    s.close()
