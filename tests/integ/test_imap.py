"""IMAP served by owld (src/owld/imap_sess.c, imap_store.c): the listeners,
TLS, logins with the same rules as POP3, the connection's limits and
timeouts, the byte stream (literals, pieces, pipelining).  Expected
answers follow RFC 9051 (and RFC 3501 for IMAP4rev1 clients), checked
with Python's imaplib and with a raw client; the commands themselves are
unit tested in tests/unit/test_imap_*.c and driven by real clients in
test_imap_clients.py."""
import imaplib
import os
import signal
import socket
import ssl
import subprocess
import threading
import time
import zlib

import pytest

from conftest import ImapClient, low_quarantine, status_kib

def make_cert(d, name, cn="localhost"):
    cert, key = os.path.join(d, name + ".pem"), os.path.join(d, name + "-key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=" + cn,
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
                   check=True, capture_output=True)
    return cert, key


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("certs")), "good")


@pytest.fixture
def tls_owld(owld, cert):
    """owld with a certificate, an imaps listener, no cleartext logins
    even on loopback."""
    def make(opts=(), **kw):
        return owld(opts=["tls.cert=" + cert[0], "tls.key=" + cert[1],
                          "imaps.listen=127.0.0.1:0",
                          "auth.allow_plaintext=no"] + list(opts), **kw)
    return make


def ctx(cert):
    return ssl.create_default_context(cafile=cert[0])


def caps(line):
    """The capability list of a greeting or a tagged OK."""
    assert "[CAPABILITY " in line, line
    return line.split("[CAPABILITY ", 1)[1].split("]", 1)[0].split()


# --- greeting, CAPABILITY, LOGOUT ------------------------------------------

def test_greeting_and_capability(server):
    c = server.imap()
    g = c.line()
    assert g.startswith("* OK [CAPABILITY ") and "mx.test" in g
    cl = caps(g)
    assert "IMAP4rev2" in cl and "IMAP4rev1" in cl
    # loopback: cleartext logins allowed (auth.allow_plaintext=loopback)
    assert "AUTH=PLAIN" in cl and "LOGINDISABLED" not in cl
    assert "STARTTLS" not in cl  # no certificate
    r = c.cmd("a1", "CAPABILITY")
    assert r[0].startswith("* CAPABILITY IMAP4rev2")
    assert r[-1] == "a1 OK CAPABILITY completed"
    assert "event=connect" in server.logtext()


def test_imaplib_login_noop_logout(server):
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    assert "IMAP4REV1" in m.capabilities
    typ, data = m.login("alice@localhost", "pw-alice")
    assert typ == "OK"
    assert m.noop()[0] == "OK"
    typ, data = m.logout()
    assert typ == "BYE"
    server.wait_log(r"event=login user=alice@localhost folders=\d+")
    server.wait_log(r"event=disconnect reason=logout")
    # the first login made the special-use folders (store_folder_list)
    root = os.path.join(server.datadir, "mail", "localhost", "alice")
    for f in (".Sent", ".Drafts", ".Trash", ".Junk", ".Archive"):
        assert os.path.isdir(os.path.join(root, f)), f


def test_logout_closes(server):
    c = server.imap()
    c.line()
    r = c.cmd("z", "LOGOUT")
    assert r == ["* BYE Logging out", "z OK LOGOUT completed"]
    assert c.closed()
    c = server.imap()
    c.login()
    r = c.cmd("z", "LOGOUT")
    assert r[0].startswith("* BYE") and r[-1] == "z OK LOGOUT completed"
    assert c.closed()


# --- logins ---------------------------------------------------------------

def test_login_bad_after_fail_delay(owld):
    o = owld(["auth.fail_delay=400ms", "auth.max_failures=3"])
    c = o.imap()
    c.line()
    for user in ("alice@localhost", "nosuchuser@localhost"):
        t = time.time()
        r = c.cmd("b", "LOGIN %s wrong" % user)
        assert r == ["b NO [AUTHENTICATIONFAILED] Authentication failed"]
        assert time.time() - t >= 0.4
    # the third failure ends the session
    r = c.cmd("b", "LOGIN alice@localhost wrong")
    assert r[-1].startswith("b NO [AUTHENTICATIONFAILED]"), r
    assert c.line() == "* BYE Too many failed logins"
    assert c.closed()
    text = o.logtext()
    assert "reason=bad-password" in text and "reason=unknown-user" in text
    # the password is never in the trace
    assert "wrong" not in text


def test_login_literals_and_authenticate_not_traced(server):
    c = server.imap()
    c.line()
    c.send("a LOGIN {15}\r\n")
    assert c.line().startswith("+ ")
    c.send("alice@localhost {8}\r\n")
    assert c.line().startswith("+ ")
    c.send("pw-alice\r\n")
    assert c.until("a")[-1].startswith("a OK ")
    c.close()
    m = imaplib.IMAP4("127.0.0.1", server.imap_port, timeout=10)
    m.authenticate("PLAIN", lambda _: b"\0bob@localhost\0pw-bob")
    m.logout()
    server.wait_log(r"event=login user=bob@localhost", count=1)
    text = server.logtext()
    assert "pw-alice" not in text and "pw-bob" not in text
    assert "AGJvYkBsb2NhbGhvc3QAcHctYm9i" not in text  # the base64


