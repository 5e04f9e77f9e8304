"""SMTP receiver over real sockets: reply codes, pipelining, limits,
smuggling, delivery byte for byte, and the real clients smtplib, swaks
and curl."""
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import OWLCTL, low_quarantine, status_kib


def hello(c):
    code, _ = c.reply()
    assert code == 220
    code, lines = c.cmd("EHLO client.test")
    assert code == 250
    return lines


def body_of(raw):
    """The message as stored, after the trace headers owld adds."""
    text = raw.decode("latin-1")
    assert text.startswith("Return-Path: <")
    i = text.index("\n", text.index("\tby mx.test (owlpost) with ESMTP id"))
    rest = text[i + 1:]
    if rest.startswith("\tfor <"):
        rest = rest[rest.index("\n") + 1:]
    assert rest.startswith("\t"), rest[:80]  # the date line
    return rest[rest.index("\n") + 1:].encode("latin-1")


def test_greeting_and_ehlo(server):
    c = server.connect()
    code, lines = c.reply()
    assert (code, lines) == (220, ["220 mx.test ESMTP owlpost"])
    code, lines = c.cmd("EHLO client.test")
    assert lines == ["250-mx.test", "250-PIPELINING", "250-SIZE 36700160",
                     "250-8BITMIME", "250-ENHANCEDSTATUSCODES", "250 HELP"]
    assert c.cmd("HELO client.test") == (250, ["250 mx.test"])
    assert c.cmd("QUIT")[0] == 221
    assert c.closed()


@pytest.mark.parametrize("cmd,code,enh", [
    ("NOOP", 250, "2.0.0"),
    ("RSET", 250, "2.0.0"),
    ("HELP", 214, "2.0.0"),
    # smtp.vrfy = no (default): no user is confirmed or denied
    ("VRFY alice", 252, "2.5.2"),
    ("VRFY <bob@localhost>", 252, "2.5.2"),
    ("VRFY nobody", 252, "2.5.2"),
    ("EXPN staff", 502, "5.5.1"),
    ("SOML FROM:<a@b.c>", 502, "5.5.1"),
    ("SAML FROM:<a@b.c>", 502, "5.5.1"),
    ("SEND FROM:<a@b.c>", 502, "5.5.1"),
    ("TURN", 502, "5.5.1"),
    ("XYZZY", 500, "5.5.2"),
    ("RCPT TO:<alice@localhost>", 503, "5.5.1"),
    ("DATA", 503, "5.5.1"),
    ("MAIL FROM:alice@localhost", 501, "5.1.7"),
    ("MAIL FROM:<a b@x.org>", 501, "5.1.7"),
    ("MAIL FROM:<a@x.org> FOO=BAR", 555, "5.5.4"),
    ("MAIL FROM:<a@x.org> SIZE=999999999", 552, "5.3.4"),
    ("NOOP " + "x" * 600, 500, "5.5.6"),
    ("NO\0OP", 501, "5.5.2"),
])
def test_reply_codes(server, cmd, code, enh):
    c = server.connect()
    hello(c)
    got, lines = c.cmd(cmd)
    assert got == code, lines
    assert lines[-1].split()[1] == enh, lines


def test_mail_before_helo(server):
    c = server.connect()
    c.reply()
    assert c.cmd("MAIL FROM:<a@b.c>")[0] == 503


def test_rcpt_results(server):
    c = server.connect()
    hello(c)
    assert c.cmd("MAIL FROM:<sender@example.net>")[0] == 250
    code, lines = c.cmd("RCPT TO:<nobody@localhost>")
    assert code == 550 and "5.1.1" in lines[0]
    code, lines = c.cmd("RCPT TO:<someone@example.com>")
    assert code == 550 and "5.7.1" in lines[0] and "Relay" in lines[0]
    code, lines = c.cmd("RCPT TO:<alice@localhost> NOTIFY=NEVER")
    assert code == 555
    assert c.cmd("RCPT TO:<Alice@LOCALHOST>")[0] == 250
    assert c.cmd("DATA x")[0] == 501


def test_too_many_recipients(owld):
    s = owld(["smtp.max_recipients=3"])
    c = s.connect()
    hello(c)
    c.cmd("MAIL FROM:<a@b.c>")
    for _ in range(3):
        assert c.cmd("RCPT TO:<alice@localhost>")[0] == 250
    code, lines = c.cmd("RCPT TO:<bob@localhost>")
    assert code == 452 and "4.5.3" in lines[0]


