"""DKIM signing (relay/signer.c, msgauth/): owlctl dkim keygen, and mail
from authenticated users and owld's bounces signed so that dkimpy
(python3-dkim, an independent implementation) verifies them with the TXT
record keygen printed, served by a dnsfunc: no DNS is needed."""
import base64
import os
import re
import stat
import subprocess

import dkim
import pytest

from conftest import OWLCTL
from test_relay import wait_queue_empty

MSG = (b"From: Alice <alice@localhost>\r\nTo: x@remote.test\r\n"
       b"Subject: signed  hello\r\nMessage-ID: <d1@localhost>\r\n"
       b"Date: Thu, 03 Dec 2026 22:00:00 +0000\r\n\r\n"
       b"body line   \r\n.dot line\r\n\r\n\r\n")


def keygen(o, domain, *args, check=True):
    """owlctl dkim keygen; (record name, record text joined) from stdout."""
    r = o.ctl("dkim", "keygen", domain, *args, check=check)
    if not check:
        return r
    m = re.search(r"^(\S+) IN TXT \((.*)\)$", r.stdout, re.M)
    assert m, r.stdout
    strings = re.findall(r'"([^"]*)"', m.group(2))
    assert all(len(s) <= 255 for s in strings)
    return m.group(1), "".join(strings)


def dnsfunc(records):
    def lookup(name, timeout=5):
        return records.get(name.decode()).encode() if name.decode() in records else None
    return lookup


def test_keygen_writes_key_and_prints_record(owld):
    o = owld(start=False)
    name, rec = keygen(o, "Example.ORG")
    assert name == "owl._domainkey.example.org."
    assert rec.startswith("v=DKIM1; k=rsa; p=MIIBIjAN")  # 2048-bit SPKI
    path = os.path.join(o.datadir, "dkim", "example.org.owl.key")
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == os.getuid()
    assert stat.S_IMODE(os.stat(os.path.dirname(path)).st_mode) == 0o700
    before = open(path).read()
    assert "PRIVATE KEY" in before
    # no overwrite without --force
    r = keygen(o, "example.org", check=False)
    assert r.returncode == 73 and "--force" in r.stderr
    assert open(path).read() == before
    _, rec2 = keygen(o, "example.org", "--force")
    assert rec2 != rec and open(path).read() != before
    name, rec = keygen(o, "example.org", "--algo", "ed25519", "--selector", "ed1")
    assert name == "ed1._domainkey.example.org."
    assert re.fullmatch(r"v=DKIM1; k=ed25519; p=[A-Za-z0-9+/]{43}=", rec)
    for bad in (("a..b",), ("x-.org",), ("x.org.",), ("x.org", "--selector", "a.b"),
                ("x.org", "--selector", "a;b")):
        assert keygen(o, *bad, check=False).returncode == 65, bad
    assert keygen(o, "x.org", "--algo", "dsa", check=False).returncode == 64


def submit_and_get(o, s, body=MSG):
    o.submit(["x@remote.test"], body)
    return s.wait(1)[0]["data"]


@pytest.mark.parametrize("algo", ["rsa", "ed25519"])
def test_submission_is_signed_and_dkimpy_verifies(owld, sink, algo):
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port], start=False)
    name, rec = keygen(o, "localhost", "--algo", algo)
    o.start()
    o.wait_log(r"event=key-loaded domain=localhost selector=owl")
    data = submit_and_get(o, s)
    assert data.startswith(b"Return-Path: <alice@localhost>\r\nDKIM-Signature: v=1; a=%s"
                           % (b"rsa-sha256" if algo == "rsa" else b"ed25519-sha256"))
    sig = data.split(b"\r\nReceived:")[0]
    assert b"c=relaxed/relaxed" in sig and b"d=localhost" in sig and b"s=owl" in sig
    assert b"h=from:from:" in sig and b"l=" not in sig
    assert all(len(l) <= 78 for l in sig.split(b"\r\n"))
    assert dkim.verify(data, dnsfunc=dnsfunc({name.rstrip(".") + ".": rec, name: rec}))
    # what the next hop could change: the body, a signed header, a From added
    assert not dkim.verify(data.replace(b"body line", b"body lime"),
                           dnsfunc=dnsfunc({name: rec}))
    assert not dkim.verify(data.replace(b"signed  hello", b"signed hello!"),
                           dnsfunc=dnsfunc({name: rec}))
    assert not dkim.verify(data.replace(b"\r\n\r\n", b"\r\nFrom: evil@x.test\r\n\r\n", 1),
                           dnsfunc=dnsfunc({name: rec}))
    o.wait_log(r"event=signed msgid=\w+ d=localhost s=owl")
    wait_queue_empty(o)


