"""Issue 16, items 6, 7 and 9: bare CR and bare LF in DATA
(smtp.bare_newline), checked both at the stored file and at what a
loopback next hop gets through the relay; a lone dot on a bare-LF line;
VRFY that enumerates nobody unless smtp.vrfy = yes."""
import os
import re
import time

import pytest

from test_smtp import body_of, hello, send_message

# the smuggling sequences of the 2023 disclosure, and the bare-CR one
SEPS = [b"\r.\r", b"\n.\n", b"\n.\r\n", b"\r\n.\n", b"\r.\r\n", b"\r\n.\r"]

BARE = re.compile(rb"\r(?!\n)|(?<!\r)\n")


def relaying(owld, sink, opts=(), **kw):
    """owld relaying loopback clients' mail to a fresh sink (smarthost)."""
    s = sink(**kw)
    o = owld(["relay.host=127.0.0.1:%d" % s.port,
              "relay.networks=127.0.0.0/8"] + list(opts))
    return o, s


def smuggle(sep):
    return (b"Subject: smuggle\r\n\r\nhello" + sep +
            b"MAIL FROM:<evil@example.net>\r\nRCPT TO:<bob@localhost>\r\n"
            b"DATA\r\nsmuggled\r\n.\r\n")


def wire_text(m):
    """The text a sink got, less the trace headers owld put on top."""
    data = m["data"]
    return data[data.index(b"\r\nSubject: ") + 2:]


def queue_ids(o):
    d = os.path.join(o.datadir, "queue", "env")
    return sorted(os.listdir(d)) if os.path.isdir(d) else []


def wait_queue_empty(o, timeout=20):
    deadline = time.time() + timeout
    while queue_ids(o) and time.time() < deadline:
        time.sleep(0.05)
    assert not queue_ids(o), o.logtext()[-3000:]


# --- item 6: smtp.bare_newline ---------------------------------------------

def test_smuggling_normalized_in_store_and_on_the_relay(owld, sink):
    """The default: the bare CRs are stored and relayed as spaces, so the
    next hop sees one text line, never a "." line or a command."""
    o, s = relaying(owld, sink)
    c = o.connect()
    hello(c)
    code, lines = send_message(c, smuggle(b"\r.\r"),
                               rcpts=("alice@localhost", "x@remote.test"))
    assert code == 250, lines
    assert c.cmd("QUIT")[0] == 221
    want = (b"Subject: smuggle\n\nhello . MAIL FROM:<evil@example.net>\n"
            b"RCPT TO:<bob@localhost>\nDATA\nsmuggled\n")
    (_, raw), = o.messages("alice")
    assert body_of(raw) == want
    assert b"\r" not in raw
    m = s.wait(1)[0]
    assert wire_text(m) == want.replace(b"\n", b"\r\n")
    assert not BARE.search(m["data"])
    assert m["rcpts"] == ["x@remote.test"]
    assert not any("evil" in cmd for cmd in s.commands)
    assert o.messages("bob") == []
    wait_queue_empty(o)


@pytest.mark.parametrize("sep", SEPS)
def test_smuggling_normalized_every_sequence(owld, sink, sep):
    o, s = relaying(owld, sink)
    c = o.connect()
    hello(c)
    code, _ = send_message(c, smuggle(sep),
                           rcpts=("alice@localhost", "x@remote.test"))
    assert code == 250
    assert c.cmd("QUIT")[0] == 221
    (_, raw), = o.messages("alice")
    assert b"\r" not in raw
    assert b"MAIL FROM:<evil@example.net>" in raw
    m = s.wait(1)[0]
    assert not BARE.search(m["data"]), m["data"]
    assert not any("evil" in cmd for cmd in s.commands)
    assert len(s.messages) == 1 and o.messages("bob") == []


@pytest.mark.parametrize("sep", SEPS)
def test_smuggling_rejected(owld, sink, sep):
    """reject: 550 5.5.2 after the end of the data, nothing stored or
    relayed; the session goes on."""
    o, s = relaying(owld, sink, ["smtp.bare_newline=reject"])
    c = o.connect()
    hello(c)
    code, lines = send_message(c, smuggle(sep),
                               rcpts=("alice@localhost", "x@remote.test"))
    assert code == 550, lines
    assert re.match(r"550 5\.5\.2 Error: bare <(CR|LF)> received$",
                    lines[0]), lines
    # nothing was said in the middle of the data
    assert c.cmd("NOOP")[0] == 250
    assert o.messages("alice") == [] and o.messages("bob") == []
    assert queue_ids(o) == []
    # a clean message in the same session is taken and relayed
    code, _ = send_message(c, b"Subject: clean\r\n\r\n.\r\n",
                           rcpts=("alice@localhost", "x@remote.test"))
    assert c.cmd("QUIT")[0] == 221
    m, = s.wait(1)
    assert b"Subject: clean" in m["data"] and b"evil" not in m["data"]
    assert len(o.messages("alice")) == 1


def test_bare_lf_rejected_names_it(owld):
    o = owld(["smtp.bare_newline=reject"])
    c = o.connect()
    hello(c)
    code, lines = send_message(c, b"Subject: x\n\nunix text\n.\r\n.\r\n")
    assert (code, lines) == (550, ["550 5.5.2 Error: bare <LF> received"])
    assert o.messages() == []
    # the operator sees what the sender was told
    o.wait_log(r'event=message-refused msgid=[0-9a-f]+ '
               r'reply="550 5.5.2 Error: bare <LF> received"')


