"""QRESYNC (RFC 7162 3.2) against the real owld and its Maildir store:
one session expunges and changes flags, another resyncs with SELECT
(QRESYNC ...) and must hear exactly what went (VANISHED (EARLIER)) and
what changed (FETCH UID FLAGS MODSEQ); a session with QRESYNC on hears
others' expunges as VANISHED at NOOP and in IDLE.  The commands' details
are unit tested in tests/unit/test_imap_qresync.c."""
import re

MSG = b"From: a@example.org\r\nSubject: %d\r\n\r\nbody %d\r\n"


def append(server, n):
    m = server.imaplib()
    for i in range(n):
        typ, _ = m.append("INBOX", None, None, MSG % (i, i))
        assert typ == "OK"
    m.logout()


def session(server):
    c = server.imap()
    c.login()
    return c


def code(lines, name):
    """The number of an untagged OK's response code, e.g. HIGHESTMODSEQ."""
    for line in lines:
        m = re.match(r"\* OK \[%s (\d+)\]" % name, line)
        if m:
            return int(m.group(1))
    raise AssertionError("no %s in %r" % (name, lines))


def select_qresync(c, tag, param):
    assert c.cmd("e" + tag, "ENABLE QRESYNC")[0] == "* ENABLED QRESYNC"
    r = c.cmd(tag, "SELECT INBOX " + param)
    assert r[-1] == tag + " OK [READ-WRITE] SELECT completed", r
    return r


def test_qresync_offered(server):
    c = session(server)
    r = c.cmd("a", "CAPABILITY")
    assert " QRESYNC" in r[0] and " CONDSTORE" in r[0]
    r = c.cmd("b", "SELECT INBOX (QRESYNC (1 1))")
    assert r[-1].startswith("b BAD"), r   # not enabled


def test_resync_after_another_session(server):
    append(server, 6)
    c = session(server)
    r = select_qresync(c, "s", "")
    uv, h0 = code(r, "UIDVALIDITY"), code(r, "HIGHESTMODSEQ")
    c.cmd("o", "LOGOUT")

    # another session: 2 and 5 expunged, 3 flagged
    b = session(server)
    b.cmd("s", "SELECT INBOX")
    assert b.cmd("a", "UID STORE 2,5 +FLAGS.SILENT (\\Deleted)")[-1] \
        .startswith("a OK")
    r = b.cmd("b", "EXPUNGE")
    assert r[:-1] == ["* 5 EXPUNGE", "* 2 EXPUNGE"], r  # no QRESYNC here
    assert b.cmd("c", "UID STORE 3 +FLAGS (\\Flagged)")[-1] \
        .startswith("c OK")
    b.cmd("o", "LOGOUT")

    c = session(server)
    r = select_qresync(c, "t", "(QRESYNC (%d %d 1:6))" % (uv, h0))
    h1 = code(r, "HIGHESTMODSEQ")
    assert h1 > h0
    vanished = [x for x in r if x.startswith("* VANISHED")]
    fetches = [x for x in r if " FETCH " in x]
    assert vanished == ["* VANISHED (EARLIER) 2,5"], r
    assert len(fetches) == 1, r
    assert re.fullmatch(r"\* 2 FETCH \(UID 3 FLAGS \(\\Flagged\) "
                        r"MODSEQ \(\d+\)\)|\* 2 FETCH \(UID 3 FLAGS "
                        r"\(\\Flagged \\Recent\) MODSEQ \(\d+\)\)",
                        fetches[0]), fetches
    assert r.index(vanished[0]) < r.index(fetches[0])
    assert "* 4 EXISTS" in r

    # resynced: from h1 nothing is said; UID FETCH's VANISHED says the same
    r = c.cmd("u", "SELECT INBOX (QRESYNC (%d %d 1:6))" % (uv, h1))
    assert r[0] == "* OK [CLOSED] Previous mailbox closed", r
    assert not [x for x in r if "VANISHED" in x or " FETCH " in x], r
    r = c.cmd("v", "UID FETCH 1:6 (FLAGS) (CHANGEDSINCE %d VANISHED)" % h0)
    assert r[0] == "* VANISHED (EARLIER) 2,5", r
    assert len(r) == 3 and "UID 3 " in r[1], r
    c.cmd("o", "LOGOUT")