def test_big_spooled_message_is_signed(owld, sink):
    """A message past the 256 KiB spool threshold is signed from its spool."""
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port], start=False, verbose=False)
    name, rec = keygen(o, "localhost", "--algo", "ed25519")
    o.start()
    body = MSG + b"".join(b"line %07d of a big message\r\n" % i for i in range(40000))
    data = submit_and_get(o, s, body)
    assert len(data) > 1 << 20
    assert data.endswith(body.split(b"\r\n\r\n", 1)[1].rstrip(b"\r\n") + b"\r\n")
    assert dkim.verify(data, dnsfunc=dnsfunc({name: rec}))
    wait_queue_empty(o)


def test_huge_header_section_goes_unsigned(owld, sink):
    """A header section over 256 KiB (a spooled message) is not signed,
    and says why, rather than taken as cut at 256 KiB."""
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port], start=False, verbose=False)
    keygen(o, "localhost", "--algo", "ed25519")
    o.start()
    pad = b"".join(b"X-Pad-%05d: %s\r\n" % (i, b"p" * 60) for i in range(4500))
    body = MSG.replace(b"\r\n\r\n", b"\r\n" + pad + b"\r\n", 1)
    data = submit_and_get(o, s, body)
    assert b"DKIM-Signature" not in data and len(data) > 300000
    o.wait_log(r"event=unsigned msgid=\w+ error=\"the header section is over 256 KiB\"")


def test_what_is_not_signed(owld, sink):
    """Relaying without AUTH, a From domain without a key, dkim.sign=off."""
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port, "relay.networks=127.0.0.0/8"],
             start=False)
    keygen(o, "localhost")
    o.start()
    o.send(["x@remote.test"], MSG, sender="alice@localhost")
    assert b"DKIM-Signature" not in s.wait(1)[0]["data"]
    o.submit(["x@remote.test"], MSG.replace(b"alice@localhost", b"alice@other.test", 1))
    assert b"DKIM-Signature" not in s.wait(2)[1]["data"]
    o.stop()
    s2 = sink()
    o2 = owld(["relay.host=127.0.0.1:%d" % s2.port, "dkim.sign=off"], start=False)
    keygen(o2, "localhost")
    o2.start()
    o2.submit(["x@remote.test"], MSG)
    assert b"DKIM-Signature" not in s2.wait(1)[0]["data"]
    assert "event=signed" not in o.logtext() + o2.logtext()


def test_several_keys_need_a_selector_and_reload_loads_keys(owld, sink):
    s = sink()
    o = owld(["relay.host=127.0.0.1:%d" % s.port])
    o.submit(["x@remote.test"], MSG)
    assert b"DKIM-Signature" not in s.wait(1)[0]["data"]
    # a key made while owld runs is used after a reload
    name, rec = keygen(o, "localhost")
    o.ctl("reload")
    o.wait_log(r"event=key-loaded domain=localhost")
    o.submit(["x@remote.test"], MSG)
    data = s.wait(2)[1]["data"]
    assert dkim.verify(data, dnsfunc=dnsfunc({name: rec}))
    # a second key for the domain: neither is guessed
    name2, rec2 = keygen(o, "localhost", "--selector", "new", "--algo", "ed25519")
    o.ctl("reload")
    o.wait_log(r"event=key-ambiguous domain=localhost selectors=\w+,\w+ action=unsigned")
    o.submit(["x@remote.test"], MSG)
    assert b"DKIM-Signature" not in s.wait(3)[2]["data"]
    o.stop()
    o.opts.append("dkim.selector=new")  # the same data dir, the one chosen
    o.start()
    o.submit(["x@remote.test"], MSG)
    data = s.wait(4)[3]["data"]
    assert b"s=new;" in data and dkim.verify(data, dnsfunc=dnsfunc({name2: rec2}))


