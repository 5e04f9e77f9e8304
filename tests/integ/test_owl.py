"""owl, the mail client, against owld: the menus driven through a
pseudo-terminal (pexpect), the batch commands, settings and errors."""
import email
import email.policy
import hashlib
import os
import subprocess

import pexpect
import pytest

from conftest import BUILD
from test_tls import make_cert

OWL = os.path.join(BUILD, "owl")
ATTACH = "Attachment (empty line to finish): "
PICK = "Enter mail no. to see (-1 to go back): "


@pytest.fixture(scope="module")
def cert(tmp_path_factory):
    return make_cert(str(tmp_path_factory.mktemp("owlcert")), "owl")


@pytest.fixture
def mail(owld, cert):
    """owld with a certificate and no cleartext logins: owl must use
    STARTTLS/STLS and verify the certificate to log in."""
    return owld(["tls.cert=" + cert[0], "tls.key=" + cert[1],
                 "auth.allow_plaintext=no"])


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return h


def owl_args(o, cert, user="alice@localhost"):
    # POP3 whatever listens on this machine's port 143 (protocol auto
    # would take IMAP there; test_owl_imap.py covers IMAP)
    return ["-H", "127.0.0.1", "--smtp-port", str(o.sub_port),
            "--pop3-port", str(o.pop3_port), "--protocol=pop3", "-u", user,
            "--tls=require", "--cafile", cert[0]]


def env_for(home, password=None):
    # no EDITOR: the menus read the text line by line (test_owl_reply
    # covers the editor)
    env = {k: v for k, v in os.environ.items()
           if k not in ("OWL_PASSWORD", "EDITOR")}
    env["HOME"] = str(home)
    env["TZ"] = "UTC"
    if password is not None:
        env["OWL_PASSWORD"] = password
    return env


def run_owl(args, home, password=None, stdin="", cwd=None):
    # a new session has no controlling terminal: owl cannot ask for a
    # password on the developer's terminal when OWL_PASSWORD is unset
    return subprocess.run([OWL] + args, input=stdin, capture_output=True,
                          text=True, env=env_for(home, password),
                          cwd=cwd, timeout=60, start_new_session=True)


def sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def spawn(args, home, cwd, password=None):
    child = pexpect.spawn(OWL, args, env=env_for(home, password), cwd=str(cwd),
                          encoding="utf-8", timeout=30)
    return child


def menu(child, choice):
    child.expect_exact("1. Manage mail   2. Send mail   3. Quit")
    child.expect_exact("Choice: ")
    child.sendline(choice)


