"""MULTIAPPEND (RFC 3502) and UTF8=ACCEPT (RFC 6855) against the real owld
(src/proto/imap_cmd_append.c over src/owld/imap_store.c and the store's
store_append_many): several messages in one APPEND saved all or nothing
with one APPENDUID uid-set (RFC 4315), checked by FETCH; a message past
APPENDLIMIT in the middle refused before it is sent with nothing saved,
and the bounds of one command (imap.multiappend_max,
imap.multiappend_max_size); ENABLE UTF8=ACCEPT with a non-ASCII folder
created, listed in UTF-8 to that session and in modified UTF-7 to a rev1
session without it; APPEND's UTF8 data item.  The unit tests
(tests/unit/test_imap_append.c, test_store_append.c) cover each case in
depth; these show the daemon does it end to end."""
import os
import subprocess

import pytest

from conftest import OWLCTL

DATE = '"01-Feb-2026 10:00:00 +0100"'


def wire(s):
    """A text as the raw client's lines show it (octets as latin-1)."""
    return s.encode().decode("latin-1")


def uid_set(text):
    """The UIDs of a uid-set such as 4:6,9."""
    out = []
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out += range(int(lo), int(hi or lo) + 1)
    return out


def appenduid(line):
    """(uidvalidity, [uids]) of a tagged OK [APPENDUID v set]."""
    code = line.split("[APPENDUID ", 1)[1].split("]", 1)[0]
    v, s = code.split()
    return int(v), uid_set(s)


def go_on(c):
    """Waits for the "+" of a synchronizing literal."""
    line = c.line()
    assert line.startswith("+ "), line
    return line


def fetch_bodies(c, tag):
    """UID -> (flags, BODY[]) of every message of the selected folder."""
    c.send("%s UID FETCH 1:* (FLAGS BODY.PEEK[])\r\n" % tag)
    out = {}
    while True:
        line = c.line()
        if line.startswith(tag + " "):
            assert line.startswith(tag + " OK"), line
            return out
        assert line.startswith("* ") and line.endswith("}"), line
        n = int(line.rsplit("{", 1)[1][:-1])
        while len(c.buf) < n:
            c.buf += c.sock.recv(65536)
        body, c.buf = c.buf[:n], c.buf[n:]
        assert c.line() == ")"
        uid = int(line.split("UID ", 1)[1].split()[0])
        flags = line.split("FLAGS (", 1)[1].split(")", 1)[0].split()
        out[uid] = (flags, body)


def count(c, tag, folder="INBOX"):
    r = c.cmd(tag, "STATUS %s (MESSAGES)" % folder)
    assert r[-1].startswith(tag + " OK"), r
    return int(r[0].split("MESSAGES ", 1)[1].split(")")[0])


def test_multiappend_three_with_appenduid(server):
    m1 = b"Subject: one\r\n\r\nfirst\r\n"
    m2 = b"Subject: two\r\n\r\nsecond\r\n"
    m3 = b"Subject: three\r\n\r\nthird\r\n"
    c = server.imap()
    r = c.login()
    assert "MULTIAPPEND" in r[-1].split()
    c.send("a APPEND INBOX (\\Seen) {%d}\r\n" % len(m1))
    go_on(c)
    c.send(m1 + (" (\\Flagged $Work) %s {%d}\r\n" % (DATE, len(m2))).encode())
    go_on(c)
    c.send(m2 + (" {%d+}\r\n" % len(m3)).encode() + m3 + b"\r\n")
    r = c.until("a")
    assert r[-1].startswith("a OK [APPENDUID "), r
    validity, uids = appenduid(r[-1])
    assert len(uids) == 3 and uids == sorted(uids)
    r = c.cmd("b", "SELECT INBOX")
    assert "* OK [UIDVALIDITY %d]" % validity in " ".join(r), r
    got = fetch_bodies(c, "c")
    assert sorted(got) == uids
    assert got[uids[0]][1] == m1 and "\\Seen" in got[uids[0]][0]
    assert got[uids[1]][1] == m2
    assert "\\Flagged" in got[uids[1]][0] and "$Work" in got[uids[1]][0]
    assert got[uids[2]][1] == m3 and "\\Seen" not in got[uids[2]][0]
    # the date as appended, in its own zone (docs/IMAP.md)
    r = c.cmd("d", "UID FETCH %d INTERNALDATE" % uids[1])
    assert 'INTERNALDATE " 1-Feb-2026 10:00:00 +0100"' in r[0], r


