"""owld's milter client (milter.servers) against a small scripted milter
written here (a socket server speaking the milter protocol: it
negotiates, then answers each step as the test scripts it), for every
action; and against a real rspamd from Debian in milter mode."""
import os
import re
import shutil
import signal
import socket
import socketserver
import struct
import subprocess
import threading
import time

import pytest

from conftest import wait_port


def packet(cmd, data=b""):
    return struct.pack(">I", len(data) + 1) + cmd + data


def read_packet(f):
    hdr = f.read(4)
    if len(hdr) < 4:
        return None
    n = struct.unpack(">I", hdr)[0]
    body = f.read(n)
    if len(body) < n:
        return None
    return body[:1], body[1:]


class Milter:
    """A scripted milter on a loopback port.  script maps a command
    octet (b"C", b"H", b"M", b"R", b"T", b"L", b"N", b"B", b"E") to the
    reply packets (a list of (cmd, data)) or to a function of the
    command's data giving them; unscripted steps get continue.  hang: a
    command it never answers; garbage: what it sends instead of its
    OPTNEG reply."""

    def __init__(self, script=None, actions=0xFF, proto=0, hang=None,
                 garbage=None, family=socket.AF_INET, path=None):
        self.script = script or {}
        self.actions, self.proto = actions, proto
        self.hang, self.garbage = hang, garbage
        self.seen = []       # (cmd, data) of every packet, all sessions
        self.macros = {}     # name -> last value
        self.sessions = 0
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                outer.sessions += 1
                outer.serve(self.rfile, self.wfile)

        if path is not None:
            class Server(socketserver.ThreadingUnixStreamServer):
                daemon_threads = True

            self.server = Server(path, Handler)
            self.spec = "unix:" + path
        else:
            class Server(socketserver.ThreadingTCPServer):
                allow_reuse_address = True
                daemon_threads = True
                address_family = family

            host = "::1" if family == socket.AF_INET6 else "127.0.0.1"
            self.server = Server((host, 0), Handler)
            self.port = self.server.server_address[1]
            self.spec = ("inet6:[::1]:%d" if family == socket.AF_INET6
                         else "inet:127.0.0.1:%d") % self.port
        # a short poll: shutdown() waits for it at each test's end
        threading.Thread(target=self.server.serve_forever,
                         kwargs={"poll_interval": 0.02}, daemon=True).start()

    def serve(self, rfile, wfile):
        while True:
            p = read_packet(rfile)
            if p is None:
                return
            cmd, data = p
            self.seen.append((cmd, data))
            if cmd == b"O":
                if self.garbage is not None:
                    wfile.write(self.garbage)
                    wfile.flush()
                    continue
                wfile.write(packet(b"O", struct.pack(
                    ">III", 6, self.actions, self.proto)))
            elif cmd == b"D":
                parts = data[1:].split(b"\0")
                for k, v in zip(parts[0::2], parts[1::2]):
                    self.macros[k.decode()] = v.decode()
                continue
            elif cmd in (b"A",):
                continue
            elif cmd in (b"Q", b"K"):
                return
            elif cmd == self.hang:
                while rfile.read(1):
                    pass
                return
            else:
                r = self.script.get(cmd, [(b"c", b"")])
                if callable(r):
                    r = r(data)
                for c, d in r:
                    wfile.write(packet(c, d))
            wfile.flush()

    def got(self, cmd):
        return [d for c, d in self.seen if c == cmd]

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def milter():
    made = []

    def make(**kw):
        m = Milter(**kw)
        made.append(m)
        return m

    yield make
    for m in made:
        m.close()


def start(owld, m, *opts):
    spec = "inet:127.0.0.1:%d" % m if isinstance(m, int) else m.spec
    return owld(opts=("milter.servers=" + spec,) + opts)


def hello(c):
    assert c.reply()[0] == 220
    assert c.cmd("EHLO client.test")[0] == 250


MSG = (b"From: a@example.org\r\nTo: alice@localhost\r\nSubject: hi\r\n"
       b"Received: from x\r\n\r\nbody line\r\n")