def test_login_bare_local_part(server):
    c = server.imap()
    c.line()
    assert c.cmd("a", "LOGIN alice pw-alice")[-1].startswith("a OK")


def test_logindisabled_without_tls(owld):
    o = owld(["auth.allow_plaintext=no"])
    c = o.imap()
    cl = caps(c.line())
    assert "LOGINDISABLED" in cl and "AUTH=PLAIN" not in cl
    r = c.cmd("a", "LOGIN alice@localhost pw-alice")
    assert r == ["a NO [PRIVACYREQUIRED] Plaintext authentication is "
                 "disallowed without TLS"]
    assert "event=login " not in o.logtext()


def test_starttls_then_login(tls_owld, cert):
    o = tls_owld()
    m = imaplib.IMAP4("127.0.0.1", o.imap_port, timeout=10)
    assert "STARTTLS" in m.capabilities and "LOGINDISABLED" in m.capabilities
    m.starttls(ssl_context=ctx(cert))
    assert "STARTTLS" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    assert m.login("alice@localhost", "pw-alice")[0] == "OK"
    m.logout()
    o.wait_log(r"imap id=\w+ event=tls version=TLS")
    o.wait_log(r"event=disconnect reason=logout.* tls=TLSv1")


def test_starttls_drops_what_followed_in_the_clear(tls_owld, cert):
    o = tls_owld()
    s = socket.create_connection(("127.0.0.1", o.imap_port), timeout=10)
    c = ImapClient(s)
    c.line()
    c.send("a STARTTLS\r\nb LOGIN alice@localhost pw-alice\r\n")
    assert c.line() == "a OK Begin TLS negotiation now"
    t = ctx(cert).wrap_socket(s, server_hostname="localhost")
    c = ImapClient(t)
    # b was never read: the next line is the answer to c
    assert c.cmd("c", "NOOP") == ["c OK NOOP completed"]
    # nor run: no login happened
    assert "event=login" not in o.logtext()
    assert "LOGINDISABLED" not in " ".join(c.cmd("d", "CAPABILITY"))


def test_imaps_implicit_tls(tls_owld, cert):
    o = tls_owld()
    assert o.imaps_port
    m = imaplib.IMAP4_SSL("127.0.0.1", o.imaps_port, ssl_context=ctx(cert),
                          timeout=10)
    assert "STARTTLS" not in m.capabilities
    assert "AUTH=PLAIN" in m.capabilities
    assert m.login("alice@localhost", "pw-alice")[0] == "OK"
    m.logout()
    o.wait_log(r"listener=imaps")


def test_imaps_needs_a_certificate(owld):
    o = owld(["imaps.listen=127.0.0.1:0"], start=False)
    with pytest.raises(RuntimeError, match="imaps.listen needs tls.cert"):
        o.start()


def test_mbox_login_refused(owld):
    o = owld(["mailbox.format=mbox"])
    c = o.imap()
    c.line()
    r = c.cmd("a", "LOGIN alice@localhost pw-alice")
    assert r == ["a NO [CANNOT] This mailbox cannot be served over IMAP "
                 "(mailbox.format is mbox)"]
    o.wait_log(r"event=login-refused user=alice@localhost reason=mbox")


# --- limits -----------------------------------------------------------------

def test_max_connections_per_ip(owld):
    o = owld(["max_connections_per_ip=2"])
    a, b = o.imap(), o.imap()
    a.line(), b.line()
    c = o.imap()
    assert c.line() == ("* BYE [UNAVAILABLE] Too many connections from "
                        "your address")
    assert c.closed()
    o.wait_log(r"imap peer=127.0.0.1 event=reject reason=per-ip-limit")


def test_imap_max_connections_is_imaps_own(owld):
    """IMAP sessions count against imap.max_connections, not against
    max_connections (SMTP, submission, POP3): IMAP clients keep their
    sessions open, and must not starve mail delivery, nor it them."""
    o = owld(["max_connections=2", "imap.max_connections=3"])
    held = [o.imap() for _ in range(3)]
    for c in held:
        assert c.line().startswith("* OK")
    c = o.imap()
    assert c.line() == ("* BYE [UNAVAILABLE] Too many connections, try "
                        "again later")
    assert c.closed()
    o.wait_log(r"imap peer=127.0.0.1 event=reject reason=max-connections")
    # SMTP and POP3 still have their two
    s, p = o.connect(), o.pop3()
    assert s.reply()[0] == 220
    assert p.status().startswith("+OK")
    s3 = o.connect()
    assert s3.reply()[0] == 421
    # one IMAP session leaves: room for one more IMAP session
    held[0].cmd("Z", "LOGOUT")
    held[0].close()
    o.wait_log(r"imap .*event=disconnect", timeout=5)
    c = o.imap()
    assert c.line().startswith("* OK")


