"""The IMAP mode of make torture (tests/torture/torture.py): clients,
what they were told, and the promises checked after each restart.

Clients (one thread each, raw sockets, LITERAL+) work on three shared
folders, each only on the messages it appended itself (their tokens are
unique), so that what one client was told is the whole truth about its
messages: APPEND, MULTIAPPEND, UID COPY, UID MOVE, UID STORE +FLAGS and
-FLAGS, and UID STORE \\Deleted then UID EXPUNGE.  Only a tagged OK
changes a client's model; the command on the wire when owld was killed
(or a NO) is kept as "cut", whose outcome may go either way as far as
docs/MAILDIR.md and the RFCs allow.  After the restart a fresh session
EXAMINEs each folder and fetches every message (UID, FLAGS, BODY.PEEK[]),
the folders' files are read, and judge() compares the lot with the
models; what it saw becomes the model of the next trial.
"""
import collections
import os
import random
import re
import socket
import threading

FOLDERS = ("T1", "T2", "T3")
FLAGS = ("\\Seen", "\\Flagged", "\\Answered", "\\Draft", "$Tk")
BIG = 200 * 1024
MANY = 150  # messages a client keeps, about
OPS = (("append", 30), ("multiappend", 10), ("copy", 12), ("move", 15),
       ("store", 20), ("expunge", 10))


class Cut(Exception):
    """The connection ended (owld killed) in the middle of a command."""


POOL = bytes(random.Random(7).choice(b" abcXYZ\xe9\x80\t=.")
             for _ in range(1 << 16))


def text(token, size):
    """A message whose Subject is token: CRLF lines only (a bare CR or LF
    is not kept by Maildir), 8-bit octets in the body (a header field
    needs UTF8=ACCEPT for them), long lines, a 'From ' line and a lone
    dot; sometimes no CRLF at its end."""
    head = ("Subject: %s\r\nMessage-ID: <%s@torture>\r\n\r\n"
            "caf\xe9 \xff\x01\r\nFrom here on\r\n.\r\n"
            % (token, token)).encode("latin-1")
    body = []
    while size > 0:
        n = random.choice((0, 1, 76, 200, 998))
        at = random.randrange(0, len(POOL) - n)
        body.append(POOL[at:at + n] + b"\r\n")
        size -= n + 2
    end = ("END %s" % token).encode()
    return head + b"".join(body) + end + (b"" if random.random() < 0.1
                                          else b"\r\n")


def token_of(data):
    m = re.search(rb"^Subject: (\S+)\r?$", data.split(b"\n\n")[0]
                  .split(b"\r\n\r\n")[0], re.M)
    return m.group(1).decode() if m else None


def uid_set(text_):
    """The UIDs of a uid-set such as 4:6,9 in its order."""
    out = []
    for part in text_.split(","):
        a, _, b = part.partition(":")
        lo, hi = int(a), int(b or a)
        out += list(range(lo, hi + 1)) if lo <= hi else \
            list(range(lo, hi - 1, -1))
    return out


def flag_list(flags):
    return "(%s)" % " ".join(sorted(flags))


# --- the wire ----------------------------------------------------------------

class Wire:
    """One IMAP connection: commands in, responses (literals apart) out."""

    def __init__(self, port, timeout=20):
        self.sock = socket.create_connection(("127.0.0.1", port),
                                             timeout=timeout)
        self.f = self.sock.makefile("rb")
        self.n = 0
        self.response_line()  # the greeting
        r = self.command('LOGIN alice@localhost "pw-alice"')
        if not r[-1][0].split()[1:2] == [b"OK"]:
            raise Cut("login: %r" % r[-1][0])

    def response_line(self):
        """(the line without its literals, [literals])"""
        parts, lits = [], []
        while True:
            line = self.f.readline()
            if not line.endswith(b"\r\n"):
                raise Cut("connection ended")
            parts.append(line[:-2])
            m = re.search(rb"\{(\d+)\}$", line[:-2])
            if not m:
                return b"".join(parts), lits
            lit = self.f.read(int(m.group(1)))
            if len(lit) < int(m.group(1)):
                raise Cut("connection ended in a literal")
            lits.append(lit)

    def command(self, head, literals=()):
        """Sends 'TAG head' (literals: (text before, octets) pairs sent
        as LITERAL+ after it) and returns every response line up to the
        tagged one."""
        self.n += 1
        tag = b"c%d" % self.n
        out = tag + b" " + head.encode()
        for before, data in literals:
            out += before.encode() + b" {%d+}\r\n" % len(data) + data
        try:
            self.sock.sendall(out + b"\r\n")
            lines = []
            while True:
                lines.append(self.response_line())
                if lines[-1][0].startswith(tag + b" "):
                    return lines
        except OSError as e:
            raise Cut(str(e))

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def ok(lines):
    return lines[-1][0].split(b" ", 2)[1:2] == [b"OK"]