def dialog(server, rcpts=("alice@localhost",), msg=MSG, sender="a@example.org"):
    """One transaction; the replies to MAIL, each RCPT and DATA's end."""
    c = server.connect()
    hello(c)
    out = [c.cmd("MAIL FROM:<%s>" % sender)]
    ok = out[0][0] == 250
    for r in rcpts:
        if ok:
            out.append(c.cmd("RCPT TO:<%s>" % r))
    if ok and any(r[0] == 250 for r in out[1:]):
        assert c.cmd("DATA")[0] == 354
        c.send(msg + b".\r\n")
        out.append(c.reply())
    c.cmd("QUIT")
    return out


def reply_text(r):
    return r[1][-1]


def test_continue_sees_every_step(owld, milter):
    m = milter()
    s = start(owld, m)
    out = dialog(s)
    assert [r[0] for r in out] == [250, 250, 250]
    assert len(s.messages("alice")) == 1
    cmds = [c for c, _ in m.seen if c not in (b"D",)]
    assert cmds[:4] == [b"O", b"C", b"H", b"M"]
    assert b"R" in cmds and b"T" in cmds and b"N" in cmds
    assert b"B" in cmds and b"E" in cmds
    conn = m.got(b"C")[0]
    assert conn.startswith(b"[127.0.0.1]\x004") and conn.endswith(b"127.0.0.1\0")
    assert m.got(b"H") == [b"client.test\0"]
    assert m.got(b"M") == [b"<a@example.org>\0"]
    assert m.got(b"R") == [b"<alice@localhost>\0"]
    headers = m.got(b"L")
    assert b"Subject\0hi\0" in headers
    assert headers[0].startswith(b"Received\0from client.test")
    assert m.got(b"B") == [b"body line\r\n"]
    for k in ("j", "{client_addr}", "{mail_addr}", "{rcpt_addr}", "i"):
        assert k in m.macros, k
    assert m.macros["{mail_addr}"] == "a@example.org"
    assert m.macros["{rcpt_addr}"] == "alice@localhost"
    assert m.macros["j"] == "mx.test"
    assert re.fullmatch(r"[0-9a-f]{16}", m.macros["i"])
    # QUIT to the milter at the session's end
    deadline = time.time() + 5
    while b"Q" not in [c for c, _ in m.seen] and time.time() < deadline:
        time.sleep(0.02)
    assert b"Q" in [c for c, _ in m.seen]


def test_accept_at_connect(owld, milter):
    m = milter(script={b"C": [(b"a", b"")]})
    s = start(owld, m)
    assert [r[0] for r in dialog(s)] == [250, 250, 250]
    assert m.got(b"M") == []  # accepted: no more steps
    assert len(s.messages("alice")) == 1


@pytest.mark.parametrize("step", [b"C", b"H"])
def test_reject_at_connect_and_helo_refuses_mail(owld, milter, step):
    m = milter(script={step: [(b"y", b"554 5.7.1 go away\0")]})
    s = start(owld, m)
    c = s.connect()
    hello(c)  # Sendmail and Postfix: the reply waits for MAIL
    r = c.cmd("MAIL FROM:<a@example.org>")
    assert r == (554, ["554 5.7.1 go away"])
    # and it stays for every MAIL of the session
    assert c.cmd("MAIL FROM:<b@example.org>")[0] == 554
    c.cmd("QUIT")
    s.wait_log(r"event=mail-refused milter=inet:127.0.0.1:\d+ "
               r"reply=\"554 5.7.1 go away\"")


def test_reject_and_tempfail_at_mail(owld, milter):
    m = milter(script={b"M": lambda d: [(b"r", b"")] if b"bad" in d
                       else [(b"t", b"")]})
    s = start(owld, m)
    out = dialog(s, sender="bad@example.org")
    assert out == [(550, ["550 5.7.1 Command rejected"])]
    out = dialog(s, sender="good@example.org")
    assert out == [(451, ["451 4.7.1 Service unavailable - try again later"])]