def test_logged_in_imap_sessions_leave_the_per_ip_count(owld):
    """max_connections_per_ip bounds the sessions of one address that
    have not logged in; a logged-in IMAP session no longer counts (it has
    imap.max_sessions_per_user), so an office behind one address keeps
    its clients' IDLE sessions while a flood of half-open ones is still
    cut at the limit."""
    o = owld(["max_connections_per_ip=3", "imap.max_sessions_per_user=10"])
    logged = []
    for u in ("alice", "bob") * 3:
        c = o.imap()
        c.login(u)
        logged.append(c)
    # six logged in from 127.0.0.1; three more may come in unauthenticated
    waiting = [o.imap() for _ in range(3)]
    for c in waiting:
        assert c.line().startswith("* OK")
    c = o.imap()
    assert c.line() == ("* BYE [UNAVAILABLE] Too many connections from "
                        "your address")
    # SMTP from the same address is bound by the same count
    s = o.connect()
    assert s.reply()[0] == 421
    # the logged-in sessions end without freeing slots twice: three
    # unauthenticated still fill the address's count
    for c in logged:
        c.cmd("Z", "LOGOUT")
        c.close()
    o.wait_log(r"imap .*event=disconnect", count=6, timeout=5)
    c = o.imap()
    assert c.line().startswith("* BYE [UNAVAILABLE] Too many connections "
                               "from your address")


def test_max_sessions_per_user(owld):
    o = owld(["imap.max_sessions_per_user=2"])
    a, b = o.imap(), o.imap()
    a.login()
    b.login()
    c = o.imap()
    c.line()
    r = c.cmd("x", "LOGIN alice@localhost pw-alice")
    assert r == ["x NO [LIMIT] Too many sessions of this user; log out of "
                 "another first"]
    o.wait_log(r"event=login-refused user=alice@localhost "
               r"reason=max-sessions-per-user")
    # another user is not counted with alice
    d = o.imap()
    d.login("bob")
    # a session that ends gives its count back
    a.cmd("z", "LOGOUT")
    assert a.closed()
    o.wait_log(r"event=disconnect reason=logout")
    time.sleep(0.1)
    assert c.cmd("y", "LOGIN alice@localhost pw-alice")[-1].startswith("y OK")


def test_idle_timeout(owld):
    o = owld(["imap.timeout=1"])
    c = o.imap()
    c.line()
    t = time.time()
    assert c.line() == "* BYE Autologout; idle for too long"
    assert c.closed()
    assert 0.8 <= time.time() - t < 5
    c = o.imap()
    c.login()
    assert c.line() == "* BYE Autologout; idle for too long"
    assert c.closed()
    o.wait_log(r"imap id=\w+ peer=127.0.0.1 event=disconnect reason=timeout",
               count=2)


def test_login_deadline(owld):
    o = owld(["imap.login_deadline=1"])
    c = o.imap()
    c.line()
    # busy, but never logged in
    deadline = time.time() + 4
    closed = False
    while time.time() < deadline and not closed:
        try:
            c.send("n NOOP\r\n")
            time.sleep(0.2)
        except OSError:
            closed = True
    assert c.closed()
    assert "* BYE Too slow; the command took too long" in c.buf.decode()
    o.wait_log(r"event=deadline reason=login-deadline")


def test_command_deadline(owld):
    o = owld(["imap.command_deadline=1"])
    c = o.imap()
    c.login()
    # a command trickled a byte at a time never completes
    t = time.time()
    try:
        for ch in "a NOOP  xxxxxxxxxxxxxxxxxxxxxxxxxxxxx":
            c.send(ch)
            time.sleep(0.2)
    except OSError:
        pass
    assert c.closed()
    assert time.time() - t < 6
    o.wait_log(r"event=deadline reason=command-deadline")


def test_quiet_between_commands_meets_only_the_idle_timeout(owld):
    """The command deadline runs from a command's first octet, not from
    the last response: a client quiet for longer than it (but less than
    imap.timeout, 30 min by RFC 9051) keeps its session."""
    o = owld(["imap.command_deadline=1", "imap.login_deadline=1"])
    c = o.imap()
    c.login()
    time.sleep(2.5)
    assert c.cmd("a", "NOOP") == ["a OK NOOP completed"]
    # pipelined pieces, the last command split: answered once whole
    c.send("b NOOP\r\nc NO")
    assert c.line() == "b OK NOOP completed"
    time.sleep(0.5)
    c.send("OP\r\n")
    assert c.line() == "c OK NOOP completed"
    time.sleep(1.5)
    assert c.cmd("d", "NOOP") == ["d OK NOOP completed"]
    assert "event=deadline" not in o.logtext()


def test_max_errors(owld):
    o = owld(["imap.max_errors=3"])
    c = o.imap()
    c.line()
    assert c.cmd("a", "BOGUS")[-1].startswith("a BAD")
    assert c.cmd("b", "BOGUS")[-1].startswith("b BAD")
    r = c.cmd("c", "BOGUS")
    assert r[-1].startswith("c BAD")
    assert c.line() == "* BYE Too many bad commands"
    assert c.closed()


# --- the byte stream ----------------------------------------------------------

def test_pipelined_burst(server):
    c = server.imap()
    c.line()
    n = 200
    c.send("".join("p%d NOOP\r\n" % i for i in range(n)))
    for i in range(n):
        assert c.line() == "p%d OK NOOP completed" % i
    # and once logged in, on the worker pool
    c.cmd("L", "LOGIN alice@localhost pw-alice")
    burst = "".join("q%d NOOP\r\nr%d CAPABILITY\r\n" % (i, i) for i in range(n))
    c.send(burst)
    for i in range(n):
        assert c.line() == "q%d OK NOOP completed" % i
        assert c.line().startswith("* CAPABILITY ")
        assert c.line() == "r%d OK CAPABILITY completed" % i
    # more than the input and output bounds at once: sent from a thread
    # while this one reads, each piece a job, the output paced
    n = 20000
    big = "".join("s%d NOOP\r\n" % i for i in range(n)).encode()
    t = threading.Thread(target=c.sock.sendall, args=(big,))
    t.start()
    for i in range(n):
        assert c.line() == "s%d OK NOOP completed" % i
    t.join()
    c.cmd("z", "LOGOUT")
    assert server.stop() == 0


