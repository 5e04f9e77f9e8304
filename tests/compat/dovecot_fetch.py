#!/usr/bin/python3
"""dovecot_fetch - owlpost's FETCH responses beside Dovecot's on the same
messages: a manual check (not part of make check) of the choices
proto/imap_fetch and mime/mstruct make where RFC 9051 leaves one.

Usage (as root, with Dovecot installed and `make all` done):
    /usr/bin/python3 tests/compat/dovecot_fetch.py MESSAGE_FILE...

Each message is put alone in a Maildir and fetched item by item by
Dovecot's imap binary in preauth mode (run as nobody, on stdin: no
network), and by tests/compat/fetch_drv.c (built here against
build/libowl.a); every response that differs is printed.  Empty strings
("" and {0}) count as the same; letter case is ignored (the defaults are
"TEXT" "PLAIN" here, "text" "plain" there).  Known differences: Dovecot
refuses malformed quoted-printable (NO [PARSE]), decodes the parts
inside a multipart for BINARY, normalizes a header's last line end in
HEADER.FIELDS, and shows an invalid Content-Type as "" "".
"""
import os
import pwd
import re
import shutil
import subprocess
import sys
import tempfile

ITEMS = [
    "BODYSTRUCTURE", "BODY", "ENVELOPE", "BODY.PEEK[]", "BODY.PEEK[HEADER]",
    "BODY.PEEK[TEXT]", "BODY.PEEK[1]", "BODY.PEEK[2]", "BODY.PEEK[3]",
    "BODY.PEEK[1.MIME]", "BODY.PEEK[2.MIME]", "BODY.PEEK[2.HEADER]",
    "BODY.PEEK[2.TEXT]", "BODY.PEEK[1.1]", "BODY.PEEK[2.1]",
    "BODY.PEEK[2.2]", "BODY.PEEK[HEADER.FIELDS (From Subject)]",
    "BODY.PEEK[HEADER.FIELDS.NOT (From)]", "BINARY.PEEK[1]",
    "BINARY.SIZE[1]", "BODY.PEEK[]<5.10>",
]


def key(resp):
    """The data item's name (with its section) of one FETCH response."""
    r = re.sub(rb"^\* 1 FETCH \((FLAGS \([^)]*\) )?", b"", resp)
    k, depth = b"", 0
    for c in r:
        c = bytes([c])
        depth += (c == b"[") - (c == b"]")
        if c == b" " and depth == 0:
            break
        k += c
    return k.upper()


def dovecot(top, msg):
    box = os.path.join(top, "Maildir")
    shutil.rmtree(box, ignore_errors=True)
    for d in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(box, d))
    with open(os.path.join(box, "cur", "1.x:2,"), "wb") as f:
        f.write(msg)
    nobody = pwd.getpwnam("nobody")
    for root, ds, fs in os.walk(top):
        for x in ds + fs:
            os.chown(os.path.join(root, x), nobody.pw_uid, nobody.pw_gid)
    cmds = b"s SELECT INBOX\r\n" + b"".join(
        b"t%d FETCH 1 (%s)\r\n" % (i, it.encode())
        for i, it in enumerate(ITEMS)) + b"z LOGOUT\r\n"
    out = subprocess.run(
        ["setpriv", "--reuid=%d" % nobody.pw_uid,
         "--regid=%d" % nobody.pw_gid, "--clear-groups", "env",
         "USER=nobody", "HOME=" + top, "/usr/lib/dovecot/imap", "-c",
         os.path.join(top, "dovecot.conf")],
        input=cmds, capture_output=True, timeout=30).stdout
    res, i = {}, 0
    while i < len(out):
        j = out.index(b"\r\n", i) + 2
        line = out[i:j]
        m = re.search(rb"\{(\d+)\}\r\n$", line)
        while m:
            k = out.index(b"\r\n", j + int(m.group(1))) + 2
            line += out[j:k]
            j = k
            m = re.search(rb"\{(\d+)\}\r\n$", line)
        if line.startswith(b"* 1 FETCH ("):
            res[key(line)] = line
        i = j
    return res


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    src = os.path.dirname(os.path.dirname(here))
    top = tempfile.mkdtemp(prefix="owl-dovecot-")
    os.chmod(top, 0o755)
    nobody = pwd.getpwnam("nobody")
    drv = os.path.join(top, "fetch_drv")
    subprocess.check_call(["cc", "-I" + os.path.join(src, "src"), "-o", drv,
                           os.path.join(here, "fetch_drv.c"),
                           os.path.join(src, "build", "libowl.a")])
    with open(os.path.join(top, "dovecot.conf"), "w") as f:
        f.write("base_dir = %s/run\nmail_location = maildir:%s/Maildir\n"
                "log_path = %s/log\nssl = no\nprotocols = imap\n"
                "mail_uid = %d\nmail_gid = %d\nfirst_valid_uid = 0\n"
                "first_valid_gid = 0\ndefault_internal_user = nobody\n"
                "default_login_user = nobody\n"
                % (top, top, top, nobody.pw_uid, nobody.pw_gid))
    os.makedirs(os.path.join(top, "run"))
    ndiff = 0
    try:
        for name in sys.argv[1:]:
            with open(name, "rb") as f:
                msg = f.read()
            theirs = dovecot(top, msg)
            with open(os.path.join(top, "m"), "wb") as f:
                f.write(msg)
            for it in ITEMS:
                ours = subprocess.run([drv, os.path.join(top, "m"),
                                       "(%s)" % it],
                                      capture_output=True).stdout
                k = key(ours) if ours.startswith(b"* 1") else None
                dv = theirs.get(k, b"").replace(b"{0}\r\n", b'""')
                if dv.lower() != ours.lower():
                    ndiff += 1
                    print("== %s %s\n  dovecot: %r\n  owl:     %r"
                          % (name, it, dv, ours))
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print("differences:", ndiff)


if __name__ == "__main__":
    main()