def code(lines, name):
    """The arguments of [name ...] in any response line, or None."""
    for line, _ in lines:
        m = re.search(rb"\[" + name.encode() + rb" ([^\]]*)\]", line)
        if m:
            return m.group(1).decode().split()
    return None


# --- a client ----------------------------------------------------------------

class Client:
    """One session doing random commands on its own messages until stop;
    own[folder][token] = (uid, flags, the command that said so) as
    the tagged OKs told it."""

    def __init__(self, port, name, own, texts, lock):
        self.port, self.name, self.own = port, name, own
        self.texts, self.lock = texts, lock
        self.seq = 0
        self.cut = None  # the command owld did not answer
        self.no = None  # the NO that stopped this client
        self.acked = collections.Counter()
        self.sent = collections.Counter()
        self.bound = []  # (folder, uid, token) the server said
        self.validity = []  # (folder, uidvalidity) the server said
        self.gone = {}  # (folder, token): the command that removed it
        self.selected = None
        self.wire = None

    def run(self, stop):
        try:
            self.wire = Wire(self.port)
            while not stop.is_set():
                self.one()
        except (Cut, OSError, ValueError):
            pass  # killed under us
        finally:
            if self.wire:
                self.wire.close()

    def mine(self, folder):
        return list(self.own[folder])

    def one(self):
        """One random command; past MANY messages fewer appends and more
        expunges, so that the folders (and the checks) stay small."""
        many = sum(len(self.own[f]) for f in FOLDERS) > MANY
        ops = [(o, w // 6 if many and o.endswith("append") else
                w * 3 if many and o == "expunge" else w)
               for o, w in OPS if o.endswith("append") or
               any(self.own[f] for f in FOLDERS)]
        op = random.choices([o[0] for o in ops], [o[1] for o in ops])[0]
        getattr(self, "op_" + op)()

    def new_token(self):
        self.seq += 1
        token = "%sn%d" % (self.name, self.seq)
        size = BIG if random.random() < 0.01 else random.randrange(0, 3000)
        data = text(token, size)
        with self.lock:
            self.texts[token] = data
        return token

    def send(self, kind, cut, head, literals=()):
        """A command, cut until done() (a tagged OK said what it did)."""
        self.cut = dict(cut, kind=kind)
        self.sent[kind] += 1
        lines = self.wire.command(head, literals)
        if not ok(lines):
            self.refused(lines)
        return lines

    def done(self, kind, msgs=0):
        self.cut = None
        self.acked[kind] += 1
        self.acked[kind + "-msgs"] += msgs

    def refused(self, lines):
        """A NO (or an OK without its UIDs): kept as cut, which judges it
        no stricter than a command the kill cut; this client stops."""
        self.no = lines[-1][0].decode("latin-1")
        raise Cut(self.no)

    def select(self, folder):
        if self.selected == folder:
            return
        self.selected = None
        lines = self.wire.command("SELECT %s" % folder)
        if not ok(lines):
            raise Cut("SELECT %s" % folder)
        v = code(lines, "UIDVALIDITY")
        self.validity.append((folder, int(v[0])))
        self.selected = folder

    def op_append(self, n=1):
        folder = random.choice(FOLDERS)
        toks = [self.new_token() for _ in range(n)]
        flags = {t: frozenset(random.sample(FLAGS, random.randrange(0, 3)))
                 for t in toks}
        lits = [(" " + flag_list(flags[t]), self.texts[t]) for t in toks]
        lits[0] = (flag_list(flags[toks[0]]), lits[0][1])
        kind = "append" if n == 1 else "multiappend"
        lines = self.send(kind, {"f": folder, "toks": toks, "flags": flags},
                          "APPEND %s " % folder, lits)
        said = code(lines, "APPENDUID")
        if not said or len(uid_set(said[1])) != n:
            self.refused(lines)
        self.done(kind, n)
        self.validity.append((folder, int(said[0])))
        for t, uid in zip(toks, uid_set(said[1])):
            self.own[folder][t] = (uid, flags[t], kind)
            self.bound.append((folder, uid, t))

    def op_multiappend(self):
        self.op_append(random.randrange(2, 5))

    def pick(self, folder, most=3):
        toks = self.mine(folder)
        n = min(len(toks), random.randrange(1, most + 1))
        return random.sample(toks, n)

    def op_copy(self, move=False):
        src = random.choice([f for f in FOLDERS if self.own[f]])
        dst = random.choice([f for f in FOLDERS if f != src])
        toks = [t for t in self.pick(src) if t not in self.own[dst]]
        if not toks:
            return
        self.select(src)
        toks.sort(key=lambda t: self.own[src][t][0])
        uids = [self.own[src][t][0] for t in toks]
        kind = "move" if move else "copy"
        self.cut = {"kind": kind, "src": src, "dst": dst, "toks": toks,
                    "said": {}}
        self.sent[kind] += 1
        lines = self.wire.command("UID %s %s %s" % (
            kind.upper(), ",".join(map(str, uids)), dst))
        said = self.copyuid(lines, src, dst, toks)
        if not ok(lines) or len(said) != len(toks):
            self.refused(lines)
        self.done(kind, len(toks))
        for t in toks:
            self.own[dst][t] = (said[t], self.own[src][t][1], kind)
            if move:
                del self.own[src][t]
                self.gone[(src, t)] = "move"

    def copyuid(self, lines, src, dst, toks):
        """{token: its UID in dst} as COPYUID said it (MOVE says it
        before its tag, so a cut MOVE may have said it: kept in cut)."""
        c = code(lines, "COPYUID")
        if not c:
            return {}
        self.validity.append((dst, int(c[0])))
        pairs = dict(zip(uid_set(c[1]), uid_set(c[2])))
        if sorted(pairs) != sorted(self.own[src][t][0] for t in toks):
            self.acked["copyuid-wrong"] += 1  # names UIDs not asked for
        said = {t: pairs[self.own[src][t][0]] for t in toks
                if self.own[src][t][0] in pairs}
        for t, uid in said.items():
            self.bound.append((dst, uid, t))
        self.cut["said"] = said
        return said

    def op_move(self):
        self.op_copy(move=True)

    def op_store(self, flags=None):
        folder = random.choice([f for f in FOLDERS if self.own[f]])
        toks = self.pick(folder)
        self.select(folder)
        add = flags is not None or random.random() < 0.6
        flags = flags or set(random.sample(FLAGS, random.randrange(1, 3)))
        new = {t: frozenset(self.own[folder][t][1] | flags if add
                            else self.own[folder][t][1] - flags)
               for t in toks}
        uids = ",".join(str(self.own[folder][t][0]) for t in toks)
        self.send("store", {"f": folder, "toks": toks, "new": new},
                  "UID STORE %s %sFLAGS.SILENT %s" % (
                      uids, "+" if add else "-", flag_list(flags)))
        self.done("store", len(toks))
        for t in toks:
            self.own[folder][t] = (self.own[folder][t][0], new[t], "store")
        return folder, toks

    def op_expunge(self):
        folder, toks = self.op_store({"\\Deleted"})
        uids = ",".join(str(self.own[folder][t][0]) for t in toks)
        self.send("expunge", {"f": folder, "toks": toks},
                  "UID EXPUNGE %s" % uids)
        self.done("expunge", len(toks))
        for t in toks:
            del self.own[folder][t]
            self.gone[(folder, t)] = "expunge"


