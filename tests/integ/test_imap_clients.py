"""Real IMAP clients against owld's IMAP server: Python's imaplib, curl,
fetchmail, mbsync (isync), offlineimap3, neomutt and getmail6.

Every test runs twice: against Debian's Dovecot imapd (a private instance
on a free loopback port, started and stopped here by its own pid, with its
own configuration, passwd-file and Maildirs in a temp directory), which
shows that the test itself is right, and against owld.  Each client runs
with its own temp HOME, its own configuration file and a timeout; the
results are checked with a second client (imaplib) or on the client's
disk: message counts, flags, and bodies byte for byte.  A client that is
not installed is skipped (scripts/deps.sh test installs them)."""
import grp
import imaplib
import os
import pwd
import re
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import wait_port
from test_relay import free_port
from test_tls import make_cert

TIMEOUT = 60  # seconds any one client run may take
USER, PASSWORD = "alice@localhost", "pw-alice"


# --- the messages ----------------------------------------------------------

def message(n, subject=None):
    """Message n as a client sends it (CRLF ends), with the lines that trip
    naive code: a leading dot, a From_ line, 8-bit text, a long line."""
    subject = subject or "message %d" % n
    return (b"From: sender@example.org\r\nTo: alice@localhost\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <m%d.%d@example.org>\r\n"
            b"Date: Thu, 03 Dec 2026 10:00:%02d +0000\r\n"
            b"MIME-Version: 1.0\r\n"
            b"Content-Type: text/plain; charset=utf-8\r\n"
            b"Content-Transfer-Encoding: 8bit\r\n\r\n" % (n, os.getpid(), n % 60) +
            b"body of message %d\r\n.a leading dot\r\nFrom the start\r\n"
            b"8bit: \xc3\xa9\xe2\x82\xac\r\n" % n + b"y" * 900 + b"\r\n")


def crlf(data):
    """data with every line end as CRLF (Maildir files hold LF)."""
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def msgid(data):
    m = re.search(rb"(?im)^Message-ID: *(<[^>]*>)", data)
    return m.group(1).decode() if m else None


def same_message(got, sent):
    """got (a stored or fetched message) is sent, byte for byte after the
    header lines the server or client puts in front (Received,
    Return-Path, Delivered-To, X-...), line ends aside."""
    got, sent = crlf(got), crlf(sent)
    return got.endswith(sent) and (len(got) == len(sent) or
                                   got[:len(got) - len(sent)].endswith(b"\r\n"))


# --- the servers -----------------------------------------------------------