def test_message_over_size(owld):
    s = owld(["smtp.max_size=2k"])
    c = s.connect()
    assert "250-SIZE 2048" in hello(c)
    c.cmd("MAIL FROM:<a@b.c>")
    c.cmd("RCPT TO:<alice@localhost>")
    assert c.cmd("DATA")[0] == 354
    c.send(("x" * 98 + "\r\n") * 30 + ".\r\n")
    code, lines = c.reply()
    assert code == 552 and "5.3.4" in lines[0]
    assert c.cmd("NOOP")[0] == 250
    assert s.messages() == []


def send_message(c, body, rcpts=("alice@localhost",), sender="s@example.net"):
    assert c.cmd("MAIL FROM:<%s>" % sender)[0] == 250
    for r in rcpts:
        assert c.cmd("RCPT TO:<%s>" % r)[0] == 250
    assert c.cmd("DATA")[0] == 354
    c.send(body)
    return c.reply()


def test_delivery_byte_for_byte_and_dot_stuffing(server):
    c = server.connect()
    hello(c)
    wire = (b"Subject: dots\r\n\r\n..leading dot\r\n...two\r\n.\xff 8bit\r\n"
            b"From the start\r\nend\r\n.\r\n")
    code, lines = send_message(c, wire)
    assert code == 250, lines
    msgs = server.messages()
    assert len(msgs) == 1
    name, raw = msgs[0]
    assert body_of(raw) == (b"Subject: dots\n\n.leading dot\n..two\n"
                            b"\xff 8bit\nFrom the start\nend\n")
    size = len(raw)
    crlf = size + raw.count(b"\n")
    assert name.endswith(",S=%d,W=%d" % (size, crlf))
    assert raw.startswith(b"Return-Path: <s@example.net>\nReceived: from "
                          b"client.test ([127.0.0.1])\n\tby mx.test (owlpost)")
    assert b"\tfor <alice@localhost>;" in raw


def test_two_recipients_one_file_two_links(server):
    c = server.connect()
    hello(c)
    code, _ = send_message(c, "Subject: both\r\n\r\nhi\r\n.\r\n",
                           rcpts=("alice@localhost", "bob@localhost",
                                  "ALICE@localhost"))
    assert code == 250
    a = server.messages("alice")
    b = server.messages("bob")
    assert len(a) == 1 and len(b) == 1 and a[0] == b[0]
    sa = os.stat(os.path.join(server.maildir("alice"), a[0][0]))
    sb = os.stat(os.path.join(server.maildir("bob"), b[0][0]))
    assert sa.st_ino == sb.st_ino and sa.st_nlink == 2
    assert b"\tfor <" not in a[0][1]  # no single recipient to name


def test_pipelining(server):
    c = server.connect()
    c.reply()
    c.send("EHLO p\r\nMAIL FROM:<a@b.c>\r\nRCPT TO:<alice@localhost>\r\n"
           "RCPT TO:<nobody@localhost>\r\nRCPT TO:<bob@localhost>\r\nDATA\r\n")
    codes = [c.reply()[0] for _ in range(6)]
    assert codes == [250, 250, 250, 550, 250, 354]
    c.send("pipelined\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<bob@localhost>\r\n"
           "DATA\r\n")
    assert [c.reply()[0] for _ in range(4)] == [250, 250, 250, 354]
    c.send("second\r\n.\r\nQUIT\r\n")
    assert [c.reply()[0] for _ in range(2)] == [250, 221]
    assert len(server.messages("bob")) == 2


def test_one_byte_writes(server):
    c = server.connect()
    c.reply()
    for ch in b"EHLO slow.client\r\nMAIL FROM:<a@b.c>\r\n":
        c.send(bytes([ch]))
    assert c.reply()[0] == 250
    assert c.reply()[0] == 250
    for ch in b"RCPT TO:<alice@localhost>\r\nDATA\r\n":
        c.send(bytes([ch]))
    assert c.reply()[0] == 250
    assert c.reply()[0] == 354
    for ch in b"slow body\r\n.\r\n":
        c.send(bytes([ch]))
    assert c.reply()[0] == 250
    assert body_of(server.messages()[0][1]) == b"slow body\n"