def test_vanished_at_noop_and_in_idle(server):
    append(server, 5)
    c = session(server)
    select_qresync(c, "s", "")
    b = session(server)
    b.cmd("s", "SELECT INBOX")
    b.cmd("a", "UID STORE 2:3 +FLAGS.SILENT (\\Deleted)")
    b.cmd("b", "EXPUNGE")

    r = c.cmd("n", "NOOP")
    assert r == ["* VANISHED 2:3", "n OK NOOP completed"], r

    c.send("i IDLE\r\n")
    assert c.line().startswith("+ ")
    b.cmd("c", "UID STORE 5 +FLAGS.SILENT (\\Deleted)")
    b.cmd("d", "UID EXPUNGE 5")
    line = c.line()
    while line.startswith("* ") and " FETCH " in line:
        line = c.line()   # the \Deleted, said before the expunge
    assert line == "* VANISHED 5", line
    c.send("DONE\r\n")
    assert c.until("i")[-1] == "i OK IDLE terminated"

    # its own EXPUNGE: VANISHED, and the new HIGHESTMODSEQ in the OK
    c.cmd("j", "UID STORE 1 +FLAGS.SILENT (\\Deleted)")
    r = c.cmd("k", "EXPUNGE")
    assert r[0] == "* VANISHED 1", r
    assert re.fullmatch(r"k OK \[HIGHESTMODSEQ \d+\] EXPUNGE completed",
                        r[-1]), r
    assert not [x for x in r if x.endswith(" EXPUNGE")], r
    b.cmd("o", "LOGOUT")
    c.cmd("o", "LOGOUT")


# --- a real client: neomutt with its header cache and imap_qresync ----------

# Run against Dovecot too (the fixtures of test_imap_clients.py), which
# shows the test itself is right.  neomutt keeps UIDVALIDITY, MODSEQ and
# the messages in its header cache; with imap_qresync it reopens the
# folder with UID FETCH ... (CHANGEDSINCE m VANISHED) and trusts VANISHED
# (EARLIER) and the FETCH for what changed: a wrong answer shows as the
# wrong message at a place.
from test_imap_clients import (NEOMUTTRC, TIMEOUT, certs, deliver_n,  # noqa
                               home, mailbox, msgid, need, same_message,
                               server_log, srv, USER, PASSWORD)


def neomutt_cached(srv, h, tmp_path, keys):
    pexpect = __import__("pytest").importorskip("pexpect")
    rc = tmp_path / "neomuttrc"
    rc.write_text(NEOMUTTRC.format(
        folder="imap://%s:%d/" % (srv.host, srv.port), user=USER,
        password=PASSWORD, cafile=srv.cafile, force_tls="no").replace(
        'set header_cache = ""', 'set header_cache = "%s/hcache/"\n'
        "set imap_qresync = yes\nset imap_condstore = yes" % h))
    p = pexpect.spawn("neomutt", ["-n", "-F", str(rc), "-e",
                                  'push "%s"' % keys],
                      env=dict(__import__("os").environ, HOME=str(h),
                               TERM="xterm", LC_ALL="C.UTF-8"),
                      dimensions=(24, 100), timeout=TIMEOUT)
    try:
        done = p.expect([pexpect.EOF, pexpect.TIMEOUT])
    finally:
        p.close(force=True)
    assert done == 0 and p.exitstatus == 0, server_log(srv)