DOVECOT_CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
{users}
protocols = imap
listen = 127.0.0.1
ssl = yes
ssl_cert = <{d}/cert.pem
ssl_key = <{d}/key.pem
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
mail_location = maildir:{d}/vmail/%n
mailbox_idle_check_interval = 1 secs
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/passwd
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/vmail/%n
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    auto = subscribe
    special_use = \\Sent
  }}
  mailbox Drafts {{
    auto = subscribe
    special_use = \\Drafts
  }}
  mailbox Trash {{
    auto = subscribe
    special_use = \\Trash
  }}
  mailbox Junk {{
    auto = subscribe
    special_use = \\Junk
  }}
  mailbox Archive {{
    auto = subscribe
    special_use = \\Archive
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {sport}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
}}
service imap-login {{
  chroot =
}}
"""


class Target:
    """An IMAP server under test: where it listens, how mail gets in."""
    host = "127.0.0.1"
    port = sport = None
    cafile = None

    def imap(self, user=USER, password=PASSWORD, tls=False):
        """A logged-in imaplib session (over IMAPS when tls)."""
        if tls:
            ctx = ssl.create_default_context(cafile=self.cafile)
            c = imaplib.IMAP4_SSL(self.host, self.sport, ssl_context=ctx,
                                  timeout=30)
        else:
            c = imaplib.IMAP4(self.host, self.port, timeout=30)
        c.login(user, password)
        return c


class DovecotTarget(Target):
    """A private Dovecot: the mail processes run as the user running the
    test, or as nobody when that is root (Dovecot refuses UID 0)."""
    name = "dovecot"

    def __init__(self, cert, key, users=("alice", "bob")):
        # pytest's tmp_path is private to its user; Dovecot's login
        # processes run as dovenull and its mail processes as mailuser
        self.d = tempfile.mkdtemp(prefix="owlpost-dovecot-")
        os.chmod(self.d, 0o755)
        if os.geteuid() == 0:
            pw = pwd.getpwnam("nobody")
            extra = ""
        else:
            pw = pwd.getpwuid(os.geteuid())
            extra = ("default_login_user = {u}\ndefault_internal_user = {u}\n"
                     "default_internal_group = {g}\n"
                     .format(u=pw.pw_name, g=grp.getgrgid(pw.pw_gid).gr_name))
        self.uid, self.gid = pw.pw_uid, pw.pw_gid
        shutil.copy(cert, os.path.join(self.d, "cert.pem"))
        shutil.copy(key, os.path.join(self.d, "key.pem"))
        self.cafile = cert
        vmail = os.path.join(self.d, "vmail")
        os.mkdir(vmail)
        self.own(vmail)
        self.port, self.sport = free_port(), free_port()
        conf = os.path.join(self.d, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(DOVECOT_CONF.format(d=self.d, port=self.port,
                                        sport=self.sport, uid=self.uid,
                                        gid=self.gid, users=extra))
        with open(os.path.join(self.d, "passwd"), "w") as f:
            f.write("".join("%s:{PLAIN}pw-%s\n" % (u, u) for u in users))
        self.proc = subprocess.Popen(["dovecot", "-c", conf, "-F"],
                                     stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT)
        try:
            wait_port(self.port, proc=self.proc)
            wait_port(self.sport, proc=self.proc)
        except BaseException:
            self.stop()
            raise

    def own(self, path):
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)

    def deliver(self, data, user="alice"):
        """Delivers as a local delivery agent does: a file written in tmp/
        and renamed into new/, with LF line ends."""
        md = os.path.join(self.d, "vmail", user)
        for sub in ("", "tmp", "new", "cur"):
            p = os.path.join(md, sub)
            if not os.path.isdir(p):
                os.mkdir(p)
                self.own(p)
        name = "%.6f.P%dQ%d.owltest" % (time.time(), os.getpid(), next_seq())
        tmp = os.path.join(md, "tmp", name)
        with open(tmp, "wb") as f:
            f.write(data.replace(b"\r\n", b"\n"))
        self.own(tmp)
        os.rename(tmp, os.path.join(md, "new", name))

    def log(self):
        try:
            with open(os.path.join(self.d, "dovecot.log"), errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc.stdout.close()
        shutil.rmtree(self.d, ignore_errors=True)


_seq = [0]


def next_seq():
    _seq[0] += 1
    return _seq[0]


class OwldTarget(Target):
    """owld with IMAP and IMAPS on free ports and a certificate."""
    name = "owld"

    def __init__(self, owld, cert, key):
        self.o = owld(["tls.cert=" + cert, "tls.key=" + key,
                       "imap.listen=127.0.0.1:0", "imaps.listen=127.0.0.1:0"])
        self.port = self.o.imap_port
        self.sport = self.o.imaps_port
        self.cafile = cert
        assert self.port and self.sport

    def deliver(self, data, user="alice"):
        self.o.send([user + "@localhost"], data)

    def log(self):
        return self.o.logtext()

    def stop(self):
        pass  # the owld fixture stops it


@pytest.fixture(scope="module")
def certs(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("imapcerts")), "imap")


TARGETS = ["dovecot", "owld"]


@pytest.fixture(params=TARGETS)
def srv(request, certs):
    if request.param == "dovecot":
        if not shutil.which("dovecot") or \
                not os.path.exists("/usr/lib/dovecot/imap"):
            pytest.skip("needs Debian's dovecot-imapd (scripts/deps.sh test)")
        t = DovecotTarget(*certs)
    else:
        t = OwldTarget(request.getfixturevalue("owld"), *certs)
    yield t
    t.stop()


def server_log(srv):
    """The end of the server's log, for a failing client's message."""
    return "\n--- %s log:\n%s" % (srv.name, srv.log()[-4000:])


def nobody():
    pw = pwd.getpwnam("nobody")
    return pw.pw_uid, pw.pw_gid


def need(prog):
    if not shutil.which(prog):
        pytest.skip("needs %s (scripts/deps.sh test)" % prog)


def home(tmp_path, name):
    h = tmp_path / ("home-" + name)
    h.mkdir()
    return h


def run(argv, h, timeout=TIMEOUT, **kw):
    """Runs a client with HOME=h, no terminal, bounded in time."""
    env = dict(os.environ, HOME=str(h), LC_ALL="C.UTF-8", TERM="dumb")
    env.pop("MAIL", None)
    return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, timeout=timeout, **kw)


# --- reading the server's state with imaplib --------------------------------

def parse_fetch(data):
    """imaplib's FETCH data as {uid: (flags set, body bytes or None)}."""
    out = {}
    items = []
    for part in data:
        if isinstance(part, tuple):
            items.append([part[0], part[1]])
        elif part is not None and part != b")" and items and \
                not re.match(rb"\d+ \(", part):
            items[-1][0] += part  # items after the literal
        elif part is not None and re.match(rb"\d+ \(", part):
            items.append([part, None])
    for head, body in items:
        uid = re.search(rb"UID (\d+)", head)
        flags = re.search(rb"FLAGS \(([^)]*)\)", head)
        out[int(uid.group(1))] = (set(flags.group(1).decode().split()) if flags
                                  else None, body)
    return out


def mailbox(srv, name="INBOX", user=USER, password=PASSWORD):
    """Every message of a mailbox, read-only: {Message-ID: (uid, flags,
    whole message)}."""
    c = srv.imap(user, password)
    try:
        typ, _ = c.select(quote(name), readonly=True)
        assert typ == "OK", name
        typ, data = c.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[])")
        assert typ == "OK", data
        out = {}
        for uid, (flags, body) in parse_fetch(data).items():
            if body is not None:
                out[msgid(body)] = (uid, flags, body)
        return out
    finally:
        c.logout()


def quote(name):
    return '"%s"' % name


def create(srv, name):
    c = srv.imap()
    typ, data = c.create(quote(name))
    c.logout()
    assert typ == "OK" or b"ALREADYEXISTS" in data[0], data


def deliver_n(srv, first, n):
    msgs = {}
    for i in range(first, first + n):
        m = message(i)
        srv.deliver(m)
        msgs[msgid(m)] = m
    return msgs


# --- Python's imaplib ---------------------------------------------------------