# --- what is there after the restart -----------------------------------------

def snapshot(port):
    """{folder: (uidvalidity, [(uid, flags, body)])} as a new session
    sees it (EXAMINE: nothing claimed, nothing changed)."""
    w = Wire(port, timeout=60)
    out = {}
    for f in FOLDERS:
        lines = w.command("EXAMINE %s" % f)
        assert ok(lines), lines[-1]
        validity = int(code(lines, "UIDVALIDITY")[0])
        lines = w.command("UID FETCH 1:* (UID FLAGS BODY.PEEK[])")
        assert ok(lines), lines[-1]
        msgs = []
        for line, lits in lines[:-1]:
            if not re.match(rb"\* \d+ FETCH \(", line):
                continue
            uid = int(re.search(rb"UID (\d+)", line).group(1))
            fl = re.search(rb"FLAGS \(([^)]*)\)", line).group(1).decode()
            flags = frozenset(x for x in fl.split() if x != "\\Recent")
            msgs.append((uid, flags, lits[0] if lits else b""))
        out[f] = (validity, msgs)
    w.command("LOGOUT")
    w.close()
    return out


def folder_files(maildir, folder):
    """(the messages' files in new/ and cur/: [(name, octets)], the
    number of files in tmp/)."""
    d = os.path.join(maildir, "." + folder)
    files = []
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        for name in sorted(os.listdir(p)) if os.path.isdir(p) else ():
            with open(os.path.join(p, name), "rb") as fh:
                files.append((name, fh.read()))
    tmp = os.path.join(d, "tmp")
    return files, len(os.listdir(tmp)) if os.path.isdir(tmp) else 0


