"""TLS: STARTTLS on SMTP, STLS on POP3, the implicit-TLS listeners, AUTH
only under TLS, the STARTTLS injection and bad handshakes, real clients
(smtplib, poplib, swaks, curl) and the relay's STARTTLS with and without
certificate verification.  Certificates are made here with the openssl
command line tool."""
import os
import poplib
import re
import smtplib
import socket
import ssl
import subprocess
import time

import pytest

from conftest import Client, Pop3Client, low_quarantine, run_fetchmail, status_kib


def make_cert(d, name, cn="localhost"):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    d = str(tmp_path_factory.mktemp("certs"))
    return {"good": make_cert(d, "good"), "other": make_cert(d, "other")}


@pytest.fixture
def tls_owld(owld, certs):
    """owld with a certificate, both implicit-TLS listeners, no cleartext
    logins even on loopback."""
    cert, key = certs["good"]

    def make(opts=(), **kw):
        return owld(opts=["tls.cert=" + cert, "tls.key=" + key,
                          "submissions.listen=127.0.0.1:0",
                          "pop3s.listen=127.0.0.1:0",
                          "auth.allow_plaintext=no"] + list(opts), **kw)
    return make


def client_ctx(certs):
    return ssl.create_default_context(cafile=certs["good"][0])


def test_smtplib_starttls_then_auth(tls_owld, certs):
    o = tls_owld()
    with smtplib.SMTP("127.0.0.1", o.sub_port, timeout=30) as c:
        c.ehlo()
        assert c.has_extn("starttls") and not c.has_extn("auth")
        with pytest.raises(smtplib.SMTPNotSupportedError):
            c.login("alice@localhost", "pw-alice")
        c.starttls(context=client_ctx(certs))
        c.ehlo()
        assert c.has_extn("auth") and not c.has_extn("starttls")
        c.login("alice@localhost", "pw-alice")
        c.sendmail("alice@localhost", ["bob@localhost"],
                   b"Subject: over tls\r\n\r\nhello\r\n")
    (name, data), = o.messages("bob")
    assert b"with ESMTPSA id" in data
    assert re.search(rb"\(using TLSv1\.[23] with cipher \S+\)", data)
    assert data.endswith(b"\nhello\n")
    o.wait_log(r"event=disconnect reason=quit mails=1 rcpts=1 "
               r"user=alice@localhost tls=TLSv1\.3 cipher=TLS_")
    log = o.logtext()
    assert re.search(r"smtp id=\w+ event=tls version=TLSv1\.3 cipher=\S+\n", log)


def test_auth_refused_before_starttls(tls_owld):
    o = tls_owld()
    c = o.submission()
    assert c.reply()[0] == 220
    code, lines = c.cmd("EHLO client.test")
    kw = [l[4:] for l in lines]
    assert "STARTTLS" in kw and not any(k.startswith("AUTH") for k in kw)
    code, lines = c.cmd("AUTH PLAIN AGFsaWNlQGxvY2FsaG9zdABwdy1hbGljZQ==")
    assert code == 538 and lines[0].startswith("538 5.7.11")
    code, lines = c.cmd("AUTH LOGIN")
    assert code == 538
    code, lines = c.cmd("MAIL FROM:<alice@localhost>")
    assert code == 530 and "STARTTLS" in lines[0]
    c.cmd("QUIT")
    # POP3: no USER/PASS/AUTH in the clear, none listed
    p = o.pop3()
    assert p.status().startswith("+OK")
    assert p.cmd("CAPA").startswith("+OK")
    capa = p.multi()
    assert b"STLS" in capa and b"USER" not in capa
    assert not any(l.startswith(b"SASL") for l in capa)
    for cmd in ("USER alice", "PASS pw-alice", "AUTH PLAIN"):
        r = p.cmd(cmd)
        assert r.startswith("-ERR [AUTH] Plaintext authentication disallowed"), r
    p.close()