def test_imaplib_commands(srv):
    sent = deliver_n(srv, 1, 3)
    ids = list(sent)
    c = srv.imap()
    typ, caps = c.capability()
    assert typ == "OK"
    assert b"IMAP4REV1" in caps[0].upper()

    typ, data = c.list()
    assert typ == "OK"
    names = [l.rsplit(b" ", 1)[1].strip(b'"') for l in data]
    assert b"INBOX" in names, data
    create(srv, "Work")
    typ, data = c.list('""', "Work")
    assert typ == "OK" and len(data) == 1 and \
        data[0].rsplit(b" ", 1)[1].strip(b'"') == b"Work", data

    typ, data = c.select("INBOX")
    assert typ == "OK" and int(data[0]) == 3, data
    typ, data = c.fetch("1:*", "(UID FLAGS RFC822.SIZE BODY.PEEK[])")
    assert typ == "OK"
    got = parse_fetch(data)
    assert len(got) == 3
    uids = sorted(got)
    for uid, mid in zip(uids, ids):
        flags, body = got[uid]
        assert "\\Seen" not in flags
        assert msgid(body) == mid and same_message(body, sent[mid]), body
    # RFC822.SIZE is the size of the message as served, CRLF ends
    sizes = {int(m.group(1)): int(m.group(2)) for m in
             (re.search(rb"UID (\d+).*RFC822\.SIZE (\d+)", p[0])
              for p in data if isinstance(p, tuple))}
    assert sizes == {u: len(got[u][1]) for u in uids}

    # a partial and a header field section, peeked
    typ, data = c.uid("FETCH", str(uids[0]),
                      "(BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]<0.16>)")
    assert typ == "OK"
    lits = [p[1] for p in data if isinstance(p, tuple)]
    assert b"Subject: message 1\r\n\r\n" in lits, data
    assert b"body of message " in lits, data

    # BODY[] (not PEEK) sets \Seen
    typ, data = c.uid("FETCH", str(uids[1]), "(BODY[TEXT])")
    assert typ == "OK"
    typ, data = c.uid("FETCH", str(uids[1]), "(FLAGS)")
    assert b"\\Seen" in data[0], data

    # STORE, seen by a second session
    typ, data = c.uid("STORE", str(uids[0]), "+FLAGS", "(\\Flagged $Label1)")
    assert typ == "OK" and b"\\Flagged" in data[0], data
    other = mailbox(srv)
    assert "\\Flagged" in other[ids[0]][1] and "$Label1" in other[ids[0]][1]
    assert "\\Seen" in other[ids[1]][1] and "\\Seen" not in other[ids[2]][1]
    typ, data = c.uid("STORE", str(uids[0]), "-FLAGS.SILENT", "($Label1)")
    assert typ == "OK"
    assert mailbox(srv)[ids[0]][1] >= {"\\Flagged"} and \
        "$Label1" not in mailbox(srv)[ids[0]][1]

    # SEARCH
    typ, data = c.uid("SEARCH", None, "FLAGGED")
    assert typ == "OK" and data[0].split() == [str(uids[0]).encode()], data
    typ, data = c.search(None, "UNSEEN")
    assert typ == "OK" and data[0].split() == [b"1", b"3"], data
    typ, data = c.search(None, "SUBJECT", '"message 3"')
    assert data[0].split() == [b"3"], data
    typ, data = c.search(None, "OR", "FLAGGED", "SEEN", "NOT", "BODY", "nothing")
    assert data[0].split() == [b"1", b"2"], data
    typ, data = c.search(None, "LARGER", "500", "HEADER", "Message-ID", "m2.")
    assert data[0].split() == [b"2"], data

    # COPY keeps flags and bytes
    typ, data = c.uid("COPY", "%d:%d" % (uids[0], uids[1]), "Work")
    assert typ == "OK", data
    work = mailbox(srv, "Work")
    assert set(work) == {ids[0], ids[1]}
    assert "\\Flagged" in work[ids[0]][1]
    assert work[ids[1]][2] == got[uids[1]][1]

    # EXPUNGE removes only \Deleted messages
    typ, data = c.store("2", "+FLAGS.SILENT", "(\\Deleted)")
    assert typ == "OK"
    typ, data = c.expunge()
    assert typ == "OK" and data == [b"2"], data
    assert set(mailbox(srv)) == {ids[0], ids[2]}

    # APPEND with flags and a date; the bytes come back unchanged (Work:
    # message 1 unseen, message 2 seen, the appended one seen)
    new = message(4, "appended")
    typ, data = c.append("Work", "(\\Seen \\Answered)",
                         imaplib.Time2Internaldate(time.time()), new)
    assert typ == "OK", data
    work = mailbox(srv, "Work")
    assert work[msgid(new)][2] == new
    assert work[msgid(new)][1] >= {"\\Seen", "\\Answered"}
    typ, data = c.status("Work", "(MESSAGES UNSEEN)")
    assert typ == "OK" and b"MESSAGES 3" in data[0] and b"UNSEEN 1" in data[0], data
    c.close()
    c.logout()


def test_imaplib_imaps_and_starttls(srv):
    sent = deliver_n(srv, 1, 1)
    c = srv.imap(tls=True)
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) == 1
    typ, data = c.fetch("1", "(BODY.PEEK[])")
    assert same_message(data[0][1], sent[msgid(data[0][1])])
    c.logout()
    c = imaplib.IMAP4(srv.host, srv.port, timeout=30)
    assert "STARTTLS" in c.capabilities
    c.starttls(ssl.create_default_context(cafile=srv.cafile))
    c.login(USER, PASSWORD)
    typ, data = c.select("INBOX", readonly=True)
    assert typ == "OK" and int(data[0]) == 1
    c.logout()
    with pytest.raises(imaplib.IMAP4.error):
        srv.imap(password="wrong")


