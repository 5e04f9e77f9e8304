"""owld's relay against a real Postfix (Debian's package), started by the
test on a loopback port with its own configuration directory, delivering
to a virtual Maildir; no system resolver (peer name lookup off)."""
import os
import pwd
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from conftest import wait_port
from test_relay import free_port, wait_queue_empty

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
cleanup   unix n - n - 0 cleanup
qmgr      unix n - n 300 1 qmgr
rewrite   unix - - n - - trivial-rewrite
bounce    unix - - n - 0 bounce
defer     unix - - n - 0 bounce
trace     unix - - n - 0 bounce
verify    unix - - n - 1 verify
flush     unix n - n 1000? 0 flush
proxymap  unix - - n - - proxymap
smtp      unix - - n - - smtp
relay     unix - - n - - smtp
error     unix - - n - - error
retry     unix - - n - - error
discard   unix - - n - - discard
local     unix - n n - - local
virtual   unix - n n - - virtual
anvil     unix - - n - 1 anvil
scache    unix - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
showq     unix n - n - - showq
pickup    unix n - n 60 1 pickup
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/spool
data_directory = {d}/data
meta_directory = /etc/postfix
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = pf.test
mydomain = pf.test
mydestination =
mynetworks = 127.0.0.0/8
relay_domains =
virtual_mailbox_domains = pf.test
virtual_mailbox_base = {d}/vmail
virtual_mailbox_maps = texthash:{d}/etc/vmailbox
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
alias_maps =
alias_database =
smtpd_peername_lookup = no
smtp_dns_support_level = disabled
maillog_file_prefixes = {d}
maillog_file = {d}/maillog
biff = no
"""


@pytest.fixture
def postfix(tmp_path):
    if os.geteuid() != 0 or not shutil.which("postfix"):
        pytest.skip("needs root and Debian's postfix (scripts/deps.sh test)")
    # pytest's tmp_path is private to root; postfix's daemons run as postfix
    d = Path(tempfile.mkdtemp(prefix="owlpost-postfix-"))
    os.chmod(str(d), 0o755)
    for sub in ("etc", "spool", "data", "vmail"):
        (d / sub).mkdir(parents=True)
    pw = pwd.getpwnam("postfix")
    for sub in ("data", "vmail"):
        os.chown(str(d / sub), pw.pw_uid, pw.pw_gid)
    port = free_port()
    (d / "etc" / "main.cf").write_text(MAIN_CF.format(d=d, uid=pw.pw_uid, gid=pw.pw_gid))
    (d / "etc" / "master.cf").write_text(MASTER_CF.format(port=port))
    (d / "etc" / "vmailbox").write_text("carol@pf.test carol/\n")
    r = subprocess.run(["postfix", "-c", str(d / "etc"), "start"], capture_output=True, text=True)
    assert r.returncode == 0, (r.stdout, r.stderr, (d / "maillog").read_text()
                               if (d / "maillog").exists() else "")
    wait_port(port)
    yield d, port
    subprocess.run(["postfix", "-c", str(d / "etc"), "abort"], capture_output=True)
    shutil.rmtree(str(d), ignore_errors=True)


def test_relay_to_postfix(owld, postfix):
    d, port = postfix
    o = owld(["relay.host=127.0.0.1:%d" % port])
    body = (b"From: alice@localhost\r\nTo: carol@pf.test\r\nSubject: to postfix\r\n"
            b"\r\nhello postfix\r\n..leading dot\r\n" + b"x" * 3000 + b"\r\n")
    o.submit(["carol@pf.test"], body)
    wait_queue_empty(o, timeout=30)
    new = d / "vmail" / "carol" / "new"
    deadline = time.time() + 30
    while time.time() < deadline and not (new.exists() and os.listdir(str(new))):
        time.sleep(0.1)
    files = os.listdir(str(new))
    assert len(files) == 1, (d / "maillog").read_text()
    text = (new / files[0]).read_bytes()
    assert b"Subject: to postfix\n" in text
    assert b"\n..leading dot\n" in text  # stuffed twice on the wire, undone twice
    assert b"x" * 3000 + b"\n" in text
    assert b"by mx.test (owlpost)" in text
    # postlogd writes the delivery's line a moment after the file appears
    deadline = time.time() + 10
    while time.time() < deadline and \
            "status=sent (delivered to maildir)" not in (d / "maillog").read_text():
        time.sleep(0.1)
    assert "status=sent (delivered to maildir)" in (d / "maillog").read_text()
    assert "event=sent" in o.logtext() and "reply=\"250 2.0.0 Ok: queued as" in o.logtext()
