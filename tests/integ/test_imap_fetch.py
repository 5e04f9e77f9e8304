"""FETCH of many message texts in one command (RFC 9051 6.4.5): each body
exact whatever its size (smaller and larger than one read of the store,
larger than one output step), every stored LF sent and counted as CRLF,
BODY.PEEK leaving \\Seen unset; a message gone between SELECT and FETCH;
a client that does not read keeping the server's memory bounded."""
import imaplib
import os
import re
import ssl
import subprocess
import time
import zlib

from conftest import low_quarantine, status_kib

SIZES = (0, 1, 70, 5000, 16383, 16384, 16385, 40000, 300000, 5000, 1, 900000)


def text(i, size):
    """A message of about size octets with LF line ends, as stored."""
    head = b"Subject: m%d\nMessage-ID: <%d@test>\n\n" % (i, i)
    line = b"%05d " % i + b"abcdefghij" * 7 + b"\n"
    body = (line * (size // len(line) + 1))[:size]
    return head + body


def put(o, texts, user="alice"):
    """texts written straight into the Maildir's new/, as a delivery agent
    does (the first SELECT claims them, in this order)."""
    md = os.path.join(o.datadir, "mail", "localhost", user)
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(md, sub), exist_ok=True)
    for i, t in enumerate(texts):
        name = "%d.M%dP1Q%d.test" % (1700000000 + i, i, i)
        with open(os.path.join(md, "tmp", name), "wb") as f:
            f.write(t)
        os.rename(os.path.join(md, "tmp", name),
                  os.path.join(md, "new", name))
    return md


def read_exact(c, n):
    parts, have = [c.buf[:n]], len(c.buf[:n])
    c.buf = c.buf[n:]
    while have < n:
        chunk = c.sock.recv(min(n - have, 1 << 20))
        if not chunk:
            raise EOFError("closed in a literal")
        parts.append(chunk)
        have += len(chunk)
    return b"".join(parts)


def fetch_bodies(c, tag, cmd=None):
    """Sends cmd (None: sent already); (the bodies by UID, the untagged
    lines, the tagged line), every literal read exactly."""
    if cmd is not None:
        c.send("%s %s\r\n" % (tag, cmd))
    bodies, lines = {}, []
    while True:
        line = c.line()
        if line.startswith(tag + " "):
            return bodies, lines, line
        lines.append(line)
        m = re.match(r"\* \d+ FETCH \(UID (\d+) BODY\[\] \{(\d+)\}$", line)
        if m:
            bodies[int(m.group(1))] = read_exact(c, int(m.group(2)))
            lines.append(c.line())  # the rest of the response


def crlf(t):
    return t.replace(b"\n", b"\r\n")


def test_fetch_bodies_of_every_size(server):
    texts = [text(i, n) for i, n in enumerate(SIZES)]
    put(server, texts)
    c = server.imap()
    c.login()
    r = c.cmd("s", "SELECT INBOX")
    assert "* %d EXISTS" % len(texts) in r
    bodies, lines, done = fetch_bodies(c, "f", "UID FETCH 1:* BODY.PEEK[]")
    assert done == "f OK UID FETCH completed"
    assert lines.count(")") == len(texts)
    assert sorted(bodies) == list(range(1, len(texts) + 1))
    for uid, t in enumerate(texts, 1):
        assert bodies[uid] == crlf(t), uid
    # RFC822.SIZE counts what BODY[] sent; PEEK set no \Seen
    r = c.cmd("z", "FETCH 1:* (RFC822.SIZE FLAGS)")
    for i, t in enumerate(texts):
        assert "* %d FETCH (RFC822.SIZE %d FLAGS (\\Recent))" % (
            i + 1, len(crlf(t))) in r
    # a second FETCH on the same session, with sequence numbers
    bodies, lines, done = fetch_bodies(c, "g", "FETCH 3:5 (UID BODY[])")
    assert done == "g OK FETCH completed"
    # BODY[] set \Seen, and says so
    assert lines.count(" FLAGS (\\Seen \\Recent))") == 3, lines
    assert {u: bodies[u] for u in (3, 4, 5)} == \
        {u: crlf(texts[u - 1]) for u in (3, 4, 5)}
    c.cmd("l", "LOGOUT")


def test_fetch_bodies_compressed(server):
    """The same through COMPRESS DEFLATE (RFC 4978): several output steps
    of the FETCH each deflated in turn, every body whole."""
    texts = [text(i, n) for i, n in enumerate(SIZES * 4)]
    put(server, texts)
    c = server.imap()
    c.login()
    c.cmd("s", "SELECT INBOX")
    assert c.cmd("z", "COMPRESS DEFLATE")[-1] == "z OK DEFLATE active"
    zo, zi = zlib.compressobj(6, zlib.DEFLATED, -15), zlib.decompressobj(-15)
    data = zi.decompress(c.buf)
    c.sock.sendall(zo.compress(b"f UID FETCH 1:* BODY.PEEK[]\r\n") +
                   zo.flush(zlib.Z_SYNC_FLUSH))
    done = b"f OK UID FETCH completed\r\n"
    while not data.endswith(done):
        chunk = c.sock.recv(1 << 20)
        assert chunk, data[-200:]
        data += zi.decompress(chunk)
    head = re.compile(rb"\* (\d+) FETCH \(UID (\d+) BODY\[\] \{(\d+)\}\r\n")
    pos, uid = 0, 0
    while pos < len(data) - len(done):
        m = head.match(data, pos)
        assert m, data[pos:pos + 200]
        uid += 1
        assert int(m.group(1)) == int(m.group(2)) == uid
        n = int(m.group(3))
        assert data[m.end():m.end() + n] == crlf(texts[uid - 1]), uid
        assert data[m.end() + n:m.end() + n + 3] == b")\r\n"
        pos = m.end() + n + 3
    assert uid == len(texts)


def test_fetch_bodies_over_tls(owld, tmp_path):
    """The same over imaps: the TLS layer's queued output counts as unsent
    (a step is made ahead only when all of it went out)."""
    cert, key = str(tmp_path / "c.pem"), str(tmp_path / "k.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1"],
                   check=True, capture_output=True)
    o = owld(["tls.cert=" + cert, "tls.key=" + key,
              "imaps.listen=127.0.0.1:0"])
    texts = [text(i, n) for i, n in enumerate(SIZES * 2)]
    put(o, texts)
    m = imaplib.IMAP4_SSL("127.0.0.1", o.imaps_port, timeout=30,
                          ssl_context=ssl.create_default_context(cafile=cert))
    m.login("alice@localhost", "pw-alice")
    m.select("INBOX")
    typ, data = m.uid("FETCH", "1:*", "(BODY.PEEK[])")
    assert typ == "OK"
    got = [d[1] for d in data if isinstance(d, tuple)]
    assert got == [crlf(t) for t in texts]
    m.logout()