# --- the promises ------------------------------------------------------------

class Counts(collections.Counter):
    """The figures; a fault that stays (a duplicate, a damaged file) is
    counted once, not at every check after."""

    def __init__(self):
        super().__init__()
        self.keys = set()

    def once(self, name, key, n=1):
        if (name, key) not in self.keys:
            self.keys.add((name, key))
            self[name] += n


def check_kept(got, uid, flags_ok, origin, P):
    """A message the model says is in a folder: there once, its UID the
    one said, its flags one of flags_ok."""
    if not got:
        P["lost." + origin] += 1
        return
    if len(got) > 1:
        P.once("duplicated." + origin, (token_of(got[0][2]),) +
               tuple(g[0] for g in got), len(got) - 1)
    if uid is not None and got[0][0] != uid:
        P["uid.changed"] += 1
    if got[0][1] not in flags_ok:
        P["flags.wrong." + origin] += 1


def judge_saved(c, exp, seen, P):
    """A cut APPEND or MULTIAPPEND: all of its messages or none, each
    with the flags it was sent with; a cut COPY the same in its target."""
    f = c.get("dst") or c["f"]
    there = [t for t in c["toks"] if seen[f].get(t)]
    kind = c["kind"]
    P["%s.cut.%s" % (kind, "saved" if there else "none")] += 1
    if there and len(there) < len(c["toks"]):
        P["%s.cut.partial" % kind] += 1
    for t in there:
        flags = c["flags"][t] if "flags" in c else exp[c["src"]][t][1]
        saved_flags(seen[f][t], flags, kind, P)


def saved_flags(got, flags, kind, P):
    """A message a cut save left: once, with its flags, or without its
    keywords (counted apart)."""
    check_kept(got, None, (flags, system_only(flags)), kind + "-cut", P)
    if got[0][1] != flags and got[0][1] == system_only(flags):
        P[kind + ".cut.no-keywords"] += 1