def test_ten_megabyte_message(server):
    c = server.connect()
    hello(c)
    line = b"0123456789" * 7 + b"\r\n"
    body = b"Subject: big\r\n\r\n" + line * (10 * 1024 * 1024 // len(line))
    code, lines = send_message(c, body + b".\r\n")
    assert code == 250, lines
    stored = body_of(server.messages()[0][1])
    assert stored == body.replace(b"\r\n", b"\n")


@pytest.mark.parametrize("sep", [b"\n.\n", b"\n.\r\n", b"\r\n.\n",
                                 b"\r.\r\n", b"\r\n.\r"])
def test_smuggling(server, sep):
    c = server.connect()
    hello(c)
    body = (b"Subject: smuggle\r\n\r\nhello" + sep +
            b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@localhost>\r\n"
            b"DATA\r\nsmuggled\r\n.\r\n")
    code, _ = send_message(c, body)
    assert code == 250
    assert c.cmd("QUIT")[0] == 221
    # exactly one message, to alice, with the smuggled text inside
    assert len(server.messages("alice")) == 1
    assert server.messages("bob") == []
    assert b"MAIL FROM:<evil@example.net>" in server.messages("alice")[0][1]


def test_drop_inside_data_delivers_nothing(server):
    c = server.connect()
    hello(c)
    c.cmd("MAIL FROM:<a@b.c>")
    c.cmd("RCPT TO:<alice@localhost>")
    c.cmd("DATA")
    c.send("Subject: cut\r\n\r\npartial\r\n")
    c.close()
    time.sleep(0.3)
    c = server.connect()
    hello(c)
    assert server.messages() == []
    assert "reason=eof" in server.logtext()


def test_path_traversal_names(server, tmp_path):
    c = server.connect()
    hello(c)
    c.cmd("MAIL FROM:<a@b.c>")
    for rcpt in ['<"../../etc/passwd"@localhost>', '<"alice/../bob"@localhost>',
                 '<../x@localhost>', '<"."@localhost>', '<".."@localhost>']:
        code, lines = c.cmd("RCPT TO:" + rcpt)
        assert code in (501, 550), (rcpt, lines)
    assert not os.path.exists(os.path.join(server.datadir, "etc"))
    for bad in ["../x@localhost", "a/b@localhost", "x@../y", ".hidden@localhost"]:
        r = subprocess.run([OWLCTL, "-D", str(tmp_path / "d"), "user", "add", bad],
                           input="pw\n", capture_output=True, text=True)
        assert r.returncode != 0 and "invalid user name" in r.stderr


def test_max_connections(owld):
    s = owld(["max_connections=2"])
    a, b = s.connect(), s.connect()
    a.reply(), b.reply()
    c = s.connect()
    code, lines = c.reply()
    assert code == 421 and "4.7.0" in lines[0]
    assert c.closed()
    a.cmd("QUIT")
    a.closed()
    time.sleep(0.2)
    d = s.connect()
    assert d.reply()[0] == 220


def test_idle_timeout(owld):
    s = owld(["smtp.timeout=1"])
    c = s.connect()
    c.reply()
    t = time.time()
    code, lines = c.reply()
    assert code == 421 and "4.4.2" in lines[0]
    assert 0.8 < time.time() - t < 5
    assert c.closed()
    assert "reason=timeout" in s.logtext()


def test_disk_full_answers_452(owld):
    s = owld(env={"OWLPOST_FAULT": "write:1:ENOSPC"})
    c = s.connect()
    hello(c)
    code, lines = send_message(c, "Subject: x\r\n\r\nfull\r\n.\r\n")
    assert code == 452 and "4.3.1" in lines[0]
    assert s.messages() == []
    assert os.listdir(s.maildir(sub="tmp")) == []
    # the next one goes through
    code, lines = send_message(c, "Subject: y\r\n\r\nok\r\n.\r\n")
    assert code == 250
    assert len(s.messages()) == 1


def big_message(size):
    """About size octets of lines to dot-stuff, to quote in mbox, and 8-bit
    text: (what goes on the wire after DATA, the text as stored)."""
    kinds = [b".leading dot", b"From the start", b">From quoted",
             b"caf\xc3\xa9 " + b"x" * 60, b"y" * 76]
    lines, n, i = [b"Subject: big", b""], 0, 0
    while n < size:
        line = kinds[i % len(kinds)] + b" %d" % i
        lines.append(line)
        n += len(line) + 2
        i += 1
    wire = b"".join((b"." if l.startswith(b".") else b"") + l + b"\r\n"
                    for l in lines) + b".\r\n"
    return wire, b"".join(l + b"\n" for l in lines)


@pytest.mark.parametrize("fmt", ["maildir", "mbox"])
def test_big_message_is_spooled(owld, fmt):
    """A 20 MB message, far past the 256 KiB owld keeps in memory, goes to
    a spool file as it arrives: stored byte for byte for two users (mbox
    quoting right wherever the spool's pieces are cut), and owld's peak
    memory does not follow the message (the 8 MB bound of make bench)."""
    s = owld(["mailbox.format=" + fmt], env=low_quarantine(), verbose=False)
    wire, stored = big_message(20 << 20)
    c = s.connect(timeout=120)
    hello(c)
    base = status_kib(s.proc.pid, "VmHWM")
    code, lines = send_message(c, wire, rcpts=("alice@localhost", "bob@localhost"))
    assert code == 250, lines
    grew = status_kib(s.proc.pid, "VmHWM") - base
    print("peak RSS %d KiB before, grew %d KiB" % (base, grew))
    assert grew < 8 * 1024, "peak RSS grew %d KiB for a 20 MB message" % grew
    for user in ("alice", "bob"):
        if fmt == "maildir":
            (name, raw), = s.messages(user)
            assert name.endswith(",S=%d,W=%d" % (len(raw), len(raw) + raw.count(b"\n")))
            assert body_of(raw) == stored
        else:
            with open(os.path.join(s.datadir, "mail", "localhost", user + ".mbox"), "rb") as f:
                text = f.read()
            quoted = re.sub(rb"(?m)^(>*From )", rb">\1", stored)
            assert text.endswith(b"\n" + quoted + b"\n")
            assert text.count(b"\nFrom ") == 0 and text.startswith(b"From s@example.net ")
    assert os.listdir(os.path.join(s.datadir, "queue", "tmp")) == []


def test_spool_failure_answers_452(owld):
    """The spool's first write fails (disk full): the big message gets 452
    and leaves nothing behind; the session goes on."""
    s = owld(env={"OWLPOST_FAULT": "write:1:ENOSPC"}, verbose=False)
    wire, _ = big_message(1 << 20)
    c = s.connect(timeout=60)
    hello(c)
    code, lines = send_message(c, wire)
    assert code == 452 and "4.3.1" in lines[0], lines
    assert s.messages() == []
    assert os.listdir(os.path.join(s.datadir, "queue", "tmp")) == []
    assert re.search(r"event=delivery-failed msgid=\w+ error=\"spool in .*No space", s.logtext())
    code, lines = send_message(c, wire)
    assert code == 250, lines
    assert len(s.messages()) == 1


def test_mbox_format(owld):
    s = owld(["mailbox.format=mbox"])
    c = s.connect()
    hello(c)
    send_message(c, "Subject: one\r\n\r\nFrom the top\r\n.\r\n")
    send_message(c, "Subject: two\r\n\r\n>From quoted\r\n.\r\n", sender="")
    with open(os.path.join(s.datadir, "mail", "localhost", "alice.mbox"), "rb") as f:
        text = f.read()
    assert text.startswith(b"From s@example.net ")
    assert b"\n>From the top\n\n" in text
    assert b"\nFrom MAILER-DAEMON " in text
    assert b"\n>>From quoted\n\n" in text
    assert text.count(b"\nSubject: ") == 2


def test_smtplib(server):
    with smtplib.SMTP("127.0.0.1", server.port, timeout=10) as smtp:
        smtp.ehlo("py.client")
        assert smtp.has_extn("pipelining") and smtp.has_extn("8bitmime")
        refused = smtp.sendmail("py@example.net", ["alice@localhost", "bob@localhost"],
                                "Subject: py\n\nfrom python\n")
        assert refused == {}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            smtp.sendmail("py@example.net", ["ghost@localhost"], "x")
    assert body_of(server.messages("bob")[0][1]) == b"Subject: py\n\nfrom python\n"


@pytest.mark.skipif(shutil.which("swaks") is None, reason="swaks not installed")
def test_swaks(server):
    r = subprocess.run(["swaks", "--server", "127.0.0.1:%d" % server.port,
                        "--to", "alice@localhost", "--from", "s@example.net",
                        "--header", "Subject: swaks test", "--body", "via swaks"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "250 2.0.0 Ok: queued as" in r.stdout
    raw = server.messages()[0][1]
    assert b"Subject: swaks test" in raw and b"via swaks" in raw


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl not installed")
def test_curl(server, tmp_path):
    msg = tmp_path / "m.txt"
    msg.write_bytes(b"Subject: curl test\r\n\r\n.dot\r\nvia curl\r\n")
    r = subprocess.run(["curl", "-sS", "smtp://127.0.0.1:%d" % server.port,
                        "--mail-from", "c@example.net", "--mail-rcpt", "bob@localhost",
                        "--upload-file", str(msg)],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert body_of(server.messages("bob")[0][1]) == b"Subject: curl test\n\n.dot\nvia curl\n"


def test_trace_and_log_format(server):
    c = server.connect()
    hello(c)
    c.cmd("QUIT")
    c.closed()
    time.sleep(0.2)
    log = server.logtext()
    assert "] C: EHLO client.test" in log and "] S: 250-PIPELINING" in log
    import re
    assert re.search(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info smtp "
                     r"id=[0-9a-f]{16} peer=127\.0\.0\.1 event=disconnect "
                     r"reason=quit mails=0 rcpts=0 tls=no$", log, re.M)


def test_user_added_while_running(server):
    from conftest import add_user
    c = server.connect()
    hello(c)
    c.cmd("MAIL FROM:<a@b.c>")
    assert c.cmd("RCPT TO:<carol@localhost>")[0] == 550
    add_user(server.datadir, "carol@localhost", "pw")
    assert c.cmd("RCPT TO:<carol@localhost>")[0] == 250


def test_max_errors(owld):
    s = owld(["smtp.max_errors=3"])
    c = s.connect()
    hello(c)
    assert c.cmd("BOGUS")[0] == 500
    assert c.cmd("BOGUS")[0] == 500
    c.send("BOGUS\r\n")
    assert c.reply()[0] == 500
    code, lines = c.reply()
    assert code == 421 and "4.7.0" in lines[0] and "too many errors" in lines[0]
    assert c.closed()


def test_max_line_length(owld):
    s = owld(["smtp.max_line_length=1000"])
    c = s.connect()
    hello(c)
    # 998 octets + CRLF fits; 1999 + CRLF does not: the message gets 552
    code, _ = send_message(c, "a" * 998 + "\r\n.\r\n")
    assert code == 250
    code, lines = send_message(c, "b" * 1999 + "\r\nafter\r\n.\r\n")
    assert code == 552 and "line" in lines[0]
    assert c.cmd("NOOP")[0] == 250
    assert len(s.messages()) == 1


def test_output_back_pressure(owld):
    """A client that pipelines without reading its replies: owld stops
    reading once its output bound is full, keeps its memory bounded, and
    every reply arrives, in order, once the client reads."""
    import socket
    import threading
    from conftest import Client
    s = owld(verbose=False, env=low_quarantine(0))
    sock = socket.socket()
    # a small receive window, so the kernel cannot soak up the replies
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.settimeout(60)
    sock.connect(("127.0.0.1", s.port))
    c = Client(sock)
    hello(c)
    n = 1000000
    before = status_kib(s.proc.pid)
    sender = threading.Thread(target=c.send, args=(b"NOOP\r\n" * n,))
    sender.start()
    time.sleep(2.5)  # replies pile up unread
    during = status_kib(s.proc.pid)
    got = 0
    while got < n:
        code, lines = c.reply()
        assert (code, lines) == (250, ["250 2.0.0 Ok"])
        got += 1
    sender.join(30)
    assert c.cmd("QUIT")[0] == 221
    # 6 MB of commands and 14 MB of replies went through; owld held
    # at most its bounds (64 KiB out, 128 KiB in) plus allocator slack
    print("rss KiB before/during:", before, during)
    assert during - before < 4096, (before, during)
