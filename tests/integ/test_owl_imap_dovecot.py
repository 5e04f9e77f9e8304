"""owl over IMAP against Debian's Dovecot imapd (a private instance on
loopback from test_imap_clients.DovecotTarget, stopped by its pid):
STARTTLS with the certificate checked, AUTHENTICATE PLAIN, folders with
counts, \\Seen kept, delete to the \\Trash folder then for good, -f, and
the copy of a mail sent (through owld's submission) in \\Sent."""
import os
import shutil

import pytest

from test_imap_clients import DovecotTarget, certs  # noqa: F401
from test_owl import home, run_owl  # noqa: F401

MSG = (b"From: Bob <bob@localhost>\r\nTo: alice@localhost\r\n"
       b"Subject: %s\r\nDate: Mon, 2 Nov 2026 10:00:00 +0000\r\n\r\n"
       b"text of %s\r\n")


@pytest.fixture
def dove(certs):  # noqa: F811
    if not shutil.which("dovecot") or \
            not os.path.exists("/usr/lib/dovecot/imap"):
        pytest.skip("needs Debian's dovecot-imapd (scripts/deps.sh test)")
    t = DovecotTarget(*certs)
    yield t
    t.stop()


def args(dove, extra=()):
    return ["-H", "127.0.0.1", "--imap-port", str(dove.port),
            "--protocol=imap", "-u", "alice@localhost", "--tls=require",
            "--cafile", dove.cafile] + list(extra)


def owl(dove, home, *cmd, extra=()):  # noqa: F811
    r = run_owl(args(dove, extra) + list(cmd), home, password="pw-alice")
    assert r.returncode == 0, r.stderr + "\n" + dove.log()[-3000:]
    return r.stdout


def test_dovecot_folders_seen_trash(dove, home):  # noqa: F811
    for s in (b"one", b"two"):
        dove.deliver(MSG % (s, s))
    out = owl(dove, home, "list")
    assert "1*" in out and "2*" in out, out
    out = owl(dove, home, "folders")
    names = [ln.split()[0] for ln in out.splitlines()]
    assert {"INBOX", "Sent", "Trash"} <= set(names), out
    inbox = [ln for ln in out.splitlines() if ln.startswith("INBOX")][0]
    assert inbox.split()[1:] == ["2", "messages,", "2", "unread"], out
    assert "text of one" in owl(dove, home, "read", "1")
    out = owl(dove, home, "list")
    assert "1*" not in out and "2*" in out
    owl(dove, home, "delete", "1")
    assert "one" not in owl(dove, home, "list")
    assert "one" in owl(dove, home, "list", "-f", "Trash")
    owl(dove, home, "delete", "-f", "Trash", "1")
    assert "(no mail)" in owl(dove, home, "list", "-f", "Trash")
    assert "Login: user=<alice" in dove.log() or "imap-login" in dove.log()


def test_dovecot_sent_copy(dove, home, owld, certs):  # noqa: F811
    o = owld(["tls.cert=" + certs[0], "tls.key=" + certs[1]])
    r = run_owl(args(dove, ["--smtp-port", str(o.sub_port)]) +
                ["send", "-s", "to the archive", "bob@localhost"], home,
                password="pw-alice", stdin="kept\n")
    assert r.returncode == 0, r.stderr
    assert len(o.messages("bob")) == 1
    out = owl(dove, home, "list", "-f", "Sent")
    assert "to the archive" in out and "1*" not in out, out
    assert "kept" in owl(dove, home, "read", "-f", "Sent", "1")