def test_reject_one_rcpt(owld, milter):
    m = milter(script={b"R": lambda d: [(b"y", b"550 5.1.1 not him\0")]
                       if b"bob" in d else [(b"c", b"")]})
    s = start(owld, m)
    out = dialog(s, rcpts=("bob@localhost", "alice@localhost"))
    assert out[1] == (550, ["550 5.1.1 not him"])
    assert out[2][0] == 250 and out[3][0] == 250
    assert len(s.messages("alice")) == 1 and s.messages("bob") == []


@pytest.mark.parametrize("reply,code,text", [
    ((b"t", b""), 451, "451 4.7.1 Service unavailable - try again later"),
    ((b"r", b""), 550, "550 5.7.1 Command rejected"),
    ((b"y", b"550 5.7.1 spam detected\0"), 550, "550 5.7.1 spam detected"),
])
def test_verdict_at_eom(owld, milter, reply, code, text):
    m = milter(script={b"E": [reply]})
    s = start(owld, m)
    out = dialog(s)
    assert out[-1] == (code, [text])
    assert s.messages("alice") == []
    s.wait_log(r"event=message-refused")


def test_discard(owld, milter):
    m = milter(script={b"E": [(b"d", b"")]})
    s = start(owld, m)
    out = dialog(s)
    assert out[-1][0] == 250
    assert s.messages("alice") == []
    s.wait_log(r"event=discarded")


def test_discard_at_rcpt(owld, milter):
    m = milter(script={b"R": [(b"d", b"")]})
    s = start(owld, m)
    out = dialog(s)
    assert [r[0] for r in out] == [250, 250, 250]
    assert s.messages("alice") == []


def stored(s, user="alice"):
    msgs = s.messages(user)
    assert len(msgs) == 1, msgs
    return msgs[0][1].decode()


def test_header_changes(owld, milter):
    m = milter(script={b"E": [
        (b"h", b"X-Spam-Flag\0YES\0"),
        (b"m", struct.pack(">I", 1) + b"Subject\0[SPAM] hi\0"),
        (b"m", struct.pack(">I", 2) + b"Received\0\0"),   # delete the 2nd
        (b"i", struct.pack(">I", 0) + b"X-First\0top\0"),
        (b"h", b"X-Folded\0one\n\ttwo\0"),
        (b"c", b"")]})
    s = start(owld, m)
    assert dialog(s)[-1][0] == 250
    text = stored(s)
    head = text.split("\n\n", 1)[0]
    lines = head.split("\n")
    assert lines[0].startswith("Return-Path: <a@example.org>")
    assert lines[1] == "X-First: top"
    assert lines[2].startswith("Received: from client.test")
    assert "Subject: [SPAM] hi" in lines and "Subject: hi" not in lines
    assert "Received: from x" not in lines
    assert lines[-3:] == ["X-Spam-Flag: YES", "X-Folded: one", "\ttwo"]
    assert text.endswith("\n\nbody line\n")


def test_change_sender_and_recipients(owld, milter):
    m = milter(script={b"E": [
        (b"e", b"<new@example.org>\0"),
        (b"+", b"<bob@localhost>\0"),
        (b"-", b"<alice@localhost>\0"),
        (b"+", b"<nobody@localhost>\0"),   # does not route: ignored
        (b"c", b"")]})
    s = start(owld, m)
    assert dialog(s)[-1][0] == 250
    assert s.messages("alice") == []
    assert stored(s, "bob").startswith("Return-Path: <new@example.org>")
    s.wait_log(r"event=change-ignored .* addr=\"?<nobody@localhost>")


def test_replace_body(owld, milter):
    m = milter(script={b"E": [(b"b", b"new body\r\nsecond "),
                              (b"b", b"line\r\n"), (b"a", b"")]})
    s = start(owld, m)
    assert dialog(s)[-1][0] == 250
    text = stored(s)
    assert text.endswith("Subject: hi\nReceived: from x\n\nnew body\nsecond line\n")