def test_neomutt_qresync(srv, tmp_path):
    need("neomutt")
    h = home(tmp_path, "neomutt")
    (h / "hcache").mkdir()
    sent = deliver_n(srv, 1, 5)
    ids = list(sent)
    first = tmp_path / "first"
    # 1: the cache filled (every header read), message 3 piped
    neomutt_cached(srv, h, tmp_path,
                   "<first-entry><next-entry><next-entry>"
                   "<pipe-message>cat > %s<enter><quit>" % first)
    assert same_message(first.read_bytes(), sent[ids[2]])

    # another session expunges messages 2 and 4 and flags 5
    box = mailbox(srv)
    c = srv.imap()
    assert c.select("INBOX")[0] == "OK"
    c.uid("STORE", "%d,%d" % (box[ids[1]][0], box[ids[3]][0]), "+FLAGS",
          "(\\Deleted)")
    c.expunge()
    c.uid("STORE", str(box[ids[4]][0]), "+FLAGS", "(\\Flagged)")
    c.logout()

    # 2: resynced from the cache: message 2 is the old 3, message 3 the
    # old 5, and there is no message 4 (the pipe of entry 4 does nothing)
    second, third, fourth = (tmp_path / "second", tmp_path / "third",
                             tmp_path / "fourth")
    neomutt_cached(srv, h, tmp_path,
                   "<first-entry><next-entry><pipe-message>cat > %s<enter>"
                   "<next-entry><pipe-message>cat > %s<enter>"
                   "<next-entry><pipe-message>cat > %s<enter><quit>"
                   % (second, third, fourth))
    assert same_message(second.read_bytes(), sent[ids[2]])
    assert same_message(third.read_bytes(), sent[ids[4]])
    # the cursor stayed on the last message: the old 5 again
    assert same_message(fourth.read_bytes(), sent[ids[4]])
    if srv.name == "owld":
        # NeoMutt 2022 resyncs with UID FETCH's VANISHED modifier
        log = srv.log()
        assert "C: a0003 ENABLE QRESYNC" in log, server_log(srv)
        assert re.search(r"UID FETCH 1:5 \(FLAGS\) \(CHANGEDSINCE \d+ "
                         r"VANISHED\)", log), server_log(srv)
        assert "S: * VANISHED (EARLIER) 2,4\n" in log, server_log(srv)


# --- a client's model, resynced after random changes --------------------------

class Model:
    """What a QRESYNC client keeps of a mailbox: the UIDs by message
    number, each UID's flags, and its HIGHESTMODSEQ kept as RFC 7162 6
    says (a HIGHESTMODSEQ code wins; else the highest MODSEQ seen, at each
    tagged response)."""

    def __init__(self):
        self.uids = []          # by message number
        self.flags = {}
        self.modseq = 0
        self.seen = None        # MODSEQs since the last tagged response
        self.code = None

    def line(self, line, earlier_ok=False):
        m = re.match(r"\* (\d+) EXISTS$", line)
        if m:
            self.exists = int(m.group(1))
            return
        m = re.match(r"\* VANISHED (\(EARLIER\) )?([\d:,]+)$", line)
        if m:
            assert earlier_ok or not m.group(1), line
            gone = uid_set(m.group(2))
            if not m.group(1):
                assert gone <= set(self.uids), (line, self.uids)
            self.uids = [u for u in self.uids if u not in gone]
            for u in gone:
                self.flags.pop(u, None)
            return
        assert not line.endswith(" EXPUNGE"), line
        m = re.match(r"\* (\d+) FETCH \((.*)\)$", line)
        if m:
            self.fetch(int(m.group(1)), m.group(2))
        m = re.search(r"OK \[HIGHESTMODSEQ (\d+)\]", line)
        if m:
            self.code = int(m.group(1))

    def fetch(self, n, items):
        uid = re.search(r"\bUID (\d+)", items)
        flags = re.search(r"FLAGS \(([^)]*)\)", items)
        modseq = re.search(r"MODSEQ \((\d+)\)", items)
        if uid:
            u = int(uid.group(1))
            if n == len(self.uids) + 1:
                self.uids.append(u)
            assert self.uids[n - 1] == u, (n, u, self.uids)
        else:
            u = self.uids[n - 1]
        if flags:
            self.flags[u] = set(flags.group(1).split())
        if modseq:
            self.seen = max(self.seen or 0, int(modseq.group(1)))

    def tagged(self):
        if self.code is not None:
            self.modseq = self.code
        elif self.seen is not None and self.seen > self.modseq:
            self.modseq = self.seen
        self.code = self.seen = None

    def run(self, c, tag, cmd, earlier_ok=False):
        r = c.cmd(tag, cmd)
        for line in r:
            self.line(line, earlier_ok)
        self.tagged()
        return r


def uid_set(text):
    out = set()
    for part in text.split(","):
        lo, _, hi = part.partition(":")
        out.update(range(int(lo), int(hi or lo) + 1))
    return out


def truth(server, box):
    c = session(server)
    r = c.cmd("t", "EXAMINE %s" % box)
    assert r[-1].startswith("t OK"), r
    r = c.cmd("u", "UID FETCH 1:* (FLAGS)")
    c.cmd("o", "LOGOUT")
    out = {}
    for line in r[:-1]:
        m = re.match(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)$", line)
        assert m, line
        out[int(m.group(1))] = set(m.group(2).split())
    return out