def test_bytes_split_across_writes(server):
    s = server.imap()
    s.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    s.line()

    def trickle(data):
        for i in range(len(data)):
            s.send(data[i:i + 1])
            time.sleep(0.002)

    trickle("a1 NO")
    time.sleep(0.05)
    trickle("OP\r")
    time.sleep(0.05)
    s.send("\n")
    assert s.line() == "a1 OK NOOP completed"
    # a LOGIN with a non-synchronizing literal (LITERAL-), octet by octet
    trickle("a2 LOGIN {15+}\r\nalice@localhost pw-alice\r\n")
    assert s.until("a2")[-1].startswith("a2 OK")
    trickle("a3 NOOP\r\na4 NOOP\r\n")
    assert s.line() == "a3 OK NOOP completed"
    assert s.line() == "a4 OK NOOP completed"


def test_line_too_long(server):
    c = server.imap()
    c.line()
    c.send("t1 NOOP " + "x" * 20000 + "\r\n")
    r = c.line()
    assert r.startswith("t1 BAD") or r.startswith("* BAD"), r
    assert c.cmd("t2", "NOOP") == ["t2 OK NOOP completed"]
    c.cmd("L", "LOGIN alice@localhost pw-alice")
    c.send("t3 NOOP " + "y" * 200000 + "\r\n")
    r = c.line()
    assert r.startswith("t3 BAD") or r.startswith("* BAD"), r
    assert c.cmd("t4", "NOOP") == ["t4 OK NOOP completed"]


def test_nonsync_literal_too_big_skipped(server):
    """A non-synchronizing literal past what a login takes is read and
    dropped, never taken as commands, and the command gets NO [TOOBIG]."""
    c = server.imap()
    c.line()
    lit = ("x9 LOGOUT\r\n" * 300)[:3000]
    c.send("t1 LOGIN {3000+}\r\n" + lit + "\r\n")
    assert c.line() == "t1 NO [TOOBIG] Literal too big"
    assert c.cmd("t2", "NOOP") == ["t2 OK NOOP completed"]


def test_literal_too_big_not_sent(server):
    c = server.imap()
    c.line()
    c.send("t1 LOGIN {5000}\r\n")
    # no "+": the client does not send it (RFC 9051 7.1 TOOBIG)
    assert c.line() == "t1 NO [TOOBIG] Literal too big"
    assert c.cmd("t2", "NOOP") == ["t2 OK NOOP completed"]


def test_graceful_stop_says_bye(server):
    c = server.imap()
    c.login()
    d = server.imap()
    d.line()
    assert server.stop() == 0
    assert c.line() == "* BYE Server shutting down"
    assert c.closed()
    assert d.line() == "* BYE Server shutting down"


def test_client_gone_during_job(server):
    """A session whose client leaves while its feed runs on the pool: the
    job finishes alone (no leak, no crash), the daemon serves on."""
    for _ in range(20):
        c = server.imap()
        c.login()
        c.send("".join("x%d NOOP\r\n" % i for i in range(500)))
        c.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                          b"\1\0\0\0\0\0\0\0")
        c.close()
    m = server.imaplib()
    assert m.noop()[0] == "OK"
    m.logout()
    # and stops cleanly (under ASan: nothing leaked)
    assert server.stop() == 0


def test_logged_in_sessions_stay_small(owld):
    """An idle logged-in session keeps no big buffer (target: an IDLE
    session under 16 KiB)."""
    o = owld(["imap.max_sessions_per_user=0", "max_connections_per_ip=0",
              "max_connections=1000"], env=low_quarantine(),
             verbose=False)
    warm = [o.imap() for _ in range(5)]
    for c in warm:
        c.login()
    time.sleep(0.3)
    before = status_kib(o.proc.pid)
    n = 100
    conns = []
    for _ in range(n):
        c = o.imap()
        c.login()
        c.cmd("n", "NOOP")
        conns.append(c)
    time.sleep(0.3)
    grew = status_kib(o.proc.pid) - before
    # ASan's redzones and shadow memory make every allocation larger
    limit = 64 if os.environ.get("ASAN_OPTIONS") else 16
    assert grew / n < limit, "%.1f KiB a session" % (grew / n)


# --- with the logged-in commands (the lead's core) ------------------------------

def deliver(o, n=1, user="alice"):
    for i in range(n):
        o.send([user + "@localhost"],
               b"Subject: m%d\r\n\r\nbody %d\r\n" % (i, i))


def test_select_fetch(server):
    deliver(server, 3)
    m = server.imaplib()
    typ, data = m.select("INBOX")
    assert typ == "OK" and data == [b"3"]
    typ, data = m.fetch("2", "(BODY[])")
    assert typ == "OK" and b"body 1\r\n" in data[0][1]
    m.logout()


