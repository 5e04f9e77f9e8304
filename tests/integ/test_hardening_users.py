"""Issue 16 items 5, 8, 14: the users file's outages (last good copy, 451
before any good copy, start-up report), the aliases file with postmaster
(RFC 5321 4.5.1), forwarding through the queue, and owlctl's exit codes."""
import base64
import os
import re
import shutil
import smtplib
import subprocess
import time

import pytest

from conftest import OWLCTL, add_user

MSG = b"From: x@example.org\r\nSubject: hi\r\n\r\nbody\r\n"


def rcpt(o, addr, port=None):
    """The reply code to RCPT TO:<addr> after a MAIL FROM."""
    c = o.connect()
    try:
        c.reply()
        c.cmd("EHLO client.test")
        assert c.cmd("MAIL FROM:<x@example.org>")[0] == 250
        return c.cmd("RCPT TO:<%s>" % addr)
    finally:
        c.close()


def users_path(o):
    return os.path.join(o.datadir, "users")


def aliases_path(o):
    return os.path.join(o.datadir, "aliases")


def write(path, data):
    """Replaces a file's content in place (as an editor may), with a new
    mtime even within one clock tick."""
    with open(path, "wb") as f:
        f.write(data)
    st = os.stat(path)
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1000))


def ctl(datadir, *args, stdin=None):
    return subprocess.run([OWLCTL, "-D", str(datadir)] + list(args),
                          input=stdin, capture_output=True, text=True,
                          timeout=30)


# --- item 5: users file outages -------------------------------------------

BAD_USERS_FILES = [
    ("empty", b""),
    ("nul", b"alice@localhost:{CRYPT}$y$x\x00\x00\x00\x7fELF\n"),
    ("garbage", b"this is not\na users file\nat all: none\n"),
    ("mostly-bad", b"alice@localhost:x\nBad Name:y\nno colon\n# c\n"),
]


@pytest.mark.parametrize("name,data", BAD_USERS_FILES,
                         ids=[b[0] for b in BAD_USERS_FILES])
def test_bad_users_file_keeps_last_good_copy(owld, name, data):
    o = owld()
    good = open(users_path(o), "rb").read()
    assert rcpt(o, "alice@localhost")[0] == 250
    write(users_path(o), data)
    # known users still accepted, unknown still refused, as before
    assert rcpt(o, "alice@localhost")[0] == 250
    assert rcpt(o, "bob@localhost")[0] == 250
    assert rcpt(o, "nobody@localhost")[0] == 550
    o.wait_log(r"error auth event=users-read-failed file=\S+/users "
               r"error=.* using=last-good users=2")
    # logins use the last good copy too
    assert o.pop3().login().startswith("+OK")
    o.submit(["bob@localhost"], MSG)
    # logged once per change of the file, not once per lookup
    assert rcpt(o, "alice@localhost")[0] == 250
    assert len(re.findall("event=users-read-failed", o.logtext())) == 1
    # fixed: loaded again
    write(users_path(o), good + b"# fixed\n")
    assert rcpt(o, "alice@localhost")[0] == 250
    o.wait_log(r"event=users-loaded file=\S+ users=2 skipped=0", count=2)


def test_users_file_removed_or_unreadable_while_running(owld):
    o = owld()
    good = open(users_path(o), "rb").read()
    os.remove(users_path(o))
    assert rcpt(o, "alice@localhost")[0] == 250
    assert rcpt(o, "nobody@localhost")[0] == 550
    o.wait_log(r"event=users-read-failed .*error=\"No such file or "
               r"directory\" using=last-good users=2")
    # unreadable (a directory in its place: read(2) fails even for root)
    os.mkdir(users_path(o))
    assert rcpt(o, "bob@localhost")[0] == 250
    o.wait_log(r"event=users-read-failed .*error=\"Is a directory\" "
               r"using=last-good")
    os.rmdir(users_path(o))
    write(users_path(o), good)
    add_user(o.datadir, "carol@localhost", "pw-carol")
    assert rcpt(o, "carol@localhost")[0] == 250


def test_no_users_file_at_start_gives_451_not_550(owld):
    o = owld(users=())
    code, lines = rcpt(o, "alice@localhost")
    assert code == 451 and "4.3.0" in lines[0], lines
    assert "users_file=unusable" in o.logtext()
    # relaying is still refused for good; it does not depend on the file
    assert rcpt(o, "x@remote.test")[0] == 550
    add_user(o.datadir, "alice@localhost", "pw-alice")
    assert rcpt(o, "alice@localhost")[0] == 250
    assert rcpt(o, "nobody@localhost")[0] == 550