def junk(s, user):
    """The messages of user's Junk folder (Maildir++ .Junk)."""
    base = os.path.join(os.path.dirname(s.maildir(user)), ".Junk")
    out = []
    for sub in ("new", "cur"):
        d = os.path.join(base, sub)
        for name in sorted(os.listdir(d)) if os.path.isdir(d) else []:
            with open(os.path.join(d, name), "rb") as f:
                out.append(f.read().decode())
    return out


def test_quarantine(owld, milter):
    """Quarantined: to each local recipient's Junk folder (made if
    missing, with its \\Junk role), marked in a header; IMAP shows it."""
    m = milter(script={b"E": [(b"q", b"virus found\0"), (b"c", b"")]})
    s = start(owld, m)
    out = dialog(s, rcpts=("alice@localhost", "bob@localhost"))
    assert out[-1][0] == 250
    s.wait_log(r"event=quarantine .*reason=\"virus found\"")
    assert s.messages("alice") == [] and s.messages("bob") == []
    for user in ("alice", "bob"):
        (text,) = junk(s, user)
        assert "\nX-Quarantine: virus found (inet:127.0.0.1:" in text
    im = s.imaplib("bob")
    typ, data = im.list()
    assert any(b"\\Junk" in l and b"Junk" in l for l in data), data
    assert im.select("Junk")[1] == [b"1"]
    im.logout()


def test_quarantine_without_folders(owld, milter):
    """mbox has INBOX only: a quarantined message goes there, marked."""
    m = milter(script={b"E": [(b"q", b"spam\0"), (b"c", b"")]})
    s = start(owld, m, "mailbox.format=mbox")
    assert dialog(s)[-1][0] == 250
    s.wait_log(r"event=quarantine-inbox msgid=\w+ user=alice@localhost")
    s.wait_log(r"event=delivered .*name=(?!Junk)")
    p = s.poplib("alice")
    text = b"\n".join(p.retr(1)[1]).decode()
    p.quit()
    assert "\nX-Quarantine: spam (inet:127.0.0.1:" in text


def test_big_message_from_the_spool(owld, milter):
    """A message past owld's 256 KiB in memory is sent from its spool file
    in pieces of at most 64 KiB, and changed there too."""
    m = milter(script={b"E": [(b"h", b"X-Big\0yes\0"), (b"c", b"")]})
    s = start(owld, m)
    line = b"x" * 998 + b"\r\n"
    msg = MSG + line * 600
    assert dialog(s, msg=msg)[-1][0] == 250
    body = b"".join(m.got(b"B"))
    assert body == b"body line\r\n" + line * 600
    assert max(len(b) for b in m.got(b"B")) <= 65535
    text = stored(s)
    assert "\nX-Big: yes\n" in text
    assert text.endswith("\n\nbody line\n" + ("x" * 998 + "\n") * 600)


def test_action_not_negotiated_is_a_protocol_error(owld, milter):
    m = milter(actions=0x01, script={b"E": [(b"+", b"<bob@localhost>\0"),
                                            (b"c", b"")]})
    s = start(owld, m)
    assert dialog(s)[-1][0] == 451
    s.wait_log(r"event=milter-failed .*not negotiated")
    assert s.messages("alice") == [] and s.messages("bob") == []


def free_port():
    with socket.socket() as so:
        so.bind(("127.0.0.1", 0))
        return so.getsockname()[1]


def test_milter_down(owld):
    port = free_port()  # nothing listens there
    s = start(owld, port)
    out = dialog(s)
    assert out == [(451, ["451 4.7.1 Service unavailable - try again later"])]
    s.wait_log(r"event=milter-failed .*connect: Connection refused\"? "
               r"action=tempfail")
    s2 = start(owld, port, "milter.default_action=accept")
    assert [r[0] for r in dialog(s2)] == [250, 250, 250]
    assert len(s2.messages("alice")) == 1