def idle_wait(c, pattern, timeout):
    """Reads untagged lines in IDLE until one matches pattern; the line,
    or None after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        c.sock.settimeout(left)
        try:
            line = c.readline()
        except (socket.timeout, TimeoutError):
            return None
        if re.match(pattern, line):
            return line


def test_imaplib_idle_sees_delivery_within_1s(srv):
    deliver_n(srv, 1, 1)
    c = srv.imap()
    typ, data = c.select("INBOX")
    assert int(data[0]) == 1
    typ, caps = c.capability()  # IDLE may come only after the login
    assert b"IDLE" in caps[0].upper().split(), caps
    tag = c._new_tag()
    c.send(tag + b" IDLE\r\n")
    assert c.readline().startswith(b"+"), "no continuation for IDLE"
    time.sleep(0.3)  # the server has set up its watch
    for n in (2, 3):
        m = message(n)
        t0 = time.monotonic()
        srv.deliver(m)
        line = idle_wait(c, rb"\* %d EXISTS\r\n" % n, 5)
        took = time.monotonic() - t0
        assert line is not None, "no EXISTS in IDLE within 5 s"
        assert took < 1.0, "EXISTS %.2f s after the delivery" % took
    # another session's flag change and expunge reach the idler too
    other = srv.imap()
    other.select("INBOX")
    other.store("1", "+FLAGS", "(\\Flagged)")
    line = idle_wait(c, rb"\* 1 FETCH \(", 5)
    assert line is not None and b"\\Flagged" in line, line
    other.store("2", "+FLAGS.SILENT", "(\\Deleted)")
    other.expunge()
    assert idle_wait(c, rb"\* 2 EXPUNGE\r\n", 5) is not None
    other.logout()
    c.send(b"DONE\r\n")
    c.sock.settimeout(10)
    while True:
        line = c.readline()
        if line.startswith(tag):
            assert line.startswith(tag + b" OK"), line
            break
    typ, data = c.fetch("2", "(BODY.PEEK[HEADER.FIELDS (SUBJECT)])")
    assert b"Subject: message 3" in data[0][1]
    c.logout()


# --- curl ---------------------------------------------------------------------

def curl(srv, h, url_path, *args, tls=False):
    need("curl")
    if tls:
        base = ["--cacert", srv.cafile, "imaps://%s:%d/" % (srv.host, srv.sport)]
    else:
        base = ["imap://%s:%d/" % (srv.host, srv.port)]
    r = run(["curl", "-sS", "--max-time", "30", "-u", USER + ":" + PASSWORD] +
            list(args) + [base[-1] + url_path] + base[:-1], h)
    assert r.returncode == 0, r.stderr.decode() + server_log(srv)
    return r.stdout


def test_curl_imap_and_imaps(srv, tmp_path):
    h = home(tmp_path, "curl")
    sent = deliver_n(srv, 1, 3)
    create(srv, "Work")
    server = mailbox(srv)
    by_uid = {uid: body for uid, _, body in server.values()}

    for tls in (False, True):
        # the mailbox list
        out = curl(srv, h, "", tls=tls)
        names = [l.rsplit(b" ", 1)[1].strip(b'"') for l in out.splitlines()]
        assert out.startswith(b"* LIST ") and b"INBOX" in names and \
            b"Work" in names, out
        # one message by UID: the bytes the server holds, CRLF ends
        for uid, body in by_uid.items():
            got = curl(srv, h, "INBOX;UID=%d" % uid, tls=tls)
            assert got == body
            assert same_message(got, sent[msgid(got)])
        uid, second = sorted(by_uid)[:2]
        got = curl(srv, h, "INBOX/;MAILINDEX=2", tls=tls)
        assert got == by_uid[second]
        got = curl(srv, h, "INBOX;UID=%d;SECTION=HEADER.FIELDS%%20(SUBJECT)" %
                   uid, tls=tls)
        assert got == b"Subject: message 1\r\n\r\n", got
        # a SEARCH in the URL's query part (curl sends SEARCH, not UID
        # SEARCH: message numbers)
        out = curl(srv, h, "INBOX?SUBJECT%20%22message%202%22", tls=tls)
        assert out.split() == [b"*", b"SEARCH", b"2"], out
    # curl fetches BODY[] (not BODY.PEEK[]): that sets \Seen
    assert all("\\Seen" in f for _, f, _ in mailbox(srv).values())

    # custom commands: -X runs in the Selected state of the URL's mailbox
    out = curl(srv, h, "", "-X", "EXAMINE INBOX")
    assert re.search(rb"(?m)^\* 3 EXISTS\r?$", out), out
    out = curl(srv, h, "INBOX", "-X", "UID SEARCH ALL")
    assert out.split()[2:] == [b"%d" % u for u in sorted(by_uid)], out
    curl(srv, h, "INBOX", "-X", "UID STORE %d +FLAGS (\\Flagged)" % uid)
    curl(srv, h, "INBOX", "-X", "UID STORE %d +FLAGS (\\Deleted)" % second,
         tls=True)
    out = curl(srv, h, "INBOX", "-X", "UID FETCH %d:* (FLAGS)" % uid)
    flags = [set(m.group(1).split()) for m in
             (re.search(rb"FLAGS \(([^)]*)\)", l) for l in out.splitlines()
              if re.search(rb"\bUID %d\b" % uid, l)) if m]
    assert [f - {b"\\Recent"} for f in flags] == [{b"\\Seen", b"\\Flagged"}], out
    curl(srv, h, "INBOX", "-X", "EXPUNGE")
    after = mailbox(srv)
    assert len(after) == 2 and "\\Flagged" in after[msgid(by_uid[uid])][1]
    assert msgid(by_uid[second]) not in after
    out = curl(srv, h, "", "-X", 'STATUS "Work" (MESSAGES)')
    assert re.search(rb"MESSAGES 0", out), out

    # an upload is an APPEND; the bytes come back unchanged
    new = message(9, "uploaded by curl")
    (tmp_path / "up.eml").write_bytes(new)
    curl(srv, h, "Work", "-T", str(tmp_path / "up.eml"), tls=True)
    work = mailbox(srv, "Work")
    assert list(work) == [msgid(new)] and work[msgid(new)][2] == new


# --- fetchmail ----------------------------------------------------------------

def fetchmail_rc(srv, tmp_path, out, tls):
    """An rc file polling alice's INBOX over IMAP (STARTTLS refused: plain
    text on loopback) or IMAPS (the certificate checked, for its name
    localhost: fetchmail matches the poll name, 127.0.0.1, to DNS names
    only); every
    message goes to a file of its own in out."""
    if tls:
        where = "%s service %d" % (srv.host, srv.sport)
        opts = "ssl sslcertck sslcertfile '%s' sslcommonname localhost" % \
            srv.cafile
    else:
        where = "%s service %d" % (srv.host, srv.port)
        opts = "sslproto ''"
    rc = tmp_path / ("fetchmailrc-%s" % ("tls" if tls else "plain"))
    rc.write_text("set no bouncemail\n"
                  "poll %s protocol imap auth password timeout 20\n"
                  "  user '%s' there with password '%s' is 'x' here\n"
                  "  %s\n"
                  "  mda \"/bin/sh -c 'cat > $(mktemp %s/m.XXXXXX)'\"\n" %
                  (where, USER, PASSWORD, opts, out))
    os.chmod(str(rc), 0o600)
    return rc


def fetchmail_argv(tmp_path, rc, *more):
    return ["fetchmail", "-f", str(rc), "--nosyslog", "-v", "--idfile",
            str(tmp_path / "ids"), "--pidfile", str(tmp_path / "fm.pid")] + \
        list(more)


def read_dir(d):
    """The files of a directory: {Message-ID: [contents, ...]}."""
    out = {}
    for name in sorted(os.listdir(str(d))):
        with open(os.path.join(str(d), name), "rb") as f:
            data = f.read()
        out.setdefault(msgid(data), []).append(data)
    return out


def test_fetchmail_imap_then_idle(srv, tmp_path):
    need("fetchmail")
    h = home(tmp_path, "fetchmail")
    out = tmp_path / "out"
    out.mkdir()
    sent = deliver_n(srv, 1, 3)
    rc = fetchmail_rc(srv, tmp_path, out, tls=False)
    r = run(fetchmail_argv(tmp_path, rc), h)
    log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
    assert r.returncode == 0, log + server_log(srv)
    got = read_dir(out)
    assert set(got) == set(sent), log
    for mid, copies in got.items():
        assert len(copies) == 1 and same_message(copies[0], sent[mid]), log
    # fetchmail deletes what it delivered (no "keep"); a second run finds
    # nothing (exit status 1: no mail)
    assert mailbox(srv) == {}
    r = run(fetchmail_argv(tmp_path, rc), h)
    assert r.returncode == 1, r.stderr
    assert len(os.listdir(str(out))) == 3

    # --idle over IMAPS: it sits in IDLE and fetches each new delivery
    rc = fetchmail_rc(srv, tmp_path, out, tls=True)
    logf = open(str(tmp_path / "idle.log"), "wb")
    env = dict(os.environ, HOME=str(h), LC_ALL="C.UTF-8")
    p = subprocess.Popen(fetchmail_argv(tmp_path, rc, "--idle"), env=env,
                         stdin=subprocess.DEVNULL, stdout=logf,
                         stderr=subprocess.STDOUT)
    try:
        def idle_log():
            with open(str(tmp_path / "idle.log"), "rb") as f:
                return f.read().decode(errors="replace")
        def wait_idling():
            """Until fetchmail's last IDLE has its continuation and no
            DONE yet."""
            deadline = time.time() + 20
            while not re.search(r"IMAP< \+[^\n]*\n(?![\s\S]*IMAP> DONE)",
                                idle_log()):
                assert p.poll() is None, idle_log()
                assert time.time() < deadline, \
                    "fetchmail never idled:\n" + idle_log()
                time.sleep(0.05)
        more = {}
        for n in (4, 5):
            wait_idling()
            m = message(n)
            srv.deliver(m)
            more[msgid(m)] = m
            deadline = time.time() + 10
            while msgid(m) not in read_dir(out):
                assert p.poll() is None, idle_log()
                assert time.time() < deadline, \
                    "fetchmail --idle did not fetch %s:\n%s" % (msgid(m), idle_log())
                time.sleep(0.05)
        time.sleep(0.5)  # nothing more comes
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()
        logf.close()
    log = idle_log()
    assert "Server certificate verification error" not in log, log
    assert len(re.findall(r"IMAP> A\d+ IDLE\n", log)) >= 3, log
    got = read_dir(out)
    assert set(got) == set(sent) | set(more)
    for mid, copies in got.items():
        assert len(copies) == 1, mid
        assert same_message(copies[0], dict(sent, **more)[mid])
    assert mailbox(srv) == {}


# --- local Maildirs -----------------------------------------------------------

def maildir_files(d):
    """A Maildir's messages: {Message-ID: (path, flags, contents)}, flags
    being the letters after ":2," of the name (none for new/)."""
    out = {}
    for sub in ("new", "cur"):
        p = os.path.join(str(d), sub)
        if not os.path.isdir(p):
            continue
        for name in os.listdir(p):
            with open(os.path.join(p, name), "rb") as f:
                data = f.read()
            flags = name.split(":2,", 1)[1] if ":2," in name else ""
            mid = msgid(data)
            assert mid not in out, "%s twice in %s" % (mid, d)
            out[mid] = (os.path.join(p, name), flags, data)
    return out


def write_maildir(d, data, name):
    """A new message in a local Maildir, LF ends, as a mail reader writes
    it."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(str(d), sub), exist_ok=True)
    tmp = os.path.join(str(d), "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data.replace(b"\r\n", b"\n"))
    os.rename(tmp, os.path.join(str(d), "new", name))


def set_local_flags(path, flags):
    """Renames a Maildir file into cur/ with these flag letters."""
    d = os.path.dirname(os.path.dirname(path))
    base = os.path.basename(path).split(":2,", 1)[0]
    new = os.path.join(d, "cur", base + ":2," + "".join(sorted(flags)))
    os.rename(path, new)
    return new


IMAP_FLAG = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered",
             "S": "\\Seen", "T": "\\Deleted"}