def test_fetch_of_a_message_gone_meanwhile(server):
    """A message file removed by another program after SELECT: FETCH by
    sequence number sends the others, says no EXPUNGE (RFC 9051 7.4.1)
    and ends NO [EXPUNGEISSUED]; UID FETCH sends the others and completes
    (an EXPUNGE may come before its tagged OK)."""
    texts = [text(i, n) for i, n in enumerate((5000, 20000, 70, 5000))]
    md = put(server, texts)
    c = server.imap()
    c.login()
    c.cmd("s", "SELECT INBOX")
    gone = [os.path.join(md, sub, n) for sub in ("new", "cur")
            for n in os.listdir(os.path.join(md, sub)) if ".M1P1Q1." in n]
    assert len(gone) == 1
    os.unlink(gone[0])
    bodies, lines, done = fetch_bodies(c, "g", "FETCH 1:4 (UID BODY.PEEK[])")
    assert done.startswith("g NO [EXPUNGEISSUED]"), done
    assert sorted(bodies) == [1, 3, 4]
    for uid in (1, 3, 4):
        assert bodies[uid] == crlf(texts[uid - 1])
    assert not [ln for ln in lines if "EXPUNGE" in ln]
    bodies, lines, done = fetch_bodies(c, "f", "UID FETCH 1:* BODY.PEEK[]")
    assert done == "f OK UID FETCH completed", lines
    assert sorted(bodies) == [1, 3, 4]
    for uid in (1, 3, 4):
        assert bodies[uid] == crlf(texts[uid - 1])
    c.cmd("l", "LOGOUT")


def test_fetch_to_a_client_that_does_not_read(server):
    """40 MB asked for by a client that reads nothing for a while: the
    server makes its response only as fast as it goes out, so its memory
    stays within a few MiB; then every body arrives whole."""
    texts = [text(i, 1000000) for i in range(40)]
    put(server, texts)
    c = server.imap(timeout=60)
    c.login()
    c.cmd("s", "SELECT INBOX")
    time.sleep(0.2)
    before = status_kib(server.proc.pid)
    c.send("f UID FETCH 1:* BODY.PEEK[]\r\n")
    time.sleep(1.5)
    grew = status_kib(server.proc.pid) - before
    limit = 24 if os.environ.get("ASAN_OPTIONS") else 8
    assert grew < limit * 1024, "%d KiB" % grew
    bodies, _, done = fetch_bodies(c, "f")
    assert done == "f OK UID FETCH completed"
    assert sorted(bodies) == list(range(1, 41))
    for uid in (1, 20, 40):
        assert bodies[uid] == crlf(texts[uid - 1])
    c.cmd("l", "LOGOUT")


def test_fetch_leaves_no_buffer_behind(owld):
    """Once a large FETCH is answered the session keeps none of its
    output buffers: four sessions, each idle after two FETCHes of 20 MB,
    cost the server well under a MiB together (each buffer is 1 MiB)."""
    server = owld(env=low_quarantine())
    texts = [text(i, 1000000) for i in range(20)]
    put(server, texts)
    conns = []
    for k in range(4):
        c = server.imap(timeout=60)
        c.login()
        c.cmd("s", "SELECT INBOX")
        conns.append(c)
    time.sleep(0.2)
    before = status_kib(server.proc.pid)
    for c in conns:
        for tag in ("f", "g"):
            bodies, _, done = fetch_bodies(c, tag,
                                           "UID FETCH 1:* BODY.PEEK[]")
            assert done == tag + " OK UID FETCH completed"
            assert len(bodies) == 20
    time.sleep(0.2)
    grew = status_kib(server.proc.pid) - before
    # the bound is the plain build's: under ASan, freed chunks stay in
    # its allocator, so the growth there depends on how much the opens
    # before the measurement happened to free (an open that renames
    # nothing frees less than one that claimed new/ into cur/ did).  The
    # plain build's 1.5 MiB is what catches a kept 1 MiB buffer; under
    # ASan the bound only catches runaway growth (a clean-clone run
    # measured 6.1 MiB against the 6 MiB it had)
    limit = 8192 if os.environ.get("ASAN_OPTIONS") else 1536
    assert grew < limit, "%d KiB" % grew
    for c in conns:
        c.cmd("l", "LOGOUT")