def test_milter_times_out(owld, milter):
    m = milter(hang=b"M")
    s = start(owld, m, "milter.command_timeout=1")
    t = time.time()
    out = dialog(s)
    assert out[0][0] == 451
    assert 0.9 < time.time() - t < 5
    s.wait_log(r"event=milter-failed .*timeout waiting for a reply")


@pytest.mark.parametrize("garbage", [
    b"\xff\xff\xff\xffO",             # a huge packet
    b"\0\0\0\0",                       # an empty one
    packet(b"c"),                      # a verdict for OPTNEG
    b"HTTP/1.0 200 OK\r\n\r\n",
])
def test_garbage(owld, milter, garbage):
    m = milter(garbage=garbage)
    s = start(owld, m)
    assert dialog(s)[0][0] == 451
    s.wait_log(r"event=milter-failed")
    # still serving, and with accept the mail goes through
    s2 = start(owld, m, "milter.default_action=accept")
    assert [r[0] for r in dialog(s2)] == [250, 250, 250]


def test_two_milters_and_submission(owld, milter):
    m1 = milter(script={b"E": [(b"h", b"X-One\0" b"1\0"), (b"c", b"")]})
    m2 = milter(script={b"E": [(b"h", b"X-Two\0" b"2\0"), (b"c", b"")]})
    s = owld(opts=("milter.servers=inet:127.0.0.1:%d, inet:[127.0.0.1]:%d"
                   % (m1.port, m2.port),))
    s.submit(["bob@localhost"], MSG)
    text = stored(s, "bob")
    assert "\nX-One: 1\n" in text and "\nX-Two: 2\n" in text
    assert m1.macros.get("{auth_authen}") == "alice@localhost"


def test_unix_and_inet6_milters(owld, milter, tmp_path):
    m = milter(path=str(tmp_path / "milter.sock"),
               script={b"E": [(b"h", b"X-Unix\0" b"1\0"), (b"c", b"")]})
    s = start(owld, m)
    assert dialog(s)[-1][0] == 250
    assert "\nX-Unix: 1\n" in stored(s)
    try:
        m6 = milter(family=socket.AF_INET6, script={b"M": [(b"r", b"")]})
    except OSError:
        pytest.skip("no IPv6 loopback here")
    s6 = start(owld, m6)
    assert dialog(s6)[0] == (550, ["550 5.7.1 Command rejected"])


@pytest.mark.parametrize("step", [b"M", b"E"])
def test_421_closes_the_session(owld, milter, step):
    m = milter(script={step: [(b"y", b"421 4.7.0 going down\0")]})
    s = start(owld, m)
    c = s.connect()
    hello(c)
    r = c.cmd("MAIL FROM:<a@example.org>")
    if step == b"E":
        assert r[0] == 250 and c.cmd("RCPT TO:<alice@localhost>")[0] == 250
        assert c.cmd("DATA")[0] == 354
        c.send(MSG + b".\r\n")
        r = c.reply()
    assert r == (421, ["421 4.7.0 going down"])
    assert c.closed()


def test_bad_servers_value(owld):
    s = owld(opts=("milter.servers=inet:milter.example:1",), start=False)
    with pytest.raises(RuntimeError, match="milter.servers"):
        s.start()


def test_rset_sends_abort(owld, milter):
    m = milter()
    s = start(owld, m)
    c = s.connect()
    hello(c)
    assert c.cmd("MAIL FROM:<a@example.org>")[0] == 250
    assert c.cmd("RSET")[0] == 250
    assert c.cmd("MAIL FROM:<b@example.org>")[0] == 250
    c.cmd("QUIT")
    cmds = [x for x, _ in m.seen if x != b"D"]
    i = cmds.index(b"M")
    assert cmds[i + 1:i + 3] == [b"A", b"M"]


# ---- a real rspamd (Debian's), in milter mode on a loopback port ----

RSPAMD = shutil.which("rspamd")
GTUBE = (b"XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X")