def test_binary_users_file_at_start(owld):
    o = owld(users=(), start=False)
    write(users_path(o), b"\x7fELF\x02\x01\x01\x00\x00\x00" * 20)
    o.start()
    assert rcpt(o, "alice@localhost")[0] == 451
    o.wait_log(r"event=users-read-failed file=\S+ error=\"[^\"]*NUL byte"
               r"[^\"]*\" using=none")
    assert "users=0" in o.logtext() and "users_file=unusable" in o.logtext()
    assert "NUL byte" in o.proc.stderr.readline()
    # logins get a temporary answer, not "wrong password"
    p = o.pop3()
    assert p.status().startswith("+OK")
    assert p.cmd("USER alice@localhost").startswith("+OK")
    assert p.cmd("PASS pw-alice").startswith("-ERR [SYS/TEMP]")
    c = o.submission()
    c.reply()
    c.cmd("EHLO client.test")
    code, lines = c.cmd("AUTH PLAIN " + base64.b64encode(
        b"\0alice@localhost\0pw-alice").decode())
    assert code == 454 and "4.7.0" in lines[0], lines
    o.wait_log(r"event=login-deferred user=alice@localhost "
               r"reason=no-users-file")
    o.wait_log(r"event=auth-deferred user=alice@localhost")


def test_startup_report_names_skipped_lines(owld):
    o = owld(start=False)
    with open(users_path(o), "ab") as f:
        f.write(b"# a comment\n\nBad Name@localhost:x\nno colon here\n"
                b"alice@localhost:duplicate\ncarol@localhost:x\n"
                b"dave@localhost:x\n")
    o.start()
    log = o.logtext()
    assert re.search(r"event=users-loaded file=\S+/users users=4 skipped=3",
                     log), log
    for line, why in ((5, "invalid user name"), (6, "no ':'"),
                      (7, "duplicate name")):
        assert re.search(r"warn auth event=users-line-skipped file=\S+ "
                         r"line=%d reason=\"%s" % (line, why), log), log
    assert "users=4 aliases=0" in log


def test_emptied_on_purpose_means_no_users(owld):
    """0 bytes is a broken file; a comment-only file is an empty table, and
    owlctl leaves one when it removes the last user."""
    o = owld(users=("alice",))
    assert rcpt(o, "alice@localhost")[0] == 250
    r = ctl(o.datadir, "user", "del", "alice@localhost")
    assert r.returncode == 0, r.stderr
    assert open(users_path(o)).read().startswith("#")
    assert rcpt(o, "alice@localhost")[0] == 550
    o.wait_log(r"event=users-loaded file=\S+ users=0 skipped=0")


# --- item 8: postmaster and aliases ---------------------------------------

def test_postmaster_is_never_refused(owld):
    o = owld(["domains=localhost, other.test"])
    for addr in ("Postmaster", "POSTMASTER", "postmaster@localhost",
                 "PostMaster@LOCALHOST", "postmaster@other.test"):
        assert rcpt(o, addr)[0] == 250, addr
    o.send(["Postmaster"], MSG)
    o.send(["postmaster@other.test"], MSG)
    # no alias, no user of that name: the first user (alice) gets it
    assert len(o.messages("alice")) == 2 and not o.messages("bob")
    o.wait_log(r"event=postmaster-fallback rcpt=postmaster@localhost "
               r"to=alice@localhost")
    # an alias decides where it goes
    assert ctl(o.datadir, "alias", "add", "postmaster",
               "bob@localhost").returncode == 0
    o.send(["<postmaster>"], MSG)
    assert len(o.messages("bob")) == 1 and len(o.messages("alice")) == 2


def test_postmaster_without_any_user_gets_451(owld):
    o = owld(users=(), start=False)
    write(users_path(o), b"# nobody yet\n")
    o.start()
    assert rcpt(o, "postmaster")[0] == 451
    assert rcpt(o, "alice@localhost")[0] == 550


