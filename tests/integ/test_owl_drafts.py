"""owl never loses a draft and says exactly what was sent (issue 20): end
of input and Ctrl-C while composing, partly refused sends, a mistyped
password in both menus, the mailbox list's columns, bounces, HTML-only
mail and the smaller prompts; owl, owlctl and owld --help/--version."""
import os
import re
import stat
import subprocess
import time
import unicodedata

import pexpect

from conftest import BUILD, OWLCTL, OWLD
from test_owl import (ATTACH, OWL, PICK, cert, env_for, home, mail, menu,  # noqa: F401
                      owl_args, run_owl, spawn)


def compose(child, to="bob@localhost", subject="draft", lines=("line one",)):
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline(to)
    child.expect_exact("Subject: ")
    child.sendline(subject)
    child.expect_exact('Message: (end with a line with a single ".")')
    for line in lines:
        child.sendline(line)


def test_ctrl_d_in_text_saves_dead_letter(mail, cert, home, tmp_path):
    for n in (1, 2):  # the second draft is appended to the first
        child = spawn(owl_args(mail, cert), home, tmp_path,
                      password="pw-alice")
        menu(child, "2")
        compose(child, subject="draft %d" % n, lines=["text %d" % n])
        child.sendeof()
        child.expect_exact("owl: message saved to %s/dead.letter" % home)
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 0
    dead = home / "dead.letter"
    assert stat.S_IMODE(os.stat(str(dead)).st_mode) == 0o600
    text = dead.read_text()
    assert re.search(r"\ADate: .*\nFrom: alice@localhost\nTo: bob@localhost\n"
                     r"Subject: draft 1\n\ntext 1\n\nDate: .*\n"
                     r"From: alice@localhost\nTo: bob@localhost\n"
                     r"Subject: draft 2\n\ntext 2\n\n\Z", text), text
    assert mail.messages("bob") == []


def test_ctrl_d_at_attachment_prompt_keeps_the_files(mail, cert, home,
                                                     tmp_path):
    att = tmp_path / "a.txt"
    att.write_text("x")
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "2")
    compose(child, lines=["body", "."])
    child.expect_exact(ATTACH)
    child.sendline(str(att))
    child.expect_exact(ATTACH)
    child.sendeof()
    child.expect_exact("message saved to")
    child.expect(pexpect.EOF)
    assert "X-Owl-Attachment: %s\n" % att in (home / "dead.letter").read_text()


def intr(child):
    """Ctrl-C once owl has read what was typed (the terminal drops input
    not read yet when it sends SIGINT)."""
    time.sleep(0.5)
    child.sendintr()