@pytest.fixture
def rspamd(tmp_path):
    if RSPAMD is None:
        pytest.skip("rspamd is not installed (scripts/deps.sh test)")
    port = free_port()
    conf = tmp_path / "rspamd"
    for d in ("local.d", "override.d", "run", "db", "log"):
        (conf / d).mkdir(parents=True, exist_ok=True)
    (conf / "local.d" / "worker-proxy.inc").write_text(
        'bind_socket = "127.0.0.1:%d";\nmilter = yes;\ntimeout = 20s;\n'
        'upstream "local" { default = yes; self_scan = yes; }\n' % port)
    (conf / "local.d" / "worker-normal.inc").write_text("enabled = false;\n")
    (conf / "local.d" / "worker-controller.inc").write_text(
        "enabled = false;\n")
    (conf / "local.d" / "worker-fuzzy.inc").write_text("enabled = false;\n")
    # no traffic off the machine: DNS at a closed loopback port
    (conf / "local.d" / "options.inc").write_text(
        'dns { nameserver = ["127.0.0.1:%d"]; timeout = 0.1s; retransmits = 1; }\n'
        'filters = "";\ndisable_hyperscan = true;\n' % free_port())
    for mod in ("rbl", "surbl", "rspamd_update", "fuzzy_check", "asn",
                "emails", "phishing", "neural", "dmarc", "spf", "dkim",
                "history_redis", "greylist", "ratelimit", "replies",
                "url_reputation", "metadata_exporter", "clickhouse",
                "dkim_signing", "arc", "mx_check", "whitelist",
                "multimap", "reputation", "bayes_expiry"):
        (conf / "local.d" / ("%s.conf" % mod)).write_text("enabled = false;\n")
    (conf / "local.d" / "logging.inc").write_text(
        'type = "file";\nfilename = "%s";\nlevel = "error";\n'
        % (conf / "log" / "rspamd.log"))
    (conf / "local.d" / "milter_headers.conf").write_text(
        'use = ["x-spamd-result", "x-rspamd-server", "x-rspamd-queue-id",'
        ' "authentication-results", "x-spam-level", "x-spam-status"];\n'
        'skip_local = false;\nskip_authenticated = false;\n')
    # the system's config, with our local.d/override.d and run dirs
    args = [RSPAMD, "-f", "-c", "/etc/rspamd/rspamd.conf",
            "--var=LOCAL_CONFDIR=%s" % conf,
            "--var=DBDIR=%s" % (conf / "db"),
            "--var=RUNDIR=%s" % (conf / "run"),
            "--var=LOGDIR=%s" % (conf / "log"), "--insecure"]
    p = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        wait_port(port, timeout=60, proc=p)
    except Exception:
        p.kill()
        out = p.communicate()[0].decode(errors="replace")
        pytest.fail("rspamd did not start: " + out[-3000:])
    yield port
    p.send_signal(signal.SIGTERM)
    try:
        p.wait(15)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()


# rspamd takes about 7 s to start here: -m "not rspamd" leaves it out
@pytest.mark.rspamd
@pytest.mark.plain_only
def test_rspamd(owld, rspamd):
    s = start(owld, rspamd)
    spam = (b"From: a@example.org\r\nTo: alice@localhost\r\nSubject: test\r\n"
            b"Message-ID: <gtube@example.org>\r\n"
            b"Date: Fri, 04 Dec 2026 03:00:00 +0000\r\n\r\n" + GTUBE + b"\r\n")
    out = dialog(s, msg=spam)
    assert out[-1] == (554, ["554 5.7.1 Gtube pattern"]), out
    assert s.messages("alice") == []
    clean = (b"From: a@example.org\r\nTo: alice@localhost\r\n"
             b"Subject: lunch\r\nMessage-ID: <lunch@example.org>\r\n"
             b"Date: Fri, 04 Dec 2026 03:00:00 +0000\r\n\r\n"
             b"Shall we have lunch at noon?\r\n")
    out = dialog(s, msg=clean)
    assert out[-1][0] == 250, out
    text = stored(s)
    assert "\nX-Spamd-Result: default: False" in text, text[:2000]
    assert "\nX-Rspamd-Queue-Id: " in text and "\nX-Spam-Status: No" in text