def test_menus_send_two_attachments_list_read_save_delete(mail, cert, home,
                                                          tmp_path):
    o = mail
    files = tmp_path / "files"
    files.mkdir()
    blob = files / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 40 + b"\r\n\x00end")
    notes = files / "résumé notes.txt"
    notes.write_text("line one\nligne deux é\n")
    work = tmp_path / "work"
    work.mkdir()

    child = spawn(owl_args(o, cert), home, work)
    child.expect_exact("Password: ")
    child.sendline("pw-alice")
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost, alice@localhost")
    child.expect_exact("Subject: ")
    child.sendline("Grüße — two files")
    child.expect_exact('Message: (end with a line with a single ".")')
    for line in ["Hello Bob,", ".a line with a leading dot", "Ünïcode body", "."]:
        child.sendline(line)
    child.expect_exact(ATTACH)
    child.sendline(str(blob))
    child.expect_exact(ATTACH)
    child.sendline(str(files / "missing.txt"))
    child.expect_exact("Cannot attach")
    child.expect_exact(ATTACH)
    child.sendline(str(notes))
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    assert "pw-alice" not in child.before  # the password was not echoed

    menu(child, "1")
    child.expect(r"No\.\s+Sender\s+Received\s+Subject")
    child.expect(r"1\s+alice@localhost\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+Grüße — two files")
    child.expect_exact(PICK)
    child.sendline("7")
    child.expect_exact("Mail no. out of range, give again")
    child.expect_exact(PICK)
    child.sendline("abc")
    child.expect_exact("Give a mail no. from the list, or -1 to go back")
    child.expect_exact(PICK)
    child.sendline("1")
    child.expect_exact("Subject: Grüße — two files")
    child.expect_exact("Hello Bob,")
    child.expect_exact(".a line with a leading dot")
    child.expect_exact("Ünïcode body")
    child.expect_exact("Attachments:")
    child.expect_exact("1. blob.bin (application/octet-stream, 10246 bytes)")
    child.expect_exact("2. résumé notes.txt (text/plain, 23 bytes)")
    child.expect_exact("s: save attachments, d: delete, Enter: back to the list")
    child.expect_exact("> ")
    child.sendline("s")
    child.expect_exact("Saved ./blob.bin (10246 bytes)")
    child.expect_exact("Saved ./résumé notes.txt (23 bytes)")
    child.expect_exact("> ")
    child.sendline("s")  # again: new names, nothing overwritten
    child.expect_exact("Saved ./blob-1.bin")
    child.expect_exact("Saved ./résumé notes-1.txt")
    child.expect_exact("> ")
    child.sendline("d")
    child.expect_exact("Mail deleted")
    child.expect_exact("(no mail)")
    child.expect_exact(PICK)
    child.sendline("1")  # deleted: no longer there
    child.expect_exact("Mail no. out of range, give again")
    child.expect_exact(PICK)
    child.sendline("-1")
    menu(child, "3")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0

    assert sha(work / "blob.bin") == sha(blob)
    assert sha(work / "blob-1.bin") == sha(blob)
    assert (work / "résumé notes.txt").read_text() == notes.read_text()
    assert o.messages("alice") == []  # DELE committed by QUIT
    assert len(o.messages("bob")) == 1
    log = o.logtext()
    assert "mails=1 rcpts=2 user=alice@localhost tls=TLSv1.3" in log
    assert "event=tls version=TLSv1.3" in log


def test_menu_incorrect_format_and_ctrl_d(mail, cert, home, tmp_path):
    """A bad address names its field and asks that field again, keeping
    what was typed before; Ctrl-D before anything is typed saves
    nothing."""
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("alice at localhost")
    child.expect_exact("Incorrect format in From: give one address, user@domain")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost, not-an-address")
    child.expect_exact('Incorrect format in To: "not-an-address" is not an '
                       'address user@domain')
    child.expect_exact("To: ")
    child.sendline("bob@localhost")
    child.expect_exact("Subject: ")
    child.sendline("kept")
    child.expect_exact("Message:")
    child.sendline("the From typed before the mistake is kept")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendeof()  # Ctrl-D at a prompt: a clean end
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    assert not (home / "dead.letter").exists()  # nothing typed to keep
    msgs = mail.messages("bob")
    assert len(msgs) == 1 and b"Subject: kept" in msgs[0][1]

    # Ctrl-D inside Manage mail: QUIT is sent, then a clean end
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "1")
    child.expect_exact(PICK)
    child.sendeof()
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 0
    mail.wait_log(r"pop3 id=\S+ peer=\S+ event=disconnect reason=quit")


def test_menu_long_lines_are_not_cut(mail, cert, home, tmp_path):
    """A To line longer than any fixed buffer reaches every recipient (a
    list cut short would drop or change the last address), and a From
    longer than an address may be is refused, not shortened."""
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("a" * 300 + "@localhost")
    child.expect_exact("Incorrect format in From")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("bob@localhost," + " " * 2500 + "alice@localhost")
    child.expect_exact("Subject: ")
    child.sendline("S" * 1500)
    child.expect_exact("Message:")
    child.sendline("long lines")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect_exact("Mail sent successfully")
    menu(child, "3")
    child.expect(pexpect.EOF)
    for user in ("alice", "bob"):
        msgs = mail.messages(user)
        assert len(msgs) == 1, user
        m = email.message_from_bytes(msgs[0][1], policy=email.policy.default)
        assert m["Subject"] == "S" * 1500
        assert [a.addr_spec for a in m["To"].addresses] == [
            "bob@localhost", "alice@localhost"]
        assert max(len(line) for line in msgs[0][1].split(b"\n")) <= 78