def test_loopback_default_allows_cleartext(owld, certs):
    """auth.allow_plaintext = loopback (the default): AUTH offered in the
    clear on 127.0.0.1, next to STARTTLS."""
    cert, key = certs["good"]
    o = owld(opts=["tls.cert=" + cert, "tls.key=" + key])
    with smtplib.SMTP("127.0.0.1", o.sub_port, timeout=30) as c:
        c.ehlo()
        assert c.has_extn("starttls") and c.has_extn("auth")
        c.login("alice@localhost", "pw-alice")


def test_poplib_stls(tls_owld, certs):
    o = tls_owld()
    o.send(["alice@localhost"], b"Subject: x\r\n\r\nbody\r\n")
    p = poplib.POP3("127.0.0.1", o.pop3_port, timeout=30)
    assert "STLS" in p.capa() and "USER" not in p.capa()
    p.stls(context=client_ctx(certs))
    capa = p.capa()
    assert "USER" in capa and "STLS" not in capa
    p.user("alice@localhost")
    p.pass_("pw-alice")
    assert p.stat()[0] == 1
    assert b"body" in p.retr(1)[1]
    with pytest.raises(poplib.error_proto):
        p._shortcmd("STLS")
    p.quit()
    o.wait_log(r"pop3 id=\w+ peer=127\.0\.0\.1 event=disconnect reason=quit "
               r"retrieved=1 tls=TLSv1\.3 cipher=")


def test_implicit_tls_both_ports(tls_owld, certs):
    o = tls_owld()
    ctx = client_ctx(certs)
    with smtplib.SMTP_SSL("127.0.0.1", o.subs_port, timeout=30, context=ctx) as c:
        c.ehlo()
        assert c.has_extn("auth") and not c.has_extn("starttls")
        c.login("bob@localhost", "pw-bob")
        c.sendmail("bob@localhost", ["alice@localhost"], b"Subject: s\r\n\r\nvia 465\r\n")
    p = poplib.POP3_SSL("127.0.0.1", o.pop3s_port, timeout=30, context=ctx)
    assert "STLS" not in p.capa() and "USER" in p.capa()
    p.user("alice@localhost")
    p.pass_("pw-alice")
    assert b"via 465" in b"\n".join(p.retr(1)[1])
    p.quit()
    log = o.logtext()
    assert "listener=submissions" in log and "listener=pop3s" in log
    # TLS 1.2 is still accepted; 1.1 is not
    ctx12 = client_ctx(certs)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    with smtplib.SMTP_SSL("127.0.0.1", o.subs_port, timeout=30, context=ctx12) as c:
        assert c.sock.version() == "TLSv1.2"


def test_min_version_tls13(tls_owld, certs):
    o = tls_owld(opts=["tls.min_version=TLSv1.3"])
    ctx12 = client_ctx(certs)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    with pytest.raises((ssl.SSLError, ConnectionError)):
        smtplib.SMTP_SSL("127.0.0.1", o.subs_port, timeout=10, context=ctx12)
    o.wait_log(r"reason=tls-failed .*tls=failed tls_error=\"[^\"]*unsupported protocol")


def raw_tls(sock, certs):
    return client_ctx(certs).wrap_socket(sock, server_hostname="localhost")


def test_starttls_injection_smtp(tls_owld, certs):
    """CVE-2011-0411: a command pipelined behind STARTTLS in the same
    packet must not be answered after the handshake."""
    o = tls_owld()
    s = socket.create_connection(("127.0.0.1", o.port), timeout=10)
    c = Client(s)
    assert c.reply()[0] == 220
    c.cmd("EHLO client.test")
    s.sendall(b"STARTTLS\r\nRSET\r\n")
    assert c.readline() == "220 2.0.0 Ready to start TLS\r\n"
    assert c.buf == b""
    t = raw_tls(s, certs)
    t.settimeout(1.0)
    with pytest.raises(socket.timeout):
        t.recv(100)  # nothing: RSET was thrown away
    t.settimeout(10)
    t.sendall(b"EHLO client.test\r\n")
    first = t.recv(4096)
    assert first.startswith(b"250-mx.test"), first
    t.sendall(b"QUIT\r\n")
    t.close()
    o.wait_log(r"smtp id=\w+ event=tls version=TLSv1\.3 cipher=\S+ "
               r"discarded-cleartext=yes")