def imap_flags(letters):
    return {IMAP_FLAG[c] for c in letters if c in IMAP_FLAG}


def system_flags(flags):
    return {f for f in flags if f in IMAP_FLAG.values()}


# --- mbsync (isync) -----------------------------------------------------------

# Host is localhost, the certificate's name: mbsync matches the host name
# to the certificate's DNS names only, never to an IP address.  Both
# servers listen on 127.0.0.1 only; mbsync tries ::1 first where the
# resolver says so, and then 127.0.0.1.

MBSYNCRC = """\
IMAPAccount srv
Host localhost
Port {port}
User {user}
Pass {password}
SSLType {ssltype}
CertificateFile {cafile}
Timeout 20
PipelineDepth 4

IMAPStore far
Account srv

MaildirStore near
Path {local}/
Inbox {local}/INBOX
SubFolders Verbatim

Channel mail
Far :far:
Near :near:
Patterns INBOX Work
Create Both
Expunge Both
Remove None
Sync All
SyncState *
CopyArrivalDate yes
"""


def no_tuid(data):
    """A message without the X-TUID header line mbsync adds to the end of
    the header of the messages it copies (it finds them by it when the
    server gives no UID)."""
    return re.sub(rb"(?m)^X-TUID: [^\r\n]*\r?\n", b"", data, count=1)


