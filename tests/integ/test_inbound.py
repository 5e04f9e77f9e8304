"""Inbound checks on the MX port (inbound.checks; owld/check.c over
msgauth/inbound.c): SPF, DKIM and DMARC against the test's own dnsmasq,
one Authentication-Results field (RFC 8601) per message, forged ones that
claim our authserv-id removed, and the enforce policies: DMARC reject ->
550 5.7.1, quarantine -> the Junk folder, SPF fail -> 550 5.7.23 when
inbound.spf_fail = reject, DNS trouble -> 451 (never a 5xx).  Messages
are signed with dkimpy (python3-dkim), an independent implementation."""
import json
import os
import re
import smtplib
import socket
import subprocess

import dkim
import pytest

from conftest import OWLCTL, udp_tcp_port

AUTHSERV = "mx.test"


def make_key(tmp_path, domain, selector):
    """A key made by owlctl dkim keygen: (PEM bytes, TXT strings)."""
    d = tmp_path / ("keys-" + domain)
    d.mkdir()
    r = subprocess.run([OWLCTL, "-D", str(d), "dkim", "keygen", domain,
                        "--selector", selector], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    m = re.search(r"^(\S+) IN TXT \((.*)\)$", r.stdout, re.M)
    strings = re.findall(r'"([^"]*)"', m.group(2))
    pem = open(os.path.join(str(d), "dkim", "%s.%s.key" % (domain, selector)), "rb").read()
    return pem, strings


def txt(name, *strings):
    """A TXT record, its strings joined (dnsmasq splits it in strings of
    255); no comma in the text, which dnsmasq would take as a split."""
    text = "".join(strings)
    assert "," not in text
    return "--txt-record=%s,%s" % (name, text)


@pytest.fixture
def zone(tmp_path, dnsmasq):
    pem, strings = make_key(tmp_path, "good.test", "sel1")
    port = dnsmasq(
        "--local-ttl=300",  # dnsmasq's own records have TTL 0: not cached
        txt("good.test", "v=spf1 ip4:127.0.0.1 -all"),
        txt("_dmarc.good.test", "v=DMARC1; p=reject"),
        txt("sel1._domainkey.good.test", *strings),
        txt("fail.test", "v=spf1 ip4:192.0.2.1 -all"),
        txt("_dmarc.fail.test", "v=DMARC1; p=reject"),
        txt("quar.test", "v=spf1 -all"),
        txt("_dmarc.quar.test", "v=DMARC1; p=quarantine"),
        txt("soft.test", "v=spf1 ~all"),
        txt("_dmarc.soft.test", "v=DMARC1; p=none"),
    )
    return {"port": port, "pem": pem}


def message(frm, subject="hello", extra=b"", body=b"Hello there.\r\n"):
    return (extra + b"From: <" + frm.encode() + b">\r\nTo: <alice@localhost>\r\n"
            b"Subject: " + subject.encode() + b"\r\n"
            b"Message-ID: <" + subject.encode() + b"@x.test>\r\n\r\n" + body)


def signed(msg, pem, domain=b"good.test", selector=b"sel1"):
    sig = dkim.sign(msg, selector, domain, pem,
                    include_headers=[b"from", b"to", b"subject", b"message-id"])
    return sig + msg


def start(owld, zone, mode="tag", *opts):
    return owld(opts=("inbound.checks=" + mode,
                      "dns.resolver=127.0.0.1:%d" % zone["port"]) + opts)


def delivered(o, user="alice"):
    """The newest message's text in user's INBOX, waiting for it."""
    o.wait_log(r"event=delivered")
    d = o.maildir(user)
    names = sorted(os.listdir(d))
    assert names, d
    return open(os.path.join(d, names[-1]), "rb").read()


def authres(text):
    """The Authentication-Results fields (unfolded) of a stored message."""
    head = text.split(b"\n\n", 1)[0].decode()
    head = re.sub(r"\n[ \t]+", " ", head)
    return [l for l in head.split("\n") if l.lower().startswith("authentication-results:")]


def test_tag_all_pass(owld, zone):
    o = start(owld, zone)
    o.send(["alice@localhost"], signed(message("bob@good.test"), zone["pem"]),
           sender="bob@good.test")
    ar = authres(delivered(o))
    assert len(ar) == 1, ar
    a = ar[0]
    assert a.startswith("Authentication-Results: " + AUTHSERV + ";"), a
    assert re.search(r"spf=pass\b.*smtp\.mailfrom=good\.test", a), a
    assert re.search(r"dkim=pass\b.*header\.d=good\.test", a), a
    assert re.search(r"dmarc=pass\b.*header\.from=good\.test", a), a
    o.wait_log(r"spf=pass dkim=pass dmarc=pass from=good.test .*action=accept")
    # owlctl status: the mode and the DNS cache the checks filled
    st = json.loads(o.ctl("status", "--json").stdout)
    assert st["checks"] == "tag", st
    assert st["dns_cache"]["misses"] >= 3 and st["dns_cache"]["entries"] >= 3, st
    o.send(["alice@localhost"], signed(message("bob@good.test", "again"), zone["pem"]),
           sender="bob@good.test")
    o.wait_log(r"dmarc=pass from=good.test .*action=accept", count=2)
    st2 = json.loads(o.ctl("status", "--json").stdout)
    assert st2["dns_cache"]["hits"] >= st["dns_cache"]["hits"] + 3, st2
    assert st2["dns_cache"]["misses"] == st["dns_cache"]["misses"], st2
    assert "inbound checks: tag; DNS cache:" in o.ctl("status").stdout


def test_tag_never_refuses(owld, zone):
    o = start(owld, zone)
    o.send(["alice@localhost"], message("x@fail.test"), sender="x@fail.test")
    a = authres(delivered(o))[0]
    assert "spf=fail" in a and "dkim=none" in a and "dmarc=fail" in a, a


def test_enforce_dmarc_reject(owld, zone):
    o = start(owld, zone, "enforce")
    with pytest.raises(smtplib.SMTPDataError) as e:
        o.send(["alice@localhost"], message("x@fail.test"), sender="x@fail.test")
    assert e.value.smtp_code == 550 and b"5.7.1" in e.value.smtp_error
    assert b"DMARC" in e.value.smtp_error
    assert o.messages() == []


def test_enforce_dkim_pass_saves_spf_fail(owld, zone):
    """DMARC passes on an aligned DKIM signature alone (RFC 7489 4.2)."""
    o = start(owld, zone, "enforce")
    o.send(["alice@localhost"], signed(message("bob@good.test"), zone["pem"]),
           sender="bob@fail.test")
    a = authres(delivered(o))[0]
    assert "spf=fail" in a and "dkim=pass" in a and "dmarc=pass" in a, a


def test_enforce_tampered_body_rejected(owld, zone):
    o = start(owld, zone, "enforce")
    m = signed(message("bob@good.test"), zone["pem"]).replace(b"Hello", b"Jello")
    with pytest.raises(smtplib.SMTPDataError) as e:
        o.send(["alice@localhost"], m, sender="bob@fail.test")
    assert e.value.smtp_code == 550
    o.wait_log(r"dkim=fail.*dmarc=fail.*action=reject")


def test_enforce_quarantine_to_junk(owld, zone):
    o = start(owld, zone, "enforce")
    o.send(["alice@localhost"], message("x@quar.test"), sender="x@quar.test")
    o.wait_log(r"event=quarantined .*folder=Junk")
    junk = os.path.join(os.path.dirname(o.maildir()), ".Junk")
    names = [os.path.join(junk, d, n) for d in ("new", "cur")
             for n in os.listdir(os.path.join(junk, d))]
    assert len(names) == 1
    a = authres(open(names[0], "rb").read())[0]
    assert "dmarc=fail" in a, a
    assert o.messages() == []  # not in INBOX
    # IMAP sees the folder with its special use
    m = o.imaplib()
    typ, data = m.list()
    assert any(b"Junk" in d for d in data), data
    m.logout()


def test_enforce_spf_reject(owld, zone):
    o = start(owld, zone, "enforce", "inbound.spf_fail=reject")
    with pytest.raises(smtplib.SMTPDataError) as e:
        o.send(["alice@localhost"], message("x@soft.test"), sender="x@fail.test")
    assert e.value.smtp_code == 550 and b"5.7.23" in e.value.smtp_error


def test_softfail_and_none_accepted(owld, zone):
    o = start(owld, zone, "enforce", "inbound.spf_fail=reject")
    o.send(["alice@localhost"], message("x@soft.test"), sender="x@soft.test")
    a = authres(delivered(o))[0]
    assert "spf=softfail" in a and "dmarc=fail" in a, a  # p=none


def test_forged_authres_removed(owld, zone):
    o = start(owld, zone)
    forged = (b"Authentication-Results: " + AUTHSERV.encode() + b";\r\n"
              b"\tdmarc=pass header.from=fail.test\r\n"
              b"Authentication-Results: (comment) MX.TEST; spf=pass\r\n"
              b"Authentication-Results: other.example; spf=pass\r\n")
    o.send(["alice@localhost"], message("x@fail.test", extra=forged),
           sender="x@fail.test")
    text = delivered(o)
    ar = authres(text)
    assert len(ar) == 2, ar
    assert ar[0].startswith("Authentication-Results: " + AUTHSERV + ";")
    assert "dmarc=fail" in ar[0]
    assert ar[1] == "Authentication-Results: other.example; spf=pass"


def test_dns_trouble_is_temporary(owld, zone):
    dead = udp_tcp_port()  # nothing answers there
    o = owld(opts=("inbound.checks=enforce", "dns.resolver=127.0.0.1:%d" % dead,
                   "dns.timeout=1", "dns.attempts=1", "inbound.timeout=3"))
    with pytest.raises(smtplib.SMTPDataError) as e:
        o.send(["alice@localhost"], message("x@good.test"), sender="x@good.test")
    assert e.value.smtp_code == 451 and b"4.4.3" in e.value.smtp_error
    o.stop()
    t = owld(opts=("inbound.checks=tag", "dns.resolver=127.0.0.1:%d" % dead,
                   "dns.timeout=1", "dns.attempts=1", "inbound.timeout=3"))
    t.send(["alice@localhost"], message("x@good.test"), sender="x@good.test")
    a = authres(delivered(t))[0]
    assert "spf=temperror" in a and "dmarc=temperror" in a, a


def test_authenticated_not_checked(owld, zone):
    o = start(owld, zone, "enforce")
    o.submit(["bob@localhost"], message("alice@fail.test"), user="alice",
             sender="alice@localhost")
    text = delivered(o, "bob")
    assert authres(text) == []


def test_spooled_message_checked(owld, zone):
    """A message past the in-memory size goes through a spool file; the
    field is added there and the body is intact."""
    o = start(owld, zone)
    body = b"".join(b"line %07d of a big message\r\n" % i for i in range(60000))
    m = signed(message("bob@good.test", body=body), zone["pem"])
    o.send(["alice@localhost"], m, sender="bob@good.test")
    text = delivered(o)
    a = authres(text)[0]
    assert "dkim=pass" in a and "dmarc=pass" in a, a
    assert text.endswith(body.replace(b"\r\n", b"\n"))


def test_null_sender_uses_helo(owld, zone):
    o = start(owld, zone)
    with smtplib.SMTP(o.addr, o.port, timeout=30) as c:
        c.ehlo("good.test")
        c.sendmail("", ["alice@localhost"], message("postmaster@good.test"))
    a = authres(delivered(o))[0]
    assert re.search(r"spf=pass\b.*smtp\.helo=good\.test", a), a


def test_many_forged_authres_removed(owld, zone):
    """More forged fields than the check's fixed room (16): every one
    goes (the spans were once written past a fixed array)."""
    o = start(owld, zone)
    forged = b"".join(b"Authentication-Results: mx.test; spf=pass (%d)\r\n" % i
                      for i in range(40))
    o.send(["alice@localhost"], message("x@fail.test", extra=forged),
           sender="x@fail.test")
    ar = authres(delivered(o))
    assert len(ar) == 1 and "spf=fail" in ar[0], ar


def test_max_signatures_key(owld, zone):
    """dkim.max_signatures: signatures past it are not checked
    (neutral), the ones before it are."""
    o = start(owld, zone, "tag", "dkim.max_signatures=1")
    m = signed(signed(message("bob@good.test"), zone["pem"]), zone["pem"])
    o.send(["alice@localhost"], m, sender="bob@good.test")
    a = authres(delivered(o))[0]
    assert a.count("dkim=pass") == 1 and a.count("dkim=neutral") == 1, a


def test_inbound_timeout_bounds_the_lookups(owld, zone):
    """inbound.timeout: once it has passed, the questions left are not
    asked (DNS trouble), so a silent resolver costs one lookup's time."""
    silent = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    silent.bind(("127.0.0.1", 0))  # takes the questions, answers none
    dead = silent.getsockname()[1]

    def troubles(timeout):
        o = owld(opts=("inbound.checks=tag", "dns.resolver=127.0.0.1:%d" % dead,
                       "dns.timeout=2", "dns.attempts=1",
                       "inbound.timeout=%d" % timeout))
        o.send(["alice@localhost"], message("x@good.test"), sender="x@good.test")
        o.wait_log(r"event=delivered")
        n = len(re.findall(r"event=dns-trouble", o.logtext()))
        o.stop()
        return n

    try:
        # SPF's lookup took 2 s: DMARC's is not asked (with the default
        # 30 s both are, two dns-trouble lines)
        assert troubles(1) == 1
    finally:
        silent.close()