def test_bounce_is_signed(owld, sink):
    """owld's own bounce to a remote sender, From MAILER-DAEMON@hostname."""
    s = sink(rcpt=lambda a: "550 5.1.1 nobody" if a.startswith("x@") else "250 ok")
    o = owld(["relay.host=127.0.0.1:%d" % s.port, "relay.networks=127.0.0.0/8"],
             start=False)
    name, rec = keygen(o, "mx.test", "--algo", "ed25519")
    o.start()
    o.send(["x@remote.test"], MSG, sender="someone@far.test")
    m = s.wait(1)[0]
    assert m["from"] == "" and b"multipart/report" in m["data"]
    assert m["data"].startswith(b"DKIM-Signature: v=1; a=ed25519-sha256")
    assert b"d=mx.test" in m["data"]
    assert dkim.verify(m["data"], dnsfunc=dnsfunc({name: rec}))
    wait_queue_empty(o)


def test_bench_prints_cpu_per_message(owld):
    o = owld(start=False)
    for algo in ("rsa", "ed25519"):
        r = o.ctl("dkim", "bench", "--algo", algo, "--count", "5")
        m = re.fullmatch(r"(\S+) \((\d+) bits\), (\d+)-octet message, 5 each: "
                         r"sign ([\d.]+) ms CPU, verify ([\d.]+) ms CPU per message\n",
                         r.stdout)
        assert m, r.stdout
        assert m.group(1) == ("rsa-sha256" if algo == "rsa" else "ed25519-sha256")
        assert float(m.group(4)) > 0 and float(m.group(5)) > 0
    assert o.ctl("dkim", "bench", "--count", "0", check=False).returncode == 64


BODIES = [
    b"",
    b"one line without its end",
    b"trailing blanks   \r\n\r\n\r\n",
    b"\ttabs\t and  spaces \r\n \r\n\r\nlast\r\n",
    b"bare\rCR and a long line " + b"x" * 3000 + b"\r\n",
    b"".join(b"line %d\r\n" % i for i in range(5000)),
]


def ed25519_seed(path):
    der = subprocess.run(["openssl", "pkey", "-in", path, "-outform", "DER"],
                         check=True, capture_output=True).stdout
    return base64.b64encode(der[-32:])


@pytest.mark.parametrize("algo", ["rsa", "ed25519"])
def test_dkimpy_signed_verified_by_owlctl(owld, algo):
    """dkimpy signs (every canonicalization, l=, odd bodies and folded
    fields); `owlctl dkim verify` (our verifier) passes each, and fails
    each once altered."""
    o = owld(start=False)
    _, rec = keygen(o, "example.org", "--algo", algo)
    path = os.path.join(o.datadir, "dkim", "example.org.owl.key")
    key = open(path, "rb").read() if algo == "rsa" else ed25519_seed(path)
    head = (b"From: Joe  <joe@example.org>\r\nTo: a@b.example,\r\n c@d.example\r\n"
            b"Subject:  folded\r\n\tsubject  \r\nDate: Thu, 3 Dec 2026 22:00:00 +0000\r\n"
            b"Message-ID: <m@example.org>\r\n\r\n")
    sigalg = b"rsa-sha256" if algo == "rsa" else b"ed25519-sha256"
    checked = 0
    for body in BODIES:
        for canon in ((b"simple", b"simple"), (b"relaxed", b"relaxed"),
                      (b"relaxed", b"simple"), (b"simple", b"relaxed")):
            for length in (False, True):
                msg = head + body
                sig = dkim.sign(msg, b"owl", b"example.org", key, canonicalize=canon,
                                signature_algorithm=sigalg, length=length)
                r = subprocess.run([OWLCTL, "dkim", "verify", "--record", rec],
                                   input=sig + msg, capture_output=True)
                assert r.returncode == 0, (canon, length, body[:40], r.stdout)
                assert r.stdout.startswith(b"signature 1: pass d=example.org s=owl")
                bad = sig + msg.replace(b"Joe  <", b"Jo  <")
                r = subprocess.run([OWLCTL, "dkim", "verify", "--record", rec],
                                   input=bad, capture_output=True)
                assert r.returncode == 1 and b": fail " in r.stdout
                checked += 1
    assert checked == len(BODIES) * 8
    # the LF form, as owlpost stores a message, verifies the same
    sig = dkim.sign(head + BODIES[3], b"owl", b"example.org", key,
                    signature_algorithm=sigalg)
    lf = (sig + head + BODIES[3]).replace(b"\r\n", b"\n")
    r = subprocess.run([OWLCTL, "dkim", "verify", "--record", rec], input=lf,
                       capture_output=True)
    assert r.returncode == 0, r.stdout