def test_mbsync_two_way(srv, tmp_path):
    need("mbsync")
    h = home(tmp_path, "mbsync")
    local = tmp_path / "Mail"
    local.mkdir()
    rc = tmp_path / "mbsyncrc"
    create(srv, "Work")
    sent = deliver_n(srv, 1, 3)
    ids = list(sent)

    def mbsync(ssltype):
        rc.write_text(MBSYNCRC.format(user=USER,
                                      password=PASSWORD, cafile=srv.cafile,
                                      local=local, ssltype=ssltype,
                                      port=srv.sport if ssltype == "IMAPS"
                                      else srv.port))
        r = run(["mbsync", "-c", str(rc), "-a"], h)
        log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        assert r.returncode == 0, log + server_log(srv)
        return log

    # 1: new mail comes down, byte for byte, unseen stays unseen
    mbsync("STARTTLS")
    near = maildir_files(local / "INBOX")
    assert set(near) == set(ids)
    for mid, (path, flags, data) in near.items():
        assert same_message(no_tuid(data), sent[mid])
        assert crlf(no_tuid(data)) == mailbox(srv)[mid][2]
        assert "S" not in flags
    assert os.path.isdir(str(local / "Work" / "cur"))

    # 2: locally message 1 flagged and read, message 2 deleted, message 6
    # written, message 7 put into Work; on the server message 3 read and
    # message 5 delivered
    set_local_flags(near[ids[0]][0], "FS")
    os.unlink(near[ids[1]][0])
    m6, m7 = message(6, "written locally"), message(7, "filed locally")
    write_maildir(local / "INBOX", m6, "1700000000.local6.host")
    write_maildir(local / "Work", m7, "1700000000.local7.host")
    c = srv.imap()
    c.select("INBOX")
    typ, data = c.search(None, "HEADER", "Message-ID", ids[2])
    c.store(data[0].decode(), "+FLAGS", "(\\Seen)")
    c.logout()
    m5 = message(5)
    srv.deliver(m5)
    mbsync("IMAPS")

    def check():
        far = mailbox(srv)
        assert set(far) == {ids[0], ids[2], msgid(m5), msgid(m6)}, far.keys()
        assert system_flags(far[ids[0]][1]) == {"\\Flagged", "\\Seen"}
        assert system_flags(far[ids[2]][1]) == {"\\Seen"}
        assert system_flags(far[msgid(m5)][1]) == set()
        assert no_tuid(far[msgid(m6)][2]) == crlf(m6)
        work = mailbox(srv, "Work")
        assert list(work) == [msgid(m7)]
        assert no_tuid(work[msgid(m7)][2]) == crlf(m7)
        near = maildir_files(local / "INBOX")
        assert set(near) == set(far)
        for mid, (path, flags, data) in near.items():
            assert crlf(no_tuid(data)) == no_tuid(far[mid][2]), mid
            assert imap_flags(flags) == system_flags(far[mid][1]), mid
        assert set(maildir_files(local / "Work")) == {msgid(m7)}
    check()
    # 3: a run with nothing to do changes nothing
    mbsync("STARTTLS")
    check()