def test_alias_to_local_and_outside(owld, sink):
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port], start=False)
    write(aliases_path(o),
          b"# team\nteam@localhost: alice@localhost, bob@localhost,"
          b" Carol@Remote.Test\nabuse: team@localhost\n"
          b"alice2@localhost: alice@localhost\n")
    o.start()
    o.wait_log(r"event=aliases-loaded file=\S+ aliases=3 skipped=0")
    # alice thrice (direct, through team, through alice2): one copy
    o.send(["team@localhost", "alice@localhost", "alice2@localhost",
            "abuse@localhost"], MSG, sender="orig@sender.test")
    assert len(o.messages("alice")) == 1 and len(o.messages("bob")) == 1
    got = s.wait(1)
    assert got[0]["rcpts"] == ["Carol@remote.test"]
    assert got[0]["from"] == "orig@sender.test"  # original sender, no SRS
    time.sleep(0.3)
    assert len(s.acked()) == 1


def test_alias_loops_depth_and_self(owld):
    o = owld(["aliases.max_depth=3"], start=False)
    write(aliases_path(o),
          b"a@localhost: b@localhost\nb@localhost: a@localhost, "
          b"bob@localhost\n"
          b"x@localhost: y@localhost\ny@localhost: x@localhost\n"
          b"d1@localhost: d2@localhost\nd2@localhost: d3@localhost\n"
          b"d3@localhost: d4@localhost\nd4@localhost: alice@localhost\n"
          b"alice@localhost: alice@localhost, bob@localhost\n"
          b"ghost@localhost: nobody@localhost, bob@localhost\n")
    o.start()
    o.send(["a@localhost"], MSG)
    assert len(o.messages("bob")) == 1
    # a loop that reaches nobody, and too deep: 451, logged, never 550
    assert rcpt(o, "x@localhost")[0] == 451
    o.wait_log(r"event=alias-failed rcpt=x@localhost error=")
    assert rcpt(o, "d1@localhost")[0] == 451
    o.wait_log(r"event=alias-failed rcpt=d1@localhost error=\"aliases "
               r"nested too deep")
    # an alias naming itself keeps the user's own copy
    o.send(["alice@localhost"], MSG)
    assert len(o.messages("alice")) == 1 and len(o.messages("bob")) == 2
    # an unknown target is dropped and logged, the others get it
    o.send(["ghost@localhost"], MSG)
    assert len(o.messages("bob")) == 3
    o.wait_log(r"event=alias-target-unknown rcpt=ghost@localhost "
               r"target=nobody@localhost")


def test_alias_expansion_limit(owld):
    o = owld(["aliases.max_expansion=3"], start=False)
    write(aliases_path(o), b"three: alice@localhost, bob@localhost, "
          b"x@r.test\nfour: alice@localhost, bob@localhost, x@r.test, "
          b"y@r.test\n")
    o.start()
    assert rcpt(o, "three@localhost")[0] == 250
    assert rcpt(o, "four@localhost")[0] == 451
    o.wait_log(r"event=alias-failed rcpt=four@localhost error=\"alias "
               r"expands to too many addresses")


def test_outside_addresses_per_message_bounded(owld):
    """One queue envelope holds at most 1260 recipients: aliases can ask
    for more in one transaction; the RCPT that would go past it gets 452
    4.5.3 (the client sends it in another transaction) and the rest is
    queued, never a 451 after DATA for the whole message."""
    o = owld(["relay.host=127.0.0.1:9", "queue.retry=1h"], start=False)
    lines = []
    for a in range(4):
        targets = ", ".join("r%d@x%d.test" % (i, a) for i in range(350))
        lines.append("list%d@localhost: %s\n" % (a, targets))
    write(aliases_path(o), "".join(lines).encode())
    o.start()
    with smtplib.SMTP("127.0.0.1", o.port, timeout=30) as c:
        refused = c.sendmail("x@example.org", ["list%d@localhost" % i
                                               for i in range(4)], MSG)
        assert list(refused) == ["list3@localhost"]
        assert refused["list3@localhost"][0] == 452
        assert b"4.5.3" in refused["list3@localhost"][1]
        assert c.sendmail("x@example.org", ["list3@localhost"], MSG) == {}
    o.wait_log(r"event=queued msgid=\S+ from=<x@example.org> rcpts=1050")
    o.wait_log(r"event=queued msgid=\S+ from=<x@example.org> rcpts=350")
    o.wait_log(r"event=rcpt-rejected to=list3@localhost "
               r"reason=too-many-outside-addresses")
    assert "event=delivery-failed" not in o.logtext()


def test_aliases_file_outage_keeps_last_good_copy(owld):
    o = owld(start=False)
    write(aliases_path(o), b"team@localhost: bob@localhost\n")
    o.start()
    assert rcpt(o, "team@localhost")[0] == 250
    write(aliases_path(o), b"\x00\x01binary")
    assert rcpt(o, "team@localhost")[0] == 250
    o.wait_log(r"event=aliases-read-failed .* using=last-good aliases=1")
    os.remove(aliases_path(o))
    assert rcpt(o, "team@localhost")[0] == 250