def compact(uids):
    return ",".join(str(u) for u in sorted(uids)) or None


def test_random_changes_resync_exactly(server):
    """One session (QRESYNC, IMAP4rev2) keeps a client's model through
    random FETCH, STORE, SEARCH (by number: expunges held back), UID
    FETCH and NOOP while another delivers, flags and expunges; then it
    drops and a new session resyncs from the model's HIGHESTMODSEQ and
    UIDs.  The model must then be the mailbox exactly: nothing lost,
    nothing stale (the HIGHESTMODSEQ of held-back expunges included).
    QRESYNC_SEED reruns one seed."""
    import os
    import random
    seed = int(os.environ.get("QRESYNC_SEED", random.randrange(1 << 30)))
    print("QRESYNC_SEED=%d" % seed)
    rnd = random.Random(seed)
    for run in range(24):
        box = "R%d" % run
        b = session(server)
        assert b.cmd("c", "CREATE %s" % box)[-1].startswith("c OK")
        b.cmd("s", "SELECT %s" % box)
        a, model = session(server), Model()
        model.run(a, "e", "ENABLE QRESYNC IMAP4rev2")
        r = model.run(a, "s", "SELECT %s" % box)
        uv = code(r, "UIDVALIDITY")
        model.modseq = code(r, "HIGHESTMODSEQ")
        for step in range(rnd.randint(3, 30)):
            what = rnd.random()
            if what < 0.3:
                b.send("a APPEND %s {5+}\r\nhello\r\n" % box)
                b.until("a")
            elif what < 0.5 and model.flags:
                u = rnd.choice(sorted(model.flags) + [999])
                b.cmd("f", "UID STORE %d %sFLAGS (\\Flagged)"
                      % (u, rnd.choice("+-")))
            elif what < 0.65 and model.flags:
                u = rnd.choice(sorted(model.flags))
                b.cmd("d", "UID STORE %d +FLAGS.SILENT (\\Deleted)" % u)
                b.cmd("x", "UID EXPUNGE %d" % u)
            n = len(model.uids)
            cmds = ["NOOP", "UID FETCH 1:* (FLAGS)", "SEARCH ALL"]
            if n:       # by number, twice as often: expunges held back
                k = rnd.randint(1, n)
                cmds += 2 * ["FETCH 1:* (FLAGS)",
                             "FETCH %d (FLAGS MODSEQ)" % k,
                             "STORE %d %sFLAGS (\\Seen)" % (
                                 k, rnd.choice("+-"))]
            model.exists = None
            model.run(a, "c%d" % step, rnd.choice(cmds))
            if model.exists is not None and model.exists > len(model.uids):
                top = max(model.uids, default=0)
                model.run(a, "n%d" % step, "UID FETCH %d:* (FLAGS)" % (top + 1))
        a.close()       # dropped, as a client on a train
        b.cmd("o", "LOGOUT")

        c = session(server)
        c.cmd("e", "ENABLE QRESYNC IMAP4rev2")
        known = compact(model.flags)
        param = "(QRESYNC (%d %d%s))" % (uv, model.modseq,
                                         " " + known if known else "")
        r = c.cmd("s", "SELECT %s %s" % (box, param))
        assert r[-1].startswith("s OK"), r
        model.uids = sorted(model.flags)
        for line in r:
            if line.startswith("* VANISHED") or " FETCH " in line:
                if " FETCH " in line:
                    u = int(re.search(r"UID (\d+)", line).group(1))
                    model.uids = sorted(set(model.uids) | {u})
                model.line(line, earlier_ok=True)
        top = max(model.flags, default=0)
        r = c.cmd("n", "UID FETCH %d:* (FLAGS)" % (top + 1))
        for line in r[:-1]:
            m = re.match(r"\* \d+ FETCH \(UID (\d+) FLAGS \(([^)]*)\)\)$",
                         line)
            if m and int(m.group(1)) > top:
                model.flags[int(m.group(1))] = set(m.group(2).split())
        c.cmd("o", "LOGOUT")
        assert model.flags == truth(server, box), "seed %d run %d" % (seed,
                                                                     run)