def judge_move(c, exp, seen, P):
    """A cut MOVE: each message in the source or the target, never in
    neither; in both when the kill fell between the copy's commit and the
    expunge's (counted); in the target if COPYUID was said; the copy and
    the expunge each all or none."""
    src, dst = c["src"], c["dst"]
    where = []
    for t in c["toks"]:
        a, b = bool(seen[src].get(t)), bool(seen[dst].get(t))
        where.append((a, b))
        P["move.cut." + {(True, False): "source", (False, True): "target",
                         (True, True): "both", (False, False): "lost"}[
                             (a, b)]] += 1
        if t in c["said"] and not b:
            P["move.cut.said-lost"] += 1
        if b and t in c["said"]:
            check_kept(seen[dst][t], c["said"][t], (exp[src][t][1],),
                       "move-cut", P)
        elif b:
            saved_flags(seen[dst][t], exp[src][t][1], "move", P)
        if a:
            check_kept(seen[src][t], exp[src][t][0], (exp[src][t][1],),
                       "move-cut", P)
    for side in (0, 1):
        if len({w[side] for w in where}) > 1:
            P["move.cut.partial"] += 1


def system_only(flags):
    """The flags of a save cut after its file was linked and before its
    index log transaction: those in the file's name, no keywords
    (docs/MAILDIR.md, state A0)."""
    return frozenset(f for f in flags if f.startswith("\\"))


def half_stored(old, new):
    """A cut STORE's flags where its files were renamed but the index
    not written: the system flags (in the names) new, the keywords (in
    the index only) old (docs/MAILDIR.md, "store flags")."""
    return frozenset({f for f in new if f.startswith("\\")} |
                     {f for f in old if not f.startswith("\\")})


def judge_store(c, exp, seen, P):
    """A cut STORE: each message with its old flags, its new ones or
    half_stored (counted apart); the messages of one STORE may differ."""
    f = c["f"]
    states = set()
    for t in c["toks"]:
        old, new = exp[f][t][1], c["new"][t]
        half = half_stored(old, new)
        got = seen[f].get(t)
        check_kept(got, exp[f][t][0], (old, new, half), "store-cut", P)
        if got and got[0][1] in (old, new, half):
            state = "new" if got[0][1] == new else "old" \
                if got[0][1] == old else "half"
            states.add(state)
            P["store.cut." + state] += 1
    P["store.cut.mixed"] += len(states) > 1


def judge_cut(c, exp, seen, P):
    kind = c["kind"]
    if kind in ("append", "multiappend", "copy"):
        judge_saved(c, exp, seen, P)
    if kind == "copy":
        for t in c["toks"]:
            check_kept(seen[c["src"]].get(t), exp[c["src"]][t][0],
                       (exp[c["src"]][t][1],), "copy-source", P)
    if kind == "move":
        judge_move(c, exp, seen, P)
    if kind == "store":
        judge_store(c, exp, seen, P)
    if kind == "expunge":
        there = [t for t in c["toks"] if seen[c["f"]].get(t)]
        P["expunge.cut." + ("kept" if there else "gone")] += 1
        if there and len(there) < len(c["toks"]):
            P["expunge.cut.partial"] += 1
        for t in there:
            check_kept(seen[c["f"]][t], exp[c["f"]][t][0],
                       (exp[c["f"]][t][1],), "expunge-cut", P)


def judge(exp, cuts, gone, obs, P):
    """Counts in P what each promise kept and broke, given exp (what
    the tagged OKs said), the cut commands, what OKs removed (gone) and
    what a session sees (obs); returns what it sees as the next model."""
    seen = {f: collections.defaultdict(list) for f in FOLDERS}
    for f in FOLDERS:
        for uid, flags, body in obs[f][1]:
            seen[f][token_of(body)].append((uid, flags, body))
    touched = {(f, t) for c in cuts for t in c["toks"]
               for f in (c.get("f"), c.get("src"), c.get("dst")) if f}
    for f in FOLDERS:
        for t, (uid, flags, origin) in exp[f].items():
            if (f, t) not in touched:
                check_kept(seen[f].get(t), uid, (flags,), origin, P)
        for t in seen[f]:
            if t not in exp[f] and (f, t) not in touched:
                P["back." + gone.get((f, t), "unknown")] += 1
    for c in cuts:
        judge_cut(c, exp, seen, P)
    return {f: {t: (got[0][0], got[0][1], "kept")
                for t, got in seen[f].items() if t is not None}
            for f in FOLDERS}