def test_broken_aliases_file_at_start_gives_451_for_non_users(owld):
    o = owld(start=False)
    write(aliases_path(o), b"garbage\nmore garbage\n")
    o.start()
    assert rcpt(o, "team@localhost")[0] == 451
    assert rcpt(o, "alice@localhost")[0] == 250  # users still get mail
    assert rcpt(o, "postmaster")[0] == 451


# --- item 14: owlctl ------------------------------------------------------

def test_owlctl_alias_commands(tmp_path):
    d = tmp_path / "d"
    r = ctl(d, "alias", "add", "Postmaster", "alice@localhost",
            "Bob@Example.ORG")
    assert r.returncode == 0 and "added alias postmaster" in r.stdout
    assert ctl(d, "alias", "add", "postmaster", "x@y.z").returncode == 1
    r = ctl(d, "alias", "list")
    assert r.returncode == 0
    assert r.stdout == "postmaster: alice@localhost, Bob@example.org\n"
    assert ctl(d, "alias", "del", "postmaster").returncode == 0
    assert ctl(d, "alias", "list").stdout == ""
    assert ctl(d, "alias", "del", "postmaster").returncode == 1
    assert ctl(d, "alias", "add", "x").returncode == 64
    assert ctl(d, "alias").returncode == 64


def test_owlctl_alias_finds_a_hand_written_name_in_any_case(tmp_path):
    """A line written by hand as "Team@Localhost:" is the alias
    team@localhost: del finds it, and add does not append a second line
    that owld would skip as a duplicate."""
    d = tmp_path / "d"
    os.makedirs(d)
    (d / "aliases").write_bytes(b"Team@Localhost: alice@localhost\n")
    assert ctl(d, "alias", "add", "team@localhost",
               "bob@localhost").returncode == 1  # exists already
    assert ctl(d, "alias", "del", "team@localhost").returncode == 0
    assert ctl(d, "alias", "list").stdout == ""


@pytest.mark.parametrize("args", [
    ("alias", "add", "-x", "alice@localhost"),
    ("alias", "add", "--help@localhost", "alice@localhost"),
    ("alias", "add", "bad name", "alice@localhost"),
    ("alias", "add", "ok", "not an address"),
    ("alias", "add", "ok", "alice@localhost,"),
    ("alias", "del", "-x"),
    ("user", "add", "-x@localhost"),
    ("user", "add", "--x@localhost"),
    ("user", "add", "Bad/Name@localhost"),
    ("user", "passwd", "-x@localhost"),
])
def test_owlctl_bad_names_exit_65(tmp_path, args):
    r = ctl(tmp_path / "d", *args, stdin="pw\n")
    assert r.returncode == 65, (r.returncode, r.stderr)
    assert not os.path.exists(tmp_path / "d" / "users")
    assert not os.path.exists(tmp_path / "d" / "aliases")


def test_owlctl_check_and_list_name_skipped_lines(tmp_path):
    d = tmp_path / "d"
    os.makedirs(d)
    (d / "users").write_bytes(b"alice@localhost:x\nBad:y\nbob@localhost:z\n")
    (d / "aliases").write_bytes(b"team: alice@localhost\n")
    r = ctl(d, "check")
    assert r.returncode == 0, r.stderr
    assert "# users.file: 2 users" in r.stdout
    assert "# aliases.file: 1 aliases" in r.stdout
    assert re.search(r"users:2: invalid user name", r.stderr), r.stderr
    r = ctl(d, "user", "list")
    assert r.stdout == "alice@localhost\nbob@localhost\n"
    assert "users:2:" in r.stderr and "event=" not in r.stderr
    (d / "users").write_bytes(b"\x00binary")
    r = ctl(d, "check")
    assert r.returncode == 1 and "NUL byte" in r.stderr
    assert ctl(d, "user", "list").returncode == 1


def test_owlctl_man_page_lists_exit_codes():
    from conftest import ROOT
    man = open(os.path.join(ROOT, "docs", "owlctl.8")).read()
    status = man.split(".SH EXIT STATUS")[1].split(".SH")[0]
    for code in ("0", "1", "64", "65", "73", "78"):
        assert re.search(r"\b%s\b" % code, status), code
    assert "alias add" in man and "aliases.file" in man