def test_password_prompt_ctrl_c_and_ctrl_d(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    assert child.waitnoecho(timeout=5)
    child.sendintr()
    child.expect(pexpect.EOF)
    assert child.getecho() is True
    child.close()
    assert child.signalstatus == 2

    # Ctrl-D there ends the menus cleanly, and a batch command with an error
    child = spawn(owl_args(mail, cert), home, tmp_path)
    child.expect_exact("Password: ")
    assert child.waitnoecho(timeout=5)
    child.sendeof()
    child.expect(pexpect.EOF)
    assert "Choice" not in child.before
    child.close()
    assert child.exitstatus == 0
    child = spawn(owl_args(mail, cert) + ["list"], home, tmp_path)
    child.expect_exact("Password: ")
    assert child.waitnoecho(timeout=5)
    child.sendeof()
    child.expect_exact("owl: no password given")
    child.expect(pexpect.EOF)
    child.close()
    assert child.exitstatus == 1


def test_menu_send_refused(mail, cert, home, tmp_path):
    child = spawn(owl_args(mail, cert), home, tmp_path, password="pw-alice")
    menu(child, "2")
    child.expect_exact("From [alice@localhost]: ")
    child.sendline("")
    child.expect_exact("To: ")
    child.sendline("nobody@localhost")
    child.expect_exact("Subject: ")
    child.sendline("x")
    child.expect_exact("Message:")
    child.sendline(".")
    child.expect_exact(ATTACH)
    child.sendline("")
    child.expect(r"Error in sending mail: 550 5\.1\.1 [^\r\n]*")
    child.expect_exact("The message was not sent.  Discard it? "
                       "(y = discard, n = save to ~/dead.letter) ")
    child.sendline("y")
    child.expect_exact("Message discarded")
    menu(child, "3")
    child.expect(pexpect.EOF)


def test_batch_commands(mail, cert, home, tmp_path):
    o = mail
    att = tmp_path / "report.pdf"
    att.write_bytes(b"%PDF-1.4\n" + os.urandom(50000))
    args = owl_args(o, cert)
    r = run_owl(args + ["send", "-s", "Batch ünïcode", "-a", str(att), "-c",
                        "alice@localhost", "bob@localhost"], home, "pw-alice",
                stdin="body line\n.dotted\n")
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    assert len(o.messages("bob")) == 1 and len(o.messages("alice")) == 1

    bob = owl_args(o, cert, "bob@localhost")
    r = run_owl(bob + ["list"], home, "pw-bob")
    assert r.returncode == 0, r.stderr
    assert "alice@localhost" in r.stdout and "Batch ünïcode" in r.stdout
    r = run_owl(bob + ["read", "1"], home, "pw-bob")
    assert r.returncode == 0, r.stderr
    assert "Subject: Batch ünïcode" in r.stdout
    assert "Cc: alice@localhost" in r.stdout
    assert "body line\n.dotted\n" in r.stdout
    assert "1. report.pdf (application/pdf, 50009 bytes)" in r.stdout
    out = tmp_path / "saved"
    out.mkdir()
    r = run_owl(bob + ["save", "1", str(out)], home, "pw-bob")
    assert r.returncode == 0, r.stderr
    assert sha(out / "report.pdf") == sha(att)
    r = run_owl(bob + ["delete", "1"], home, "pw-bob")
    assert r.returncode == 0, r.stderr
    assert o.messages("bob") == []

    # errors: one line on stderr, non-zero status
    r = run_owl(bob + ["read", "1"], home, "pw-bob")
    assert r.returncode == 1 and r.stderr == "owl: no message 1\n"
    r = run_owl(bob + ["list"], home, "wrong")
    assert r.returncode == 1
    assert r.stderr.startswith("owl: -ERR") and r.stderr.count("\n") == 1
    r = run_owl(args + ["send", "-s", "x", "bob@"], home, "pw-alice", stdin="x\n")
    assert r.returncode == 1 and r.stderr == "owl: Incorrect format: bob@\n"
    r = run_owl(args + ["send", "-s", "x", "bob@localhost"], home, "wrong",
                stdin="x\n")
    assert r.returncode == 1
    assert r.stderr.startswith("owl: Error in sending mail: 535")
    r = run_owl(args + ["send", "-a", str(tmp_path / "nope"), "bob@localhost"],
                home, "pw-alice")
    assert r.returncode == 1 and "nope: No such file or directory" in r.stderr
    r = run_owl(["-H", "127.0.0.1", "--pop3-port", "1", "list"], home, "x")
    assert r.returncode == 1 and "cannot connect to 127.0.0.1 port 1" in r.stderr
    r = run_owl(["--tls=sometimes", "list"], home, "x")
    assert r.returncode == 64
    r = run_owl(["frobnicate"], home)
    assert r.returncode == 64 and "usage:" in r.stderr


def test_save_never_cuts_a_name(mail, cert, home, tmp_path):
    """A directory so deep that dir/name passes PATH_MAX: an error, and no
    file under a shortened name."""
    att = tmp_path / "report.pdf"
    att.write_bytes(b"%PDF-1.4\n")
    args = owl_args(mail, cert)
    r = run_owl(args + ["send", "-s", "deep", "-a", str(att), "alice@localhost"],
                home, "pw-alice", stdin="x\n")
    assert r.returncode == 0, r.stderr
    parts = ["d" * 200] * 20 + ["e" * 70]
    deep = "/".join(parts)  # 4090 octets: made relative to tmp_path
    assert len(deep + "/report.pdf") > 4095
    fd = os.open(str(tmp_path), os.O_RDONLY)
    for part in parts:
        os.mkdir(part, dir_fd=fd)
        sub = os.open(part, os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = sub
    r = run_owl(args + ["save", "1", deep], home, "pw-alice", cwd=str(tmp_path))
    assert r.returncode == 1
    assert r.stderr.startswith("owl: cannot save report.pdf: File name too long")
    assert r.stderr.count("\n") == 1
    assert os.listdir(fd) == []
    os.close(fd)


def test_tls_require_checks_the_certificate(owld, cert, home, tmp_path):
    other = make_cert(str(tmp_path), "other")
    o = owld(["tls.cert=" + other[0], "tls.key=" + other[1],
              "auth.allow_plaintext=no"])
    r = run_owl(owl_args(o, cert) + ["list"], home, "pw-alice")
    assert r.returncode == 1
    assert "certificate verify failed" in r.stderr
    # without a certificate, require refuses to go on in the clear
    o2 = owld()
    r = run_owl(owl_args(o2, cert) + ["list"], home, "pw-alice")
    assert r.returncode == 1 and "does not offer STLS" in r.stderr
    r = run_owl(owl_args(o2, cert) + ["send", "bob@localhost"], home,
                "pw-alice", stdin="x")
    assert r.returncode == 1 and "does not offer STARTTLS" in r.stderr
    # auto: in the clear on loopback, where owld allows it
    r = run_owl(owl_args(o2, cert)[:-3] + ["list"], home, "pw-alice")
    assert r.returncode == 0, r.stderr


def test_owlrc(mail, cert, home, tmp_path):
    (home / ".owlrc").write_text(
        "# owl settings\nhost = 127.0.0.1\nsmtp-port = %d\npop3-port %d\n"
        "user = bob@localhost\ntls = require\ncafile = %s\n"
        % (mail.sub_port, mail.pop3_port, cert[0]))
    r = run_owl(["send", "-s", "rc", "alice@localhost"], home, "pw-bob",
                stdin="via owlrc\n")
    assert r.returncode == 0, r.stderr
    r = run_owl(["-u", "alice@localhost", "read", "1"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert "via owlrc" in r.stdout and "From: bob@localhost" in r.stdout
    (home / ".owlrc").write_text("colour = blue\n")
    r = run_owl(["list"], home, "x")
    assert r.returncode == 1 and ".owlrc:1: bad setting" in r.stderr


def test_hostile_mail_is_shown_safely(mail, cert, home, tmp_path):
    """Escape sequences and path names from a mail never reach the terminal
    or the file system as they are."""
    body = ("From: =?UTF-8?B?G1szMW1ldmls?= <x@y>\r\nSubject: \x1b]0;pwned\x07hi\r\n"
            "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
            "Content-Type: text/plain\r\n\r\ntext \x1b[2J here\r\n--b\r\n"
            "Content-Type: application/octet-stream\r\n"
            "Content-Disposition: attachment; filename=\"../../escape.sh\"\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\nZWNobyBoaQo=\r\n--b--\r\n")
    mail.send(["alice@localhost"], body.encode())
    out = tmp_path / "out"
    out.mkdir()
    args = owl_args(mail, cert)
    r = run_owl(args + ["read", "1"], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert "\x1b" not in r.stdout and "\x07" not in r.stdout
    assert "?[31mevil" in r.stdout and "text ?[2J here" in r.stdout
    r = run_owl(args + ["save", "1", str(out)], home, "pw-alice")
    assert r.returncode == 0, r.stderr
    assert os.listdir(str(out)) == ["escape.sh"]
    assert not (tmp_path / "escape.sh").exists()


def test_batch_limits(mail, cert, home, tmp_path):
    """OWL_ATTS_MAX (32), OWL_RCPTS_MAX (100), OWL_MSG_MAX (64 MiB of
    message, so at most 48 MiB of attachments before base64) and the
    32 MiB of text read from stdin: each refused with one line, nothing
    sent."""
    args = owl_args(mail, cert)
    small = tmp_path / "a.txt"
    small.write_text("x\n")
    r = run_owl(args + ["send"] + ["-a", str(small)] * 33 + ["bob@localhost"],
                home, "pw-alice", stdin="x\n")
    assert r.returncode == 1 and r.stderr == "owl: more than 32 attachments\n"
    r = run_owl(args + ["send"] + ["-a", str(small)] * 32 + ["bob@localhost"],
                home, "pw-alice", stdin="x\n")
    assert r.returncode == 0, r.stderr

    rcpts = ["bob@localhost"] * 101
    r = run_owl(args + ["send", "-s", "x"] + rcpts, home, "pw-alice", stdin="x\n")
    assert r.returncode == 1
    assert r.stderr == "owl: Incorrect format: more than 100 addresses\n"
    r = run_owl(args + ["send", "-s", "x"] + rcpts[:100], home, "pw-alice",
                stdin="x\n")
    assert "more than" not in r.stderr
    delivered = len(mail.messages("bob"))

    big = tmp_path / "big.bin"
    with open(str(big), "wb") as f:  # sparse: 48 MiB - 64 KiB + 1
        f.truncate((64 << 20) // 4 * 3 - 65536 + 1)
    r = run_owl(args + ["send", "-a", str(big), "bob@localhost"], home,
                "pw-alice", stdin="x\n")
    assert r.returncode == 1
    assert r.stderr == "owl: Error in sending mail: message larger than 64 MiB\n"

    r = run_owl(args + ["send", "bob@localhost"], home, "pw-alice",
                stdin="x" * ((32 << 20) + 1))
    assert r.returncode == 1
    assert r.stderr == "owl: message text larger than 32 MiB\n"
    assert len(mail.messages("bob")) == delivered  # nothing more sent