class Campaign:
    """The state of the IMAP mode across trials: the model, the texts
    sent, the UIDs and UIDVALIDITYs said, and the counts (P)."""

    def __init__(self, maildir):
        self.maildir = maildir
        self.model = {f: {} for f in FOLDERS}
        self.texts = {}
        self.gone = {}
        self.owner = {f: {} for f in FOLDERS}  # uid -> token, ever
        self.validity = {}
        self.P = Counts()
        self.lock = threading.Lock()
        self.no = None  # the last NO a client got

    def create_folders(self, port):
        w = Wire(port)
        for f in FOLDERS:
            assert ok(w.command("CREATE %s" % f))
        w.close()

    def clients(self, port, trial, n):
        out = []
        for i in range(n):
            mine = "c%dt" % i
            own = {f: {t: v for t, v in self.model[f].items()
                       if t.startswith(mine)} for f in FOLDERS}
            out.append(Client(port, "c%dt%d" % (i, trial), own, self.texts,
                              self.lock))
        return out

    def bind(self, f, uid, token):
        if self.owner[f].setdefault(uid, token) != token:
            self.P["uid.reused"] += 1

    def said_validity(self, f, v):
        if self.validity.setdefault(f, v) != v:
            self.P["uidvalidity.changed"] += 1
            self.validity[f] = v

    def check(self, port, clients):
        """After the restart: the promises, then the model anew."""
        P = self.P
        exp = {f: {} for f in FOLDERS}
        cuts = []
        for c in clients:
            for f in FOLDERS:
                exp[f].update(c.own[f])
            self.gone.update(c.gone)
            cuts += [c.cut] if c.cut else []
            if c.no:
                P["refused"] += 1
                self.no = c.no
            P.update({"acked." + k: n for k, n in c.acked.items()
                      if k != "copyuid-wrong"})
            P["uid.copyuid-wrong"] += c.acked["copyuid-wrong"]
            P.update({"sent." + k: n for k, n in c.sent.items()})
            for f, uid, t in c.bound:
                self.bind(f, uid, t)
            for f, v in c.validity:
                self.said_validity(f, v)
        P["cut"] += len(cuts)
        obs = snapshot(port)
        P["files.tmp-left"] = 0  # what the last check found
        for f in FOLDERS:
            self.said_validity(f, obs[f][0])
            for uid, _, body in obs[f][1]:
                t = token_of(body)
                self.bind(f, uid, t)
                if t not in self.texts:
                    P.once("text.unknown", (f, uid))
                elif body != self.texts[t]:
                    P.once("text.differs", (f, uid))
            self.files(f, len(obs[f][1]))
        self.model = judge(exp, cuts, self.gone, obs, P)

    def files(self, f, shown):
        """Every file in new/ and cur/ a whole message as sent (none
        half-visible), as many as the session shows; tmp/ counted."""
        files, tmp = folder_files(self.maildir, f)
        self.P["files.tmp-left"] += tmp
        for name, data in files:
            t = token_of(data)
            if t not in self.texts or data.replace(b"\n", b"\r\n") != \
                    self.texts[t]:
                self.P.once("files.half", (f, name.split(":")[0]))
        if len(files) != shown:
            self.P.once("files.not-shown", (f, len(files), shown),
                        abs(len(files) - shown))