def test_multiappend_too_big_in_the_middle(owld):
    o = owld(["imap.append_max=2000"])
    c = o.imap()
    c.login()
    c.send("t APPEND INBOX {10}\r\n")
    go_on(c)
    # the second is past APPENDLIMIT: refused before it is sent
    c.send(b"Subject: x" + b" {5000}\r\n")
    r = c.line()
    assert r.startswith("t NO [TOOBIG]"), r
    assert count(c, "u") == 0
    # the same with LITERAL+: its octets read and dropped
    c.send(b"v APPEND INBOX {10+}\r\nSubject: y {5000+}\r\n" +
           b"w NOOP\r\n" * 625 + b"\r\n")
    r = c.until("v")
    assert r[-1].startswith("v NO [TOOBIG]"), r
    assert not [x for x in r if x.startswith("w ")]
    assert count(c, "x") == 0
    assert os.listdir(o.maildir("alice", "cur")) == []


def test_multiappend_bounds_of_one_command(owld):
    o = owld(["imap.append_max=2000", "imap.multiappend_max=2",
              "imap.multiappend_max_size=3000"])
    c = o.imap()
    c.login()
    # a third message
    c.send("a APPEND INBOX {1}\r\n")
    go_on(c)
    c.send("1 {1}\r\n")
    go_on(c)
    c.send("2 {1}\r\n")
    r = c.line()
    assert r == "a NO [LIMIT] At most 2 messages in one APPEND", r
    # 1500 + 1501 octets past the 3000 of one command
    c.send("b APPEND INBOX {1500}\r\n")
    go_on(c)
    c.send(b"m" * 1500 + b" {1501}\r\n")
    r = c.line()
    assert r.startswith("b NO [LIMIT] At most 3000 octets"), r
    assert count(c, "c") == 0
    # two within the bounds
    r = c.cmd("d", "APPEND INBOX {1+}\r\n1 {1+}\r\n2")
    assert r[-1].startswith("d OK [APPENDUID "), r
    assert count(c, "e") == 2


def test_multiappend_spools_in_one_file(server):
    """300 messages in one APPEND hold one spool descriptor, not 300: a
    connection's descriptors stay within what owld budgets for it."""
    msg = b"Subject: m\r\n"
    c = server.imap()
    c.login()
    fds = lambda: len(os.listdir("/proc/%d/fd" % server.proc.pid))
    before = fds()
    # 299 LITERAL+ messages, then one that waits for "+": by then the
    # server has read all the others
    c.send(b"a APPEND INBOX" + (b" {%d+}\r\n" % len(msg) + msg) * 299 +
           b" {%d}\r\n" % len(msg))
    go_on(c)
    during = fds()
    c.send(msg + b"\r\n")
    r = c.until("a")
    assert r[-1].startswith("a OK [APPENDUID "), r
    assert len(appenduid(r[-1])[1]) == 300
    assert during - before <= 2, (before, during)
    assert count(c, "b") == 300


def killed_save(o, send, fault):
    """Runs send(client) against o with fault (OWLPOST_FAULT: a kill -9
    at some link of the save), checks owld died, starts it again without
    the fault and returns its log from then."""
    c = o.imap()
    c.login()
    send(c)
    assert o.proc.wait(timeout=20) == -9
    c.close()
    o.proc.stderr.close()
    o.env.pop("OWLPOST_FAULT", None)
    mark = len(o.logtext())
    o.start()
    return mark


@pytest.mark.parametrize("at", [2, 4])
def test_multiappend_killed_mid_save_leaves_nothing(owld, at):
    """kill -9 while a MULTIAPPEND of five links its files into cur/
    (after 1 or 3 of them): the command was never answered, and after
    the restart none of its messages is there (a retry saves each once),
    and the next open says it rolled the save back."""
    o = owld(env={"OWLPOST_FAULT": "link:%d:KILL" % at})

    def send(c):
        c.send("A APPEND INBOX")
        for i in range(5):
            m = "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
            c.send(" %s {%d+}\r\n%s" % (DATE, len(m), m))
        c.send("\r\n")
    mark = killed_save(o, send, None)
    c = o.imap()
    c.login()
    r = c.cmd("S", "SELECT INBOX")
    assert "* 0 EXISTS" in r, r
    assert os.listdir(o.maildir("alice", "cur")) == []
    assert "event=save-rolled-back" in o.logtext()[mark:]
    # and it works again: the retry saves five
    c.send("B APPEND INBOX")
    for i in range(5):
        m = "Subject: m%d\r\n\r\nbody %d\r\n" % (i, i)
        c.send(" {%d+}\r\n%s" % (len(m), m))
    c.send("\r\n")
    r = c.until("B")
    assert r[-1].startswith("B OK [APPENDUID"), r
    assert count(c, "N") == 5


