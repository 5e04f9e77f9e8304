"""owl over IMAP (issue 20) against owld: protocol imap and auto, folders
with their counts, list/read/save/delete with -f FOLDER, \\Seen kept, a
delete moved to Trash (found by its \\Trash attribute) and expunged there,
a copy of each sent mail in Sent, the folder picker in the menus, and a
refused login asked again."""
import os

import pexpect

from test_owl import (PICK, cert, home, mail, menu, run_owl,  # noqa: F401
                      spawn)

MSG = (b"From: Bob <bob@localhost>\r\nTo: alice@localhost\r\n"
       b"Subject: %s\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n"
       b"text of %s\r\n")
IMAP_PICK = "Enter mail no. to see (f: folders, -1 to go back): "


def imap_args(o, cert, proto="imap", user="alice@localhost"):
    args = ["-H", "127.0.0.1", "--smtp-port", str(o.sub_port),
            "--imap-port", str(o.imap_port), "--pop3-port", str(o.pop3_port),
            "-u", user, "--tls=require", "--cafile", cert[0]]
    return args + (["--protocol=" + proto] if proto else [])


def deliver(mail, *subjects):
    for s in subjects:
        mail.send(["alice@localhost"], MSG % (s.encode(), s.encode()))


def owl(mail, cert, home, *cmd, proto="imap"):
    r = run_owl(imap_args(mail, cert, proto) + list(cmd), home,
                password="pw-alice")
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_batch_folders_list_read_delete(mail, cert, home, tmp_path):
    deliver(mail, "one", "two")
    out = owl(mail, cert, home, "list")
    assert "1*" in out and "2*" in out and "(2 unread, marked *)" in out
    out = owl(mail, cert, home, "folders")
    assert [ln.split()[0] for ln in out.splitlines()][:1] == ["INBOX"]
    inbox = [ln for ln in out.splitlines() if ln.startswith("INBOX")][0]
    assert inbox.split()[1:] == ["2", "messages,", "2", "unread"], out
    assert any(ln.startswith("Trash") for ln in out.splitlines())
    out = owl(mail, cert, home, "read", "1")
    assert "Subject: one" in out and "text of one" in out
    out = owl(mail, cert, home, "list")  # \Seen kept by the server
    assert "1*" not in out and "2*" in out and "(1 unread" in out
    owl(mail, cert, home, "delete", "1")
    out = owl(mail, cert, home, "list")
    assert "two" in out and "one" not in out
    out = owl(mail, cert, home, "list", "-f", "Trash")
    assert "one" in out
    owl(mail, cert, home, "delete", "-f", "Trash", "1")  # gone for good
    assert "(no mail)" in owl(mail, cert, home, "list", "-f", "Trash")
    d = tmp_path / "saved"
    d.mkdir()
    out = owl(mail, cert, home, "save", "-f", "INBOX", "1", str(d))
    assert "No attachments" in out
    r = run_owl(imap_args(mail, cert) + ["list", "-f", "Nope"], home,
                password="pw-alice")
    assert r.returncode == 1 and "folder Nope: NO" in r.stderr, r.stderr


def test_sent_copy_and_protocol_auto(mail, cert, home, tmp_path):
    r = run_owl(imap_args(mail, cert, proto=None) +
                ["send", "-s", "kept", "bob@localhost"], home,
                password="pw-alice", stdin="a copy\n")
    assert r.returncode == 0, r.stderr
    out = owl(mail, cert, home, "list", "-f", "Sent", proto=None)
    assert "kept" in out and "1*" not in out  # appended \Seen
    out = owl(mail, cert, home, "read", "-f", "Sent", "1", proto=None)
    assert "a copy" in out
    # auto with nothing on the IMAP port: POP3, where folders are refused
    args = imap_args(mail, cert, proto=None)
    args[args.index("--imap-port") + 1] = "1"
    r = run_owl(args + ["list", "-f", "Sent"], home, password="pw-alice")
    assert r.returncode == 1 and "folders need IMAP" in r.stderr
    r = run_owl(args + ["list"], home, password="pw-alice")
    assert r.returncode == 0 and "(no mail)" in r.stdout