def report(P):
    """The figures per promise: lines for the summary."""
    def g(*keys):
        return sum(P[k] for k in keys)

    def kinds(prefix):
        return sum(n for k, n in P.items() if k.startswith(prefix))

    def row(name, *parts):
        return "  %-12s " % name + "  ".join(parts)

    def cmd(k):
        return "acked %d (%d msgs) of %d sent" % (
            P["acked." + k], P["acked.%s-msgs" % k], P["sent." + k])
    return [
        row("append", cmd("append"), "lost %d" % g("lost.append"),
            "dup %d" % g("duplicated.append"),
            "flags wrong %d" % g("flags.wrong.append"),
            "| cut: saved %d (without keywords %d) none %d" % (
                g("append.cut.saved"), g("append.cut.no-keywords"),
                g("append.cut.none"))),
        row("multiappend", cmd("multiappend"),
            "lost %d" % g("lost.multiappend"),
            "dup %d" % g("duplicated.multiappend"),
            "| cut: saved %d none %d PARTIAL %d" % (
                g("multiappend.cut.saved"), g("multiappend.cut.none"),
                g("multiappend.cut.partial"))),
        row("copy", cmd("copy"), "lost %d" % g("lost.copy"),
            "dup %d" % g("duplicated.copy"),
            "| cut: saved %d (without keywords %d) none %d PARTIAL %d, "
            "source changed %d" % (
                g("copy.cut.saved"), g("copy.cut.no-keywords"),
                g("copy.cut.none"),
                g("copy.cut.partial"), kinds("lost.copy-source") +
                kinds("flags.wrong.copy-source"))),
        row("move", cmd("move"), "lost %d" % g("lost.move"),
            "dup %d" % g("duplicated.move"),
            "back in source %d" % g("back.move"),
            "| cut msgs: source %d target %d both %d LOST %d "
            "(COPYUID said, not in target %d; in target without keywords "
            "%d) PARTIAL %d" % (
                g("move.cut.source"), g("move.cut.target"),
                g("move.cut.both"), g("move.cut.lost"),
                g("move.cut.said-lost"), g("move.cut.no-keywords"),
                g("move.cut.partial"))),
        row("earlier", "(the messages a check saw before the trial)",
            "lost %d" % g("lost.kept"), "dup %d" % g("duplicated.kept"),
            "flags wrong %d" % g("flags.wrong.kept")),
        row("store", "acked %d of %d sent" % (P["acked.store"],
                                              P["sent.store"]),
            "lost %d" % g("lost.store"), "dup %d" % g("duplicated.store"),
            "flags wrong %d" % g("flags.wrong.store"),
            "| cut msgs: old %d new %d half %d OTHER %d "
            "(commands mixed %d)" % (
                g("store.cut.old"), g("store.cut.new"), g("store.cut.half"),
                g("flags.wrong.store-cut"), g("store.cut.mixed"))),
        row("expunge", "acked %d of %d sent" % (P["acked.expunge"],
                                                P["sent.expunge"]),
            "back %d" % g("back.expunge"),
            "| cut: kept %d gone %d PARTIAL %d" % (
                g("expunge.cut.kept"), g("expunge.cut.gone"),
                g("expunge.cut.partial"))),
        row("uids", "reused %d" % g("uid.reused"),
            "changed %d" % g("uid.changed"),
            "UIDVALIDITY changed %d" % g("uidvalidity.changed"),
            "COPYUID naming UIDs not asked %d" % g("uid.copyuid-wrong"),
            "unknown message back %d" % g("back.unknown")),
        row("texts", "not byte-identical %d" % g("text.differs"),
            "not sent by us %d" % g("text.unknown"),
            "| files: half-visible %d, in new/cur but not shown %d, "
            "left in tmp/ %d" % (g("files.half"), g("files.not-shown"),
                                 g("files.tmp-left"))),
    ]


def tally(t, P, camp_no):
    """Fills torture.py's Tally from P; True if a promise was broken."""
    t.acked = sum(n for k, n in P.items()
                  if k.startswith("acked.") and not k.endswith("-msgs"))
    t.lost = sum(n for k, n in P.items() if k.startswith("lost.")) + \
        P["move.cut.lost"] + P["move.cut.said-lost"]
    t.dups = sum(n for k, n in P.items() if k.startswith("duplicated."))
    t.half = P["files.half"] + P["text.differs"]
    t.notes.append("%d commands cut by the kills" % (P["cut"] -
                                                     P["refused"]))
    if P["refused"]:
        t.notes.append("%d clients stopped by a NO or an OK without the "
                       "UIDs asked, the last: %s" % (P["refused"], camp_no))
    t.table = report(P)
    broken = sorted("%s %d" % (k, n) for k, n in P.items() if n and (
        k.startswith(("lost.", "duplicated.", "flags.wrong.", "uid.",
                      "back.")) or k.endswith((".partial", ".said-lost")) or
        k in ("move.cut.lost", "uidvalidity.changed", "text.differs",
              "text.unknown", "files.half", "files.not-shown")))
    if broken:
        t.table.append("  BROKEN: " + ", ".join(broken))
    return bool(broken)
