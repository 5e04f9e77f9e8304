"""The mailbox model (issue 17): the maildrop lock across owld processes
sharing one mail tree (as hosts share it on GlusterFS or NFS), and the
per-folder UID index (docs/MAILDIR.md, "The mailbox model")."""
import os
import re
import shutil
import signal
import threading

import pytest

ALICE = ("mail", "localhost", "alice")
INDEX = ".owlpost-uidlist"


def two_hosts(owld):
    """Two owld processes, two data dirs, one mail tree (data0/mail)."""
    a = owld()
    b = owld(start=False)
    mail = os.path.join(b.datadir, "mail")
    if os.path.lexists(mail):
        shutil.rmtree(mail)
    os.symlink(os.path.join(a.datadir, "mail"), mail)
    return a, b.start()


def index_of(o):
    """(UIDVALIDITY, {base name: UID}) of alice's index file."""
    with open(os.path.join(o.datadir, *ALICE, INDEX)) as f:
        lines = f.read().splitlines()
    v = int(re.match(r"owlpost-uidlist 1 V(\d+) N\d+ M\d+ R\d+( C\S+)?"
                     r"( W\S+)?$",
                     lines[0]).group(1))
    uids = {}
    for line in lines[1:]:
        uid, _, rest = line.partition(" ")
        uids[rest.split(" :", 1)[1]] = int(uid)
    return v, uids


def fetch_all(o, got, lost):
    """One POP3 session on o: every message retrieved, deleted, QUIT; or
    the login refused with [IN-USE] (counted in lost)."""
    c = o.pop3()
    assert c.status().startswith("+OK")
    assert c.cmd("USER alice@localhost").startswith("+OK")
    r = c.cmd("PASS pw-alice")
    if r.startswith("-ERR [IN-USE] "):
        lost.append(r)
        c.close()
        return
    assert r.startswith("+OK"), r
    n = int(c.cmd("STAT").split()[1])
    for i in range(1, n + 1):
        assert c.cmd("RETR %d" % i).startswith("+OK")
        subj = [l for l in c.multi() if l.startswith(b"Subject: ")]
        got.append(subj[0][9:].decode())
        assert c.cmd("DELE %d" % i).startswith("+OK")
    assert c.cmd("QUIT").startswith("+OK")
    c.close()


def test_two_hosts_second_login_is_in_use(owld):
    a, b = two_hosts(owld)
    for i in range(3):
        (a if i % 2 else b).send(["alice@localhost"],
                                 b"Subject: m%d\r\n\r\nbody\r\n" % i)
    c = a.pop3()
    c.login()
    assert c.cmd("STAT").startswith("+OK 3 ")
    # the other host: the lock inside the Maildir says no
    d = b.pop3()
    assert d.status().startswith("+OK")
    assert d.cmd("USER alice@localhost").startswith("+OK")
    assert d.cmd("PASS pw-alice").startswith("-ERR [IN-USE] ")
    b.wait_log(r"event=login-refused user=alice@localhost reason=in-use")
    for i in (1, 2, 3):
        assert c.cmd("DELE %d" % i).startswith("+OK")
    assert c.cmd("QUIT").startswith("+OK")
    assert c.closed()
    # let go at QUIT: the other host gets it, and nothing is left
    assert d.cmd("USER alice@localhost").startswith("+OK")
    assert d.cmd("PASS pw-alice").startswith("+OK")
    assert d.cmd("STAT").startswith("+OK 0 ")
    assert d.cmd("QUIT").startswith("+OK")


