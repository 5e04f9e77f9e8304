"""owl's reply and forward from the message view (r, f): the quoted text
with its attribution line, In-Reply-To and References (RFC 5322 3.6.4),
one "Re: "/"Fwd: " in the subject, a forward's attachments, To and
Subject kept by Enter, and $EDITOR for the text (the "." line without)."""
import email
import email.policy
import os

import pexpect

from test_owl import (ATTACH, OWL, PICK, cert, home, mail, menu,  # noqa: F401
                      owl_args, spawn)

ORIGINAL = (b"From: Bob Example <bob@localhost>\r\n"
            b"To: alice@localhost\r\n"
            b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
            b"Subject: Re: Re: lunch\r\n"
            b"Message-ID: <m2@test>\r\n"
            b"References: <m0@test>\r\n <m1@test>\r\n"
            b"\r\n"
            b"Hi Alice,\r\n"
            b"\r\n"
            b"noon? \x1b[31mred\r\n")

FORWARDED = (b"From: Bob Example <bob@localhost>\r\n"
             b"To: alice@localhost\r\n"
             b"Date: Mon, 2 Nov 2026 10:00:00 +0000\r\n"
             b"Subject: Fwd: report\r\n"
             b"Message-ID: <f1@test>\r\n"
             b"MIME-Version: 1.0\r\n"
             b"Content-Type: multipart/mixed; boundary=XX\r\n"
             b"\r\n"
             b"--XX\r\n"
             b"Content-Type: text/plain\r\n"
             b"\r\n"
             b"the report is attached\r\n"
             b"--XX\r\n"
             b"Content-Type: application/octet-stream; name=data.bin\r\n"
             b"Content-Disposition: attachment; filename=data.bin\r\n"
             b"Content-Transfer-Encoding: base64\r\n"
             b"\r\n"
             b"AAECAwQFBgcICQ==\r\n"
             b"--XX--\r\n")


