"""owl against real servers from Debian's packages: it sends through
Postfix (smtpd on a loopback port, delivering to a virtual Maildir) and
reads the same message back through Dovecot's POP3 on that Maildir.
Both run from their own config directories on loopback; nothing touches
a system instance or the system resolver."""
import hashlib
import os
import shutil
import subprocess
import time

import pytest

from conftest import wait_port
from test_interop_postfix import postfix  # noqa: F401 (fixture)
from test_owl import run_owl
from test_relay import free_port

DOVECOT_CONF = """\
base_dir = {d}/dovecot-run
state_dir = {d}/dovecot-state
log_path = {d}/dovecot.log
protocols = pop3
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = 1
mail_location = maildir:{d}/vmail/%n
pop3_uidl_format = %g
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%n {d}/etc/dovecot.passwd
}}
userdb {{
  driver = static
  args = uid=postfix gid=postfix home={d}/vmail/%n
}}
service pop3-login {{
  inet_listener pop3 {{
    address = 127.0.0.1
    port = {port}
  }}
}}
service imap-login {{
  inet_listener imap {{
    port = 0
  }}
}}
"""


@pytest.fixture
def dovecot(postfix):  # noqa: F811
    if not shutil.which("dovecot"):
        pytest.skip("needs Debian's dovecot-pop3d (scripts/deps.sh test)")
    d, _ = postfix
    port = free_port()
    conf = d / "etc" / "dovecot.conf"
    conf.write_text(DOVECOT_CONF.format(d=d, port=port))
    (d / "etc" / "dovecot.passwd").write_text("carol:{PLAIN}pw-carol\n")
    proc = subprocess.Popen(["dovecot", "-c", str(conf), "-F"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    wait_port(port, proc=proc)
    yield port
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


def test_owl_sends_via_postfix_reads_via_dovecot(postfix, dovecot, tmp_path):  # noqa: F811
    d, smtp_port = postfix
    home = tmp_path / "home"
    home.mkdir()
    att = tmp_path / "data.bin"
    att.write_bytes(os.urandom(20000))
    # POP3 whatever listens on this machine's port 143 (protocol auto
    # would try IMAP there first)
    args = ["-H", "127.0.0.1", "--smtp-port", str(smtp_port),
            "--pop3-port", str(dovecot), "--protocol=pop3", "-u", "carol",
            "--tls=off"]
    r = run_owl(args + ["send", "-r", "dave@example.org", "-s", "Über Postfix",
                        "-a", str(att), "carol@pf.test"], home, None,
                stdin="via postfix\n.and a dot\n")
    assert r.returncode == 0, r.stderr
    new = d / "vmail" / "carol" / "new"
    deadline = time.time() + 30
    while time.time() < deadline and not (new.exists() and os.listdir(str(new))):
        time.sleep(0.1)
    assert new.exists() and len(os.listdir(str(new))) == 1, \
        (d / "maillog").read_text()

    r = run_owl(args + ["list"], home, "pw-carol")
    assert r.returncode == 0, r.stderr + (d / "dovecot.log").read_text()
    assert "dave@example.org" in r.stdout and "Über Postfix" in r.stdout
    r = run_owl(args + ["read", "1"], home, "pw-carol")
    assert r.returncode == 0, r.stderr
    assert "via postfix\n.and a dot\n" in r.stdout
    assert "1. data.bin (application/octet-stream, 20000 bytes)" in r.stdout
    out = tmp_path / "out"
    out.mkdir()
    r = run_owl(args + ["save", "1", str(out)], home, "pw-carol")
    assert r.returncode == 0, r.stderr
    assert hashlib.sha256((out / "data.bin").read_bytes()).digest() == \
        hashlib.sha256(att.read_bytes()).digest()
    r = run_owl(args + ["delete", "1"], home, "pw-carol")
    assert r.returncode == 0, r.stderr
    r = run_owl(args + ["list"], home, "pw-carol")
    assert r.returncode == 0 and "(no mail)" in r.stdout
    assert "Login: user=<carol>" in (d / "dovecot.log").read_text()