def test_rename_inbox_moves_its_messages(server):
    """RFC 9051 6.3.6: RENAME INBOX moves every message to the new
    folder with its flags and leaves INBOX empty; a session that has
    INBOX selected sees them expunged."""
    deliver(server, 2)
    watcher = server.imaplib()
    assert watcher.select("INBOX") == ("OK", [b"2"])
    watcher.untagged_responses.clear()
    m = server.imaplib()
    m.select("INBOX")
    assert m.store("2", "+FLAGS", r"(\Flagged)")[0] == "OK"
    assert m.rename("INBOX", "Old")[0] == "OK"
    assert m.rename("INBOX", "Old")[0] == "NO"  # Old exists now
    assert watcher.noop()[0] == "OK"
    assert len(watcher.response("EXPUNGE")[1]) == 2
    assert m.select("INBOX") == ("OK", [b"0"])
    assert m.select("Old") == ("OK", [b"2"])
    typ, data = m.fetch("1:2", "(FLAGS BODY.PEEK[TEXT])")
    assert b"body 0" in data[0][1] and b"body 1" in data[2][1]
    assert b"\\Flagged" in data[2][0]
    m.logout()
    watcher.logout()


def test_append_and_too_big(owld):
    o = owld(["imap.append_max=2000"])
    m = o.imaplib()
    typ, data = m.append("INBOX", r"(\Seen)", None,
                         b"Subject: x\r\n\r\nhello\r\n")
    assert typ == "OK"
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY[])")
    assert data[0][1] == b"Subject: x\r\n\r\nhello\r\n"
    # stored with LF ends
    cur = os.path.join(o.datadir, "mail", "localhost", "alice", "cur")
    names = os.listdir(cur)
    assert len(names) == 1
    assert open(os.path.join(cur, names[0]), "rb").read() == \
        b"Subject: x\n\nhello\n"
    c = o.imap()
    c.login()
    c.send("t APPEND INBOX {5000}\r\n")
    r = c.line()
    assert r.startswith("t NO [TOOBIG]"), r


# RFC 9051 6.4.4: BEFORE, ON and SINCE take the internal date's day
# "disregarding time and timezone": the day in the zone it was appended
# with, which INTERNALDATE shows as given; delivered mail is +0000
ZONED = ["25-Mar-2007 00:30:00 +0200",   # 22:30 on the 24th in UTC
         "24-Mar-2007 23:30:00 -0500",   # 04:30 on the 25th in UTC
         "24-Mar-2007 23:30:00 +0000",
         "25-Mar-2007 00:30:00 +0000"]


def internaldates(c, tag, n):
    lines = c.cmd(tag, "FETCH 1:%d INTERNALDATE" % n)
    assert lines[-1].startswith(tag + " OK"), lines
    return [l.split('INTERNALDATE "')[1].split('"')[0].strip()
            for l in lines[:-1] if "INTERNALDATE" in l]


def search(c, tag, keys):
    lines = c.cmd(tag, "SEARCH " + keys)
    assert lines[-1].startswith(tag + " OK"), lines
    return [l for l in lines if l.startswith("* SEARCH")][0]


def test_internaldate_zone_kept(server):
    c = server.imap()
    c.login()
    m = "Subject: z\r\n\r\nzoned\r\n"
    c.send('A APPEND INBOX "%s" {%d+}\r\n%s\r\n' % (ZONED[0], len(m), m))
    assert c.until("A")[-1].startswith("A OK")
    # a MULTIAPPEND: every message keeps its own zone
    c.send('B APPEND INBOX "%s" {%d+}\r\n%s "%s" {%d+}\r\n%s'
           ' "%s" {%d+}\r\n%s\r\n' % (ZONED[1], len(m), m, ZONED[2], len(m),
                                      m, ZONED[3], len(m), m))
    assert c.until("B")[-1].startswith("B OK")
    c.cmd("S", "SELECT INBOX")
    assert internaldates(c, "F", 4) == ZONED
    # the zone lives in the file name, after W= (+0000: no field)
    cur = os.path.join(server.datadir, "mail", "localhost", "alice", "cur")
    names = os.listdir(cur)
    assert sorted(n.split(",Z=")[1][:5] for n in names if ",Z=" in n) == \
        ["+0200", "-0500"]
    # each side of midnight, in the message's own zone
    assert search(c, "S1", "ON 24-Mar-2007") == "* SEARCH 2 3"
    assert search(c, "S2", "ON 25-Mar-2007") == "* SEARCH 1 4"
    assert search(c, "S3", "BEFORE 25-Mar-2007") == "* SEARCH 2 3"
    assert search(c, "S4", "SINCE 25-Mar-2007") == "* SEARCH 1 4"
    assert search(c, "S5", "SINCE 24-Mar-2007 BEFORE 26-Mar-2007") == \
        "* SEARCH 1 2 3 4"
    # delivered mail: +0000
    deliver(server, 1)
    c.cmd("N", "NOOP")
    assert internaldates(c, "F", 5)[4].endswith(" +0000")
    # COPY and MOVE keep date and zone
    for t, name in (("C1", "Copies"), ("C2", "Moved")):
        assert c.cmd(t, "CREATE " + name)[-1].startswith(t + " OK")
    assert c.cmd("P", "COPY 1:2 Copies")[-1].startswith("P OK")
    assert c.cmd("M", "MOVE 1:2 Moved")[-1].startswith("M OK")
    for name in ("Copies", "Moved"):
        c.cmd("E", "EXAMINE " + name)
        assert internaldates(c, "F", 2) == [ZONED[0], ZONED[1]]
        assert search(c, "S", "ON 25-Mar-2007") == "* SEARCH 1"
    c.close()
    # a restart, and an index rebuilt from the folder alone
    server.stop()
    moved = os.path.join(server.datadir, "mail", "localhost", "alice",
                         ".Moved")
    for f in os.listdir(moved):
        if f.startswith(".owlpost-uidlist"):
            os.unlink(os.path.join(moved, f))
    server.start()
    c = server.imap()
    c.login()
    for name in ("Copies", "Moved"):
        c.cmd("E", "EXAMINE " + name)
        assert internaldates(c, "F", 2) == [ZONED[0], ZONED[1]]
        assert search(c, "S", "ON 24-Mar-2007") == "* SEARCH 2"
    c.cmd("E", "EXAMINE INBOX")
    assert internaldates(c, "F", 3)[:2] == [ZONED[2], ZONED[3]]
    assert search(c, "S", "ON 25-Mar-2007") == "* SEARCH 2"