def env_editor(child_args, home, cwd, editor):
    """owl in a pty as alice, with EDITOR set to editor (None: unset)."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("OWL_PASSWORD", "EDITOR", "VISUAL")}
    env.update(HOME=str(home), TZ="UTC", OWL_PASSWORD="pw-alice")
    if editor is not None:
        env["EDITOR"] = editor
    return pexpect.spawn(OWL, child_args, env=env, cwd=str(cwd),
                         encoding="utf-8", timeout=30)


def open_first(child):
    menu(child, "1")
    child.expect_exact(PICK)
    child.sendline("1")
    child.expect_exact("r: reply, f: forward, ")
    child.expect_exact("> ")


def received(mail, user="bob"):
    msgs = mail.messages(user)
    assert len(msgs) == 1, msgs
    return email.message_from_bytes(msgs[0][1], policy=email.policy.default)


def test_reply_quotes_and_threads(mail, cert, home, tmp_path):
    mail.send(["alice@localhost"], ORIGINAL)
    child = env_editor(owl_args(mail, cert), home, tmp_path, None)
    open_first(child)
    child.sendline("r")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To [bob@localhost] (Enter keeps it): ")
    child.sendline("")
    child.expect_exact("Subject [Re: lunch] (Enter keeps it): ")
    child.sendline("")
    child.expect_exact("On Mon, 2 Nov 2026 10:00:00 +0000, Bob Example "
                       "<bob@localhost> wrote:")
    child.expect_exact("> noon? ?[31mred")  # the escape made harmless
    child.expect_exact("Message: (what you type goes below the quoted "
                       "text; end with a line with a single \".\")")
    child.sendline("Noon is fine.")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    child.expect_exact(PICK)
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)
    m = received(mail)
    assert m["Subject"] == "Re: lunch"
    assert m["In-Reply-To"] == "<m2@test>"
    assert m["References"].split() == ["<m0@test>", "<m1@test>", "<m2@test>"]
    body = m.get_body().get_content().replace("\r\n", "\n")
    assert body == ("On Mon, 2 Nov 2026 10:00:00 +0000, Bob Example "
                    "<bob@localhost> wrote:\n> Hi Alice,\n>\n"
                    "> noon? \x1b[31mred\nNoon is fine.\n"), body


def test_reply_fields_can_be_changed(mail, cert, home, tmp_path):
    mail.send(["alice@localhost"], ORIGINAL.replace(
        b"Subject: Re: Re: lunch", b"Reply-To: \"Team, all\" <carol@localhost>\r\n"
        b"Subject: lunch"))
    child = env_editor(owl_args(mail, cert), home, tmp_path, None)
    open_first(child)
    child.sendline("r")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To [carol@localhost] (Enter keeps it): ")
    child.sendline("bob@localhost")
    child.expect_exact("Subject [Re: lunch] (Enter keeps it): ")
    child.sendline("other subject")
    child.expect_exact("Message: (")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)
    m = received(mail)
    assert m["Subject"] == "other subject"
    assert m["In-Reply-To"] == "<m2@test>"


def test_forward_keeps_attachments(mail, cert, home, tmp_path):
    mail.send(["alice@localhost"], FORWARDED)
    child = env_editor(owl_args(mail, cert), home, tmp_path, None)
    open_first(child)
    child.sendline("f")
    child.expect_exact("Forwarding 1 attachments")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost")
    child.expect_exact("Subject [Fwd: report] (Enter keeps it): ")
    child.sendline("")
    child.expect_exact("Message: (the forwarded message goes below what "
                       "you type; end with a line with a single \".\")")
    child.sendline("FYI")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)
    m = received(mail)
    assert m["Subject"] == "Fwd: report"
    assert m["In-Reply-To"] is None
    body = m.get_body(("plain",)).get_content().replace("\r\n", "\n")
    assert body == ("FYI\n\n---------- Forwarded message ----------\n"
                    "From: Bob Example <bob@localhost>\n"
                    "Date: Mon, 2 Nov 2026 10:00:00 +0000\n"
                    "Subject: Fwd: report\nTo: alice@localhost\n\n"
                    "the report is attached\n"), body
    atts = list(m.iter_attachments())
    assert [a.get_filename() for a in atts] == ["data.bin"]
    assert atts[0].get_content() == bytes(range(10))


def editor_script(tmp_path, body):
    path = tmp_path / "editor.sh"
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return str(path)


def test_editor_writes_the_text(mail, cert, home, tmp_path):
    mail.send(["alice@localhost"], ORIGINAL)
    seen = tmp_path / "seen"
    # the file is the last argument: EDITOR may hold options ("-x")
    ed = editor_script(tmp_path, (
        'for f; do :; done\nstat -c %%a "$f" > %s.mode\ncp "$f" %s\n'
        'echo "$f" > %s.path\nprintf "Edited answer.\\n" >> "$f"\n') %
        (seen, seen, seen))
    child = env_editor(owl_args(mail, cert), home, tmp_path, ed + " -x")
    open_first(child)
    child.sendline("r")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("(Enter keeps it): ")
    child.sendline("")
    child.expect_exact("(Enter keeps it): ")
    child.sendline("")
    child.expect_exact("Message: ")
    child.expect_exact(" bytes from the editor")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)
    assert (tmp_path / "seen.mode").read_text().strip() == "600"
    assert seen.read_text().startswith("On Mon, 2 Nov 2026")
    assert not os.path.exists((tmp_path / "seen.path").read_text().strip())
    body = received(mail).get_body().get_content().replace("\r\n", "\n")
    assert body.endswith("> noon? \x1b[31mred\n\nEdited answer.\n"), body


def test_editor_in_send_menu_and_failing_editor(mail, cert, home, tmp_path):
    ed = editor_script(tmp_path, 'printf "from the editor\\n" > "$1"\n')
    child = env_editor(owl_args(mail, cert), home, tmp_path, ed)
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost")
    child.expect_exact("Subject: ")
    child.sendline("edited")
    child.expect_exact("Message: 16 bytes from the editor")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)
    assert received(mail).get_body().get_content() == "from the editor\n"

    bad = editor_script(tmp_path, "exit 3\n")
    child = env_editor(owl_args(mail, cert), home, tmp_path, bad)
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost")
    child.expect_exact("Subject: ")
    child.sendline("typed")
    child.expect_exact("failed (exit status 3); type the text here instead.")
    child.expect_exact('Message: (end with a line with a single ".")')
    child.sendline("typed text")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)
    assert len(mail.messages("bob")) == 2


def test_reply_ctrl_d_keeps_thread_in_dead_letter(mail, cert, home,
                                                  tmp_path):
    mail.send(["alice@localhost"], ORIGINAL)
    child = env_editor(owl_args(mail, cert), home, tmp_path, None)
    open_first(child)
    child.sendline("r")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("(Enter keeps it): ")
    child.sendline("")
    child.expect_exact("(Enter keeps it): ")
    child.sendline("")
    child.expect_exact("Message: (")
    child.sendline("unfinished")
    child.sendeof()
    child.expect_exact("message saved to")
    child.expect(pexpect.EOF)
    text = (home / "dead.letter").read_text()
    assert "Subject: Re: lunch\nIn-Reply-To: <m2@test>\n" in text
    assert "References: <m0@test> <m1@test> <m2@test>\n" in text
    assert "> Hi Alice,\n" in text and "unfinished\n" in text