# --- offlineimap3 -------------------------------------------------------------

# remotehost is localhost: imaplib2 matches the certificate's DNS names
# only ("no matching domain name found in certificate" for 127.0.0.1).

OFFLINEIMAPRC = """\
[general]
accounts = a
metadata = {home}/.offlineimap
ui = basic
socktimeout = 20

[Account a]
localrepository = near
remoterepository = far

[Repository near]
type = Maildir
localfolders = {local}

[Repository far]
type = IMAP
remotehost = {host}
remoteport = {port}
remoteuser = {user}
remotepass = {password}
ssl = {ssl}
starttls = no
sslcacertfile = {cafile}
folderfilter = lambda f: f in ("INBOX", "Work")
"""


def test_offlineimap_sync(srv, tmp_path):
    need("offlineimap")
    h = home(tmp_path, "offlineimap")
    local = tmp_path / "Mail"
    create(srv, "Work")
    sent = deliver_n(srv, 1, 3)
    ids = list(sent)
    rc = tmp_path / "offlineimaprc"

    def offlineimap(tls):
        rc.write_text(OFFLINEIMAPRC.format(
            home=h, local=local, host="localhost", user=USER, password=PASSWORD,
            cafile=srv.cafile, ssl="yes" if tls else "no",
            port=srv.sport if tls else srv.port))
        r = run(["offlineimap", "-c", str(rc), "-o", "-u", "basic"], h)
        log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        assert r.returncode == 0 and "ERROR" not in log, \
            log + server_log(srv)
        return log

    offlineimap(tls=True)
    near = maildir_files(local / "INBOX")
    assert set(near) == set(ids)
    far = mailbox(srv)
    for mid, (path, flags, data) in near.items():
        assert same_message(data, sent[mid])
        assert crlf(data) == far[mid][2]
        assert flags == ""
    assert os.path.isdir(str(local / "Work" / "cur"))

    # up: a flag, a deletion, a new message; down: a new delivery
    set_local_flags(near[ids[0]][0], "FS")
    os.unlink(near[ids[1]][0])
    m6 = message(6, "written locally")
    write_maildir(local / "INBOX", m6, "1700000000.local6.host")
    m5 = message(5)
    srv.deliver(m5)
    offlineimap(tls=False)
    far = mailbox(srv)
    assert set(far) == {ids[0], ids[2], msgid(m5), msgid(m6)}, far.keys()
    assert system_flags(far[ids[0]][1]) == {"\\Flagged", "\\Seen"}
    assert system_flags(far[msgid(m6)][1]) == set()
    near = maildir_files(local / "INBOX")
    assert set(near) == set(far)
    for mid, (path, flags, data) in near.items():
        assert crlf(data) == far[mid][2], mid
        assert imap_flags(flags) == system_flags(far[mid][1]), mid
    assert same_message(far[msgid(m6)][2], m6)


# --- getmail6 -----------------------------------------------------------------

# record_mailbox = false: else getmail adds X-getmail-retrieved-from-mailbox
# at the end of the header, and the message is no longer the one sent.

GETMAILRC = """\
[retriever]
type = {type}
server = {host}
port = {port}
username = {user}
password = {password}
mailboxes = ("INBOX",)
record_mailbox = false
{tls}
[destination]
type = Maildir
path = {maildir}/

[options]
verbose = 2
read_all = {read_all}
delete = {delete}
message_log = {log}
"""


@pytest.fixture
def own_dir(tmp_path):
    """A directory for a client that refuses to run as root, and how to
    run it: as root, a 0755 temp directory owned by nobody and a
    preexec_fn dropping to nobody; otherwise tmp_path and None."""
    if os.geteuid() != 0:
        yield tmp_path, None
        return
    pw = pwd.getpwnam("nobody")
    d = tempfile.mkdtemp(prefix="owlpost-client-")
    os.chmod(d, 0o755)
    os.chown(d, pw.pw_uid, pw.pw_gid)

    def drop():
        os.setgroups([])
        os.setgid(pw.pw_gid)
        os.setuid(pw.pw_uid)
    try:
        yield Path(d), drop
    finally:
        shutil.rmtree(d, ignore_errors=True)