def test_big_fetch_goes_out_as_read(server):
    body = b"Subject: big\r\n\r\n" + (b"x" * 998 + b"\r\n") * 5000
    server.send(["alice@localhost"], body)
    m = server.imaplib()
    m.select("INBOX")
    typ, data = m.fetch("1", "(BODY[])")
    # delivery puts Return-Path and Received in front
    assert data[0][1].endswith(body)
    assert len(data[0][1]) < len(body) + 1000
    m.logout()


def test_idle_sees_a_delivery(server):
    c = server.imap()
    c.login()
    c.cmd("s", "SELECT INBOX")
    c.send("i IDLE\r\n")
    assert c.line().startswith("+ ")
    deliver(server, 1)
    assert c.line() == "* 1 EXISTS"
    c.send("DONE\r\n")
    assert c.until("i")[-1].startswith("i OK")


SYS = r"\Answered \Flagged \Deleted \Seen \Draft"


def flag_lines(kw, readonly=False):
    """FLAGS and PERMANENTFLAGS as said when the keywords are kw."""
    k = "".join(" " + w for w in kw)
    perm = ("* OK [PERMANENTFLAGS ()] Read-only mailbox" if readonly else
            "* OK [PERMANENTFLAGS (%s%s \\*)] Flags permitted" % (SYS, k))
    return ["* FLAGS (%s%s)" % (SYS, k), perm]


def test_new_keyword_said_in_flags_first(server):
    """A keyword the session has not been told of comes in a new FLAGS and
    PERMANENTFLAGS before the first FETCH that shows it (RFC 9051 7.3.5;
    imaptest disconnects otherwise): the session's own STORE, another
    session's seen at NOOP (EXAMINE too), an APPEND into the mailbox."""
    deliver(server, 2)
    a, b, x = server.imap(), server.imap(), server.imap()
    for c in (a, b, x):
        c.login()
    assert flag_lines([])[0] in a.cmd("s", "SELECT INBOX")
    b.cmd("s", "SELECT INBOX")
    x.cmd("s", "EXAMINE INBOX")
    r = a.cmd("t1", "STORE 1 +FLAGS ($Hello)")
    assert r == flag_lines(["$Hello"]) + [
        r"* 1 FETCH (FLAGS (\Recent $Hello))", "t1 OK STORE completed"], r
    # known already, in any case: no FLAGS again
    r = a.cmd("t2", "STORE 2 +FLAGS ($HELLO)")
    assert not any(l.startswith("* FLAGS") for l in r), r
    r = b.cmd("n1", "NOOP")
    assert r[:2] == flag_lines(["$Hello"]), r
    assert r.count(flag_lines(["$Hello"])[0]) == 1, r
    assert any(l.startswith("* 1 FETCH (FLAGS ($Hello))") for l in r), r
    r = x.cmd("n1", "NOOP")
    assert r[:2] == flag_lines(["$Hello"], readonly=True), r
    msg = "Subject: kw\r\n\r\nbody\r\n"
    a.send("t3 APPEND INBOX (Appended) {%d+}\r\n%s\r\n" % (len(msg), msg))
    r = a.until("t3")
    assert r[-1].startswith("t3 OK [APPENDUID"), r
    fl = flag_lines(["$Hello", "Appended"])
    assert fl[0] in r and r.index(fl[0]) < len(r) - 1, r
    r = b.cmd("n2", "NOOP")
    assert fl[0] in r, r
    r = b.cmd("f", "FETCH 3 FLAGS")
    assert r[0] == "* 3 FETCH (FLAGS (Appended))", r