def test_starttls_injection_pop3(tls_owld, certs):
    o = tls_owld()
    s = socket.create_connection(("127.0.0.1", o.pop3_port), timeout=10)
    p = Pop3Client(s)
    assert p.status().startswith("+OK")
    s.sendall(b"STLS\r\nUSER alice@localhost\r\n")
    assert p.status() == "+OK Begin TLS negotiation now"
    assert p.buf == b""
    t = raw_tls(s, certs)
    t.settimeout(1.0)
    with pytest.raises(socket.timeout):
        t.recv(100)
    t.settimeout(10)
    t.sendall(b"PASS pw-alice\r\n")
    assert t.recv(4096).startswith(b"-ERR USER first")
    t.close()


def test_starttls_only_once_and_resets(tls_owld, certs):
    o = tls_owld()
    s = socket.create_connection(("127.0.0.1", o.sub_port), timeout=10)
    c = Client(s)
    c.reply()
    c.cmd("EHLO client.test")
    assert c.cmd("STARTTLS")[0] == 220
    c.sock = raw_tls(s, certs)
    code, _ = c.cmd("MAIL FROM:<alice@localhost>")
    assert code == 503  # EHLO again first
    code, lines = c.cmd("EHLO client.test")
    assert "250-STARTTLS" not in lines and "250-AUTH PLAIN LOGIN" in lines
    code, lines = c.cmd("STARTTLS")
    assert code == 503 and "already active" in lines[0]
    c.cmd("QUIT")


def test_garbage_handshake(tls_owld, certs):
    o = tls_owld()
    for port, starttls in ((o.sub_port, b"STARTTLS"), (o.pop3_port, b"STLS"),
                           (o.subs_port, None), (o.pop3s_port, None)):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        if starttls:
            s.recv(4096)
            if starttls == b"STARTTLS":
                s.sendall(b"EHLO x\r\n")
                time.sleep(0.1)
                s.recv(4096)
            s.sendall(starttls + b"\r\n")
            time.sleep(0.1)
            s.recv(4096)
        s.sendall(b"\x16\x03\x01\x00\x05hello, this is not a ClientHello\r\n" * 3)
        s.settimeout(10)
        data = b""
        while True:  # the server ends this connection only
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
        s.close()
    o.wait_log(r"reason=tls-failed .*tls=failed tls_error=", count=4)
    # the daemon goes on serving
    with smtplib.SMTP_SSL("127.0.0.1", o.subs_port, timeout=30,
                          context=client_ctx(certs)) as c:
        c.login("alice@localhost", "pw-alice")


def test_slow_handshake_times_out(tls_owld):
    o = tls_owld(opts=["smtp.timeout=1", "pop3.timeout=1"])
    t0 = time.time()
    for port in (o.subs_port, o.pop3s_port):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        assert s.recv(100) == b""  # closed by the server, no handshake
        s.close()
    assert time.time() - t0 < 8
    o.wait_log(r"event=disconnect reason=timeout", count=2)