def test_getmail_imap(srv, own_dir):
    """getmail refuses to deliver as root: as root it runs as nobody in a
    directory of nobody's."""
    need("getmail")
    tmp_path, drop = own_dir
    h = tmp_path / "home"
    gdir = tmp_path / "getmail"
    cafile = tmp_path / "ca.pem"
    shutil.copy(srv.cafile, str(cafile))
    for d in (h, gdir):
        d.mkdir()
    sent = deliver_n(srv, 1, 3)

    def getmail(maildir, tls=False, read_all=False, delete=False):
        for sub in ("tmp", "new", "cur"):
            os.makedirs(str(maildir / sub), exist_ok=True)
        rc = gdir / ("getmailrc-%s" % maildir.name)
        rc.write_text(GETMAILRC.format(
            type="SimpleIMAPSSLRetriever" if tls else "SimpleIMAPRetriever",
            host=srv.host, port=srv.sport if tls else srv.port, user=USER,
            password=PASSWORD, maildir=maildir, log=gdir / "log",
            tls="ca_certs = %s\n" % cafile if tls else "",
            read_all=read_all, delete=delete))
        if drop:
            for top, dirs, files in os.walk(str(tmp_path)):
                for n in dirs + files:
                    os.chown(os.path.join(top, n), *nobody())
        r = run(["getmail", "--rcfile", str(rc), "--getmaildir", str(gdir)], h,
                preexec_fn=drop)
        log = r.stdout.decode(errors="replace") + r.stderr.decode(errors="replace")
        assert r.returncode == 0, log + server_log(srv)
        return log
    def check(maildir, want):
        got = maildir_files(maildir)
        assert set(got) == set(want)
        for mid, (path, flags, data) in got.items():
            assert path.startswith(str(maildir / "new")), path
            assert same_message(data, want[mid]), data

    # new mail only: a second run fetches nothing again, a third only the
    # messages delivered meanwhile; the server keeps them all (delete off)
    first = tmp_path / "first"
    getmail(first)
    check(first, sent)
    getmail(first)
    check(first, sent)
    more = deliver_n(srv, 4, 2)
    getmail(first)
    check(first, dict(sent, **more))
    assert set(mailbox(srv)) == set(sent) | set(more)

    # over IMAPS, everything, deleting on the server
    every = tmp_path / "every"
    getmail(every, tls=True, read_all=True, delete=True)
    check(every, dict(sent, **more))
    assert mailbox(srv) == {}


# --- neomutt ------------------------------------------------------------------

# neomutt needs a terminal: it runs on a pty (pexpect), driven by keys
# pushed from the command line, and must exit by itself.  With resolve=no
# the cursor stays on a message after an action; pipe_decode=no pipes the
# message as it is; the IMAPS folder is localhost, the certificate's name,
# and certificate_file holds the certificate (else neomutt asks).
NEOMUTTRC = """\
set folder = "{folder}"
set spoolfile = "+INBOX"
set imap_user = "{user}"
set imap_pass = "{password}"
set ssl_starttls = no
set ssl_force_tls = {force_tls}
set certificate_file = "{cafile}"
set header_cache = ""
set message_cachedir = ""
set sort = mailbox-order
set resolve = no
set confirmappend = no
set confirmcreate = no
set delete = yes
set move = no
set mark_old = no
set wait_key = no
set quit = yes
set pipe_decode = no
set record = ""
set beep = no
set sleep_time = 0
"""


def neomutt(srv, h, tmp_path, keys, tls=False):
    pexpect = pytest.importorskip("pexpect")
    rc = tmp_path / "neomuttrc"
    rc.write_text(NEOMUTTRC.format(
        folder="imaps://localhost:%d/" % srv.sport if tls else
        "imap://%s:%d/" % (srv.host, srv.port),
        user=USER, password=PASSWORD, cafile=srv.cafile,
        force_tls="yes" if tls else "no"))
    screen = open(str(tmp_path / "screen"), "wb")
    p = pexpect.spawn("neomutt", ["-n", "-F", str(rc), "-e",
                                  'push "%s"' % keys],
                      env=dict(os.environ, HOME=str(h), TERM="xterm",
                               LC_ALL="C.UTF-8"),
                      dimensions=(24, 100), timeout=TIMEOUT)
    p.logfile_read = screen
    try:
        done = p.expect([pexpect.EOF, pexpect.TIMEOUT])
    finally:
        p.close(force=True)
        screen.close()
    with open(str(tmp_path / "screen"), "rb") as f:
        shown = f.read().decode(errors="replace")
    assert done == 0, "neomutt did not finish:\n" + shown[-2000:] + \
        server_log(srv)
    assert p.exitstatus == 0, shown[-2000:] + server_log(srv)
    return shown


def test_neomutt_read_flag_move_delete(srv, tmp_path):
    need("neomutt")
    h = home(tmp_path, "neomutt")
    create(srv, "Work")
    sent = deliver_n(srv, 1, 4)
    ids = list(sent)
    before = mailbox(srv)
    read1, read2 = tmp_path / "read1", tmp_path / "read2"
    # message 1 read, piped out and flagged; 2 moved to Work; 3 deleted;
    # 4 left alone
    neomutt(srv, h, tmp_path,
            "<first-entry><display-message><exit>"
            "<pipe-message>cat > %s<enter><flag-message>"
            "<next-entry><save-message>=Work<enter>"
            "<next-entry><delete-message>"
            "<sync-mailbox><quit>" % read1)
    assert crlf(read1.read_bytes()) == before[ids[0]][2]
    inbox = mailbox(srv)
    assert set(inbox) == {ids[0], ids[3]}
    assert system_flags(inbox[ids[0]][1]) == {"\\Seen", "\\Flagged"}
    assert system_flags(inbox[ids[3]][1]) == set()
    work = mailbox(srv, "Work")
    assert list(work) == [ids[1]] and work[ids[1]][2] == before[ids[1]][2]
    assert "\\Deleted" not in work[ids[1]][1]

    # over IMAPS: another folder, read
    neomutt(srv, h, tmp_path,
            "<change-folder>=Work<enter><first-entry>"
            "<pipe-message>cat > %s<enter><quit>" % read2, tls=True)
    assert crlf(read2.read_bytes()) == before[ids[1]][2]
    assert same_message(read2.read_bytes(), sent[ids[1]])