def test_ctrl_c_asks_discard_or_save(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    question = ("Discard the message? (y = discard, n = save to "
                "~/dead.letter) ")
    # y: discarded, nothing written, owl goes on
    menu(child, "2")
    compose(child, subject="gone")
    intr(child)
    child.expect_exact(question)
    child.sendline("y")
    child.expect_exact("Message discarded")
    # n: saved, owl goes on
    menu(child, "2")
    compose(child, subject="kept by n")
    intr(child)
    child.expect_exact(question)
    child.sendline("n")
    child.expect_exact("owl: message saved to")
    # Ctrl-C at the question: saved too
    menu(child, "2")
    compose(child, subject="kept by a second Ctrl-C", lines=[])
    intr(child)
    child.expect_exact(question)
    child.sendintr()
    child.expect_exact("owl: message saved to")
    # Ctrl-C before anything was typed: nothing to keep
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendintr()
    child.expect_exact("Message cancelled")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # not killed by SIGINT
    text = (home / "dead.letter").read_text()
    assert "Subject: kept by n\n\nline one\n" in text
    assert "Subject: kept by a second Ctrl-C\n" in text
    assert "gone" not in text
    assert mail.messages("bob") == []


def test_failed_send_then_ctrl_d_saves_once(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "2")
    compose(child, to="nobody@localhost", subject="once", lines=["x", "."])
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Error in sending mail: 550")
    child.expect_exact("Discard it? (y = discard, n = save to ~/dead.letter) ")
    child.sendeof()
    child.expect_exact("owl: message saved to")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert (home / "dead.letter").read_text().count("Subject: once\n") == 1


def test_partial_send_batch(mail, cert, home):
    r = run_owl(owl_args(mail, cert) + ["send", "-s", "t", "bob@localhost",
                                        "nosuch@localhost"],
                home, "pw-alice", stdin="hi\n")
    assert r.returncode == 2, r.stderr
    lines = r.stderr.splitlines()
    assert lines[0] == "owl: Mail sent to 1 of 2 recipients:"
    assert lines[1] == "  sent to bob@localhost"
    assert re.match(r"  refused for nosuch@localhost: 550 5\.1\.1 \S", lines[2])
    assert len(mail.messages("bob")) == 1
    # every recipient refused: status 1, each one named
    r = run_owl(owl_args(mail, cert) + ["send", "-s", "t", "x@localhost",
                                        "y@localhost"],
                home, "pw-alice", stdin="hi\n")
    assert r.returncode == 1
    assert r.stderr.startswith("owl: Error in sending mail: 550")
    assert "  refused for x@localhost: 550" in r.stderr
    assert "  refused for y@localhost: 550" in r.stderr


def test_partial_send_menu(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "2")
    compose(child, to="bob@localhost, nosuch@localhost", lines=["hi", "."])
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent to 1 of 2 recipients:")
    child.expect_exact("  sent to bob@localhost")
    child.expect(r"  refused for nosuch@localhost: 550 5\.1\.1 ")
    menu(child, "3")
    child.expect(pexpect.EOF)
    assert len(mail.messages("bob")) == 1


def test_wrong_password_asked_again_in_send(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    child.sendline("wrong")
    menu(child, "2")
    compose(child, lines=["hi", "."])
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect(r"Login failed: 535 ")
    child.expect_exact("Password: ")
    child.sendline("pw-alice")
    child.expect_exact("Mail sent successfully")
    # the right password stays for the mailbox
    menu(child, "1")
    child.expect_exact(PICK)
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    assert len(mail.messages("bob")) == 1


def test_three_wrong_passwords_keep_the_draft(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    child.sendline("wrong1")
    menu(child, "2")
    compose(child, subject="not lost", lines=["hi", "."])
    child.expect_exact(ATTACH)
    child.sendline("")
    for pw in ("wrong2", "wrong3"):
        child.expect(r"Login failed: 535 ")
        child.expect_exact("Password: ")
        child.sendline(pw)
    child.expect(r"Login failed: 535 ")
    child.expect_exact("The login failed 3 times.")
    child.expect_exact("Discard it? (y = discard, n = save to ~/dead.letter) ")
    child.sendline("n")
    child.expect_exact("owl: message saved to")
    menu(child, "3")
    child.expect(pexpect.EOF)
    assert "Subject: not lost\n\nhi\n" in (home / "dead.letter").read_text()


def test_wrong_password_asked_again_in_manage(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    child.sendline("wrong")
    menu(child, "1")
    child.expect(r"Login failed: -ERR ")
    child.expect_exact("Password: ")
    child.sendline("still wrong")
    child.expect(r"Login failed: -ERR ")
    child.expect_exact("Password: ")
    child.sendline("pw-alice")
    child.expect_exact(PICK)
    child.sendline("-1")
    # three failures: back to the menu, owl goes on
    menu(child, "1")
    child.expect_exact(PICK)
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    child = spawn(owl_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    child.sendline("w1")
    menu(child, "1")
    for pw in ("w2", "w3"):
        child.expect_exact("Password: ")
        child.sendline(pw)
    child.expect_exact("The login failed 3 times.")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0


def width(s):
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else
               0 if unicodedata.combining(c) else 1 for c in s)


def test_list_columns_pad_by_display_width(mail, cert, home):
    senders = ["=?UTF-8?B?5bGx55Sw5aSq6YOO?= <yamada@localhost>",  # 山田太郎
               "=?UTF-8?Q?J=C3=BCrgen_Gr=C3=BC=C3=9F?= <j@localhost>",
               "plain@localhost",
               "=?UTF-8?B?" + "6ZW/" * 20 + "?= <long@localhost>"]  # 20 wide
    for s in senders:
        mail.send(["alice@localhost"],
                  ("From: %s\r\nSubject: s\r\n\r\nx\r\n" % s).encode())
    mail.send(["alice@localhost"], b"Subject: anonymous\r\n\r\nx\r\n")
    r = run_owl(owl_args(mail, cert) + ["list"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    cols = set()
    for line in lines[1:]:
        m = re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", line)
        cols.add(width(line[:m.start()]))
    assert cols == {width(lines[0][:lines[0].index("Received")])}, r.stdout
    assert "山田太郎" in r.stdout and "Jürgen Grüß" in r.stdout
    assert re.search(r"^5\s+\(no sender\)\s+\d{4}", r.stdout, re.M), r.stdout


BOUNCE = """From: MAILER-DAEMON@mx.test\r
Subject: Undelivered Mail Returned to Sender\r
MIME-Version: 1.0\r
Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r
\r
--b\r
Content-Type: text/plain\r
\r
Your mail could not be delivered.\r
--b\r
Content-Type: message/delivery-status\r
\r
Reporting-MTA: dns; mx.test\r
\r
Final-Recipient: rfc822; nosuch@example.org\r
Status: 5.1.1\r
--b\r
Content-Type: message/rfc822\r
\r
From: alice@localhost\r
To: nosuch@example.org\r
Subject: the original\r
\r
original text\r
--b--\r
"""

HEADERS_BOUNCE = BOUNCE.replace("message/rfc822", "text/rfc822-headers")


def test_bounce_parts_shown_and_listed(mail, cert, home, tmp_path):
    mail.send(["alice@localhost"], BOUNCE.encode())
    mail.send(["alice@localhost"], HEADERS_BOUNCE.encode())
    args = owl_args(mail, cert)
    r = run_owl(args + ["read", "1"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert "Your mail could not be delivered." in r.stdout
    assert "[Delivery status]\nReporting-MTA: dns; mx.test" in r.stdout
    assert ("[Attached message]\nFrom: alice@localhost\n"
            "To: nosuch@example.org\nSubject: the original\n") in r.stdout
    assert "1. delivery-status.txt (message/delivery-status," in r.stdout
    assert "2. message.eml (message/rfc822," in r.stdout
    out = tmp_path / "out"
    out.mkdir()
    r = run_owl(args + ["save", "1", str(out)], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert "Subject: the original" in (out / "message.eml").read_text()

    r = run_owl(args + ["read", "2"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert ("[Headers of the returned message]\nFrom: alice@localhost\n"
            "To: nosuch@example.org\nSubject: the original\n") in r.stdout
    assert "2. headers.txt (text/rfc822-headers," in r.stdout


def test_html_only_mail_is_shown_as_text(mail, cert, home):
    html = ("From: news@localhost\r\nSubject: html\r\n"
            "Content-Type: text/html; charset=utf-8\r\n\r\n"
            "<html><head><title>T</title><style>p {color: red}</style>"
            "</head><body><h1>Hello&nbsp;World</h1>\r\n<p>Fish &amp; "
            "chips &lt;3 &#233;t&#xE9;</p><ul><li>one</li><li>two</li>"
            "</ul><script>alert(1)</script>bye<br>now</body></html>\r\n")
    mail.send(["alice@localhost"], html.encode())
    r = run_owl(owl_args(mail, cert) + ["read", "1"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    body = r.stdout.split("Subject: html\n\n", 1)[1]
    assert body == ("Hello World\n\nFish & chips <3 été\n\n* one\n* two\n\n"
                    "bye\nnow\n"), body


def test_no_from_shown_as_no_sender(mail, cert, home):
    mail.send(["alice@localhost"], b"Subject: who\r\n\r\nx\r\n")
    r = run_owl(owl_args(mail, cert) + ["read", "1"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("From: (no sender)\n")


def test_warns_when_server_offers_no_auth(owld, home):
    o = owld()
    # the MX port offers no AUTH: owl has a password, so it says so
    r = run_owl(["-H", "127.0.0.1", "--smtp-port", str(o.port), "-u",
                 "alice@localhost", "--tls=off", "send", "-s", "x",
                 "bob@localhost"], home, "pw-alice", stdin="hi\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ("owl: warning: 127.0.0.1 offers no AUTH; the mail "
                        "was sent without logging in\n")


def test_help_and_version():
    for prog, name in ((OWL, "owl"), (OWLCTL, "owlctl"), (OWLD, "owld")):
        r = subprocess.run([prog, "--help"], capture_output=True, text=True,
                           timeout=10)
        assert r.returncode == 0 and r.stderr == "", (prog, r.stderr)
        assert r.stdout.startswith("usage: " + name)
        r = subprocess.run([prog, "--version"], capture_output=True,
                           text=True, timeout=10)
        assert r.returncode == 0 and r.stderr == "", (prog, r.stderr)
        assert re.match(r"%s( \(owlpost\))? \d+\.\d+\.\d+\n\Z" % name,
                        r.stdout), r.stdout
    r = subprocess.run([OWL, "-h"], capture_output=True, text=True)
    assert "send -s SUBJECT [-a FILE]... [-c CC] [-r FROM] TO..." in r.stdout


def test_owlctl_user_add_domain_and_existing(tmp_path):
    def ctl(*args, pw=None):
        return subprocess.run([OWLCTL, "-D", str(tmp_path)] + list(args),
                              input=pw, capture_output=True, text=True)
    # a domain owld would not deliver to: refused before the password
    r = ctl("user", "add", "carol@example.org", pw="")
    assert r.returncode == 65
    assert "example.org is not in domains (localhost)" in r.stderr
    assert "--force" in r.stderr
    assert not (tmp_path / "users").exists()
    r = ctl("user", "add", "--force", "carol@example.org", pw="pw\n")
    assert r.returncode == 0, r.stderr
    assert "warning: example.org is not in domains" in r.stderr
    r = ctl("-o", "domains=localhost,example.net", "user", "add",
            "dave@example.net", pw="pw\n")
    assert r.returncode == 0, r.stderr
    # an existing user (or a missing one for passwd) before the password
    r = ctl("user", "add", "Carol@Example.org", "--force", pw="")
    assert r.returncode == 1
    assert r.stderr == "owlctl: user carol@example.org already exists\n"
    r = ctl("user", "passwd", "nobody@localhost", pw="")
    assert r.returncode == 1
    assert r.stderr == "owlctl: no such user: nobody@localhost\n"