def test_bare_lf_client_still_delivers(owld, sink):
    """An old client ending every line in a bare LF (all but the end of
    the data): stored as lines, relayed in CRLF lines."""
    o, s = relaying(owld, sink)
    c = o.connect()
    hello(c)
    code, _ = send_message(c, b"Subject: lf\n\nline one\n..dot\nlast\r\n"
                           b".\r\n", rcpts=("alice@localhost", "x@remote.test"))
    assert code == 250
    (_, raw), = o.messages("alice")
    assert body_of(raw) == b"Subject: lf\n\nline one\n.dot\nlast\n"
    m = s.wait(1)[0]
    assert wire_text(m) == b"Subject: lf\r\n\r\nline one\r\n.dot\r\nlast\r\n"
    assert not BARE.search(m["data"])


def test_relay_never_sends_bare_cr_from_an_old_queue_file(owld, sink):
    """Whatever a queue file holds (written by an older owld, or edited),
    the relay sends CRLF lines only: lone CRs as spaces, CR LF as one line
    end, dots stuffed."""
    tries = []

    def final(msg):
        tries.append(msg)
        return "451 4.3.0 later" if len(tries) == 1 else "250 2.0.0 ok"

    o, s = relaying(owld, sink, ["queue.retry=2s"], final=final)
    c = o.connect()
    hello(c)
    code, _ = send_message(c, b"Subject: old\r\nX-Pad: 1;\r\n\r\n"
                           b"helloX.XMAIL FROM:<evil@example.net>\r\n"
                           b"X\r\nend\r\n.\r\n", rcpts=("x@remote.test",))
    assert code == 250
    o.wait_log(r"event=deferred msgid=\w+ to=<x@remote.test>")
    qid, = queue_ids(o)
    path = os.path.join(o.datadir, "queue", "msg", qid)
    with open(path, "rb") as f:
        text = f.read()
    old = (text.replace(b"helloX.XMAIL", b"hello\r.\rMAIL")
           .replace(b"X-Pad: 1;\n", b"X-Pad: 1\r\n")
           .replace(b"\nX\nend", b"\n.\rend"))
    assert len(old) == len(text) and old != text
    os.chmod(path, 0o600)
    with open(path, "r+b") as f:
        f.write(old)
    m = s.wait(1)[0]
    assert not BARE.search(m["data"]), m["data"]
    assert wire_text(m) == (b"Subject: old\r\nX-Pad: 1\r\n\r\n"
                            b"hello . MAIL FROM:<evil@example.net>\r\n"
                            b". end\r\n")
    assert not any("evil" in cmd for cmd in s.commands)
    wait_queue_empty(o)


# --- item 7: a lone dot on a bare-LF line ------------------------------------

def test_lone_dot_on_bare_lf_line_is_kept(owld, sink):
    o, s = relaying(owld, sink)
    c = o.connect()
    hello(c)
    code, _ = send_message(c, b"Subject: dot\r\n\r\nhello\n.\nworld\r\n"
                           b"x\r\n.\nafter crlf\r\n.\r\n",
                           rcpts=("alice@localhost", "x@remote.test"))
    assert code == 250
    want = b"Subject: dot\n\nhello\n.\nworld\nx\n.\nafter crlf\n"
    (_, raw), = o.messages("alice")
    assert body_of(raw) == want
    # the sink ends the data at the first ".\r\n": the dots were stuffed
    m = s.wait(1)[0]
    assert wire_text(m) == want.replace(b"\n", b"\r\n")
    assert not any(cmd.startswith("world") for cmd in s.commands)


# --- item 9: VRFY --------------------------------------------------------

def test_vrfy_enumerates_nobody_by_default(server):
    for port in (server.connect, server.submission):
        c = port()
        hello(c)
        for who in ("alice", "<bob@localhost>", "nobody", "x@remote.test"):
            code, lines = c.cmd("VRFY " + who)
            assert (code, lines[0][:10]) == (252, "252 2.5.2 "), lines
        assert c.cmd("VRFY")[0] == 501
        assert c.cmd("EXPN alice")[0] == 502
        assert c.cmd("QUIT")[0] == 221


def test_vrfy_when_enabled(owld):
    o = owld(["smtp.vrfy=yes"])
    c = o.connect()
    hello(c)
    assert c.cmd("VRFY alice") == (250, ["250 2.1.5 <alice>"])
    assert c.cmd("VRFY <bob@localhost>") == (250,
                                            ["250 2.1.5 <bob@localhost>"])
    code, lines = c.cmd("VRFY nobody")
    assert code == 550 and lines[0].startswith("550 5.1.1")
    assert c.cmd("EXPN alice")[0] == 502


@pytest.mark.parametrize("policy", ["normalize", "reject"])
def test_overlong_line_with_bare_lf_does_not_end_data(owld, policy):
    """A text line past smtp.max_line_length ended by a bare LF, then
    ".\r\n": that dot line is text, not the end (only CR LF . CR LF ends
    DATA), so what follows it is never read as commands.  (The old code
    took the skipped line's end as CR LF: the dot ended the message and
    the next line ran as a command.)"""
    o = owld(["smtp.bare_newline=%s" % policy])
    c = o.connect()
    hello(c)
    long_line = b"x" * (64 * 1024 + 10)
    code, lines = send_message(
        c, long_line + b"\n.\r\nRSET\r\nsome text\r\n.\r\n")
    assert code == 552, lines
    assert c.cmd("NOOP")[0] == 250
    assert o.messages() == []
    assert "C: RSET" not in o.logtext()