def test_recent_under_examine_and_status(server):
    """IMAP4rev1 \\Recent (RFC 3501 2.3.2, 6.3.2, 6.3.10): messages no
    session has claimed are recent in STATUS and in an EXAMINE session,
    which leaves them recent for the first SELECT; then no longer."""
    a, b = server.imap(), server.imap()
    a.login()
    b.login()
    msg = "Subject: r\r\n\r\nbody\r\n"
    for t in ("p1", "p2"):
        a.send("%s APPEND INBOX {%d+}\r\n%s\r\n" % (t, len(msg), msg))
        assert a.until(t)[-1].startswith(t + " OK")
    r = a.cmd("s1", "STATUS INBOX (MESSAGES RECENT)")
    assert r[0] == '* STATUS "INBOX" (MESSAGES 2 RECENT 2)', r
    r = b.cmd("e1", "EXAMINE INBOX")
    assert "* 2 RECENT" in r, r
    r = b.cmd("f1", "FETCH 1:* FLAGS")
    assert r[:2] == [r"* 1 FETCH (FLAGS (\Recent))",
                     r"* 2 FETCH (FLAGS (\Recent))"], r
    assert b.cmd("r1", "SEARCH RECENT")[0] == "* SEARCH 1 2"
    assert b.cmd("s1", "STATUS INBOX (RECENT)")[0] == \
        '* STATUS "INBOX" (RECENT 2)'
    # the SELECT still gets them, and only it
    r = a.cmd("x1", "SELECT INBOX")
    assert "* 2 RECENT" in r, r
    r = b.cmd("e2", "EXAMINE INBOX")
    assert "* 0 RECENT" in r, r
    assert a.cmd("s2", "STATUS INBOX (RECENT)")[0] == \
        '* STATUS "INBOX" (RECENT 2)'  # the session's own
    b.cmd("c", "CLOSE")
    assert b.cmd("s2", "STATUS INBOX (RECENT)")[0] == \
        '* STATUS "INBOX" (RECENT 0)'
    # a delivery the EXAMINE session sees first is recent there too
    b.cmd("e3", "EXAMINE INBOX")
    deliver(server, 1)
    r = b.cmd("n1", "NOOP")
    assert r[:2] == ["* 3 EXISTS", "* 1 RECENT"], r
    r = a.cmd("n1", "NOOP")
    assert r[:2] == ["* 3 EXISTS", "* 3 RECENT"], r
    r = b.cmd("n2", "NOOP")
    assert not any("RECENT" in l for l in r), r


def test_idle_sessions_stay_small(owld):
    """Target: an IDLE session (SELECTed INBOX, watched) under 16 KiB."""
    o = owld(["imap.max_sessions_per_user=0", "max_connections_per_ip=0",
              "max_connections=1000"], env=low_quarantine(), verbose=False)
    deliver(o, 50)

    def idle():
        c = o.imap()
        c.login()
        c.cmd("s", "SELECT INBOX")
        c.send("i IDLE\r\n")
        assert c.line().startswith("+ ")
        return c

    # enough sessions first that every worker thread has made its malloc
    # arena and the pool's buffers exist: the 100 after cost only what a
    # session costs
    warm = [idle() for _ in range(20)]
    time.sleep(0.3)
    before = status_kib(o.proc.pid)
    n = 100
    conns = [idle() for _ in range(n)]
    time.sleep(0.3)
    grew = status_kib(o.proc.pid) - before
    limit = 64 if os.environ.get("ASAN_OPTIONS") else 16
    assert grew / n < limit, "%.1f KiB a session" % (grew / n)
    assert warm and conns


class Deflated:
    """Both directions of a connection after COMPRESS DEFLATE (RFC 4978):
    raw DEFLATE, each write flushed."""

    def __init__(self, c):
        self.c = c
        self.z_out = zlib.compressobj(6, zlib.DEFLATED, -15)
        self.z_in = zlib.decompressobj(-15)
        self.plain = self.z_in.decompress(c.buf)
        c.buf = b""

    def wire(self, text):
        """text deflated and flushed, as the client sends it."""
        return (self.z_out.compress(text.encode()) +
                self.z_out.flush(zlib.Z_SYNC_FLUSH))

    def send(self, text):
        self.c.sock.sendall(self.wire(text))

    def line(self):
        while b"\r\n" not in self.plain:
            chunk = self.c.sock.recv(65536)
            if not chunk:
                raise EOFError("closed; %r" % self.plain)
            self.plain += self.z_in.decompress(chunk)
        line, self.plain = self.plain.split(b"\r\n", 1)
        return line.decode("utf-8", "replace")

    def until(self, tag):
        out = []
        while True:
            out.append(self.line())
            if out[-1].startswith(tag + " "):
                return out


def test_compress_deflate(server):
    """COMPRESS=DEFLATE: offered after login, the OK in the clear, then
    deflate both ways; a command sent compressed in the same packet as
    COMPRESS is read; a second COMPRESS is NO [COMPRESSIONACTIVE]; a FETCH
    of a large message comes through whole."""
    body = b"Subject: big\r\n\r\n" + b"y" * 70 + b"\r\n"
    server.send(["alice@localhost"], body * 1)
    server.send(["alice@localhost"], b"Subject: big\r\n\r\n" +
                (b"z" * 998 + b"\r\n") * 2000)
    c = server.imap()
    caps = c.login()
    assert "COMPRESS=DEFLATE" in caps[-1]
    c.send("z COMPRESS DEFLATE\r\n")
    assert c.line() == "z OK DEFLATE active"
    d = Deflated(c)
    d.send("a NOOP\r\nb CAPABILITY\r\n")
    assert d.until("a")[-1] == "a OK NOOP completed"
    caps = d.until("b")
    assert "COMPRESS=DEFLATE" not in caps[0] and caps[-1].startswith("b OK")
    d.send("c COMPRESS DEFLATE\r\n")
    assert d.until("c")[-1].startswith("c NO [COMPRESSIONACTIVE]")
    d.send("s SELECT INBOX\r\nf FETCH 2 BODY.PEEK[]\r\n")
    assert d.until("s")[-1].startswith("s OK")
    head = d.line()
    assert head.startswith("* 2 FETCH (BODY[] {"), head
    need = int(head.rsplit("{", 1)[1].rstrip("}"))
    assert need > 1000 * 2000
    while len(d.plain) < need:
        d.plain += d.z_in.decompress(c.sock.recv(65536))
    got, d.plain = d.plain[:need], d.plain[need:]
    assert got.endswith((b"z" * 998 + b"\r\n") * 3)
    assert d.line() == ")"
    assert d.until("f")[-1] == "f OK FETCH completed"
    d.send("l LOGOUT\r\n")
    assert d.until("l")[-1].startswith("l OK")
    assert c.closed()