def test_copy_of_several_killed_mid_save_leaves_nothing(owld):
    """The same for a COPY of several messages into another folder."""
    o = owld()
    c = o.imap()
    c.login()
    for i in range(4):
        m = "Subject: c%d\r\n\r\nbody\r\n" % i
        c.send("A%d APPEND INBOX {%d+}\r\n%s\r\n" % (i, len(m), m))
        assert c.until("A%d" % i)[-1].startswith("A%d OK" % i)
    c.close()
    o.stop()
    o.env["OWLPOST_FAULT"] = "link:3:KILL"
    o.start()

    def send(c):
        c.send("S SELECT INBOX\r\nC COPY 1:4 Archive\r\n")
    mark = killed_save(o, send, None)
    c = o.imap()
    c.login()
    assert count(c, "N", "Archive") == 0
    assert count(c, "M", "INBOX") == 4
    assert "event=save-rolled-back" in o.logtext()[mark:]


def test_utf8_accept_folder_names(server):
    name = "R\u00e9sum\u00e9"
    c = server.imap()
    r = c.login()
    assert "UTF8=ACCEPT" in r[-1].split()
    r = c.cmd("a", "ENABLE UTF8=ACCEPT")
    assert r == ["* ENABLED UTF8=ACCEPT", "a OK ENABLE completed"], r
    c.send(('b CREATE "%s"\r\n' % name).encode())
    assert c.until("b")[-1].startswith("b OK")
    r = c.cmd("c", 'LIST "" R*')
    assert '* LIST (\\HasNoChildren) "/" "%s"' % wire(name) in r, r
    # a rev1 session without it sees modified UTF-7, and uses it
    d = server.imap()
    d.login()
    r = d.cmd("a", 'LIST "" R*')
    assert '* LIST (\\HasNoChildren) "/" "R&AOk-sum&AOk-"' in r, r
    r = d.cmd("b", "APPEND R&AOk-sum&AOk- {1+}\r\nx")
    assert r[-1].startswith("b OK [APPENDUID "), r
    # and the first session finds the message under the UTF-8 name
    c.send(('d STATUS "%s" (MESSAGES)\r\n' % name).encode())
    r = c.until("d")
    assert r[0] == '* STATUS "%s" (MESSAGES 1)' % wire(name), r
    # "&" is itself once UTF-8 is on: no such folder
    r = c.cmd("e", "SELECT R&AOk-sum&AOk-")
    assert r[-1].startswith("e NO"), r


def test_utf8_append(server):
    msg = ("From: J\u00f6rg <j\u00f6rg@example.org>\r\n"
           "Subject: gr\u00fc\u00dfe\r\n\r\nhallo\r\n").encode()
    c = server.imap()
    c.login()
    # not without ENABLE UTF8=ACCEPT
    c.send("a APPEND INBOX UTF8 (~{%d+}\r\n" % len(msg))
    c.send(msg + b")\r\n")
    r = c.until("a")
    assert r[-1].startswith("a BAD"), r
    assert c.cmd("b", "ENABLE UTF8=ACCEPT")[0] == "* ENABLED UTF8=ACCEPT"
    c.send("c APPEND INBOX (\\Seen) UTF8 (~{%d}\r\n" % len(msg))
    go_on(c)
    c.send(msg + b")\r\n")
    r = c.until("c")
    assert r[-1].startswith("c OK [APPENDUID "), r
    uid = appenduid(r[-1])[1][0]
    c.cmd("d", "SELECT INBOX")
    got = fetch_bodies(c, "e")
    assert got[uid][1] == msg
    # SEARCH with a CHARSET is BAD now (RFC 6855 3)
    r = c.cmd("f", "SEARCH CHARSET UTF-8 ALL")
    assert r[-1].startswith("f BAD"), r


@pytest.mark.parametrize("opt", ["imap.multiappend_max=0",
                                 "imap.multiappend_max=100001",
                                 "imap.multiappend_max_size=-1"])
def test_bad_config_refused(owld, opt):
    with pytest.raises(Exception):
        owld([opt])


@pytest.mark.parametrize("lines,want", [
    ("imap.append_max = 1000\n", ("1000", "10000")),
    ("imap.append_max = 1000\nimap.multiappend_max = 7\n"
     "imap.multiappend_max_size = 10\n", ("7", "1000")),
])
def test_config_defaults(tmp_path, lines, want):
    """imap.multiappend_max_size 0 (the default) is 10 x imap.append_max,
    never below imap.append_max (owlctl check prints every key)."""
    conf = tmp_path / "owld.conf"
    conf.write_text(lines)
    r = subprocess.run([OWLCTL, "-c", str(conf), "-D", str(tmp_path),
                        "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "imap.multiappend_max = %s\n" % want[0] in r.stdout
    assert "imap.multiappend_max_size = %s\n" % want[1] in r.stdout
