"""owlctl spf IP SENDER [HELO] [--json]: check_host() of RFC 7208 through
the configured resolver, here the test's own dnsmasq (conftest.dnsmasq)
holding every record below.  Each result, the reason, the explanation,
the lookups counted, the exit status (0 pass, 1 another result, 75
temperror, 64 usage, 65 a bad address)."""
import json
import subprocess

import pytest

from conftest import OWLCTL

RECORDS = [
    # pass / fail / an explanation for the fail (exp=, macros expanded)
    "--txt-record=pass.test,v=spf1 ip4:192.0.2.0/24 exp=why.pass.test -all",
    "--txt-record=why.pass.test,%{i} may not send for %{d}",
    "--txt-record=soft.test,v=spf1 ip4:192.0.2.1 ~all",
    # no SPF record: another TXT record only
    "--txt-record=nospf.test,site-verification=abc",
    "--txt-record=two.test,v=spf1 -all",
    "--txt-record=two.test,v=spf1 ~all",
    # an include chain: inc -> mid -> leaf, which lists the address
    "--txt-record=inc.test,v=spf1 include:mid.inc.test -all",
    "--txt-record=mid.inc.test,v=spf1 include:leaf.inc.test -all",
    "--txt-record=leaf.inc.test,v=spf1 ip4:203.0.113.5 -all",
    # HELO identity: the host's own A record
    "--txt-record=helo.test,v=spf1 a -all",
    "--host-record=helo.test,192.0.2.9",
    "--txt-record=v6.test,v=spf1 ip6:2001:db8::/32 -all",
]


@pytest.fixture
def spf(tmp_path, dnsmasq):
    """run(ip, sender, [helo], *more, port=None) -> CompletedProcess."""
    port = dnsmasq(*RECORDS)

    def run(*args, resolver=None, opts=()):
        cmd = [OWLCTL, "-D", str(tmp_path), "-o", "hostname=mx.owl.test",
               "-o", "dns.resolver=127.0.0.1:%d" % (resolver or port),
               "-o", "dns.timeout=1", "-o", "dns.attempts=1"]
        for o in opts:
            cmd += ["-o", o]
        return subprocess.run(cmd + ["spf"] + list(args), capture_output=True,
                              text=True, timeout=30)

    def js(*args, **kw):
        r = run(*args, "--json", **kw)
        assert r.stderr == ""
        return r.returncode, json.loads(r.stdout)

    run.json = js
    return run


def fields(stdout):
    return dict(l.split(": ", 1) for l in stdout.splitlines() if ": " in l)


def test_pass(spf):
    r = spf("192.0.2.25", "alice@pass.test")
    assert r.returncode == 0 and r.stderr == ""
    assert r.stdout.splitlines()[0] == "check_host(192.0.2.25, pass.test, <alice@pass.test>)"
    f = fields(r.stdout)
    assert f["result"] == "pass" and "ip4" in f["reason"]
    assert f["lookups"] == "0 (void: 0)" and "explanation" not in f


def test_fail_with_explanation(spf):
    r = spf("198.51.100.7", "<alice@pass.test>")
    assert r.returncode == 1
    f = fields(r.stdout)
    assert f["result"] == "fail" and "all" in f["reason"]
    assert f["explanation"] == "198.51.100.7 may not send for pass.test"


def test_softfail_and_none(spf):
    r = spf("198.51.100.7", "bob@soft.test")
    assert r.returncode == 1 and fields(r.stdout)["result"] == "softfail"
    r = spf("198.51.100.7", "bob@nospf.test")
    assert r.returncode == 1 and fields(r.stdout)["result"] == "none"
    # a domain without any record at all: none too
    r = spf("198.51.100.7", "bob@nowhere.test")
    assert r.returncode == 1 and fields(r.stdout)["result"] == "none"


def test_permerror_two_records(spf):
    r = spf("192.0.2.1", "bob@two.test")
    f = fields(r.stdout)
    assert r.returncode == 1 and f["result"] == "permerror"
    assert "more than one SPF record" in f["reason"]


def test_include_chain(spf):
    rc, o = spf.json("203.0.113.5", "carol@inc.test")
    assert rc == 0 and o["result"] == "pass" and o["lookups"] == 2
    rc, o = spf.json("203.0.113.6", "carol@inc.test")
    assert rc == 1 and o["result"] == "fail" and o["lookups"] == 2
    # the lookup limit from the configuration: the second include is over
    rc, o = spf.json("203.0.113.5", "carol@inc.test",
                     opts=["spf.max_lookups=1"])
    assert rc == 1 and o["result"] == "permerror"
    assert "more than 1 DNS lookups" in o["reason"]


def test_temperror(spf):
    from test_relay import free_port
    r = spf("192.0.2.25", "alice@pass.test", resolver=free_port())
    f = fields(r.stdout)
    assert r.returncode == 75 and f["result"] == "temperror"
    assert "TXT pass.test" in f["reason"]


def test_null_sender_uses_helo(spf):
    for sender in ("", "<>"):
        rc, o = spf.json("192.0.2.9", sender, "helo.test")
        assert rc == 0 and o["result"] == "pass", o
        assert o["identity"] == "helo" and o["domain"] == "helo.test"
        assert o["sender"] == "" and o["lookups"] == 1
    rc, o = spf.json("192.0.2.10", "", "helo.test")
    assert rc == 1 and o["result"] == "fail"
    # the null sender without HELO: nothing to check
    r = spf("192.0.2.9", "")
    assert r.returncode == 64 and "give HELO" in r.stderr


def test_ipv6_client(spf):
    rc, o = spf.json("2001:db8::25", "dave@v6.test")
    assert rc == 0 and o["result"] == "pass"
    rc, o = spf.json("2001:db9::25", "dave@v6.test")
    assert rc == 1 and o["result"] == "fail"
    # an IPv4-mapped address is its IPv4 address
    rc, o = spf.json("::ffff:192.0.2.25", "alice@pass.test")
    assert rc == 0 and o["result"] == "pass"


def test_json(spf):
    rc, o = spf.json("198.51.100.7", "alice@pass.test", "mail.example.test")
    assert rc == 1
    assert o == {"ip": "198.51.100.7", "sender": "alice@pass.test",
                 "helo": "mail.example.test", "identity": "mailfrom",
                 "domain": "pass.test", "result": "fail",
                 "reason": o["reason"],
                 "explanation": "198.51.100.7 may not send for pass.test",
                 "lookups": 0, "void_lookups": 0}
    rc, o = spf.json("192.0.2.25", "alice@pass.test")
    assert rc == 0 and o["explanation"] is None


def test_usage(spf):
    assert spf().returncode == 64
    assert spf("192.0.2.1").returncode == 64
    assert spf("192.0.2.1", "a@b.test", "h.test", "extra").returncode == 64
    r = spf("192.0.2.300", "a@pass.test")
    assert r.returncode == 65 and "not an IPv4 or IPv6 address" in r.stderr
    r = spf("192.0.2.1", "nobody")
    assert r.returncode == 65 and "not an address" in r.stderr