def proc_cpu_s(pid):
    """User + system CPU seconds of process pid so far."""
    with open("/proc/%d/stat" % pid) as f:
        p = f.read().rsplit(")", 1)[1].split()
    return (int(p[11]) + int(p[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.parametrize("stream", [b"\xff garbage",
                                    zlib.compress(b"a NOOP\r\n")[2:-4] +
                                    b"\x03\x00"],
                         ids=["bad", "ended"])
def test_compress_broken_stream_ends_the_session(owld, stream):
    """A compressed stream that is not deflate, or one that ended (a final
    block), followed by megabytes more: the session ends at once (log
    reason compress-error), well before imap.timeout, and owld does not
    spin on the unread input.  (It burnt a core and outlived every
    timeout: libevent told no one of the filter's error.)"""
    server = owld(["imap.timeout=60s"], verbose=False)
    c = server.imap()
    c.login()
    c.send("z COMPRESS DEFLATE\r\n")
    assert c.line() == "z OK DEFLATE active"
    sock = c.sock
    sock.sendall(stream)
    sock.setblocking(False)
    closed, t0 = False, time.monotonic()
    while time.monotonic() - t0 < 10 and not closed:
        try:
            sock.send(b"\0" * 65536)
        except BlockingIOError:
            time.sleep(0.01)
        except (BrokenPipeError, ConnectionResetError):
            closed = True
        try:
            closed = closed or sock.recv(65536) == b""
        except BlockingIOError:
            pass
        except ConnectionResetError:
            closed = True
    assert closed, "the session outlived a broken compressed stream"
    cpu0 = proc_cpu_s(server.proc.pid)
    time.sleep(2)
    assert proc_cpu_s(server.proc.pid) - cpu0 < 0.5
    assert "compress-error" in server.logtext()
    c2 = server.imap()  # and others are served
    c2.login()


def test_compress_pipelined_and_bounded(owld):
    """Commands compressed right behind COMPRESS in one packet are read;
    a compressed line that inflates past the line limit is refused, not
    held (a small stream must not fill the server's memory).  Under ASan
    a small quarantine: its default 256 MB of freed chunks counts as RSS
    (a clean-clone run measured 201 MiB against the 200 bound)."""
    server = owld(env=low_quarantine())
    c = server.imap()
    c.login()
    z = zlib.compressobj(6, zlib.DEFLATED, -15)
    c.send(b"z COMPRESS DEFLATE\r\n" + z.compress(b"a NOOP\r\n") +
           z.flush(zlib.Z_SYNC_FLUSH))
    assert c.line() == "z OK DEFLATE active"
    d = Deflated(c)
    d.z_out = z
    assert d.until("a")[-1] == "a OK NOOP completed"
    # 64 MiB of one line, about 64 KiB on the wire
    bomb = z.compress(b"b NOOP " + b"x" * (64 << 20)) + \
        z.flush(zlib.Z_SYNC_FLUSH)
    assert len(bomb) < 200000
    try:
        c.sock.sendall(bomb + d.wire("\r\nc NOOP\r\n"))
        r = d.until("b")
        assert r[-1].startswith("b BAD"), r
        assert d.until("c")[-1] == "c OK NOOP completed"
    except (EOFError, ConnectionResetError, BrokenPipeError):
        pass  # or the server closed on it: both keep it bounded
    assert status_kib(server.proc.pid) < 200 * 1024


def test_selected_folder_deleted_by_another_session(owld):
    """A folder deleted under a session that has it selected ends that
    session with BYE (RFC 9051 2.3.1.1), in words of ours: the BYE said
    the store's error, which names the folder's path on the server
    (found by the attack pass)."""
    o = owld()
    a, b = o.imap(), o.imap()
    a.login()
    b.login()
    assert a.cmd("c", "CREATE W")[-1].startswith("c OK")
    a.send(b"p APPEND W {5+}\r\nhello\r\n")
    assert a.until("p")[-1].startswith("p OK")
    assert a.cmd("s", "SELECT W")[-1].startswith("s OK")
    assert b.cmd("d", "DELETE W")[-1].startswith("d OK")
    a.send(b"n NOOP\r\n")
    bye = a.line()
    assert bye.startswith("* BYE The selected folder was deleted"), bye
    assert o.datadir not in bye and "/" not in bye, bye
    assert a.closed()
    o.wait_log(r"event=disconnect reason=folder-lost")