def test_swaks_tls(tls_owld):
    o = tls_owld()
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(o.sub_port),
                        "--tls", "--auth", "PLAIN", "--auth-user", "alice@localhost",
                        "--auth-password", "pw-alice", "--from", "alice@localhost",
                        "--to", "bob@localhost", "--header", "Subject: swaks tls",
                        "--body", "via swaks"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "TLS started" in r.stdout
    r = subprocess.run(["swaks", "--server", "127.0.0.1", "--port", str(o.subs_port),
                        "--tls-on-connect", "--auth", "LOGIN", "--auth-user",
                        "alice@localhost", "--auth-password", "pw-alice",
                        "--from", "alice@localhost", "--to", "bob@localhost"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert len(o.messages("bob")) == 2


def test_curl_ssl_reqd(tls_owld, certs, tmp_path):
    o = tls_owld()
    cafile = certs["good"][0]
    msg = tmp_path / "m.txt"
    msg.write_bytes(b"Subject: by curl\r\n\r\ncurl body\r\n")
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", cafile,
                        "smtp://127.0.0.1:%d" % o.sub_port, "--mail-from",
                        "alice@localhost", "--mail-rcpt", "alice@localhost",
                        "-u", "alice@localhost:pw-alice", "-T", str(msg)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["curl", "-sS", "--ssl-reqd", "--cacert", cafile,
                        "pop3://127.0.0.1:%d/1" % o.pop3_port,
                        "-u", "alice@localhost:pw-alice"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "curl body" in r.stdout
    r = subprocess.run(["curl", "-sS", "--cacert", cafile,
                        "pop3s://127.0.0.1:%d/1" % o.pop3s_port,
                        "-u", "alice@localhost:pw-alice"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "curl body" in r.stdout


def test_config_errors(owld, certs, tmp_path):
    cert, key = certs["good"]
    o = owld(opts=["submissions.listen=127.0.0.1:0"], start=False)
    with pytest.raises(RuntimeError, match="submissions.listen needs tls.cert"):
        o.start()
    o = owld(opts=["tls.cert=" + cert, "tls.key=" + certs["other"][1]], start=False)
    with pytest.raises(RuntimeError, match="tls.key"):
        o.start()
    r = o.ctl("-o", "tls.cert=" + cert, "-o", "tls.key=" + key, "check")
    assert "configuration OK" in r.stdout


def test_owlctl_selfsigned(owld, tmp_path):
    o = owld(start=False)
    r = o.ctl("tls", "selfsigned", "--days", "30")
    cert = os.path.join(o.datadir, "tls", "cert.pem")
    key = os.path.join(o.datadir, "tls", "key.pem")
    assert "tls.cert = " + cert in r.stdout
    assert os.stat(key).st_mode & 0o777 == 0o600
    assert o.ctl("tls", "selfsigned", check=False).returncode == 1
    o.opts += ["tls.cert=" + cert, "tls.key=" + key, "auth.allow_plaintext=no"]
    o.start()
    ctx = ssl.create_default_context(cafile=cert)
    with smtplib.SMTP("localhost", o.sub_port, timeout=30) as c:
        c.starttls(context=ctx)
        c.login("alice@localhost", "pw-alice")


# --- the relay --------------------------------------------------------------

def sink_ctx(certs, which="good"):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(*certs[which])
    return ctx


def relay_owld(owld, sink, opts):
    return owld(opts=["relay.host=127.0.0.1:%d" % sink.port, "queue.retry=1h"]
                + opts)


def test_relay_opportunistic_starttls(owld, sink, certs):
    s = sink(tls=sink_ctx(certs, "other"))  # not verified: any certificate
    o = relay_owld(owld, s, [])
    o.submit(["x@remote.test"], b"Subject: out\r\n\r\nsecret text\r\n")
    m, = s.wait(1)
    assert m["tls"] == "TLSv1.3"
    assert b"secret text" in m["data"]
    o.wait_log(r"relay id=\w+ event=tls target=127\.0\.0\.1\[127\.0\.0\.1\]:\d+ "
               r"version=TLSv1\.3 cipher=\S+ verified=no")
    o.wait_log(r"event=sent msgid=\w+ to=<x@remote\.test> relay=\S+ tls=TLSv1\.3")


def test_relay_without_tls_when_not_offered(owld, sink):
    s = sink()
    o = relay_owld(owld, s, [])
    o.submit(["x@remote.test"], b"Subject: out\r\n\r\nplain\r\n")
    m, = s.wait(1)
    assert m["tls"] is None
    o.wait_log(r"event=sent msgid=\w+ to=<x@remote\.test> relay=\S+ tls=no")


def test_relay_require_verified(owld, sink, certs):
    s = sink(tls=sink_ctx(certs))
    o = relay_owld(owld, s, ["relay.tls=require", "relay.tls.ca=" + certs["good"][0]])
    o.submit(["x@remote.test"], b"Subject: out\r\n\r\nverified\r\n")
    m, = s.wait(1)
    assert m["tls"] == "TLSv1.3"
    o.wait_log(r"event=tls target=\S+ version=TLSv1\.3 cipher=\S+ verified=yes")


def queue_list_with(o, text, timeout=10):
    """owlctl queue list once it shows text: the deferral is logged before
    its envelope is saved."""
    deadline = time.time() + timeout
    while True:
        q = o.ctl("queue", "list").stdout
        if text in q or time.time() > deadline:
            return q
        time.sleep(0.05)


def test_relay_require_verify_failure_stays_queued(owld, sink, certs):
    s = sink(tls=sink_ctx(certs, "other"))
    o = relay_owld(owld, s, ["relay.tls=require", "relay.tls.ca=" + certs["good"][0]])
    o.submit(["x@remote.test"], b"Subject: out\r\n\r\nnot to an impostor\r\n")
    o.wait_log(r"relay id=\w+ event=tls-failed target=\S+ "
               r"error=\"certificate verify failed: [^\"]+\"")
    o.wait_log(r"event=deferred")
    time.sleep(0.3)
    assert s.messages == []
    q = queue_list_with(o, "certificate verify failed")
    assert "x@remote.test" in q and "certificate verify failed" in q
    assert o.messages("alice") == []  # no bounce: it is only deferred


def test_relay_require_not_offered_stays_queued(owld, sink):
    s = sink()
    o = relay_owld(owld, s, ["relay.tls=require"])
    o.submit(["x@remote.test"], b"Subject: out\r\n\r\nno tls, no mail\r\n")
    o.wait_log(r"event=deferred")
    assert s.messages == []
    assert "does not offer STARTTLS" in queue_list_with(o, "does not offer STARTTLS")


@pytest.mark.parametrize("implicit", [False, True])
def test_fetchmail_tls(tls_owld, certs, tmp_path, implicit):
    """fetchmail with certificate checks: STLS on the POP3 port, or
    implicit TLS on pop3s; cleartext logins are off."""
    o = tls_owld()
    o.send(["alice@localhost"], b"Subject: f\r\n\r\nfetched over tls\r\n")
    out = tmp_path / "fetched"
    r = run_fetchmail(tmp_path, o.pop3s_port if implicit else o.pop3_port, out,
                      "%s sslproto 'TLS1.2+' sslcertck sslcertfile '%s'\n"
                      "  sslcommonname localhost"
                      % ("ssl" if implicit else "", certs["good"][0]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert b"fetched over tls\n" in out.read_bytes()
    o.wait_log(r"pop3 id=\w+ peer=127\.0\.0\.1 event=disconnect reason=quit "
               r"retrieved=1 tls=TLSv1\.3")


def test_big_retr_over_tls_bounded_memory(tls_owld, certs):
    """A 30 MB RETR over pop3s to a reader that stalls for two seconds: the
    TLS filter stops encrypting once the socket's output holds its bound,
    so owld's memory does not follow the text."""
    from test_pop3 import write_big
    o = tls_owld(env=low_quarantine(), verbose=False)
    _, octets = write_big(o, "alice", 30 * 1024 * 1024)
    s = client_ctx(certs).wrap_socket(
        socket.create_connection(("127.0.0.1", o.pop3s_port), timeout=60),
        server_hostname="localhost")
    f = s.makefile("rb")
    assert f.readline().startswith(b"+OK")
    s.sendall(b"USER alice@localhost\r\nPASS pw-alice\r\n")
    f.readline()
    assert f.readline().startswith(b"+OK Logged in, 1 messages")
    base = status_kib(o.proc.pid)
    s.sendall(b"RETR 1\r\n")
    assert f.readline() == b"+OK %d octets\r\n" % octets
    f.read(65536)
    time.sleep(2)
    stalled = status_kib(o.proc.pid)
    tail, n = b"", 65536
    while True:
        b = f.read1(1 << 20)
        assert b
        n += len(b)
        tail = (tail + b)[-5:]
        if tail == b"\r\n.\r\n":
            break
    assert n == octets + 3
    grew = stalled - base
    print("RSS before %d KiB, with the reader stalled %d KiB" % (base, stalled))
    assert grew < 8 * 1024, "RSS grew %d KiB with the reader stalled" % grew
    s.close()
