"""Several IMAP sessions on one folder at once, with deliveries beside
them, each keeping its own model of the mailbox from what the server says
(EXISTS, EXPUNGE, FETCH, VANISHED-free RFC 9051 7.5.1 bookkeeping) and
checking it at every step, the way an IMAP stress tester does: sequence
numbers and UIDs must stay consistent, UIDs ascend and are never reused,
a message's text never changes, \\Recent goes to one session only, and at
the end every session agrees with every other on the UIDs and flags of
the folder.  Bounded in time; the seed is printed for a rerun."""
import os
import random
import re
import socket
import threading
import time

from conftest import ImapClient

SESSIONS = 6
ROUNDS = 400
FLAGS = ["\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Label1"]

FETCH_RE = re.compile(r"^\* (\d+) FETCH \((.*)\)$")
LIT_RE = re.compile(r"\{(\d+)\}$")


class Model:
    """What one session knows: UIDs by position, flags by UID."""

    def __init__(self, name):
        self.name = name
        self.uids = []          # position - 1 -> UID (0: not known yet)
        self.flags = {}
        self.recent = set()
        self.texts = {}

    def exists(self, n):
        assert n >= len(self.uids), "%s: EXISTS %d < %d" % (
            self.name, n, len(self.uids))
        self.uids += [0] * (n - len(self.uids))

    def expunge(self, seq):
        assert 1 <= seq <= len(self.uids), "%s: EXPUNGE %d of %d" % (
            self.name, seq, len(self.uids))
        uid = self.uids.pop(seq - 1)
        self.flags.pop(uid, None)

    def fetch(self, seq, items):
        assert 1 <= seq <= len(self.uids), "%s: FETCH %d of %d" % (
            self.name, seq, len(self.uids))
        m = re.search(r"UID (\d+)", items)
        if m:
            uid = int(m.group(1))
            known = self.uids[seq - 1]
            assert known in (0, uid), "%s: seq %d was UID %d, now %d" % (
                self.name, seq, known, uid)
            self.uids[seq - 1] = uid
            others = [u for u in self.uids if u]
            assert others == sorted(others) and len(set(others)) == len(
                others), "%s: UIDs out of order %r" % (self.name, others)
        m = re.search(r"FLAGS \(([^)]*)\)", items)
        if m and self.uids[seq - 1]:
            fl = set(m.group(1).split())
            if "\\Recent" in fl:
                self.recent.add(self.uids[seq - 1])
            self.flags[self.uids[seq - 1]] = fl - {"\\Recent"}


class Session:
    def __init__(self, o, name, rnd):
        self.c = o.imap()
        self.c.login()
        self.m = Model(name)
        self.rnd = rnd
        self.tag = 0

    def cmd(self, text):
        self.tag += 1
        tag = "t%d" % self.tag
        self.c.send("%s %s\r\n" % (tag, text))
        while True:
            line = self.c.line()
            lit = LIT_RE.search(line)
            if lit:
                n = int(lit.group(1))
                while len(self.c.buf) < n:
                    self.c.buf += self.c.sock.recv(65536)
                body, self.c.buf = self.c.buf[:n], self.c.buf[n:]
                rest = self.c.line()
                line = line + "<%d>" % len(body) + rest
                um = re.search(r"UID (\d+)", line)
                if um:
                    uid = int(um.group(1))
                    old = self.m.texts.setdefault(uid, body)
                    assert old == body, "%s: UID %d text changed" % (
                        self.m.name, uid)
            if line.startswith(tag + " "):
                return line
            self.untagged(line)

    def untagged(self, line):
        if line.endswith(" EXISTS"):
            self.m.exists(int(line.split()[1]))
        elif line.endswith(" EXPUNGE"):
            self.m.expunge(int(line.split()[1]))
        else:
            f = FETCH_RE.match(line)
            if f:
                self.m.fetch(int(f.group(1)), f.group(2))

    def step(self):
        n = len(self.m.uids)
        r = self.rnd.random()
        if n == 0 or r < 0.2:
            t = self.cmd("NOOP")
        elif r < 0.45:
            lo = self.rnd.randint(1, n)
            t = self.cmd("FETCH %d:%d (UID FLAGS)" % (
                lo, self.rnd.randint(lo, n)))
        elif r < 0.5:
            t = self.cmd("UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
        elif r < 0.8:
            seq = self.rnd.randint(1, n)
            t = self.cmd("STORE %d %sFLAGS (%s)" % (
                seq, self.rnd.choice("+-"), self.rnd.choice(FLAGS)))
        elif r < 0.85:
            seq = self.rnd.randint(1, n)
            self.cmd("STORE %d +FLAGS.SILENT (\\Deleted)" % seq)
            t = self.cmd("EXPUNGE")
        else:
            t = self.cmd("SEARCH UNSEEN")
        assert t.split()[1] in ("OK", "NO"), t
        if t.split()[1] == "NO":
            assert "EXPUNGEISSUED" in t, t


def deliverer(o, stop, count):
    while not stop.is_set():
        o.send(["alice@localhost"], b"Subject: s%d\r\n\r\nbody %d\r\n" % (
            count[0], count[0]))
        count[0] += 1
        time.sleep(0.01)


def test_sessions_agree(owld):
    o = owld(["imap.max_sessions_per_user=0"])
    seed = int(os.environ.get("STRESS_SEED", random.randrange(1 << 30)))
    print("seed", seed)
    for i in range(60):
        o.send(["alice@localhost"], b"Subject: first %d\r\n\r\nx\r\n" % i)
    sessions = [Session(o, "s%d" % i, random.Random(seed + i))
                for i in range(SESSIONS)]
    for s in sessions:
        t = s.cmd("SELECT INBOX")
        assert " OK " in t, t
    stop, count = threading.Event(), [0]
    d = threading.Thread(target=deliverer, args=(o, stop, count))
    d.start()
    errors = []

    def run(s):
        try:
            for _ in range(ROUNDS):
                s.step()
        except Exception as e:  # reported after the join
            errors.append("%s: %r" % (s.m.name, e))

    threads = [threading.Thread(target=run, args=(s,)) for s in sessions]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    stop.set()
    d.join()
    assert not errors, "seed %d: %s" % (seed, errors)
    # every session learns the same final state
    finals = []
    for s in sessions:
        s.cmd("NOOP")   # what was delivered last
        s.cmd("UID FETCH 1:* (UID FLAGS)")
        assert 0 not in s.m.uids, "seed %d: %s" % (seed, s.m.name)
        finals.append([(u, sorted(s.m.flags.get(u, ()))) for u in s.m.uids])
    for f in finals[1:]:
        assert f == finals[0], "seed %d: sessions disagree" % seed
    # \Recent went to one session at most for each UID
    seen = {}
    for s in sessions:
        for u in s.m.recent:
            assert u not in seen, "seed %d: UID %d recent in %s and %s" % (
                seed, u, seen[u], s.m.name)
            seen[u] = s.m.name
    assert count[0] > 0
    print("delivered", count[0], "final", len(finals[0]), "recent",
          len(seen))