def test_two_hosts_each_message_retrieved_once(owld):
    a, b = two_hosts(owld)
    sent, got, lost = [], [], []
    for rnd in range(8):
        for i in range(4):
            s = "r%d-m%d" % (rnd, i)
            (a if i % 2 else b).send(["alice@localhost"],
                                     b"Subject: " + s.encode() +
                                     b"\r\n\r\nbody\r\n")
            sent.append(s)
        ts = [threading.Thread(target=fetch_all, args=(o, got, lost))
              for o in (a, b)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(60)
    fetch_all(a, got, lost)  # whatever a refused login left
    assert sorted(got) == sorted(sent), "lost or retrieved twice"
    assert len(got) == len(set(got))
    for r in lost:
        assert r.startswith("-ERR [IN-USE] ")


def test_index_keeps_uids_and_uidl_is_the_base_name(owld):
    a = owld()
    for i in range(3):
        a.send(["alice@localhost"], b"Subject: m%d\r\n\r\nbody\r\n" % i)
    c = a.pop3()
    c.login()
    c.send("UIDL\r\n")
    assert c.status().startswith("+OK")
    uidls = [l.split()[1].decode() for l in c.multi()]
    assert c.cmd("DELE 1").startswith("+OK")
    assert c.cmd("QUIT").startswith("+OK")
    v, uids = index_of(a)
    # UIDL is the base name up to ",S=": the index numbers those in
    # delivery order
    byuidl = {k.split(",")[0]: u for k, u in uids.items()}
    assert sorted(byuidl, key=byuidl.get) == uidls
    assert [byuidl[u] for u in uidls] == [1, 2, 3]
    a.send(["alice@localhost"], b"Subject: m3\r\n\r\nbody\r\n")
    a.poplib().quit()
    v2, uids2 = index_of(a)
    assert v2 == v
    assert sorted(uids2.values()) == [2, 3, 4]  # 1 is never given again


@pytest.mark.parametrize("fault", [
    "index.rename:1:KILL",  # I1: .tmp written, not renamed
    "index.fsync:2:KILL",   # I2: renamed, directory not synced
])
def test_kill_during_index_write(owld, fault):
    a = owld()
    for i in range(2):
        a.send(["alice@localhost"], b"Subject: m%d\r\n\r\nbody\r\n" % i)
    a.poplib().quit()
    v, uids = index_of(a)
    a.send(["alice@localhost"], b"Subject: m2\r\n\r\nbody\r\n")
    a.stop()
    a.env["OWLPOST_FAULT"] = fault
    a.start()
    c = a.pop3()
    assert c.status().startswith("+OK")
    assert c.cmd("USER alice@localhost").startswith("+OK")
    c.send("PASS pw-alice\r\n")
    assert c.closed(timeout=10)
    assert a.proc.wait(10) == -signal.SIGKILL, "the fault did not fire"
    a.proc.stderr.close()
    a.env.pop("OWLPOST_FAULT")
    a.start()
    a.poplib().quit()
    v2, uids2 = index_of(a)
    # the same UIDVALIDITY, the old UIDs kept, the new message the next
    assert v2 == v
    assert all(uids2[k] == uids[k] for k in uids)
    assert sorted(uids2.values()) == [1, 2, 3]
    assert not os.path.exists(os.path.join(a.datadir, *ALICE,
                                           INDEX + ".tmp"))


@pytest.mark.parametrize("fault", [
    "index.write:1:KILL",  # A1: the log transaction not written
    "index.fsync:1:KILL",  # A1: written, not synced
])
def test_kill_during_append_numbering(owld, fault):
    """An IMAP APPEND is numbered through the index log (docs/MAILDIR.md
    A0-A2): a crash before its commit is durable keeps the message
    (saved before), gives it a UID at the next scan, and keeps every UID
    given before."""
    a = owld()
    m = a.imaplib()
    m.select("INBOX")
    typ, data = m.append("INBOX", None, None, b"Subject: a\r\n\r\nA\r\n")
    assert typ == "OK" and b"APPENDUID" in data[0], data
    v = int(data[0].split()[1])
    m.logout()
    a.stop()
    a.env["OWLPOST_FAULT"] = fault
    a.start()
    m = a.imaplib()
    with pytest.raises(Exception):
        m.append("INBOX", None, None, b"Subject: b\r\n\r\nB\r\n")
    assert a.proc.wait(10) == -signal.SIGKILL, "the fault did not fire"
    a.proc.stderr.close()
    a.env.pop("OWLPOST_FAULT")
    a.start()
    m = a.imaplib()
    typ, data = m.select("INBOX")
    assert data == [b"2"]
    typ, data = m.response("UIDVALIDITY")
    assert int(data[0]) == v
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
    got = {int(re.search(rb"UID (\d+)", d[0]).group(1)): d[1]
           for d in data if isinstance(d, tuple)}
    assert got[1] == b"Subject: a\r\n\r\nA\r\n"
    assert got[2] == b"Subject: b\r\n\r\nB\r\n"
    typ, data = m.append("INBOX", None, None, b"Subject: c\r\n\r\nC\r\n")
    assert int(data[0].split()[2].rstrip(b"]")) == 3
    m.logout()


def test_uidl_survives_a_lost_or_corrupt_index(owld):
    """Clients that leave mail on the server must not download it again:
    the UIDLs do not depend on the index, which may be rebuilt."""
    a = owld()
    for i in range(3):
        a.send(["alice@localhost"], b"Subject: m%d\r\n\r\nbody\r\n" % i)

    def uidl():
        p = a.poplib()
        out = [l.split()[1] for l in p.uidl()[1]]
        p.quit()
        return out

    before = uidl()
    assert len(before) == 3
    path = os.path.join(a.datadir, *ALICE, INDEX)
    v, _ = index_of(a)
    with open(path, "w") as f:
        f.write("owlpost-uidlist 1 V%d N2 M1\ngarbage\n" % v)
    assert uidl() == before
    a.wait_log(r"event=index-rebuilt .*reason=")
    v2, _ = index_of(a)
    assert v2 > v
    os.unlink(path)
    assert uidl() == before
    assert index_of(a)[0] > v2