def test_menus_over_imap(mail, cert, home, tmp_path):
    deliver(mail, "first")
    child = spawn(imap_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    child.sendline("wrong")
    menu(child, "1")
    child.expect_exact("Login failed: NO")
    child.expect_exact("Password: ")
    child.sendline("pw-alice")
    child.expect_exact("Folder INBOX")
    child.expect(r"1\*\s+Bob <bob@localhost>")
    child.expect_exact(IMAP_PICK)
    child.sendline("1")
    child.expect_exact("text of first")
    child.expect_exact("> ")
    child.sendline("d")
    child.expect_exact("Mail deleted")
    child.expect_exact(IMAP_PICK)
    child.sendline("f")
    # the selected folder's counts come from its list, not STATUS
    child.expect(r"\d+\. INBOX +0 messages, 0 unread")
    child.expect(r"(\d+)\. Trash +1 messages, 0 unread")
    n = child.match.group(1)
    child.expect_exact("Folder no. (Enter: stay in this one): ")
    child.sendline(n)
    child.expect_exact("Folder Trash")
    child.expect(r"1 +Bob <bob@localhost>.*first")
    child.expect_exact(IMAP_PICK)
    child.sendline("-1")
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost")
    child.expect_exact("Subject: ")
    child.sendline("from the menu")
    child.expect_exact("Message: (")
    child.sendline(".")
    child.expect_exact("Attachment (empty line to finish): ")
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    child.expect_exact("A copy is in Sent")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0  # and no sanitizer report (SAN=1)


def test_owlrc_protocol_and_imap_port(mail, cert, home, tmp_path):
    deliver(mail, "from rc")
    (home / ".owlrc").write_text(
        "host = 127.0.0.1\nprotocol = imap\nimap-port = %d\n"
        "pop3-port = 1\ntls = require\ncafile = %s\n" %
        (mail.imap_port, cert[0]))
    r = run_owl(["-u", "alice@localhost", "list"], home, password="pw-alice")
    assert r.returncode == 0 and "1*" in r.stdout, r.stderr
    (home / ".owlrc").write_text("protocol = smtp\n")
    r = run_owl(["list"], home, password="pw-alice")
    assert r.returncode == 1 and ':1: bad setting "protocol"' in r.stderr
    (home / ".owlrc").unlink()
    r = run_owl(["--protocol=nntp", "list"], home, password="pw-alice")
    assert r.returncode == 64 and 'bad value for protocol' in r.stderr


def test_non_ascii_folder_names(owld, home, tmp_path):
    """Folder names in modified UTF-7 (RFC 3501 5.1.3) are shown in UTF-8
    and -f takes them in UTF-8."""
    o = owld()
    deliver(o, "für dich")
    c = o.imap()
    c.login()
    assert c.cmd("C", 'CREATE "Entw&APw-rfe"')[-1].startswith("C OK")
    assert c.cmd("S", "SELECT INBOX")[-1].startswith("S OK")
    assert c.cmd("P", 'COPY 1 "Entw&APw-rfe"')[-1].startswith("P OK")
    c.cmd("Q", "LOGOUT")
    args = ["-H", "127.0.0.1", "--imap-port", str(o.imap_port),
            "--protocol=imap", "--tls=off", "-u", "alice@localhost"]
    r = run_owl(args + ["folders"], home, password="pw-alice")
    assert r.returncode == 0, r.stderr
    line = [ln for ln in r.stdout.splitlines() if ln.startswith("Entw")][0]
    assert line.split()[:4] == ["Entwürfe", "1", "messages,", "1"], r.stdout
    r = run_owl(args + ["list", "-f", "Entwürfe"], home, password="pw-alice")
    assert r.returncode == 0 and "für dich" in r.stdout, r.stderr
