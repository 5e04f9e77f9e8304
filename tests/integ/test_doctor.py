"""owlctl doctor DOMAIN against the test's own dnsmasq (conftest.dnsmasq):
a domain with everything right exits 0; then each thing wrong in turn
FAILs with the record that fixes it printed.  Offline: dns.resolver is
127.0.0.1:PORT, the certificates are made here."""
import datetime
import json
import os
import re
import subprocess

import pytest

from conftest import OWLCTL

DOMAIN = "doctor.test"
HOST = "mx.doctor.test"


def keygen(datadir, selector, algo):
    r = subprocess.run([OWLCTL, "-D", datadir, "dkim", "keygen", DOMAIN,
                        "--selector", selector, "--algo", algo],
                       capture_output=True, text=True, check=True)
    # '... IN TXT ( "v=DKIM1; k=rsa; p=..." "..." )': the strings joined
    return "".join(re.findall(r'"([^"]*)"', r.stdout))


def make_cert(path, name, days=30):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                    path + ".key", "-out", path, "-subj", "/CN=" + name,
                    "-addext", "subjectAltName=DNS:" + name, "-days",
                    str(days)], check=True, capture_output=True)
    return path


def make_expired_cert(path, name):
    x509 = pytest.importorskip("cryptography.x509")
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
            .public_key(key.public_key()).serial_number(1)
            .not_valid_before(now - datetime.timedelta(days=60))
            .not_valid_after(now - datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), False)
            .sign(key, hashes.SHA256()))
    with open(path, "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    return path


@pytest.fixture
def setup(tmp_path, dnsmasq):
    """A data dir with two DKIM keys (ed25519 and a 2048-bit RSA key,
    whose record needs two strings), a certificate for the MX name, and
    the records of a domain with everything right; run(**changes) starts
    a dnsmasq with the records changed and runs owlctl doctor --json."""
    datadir = str(tmp_path / "data")
    os.makedirs(datadir)
    keys = {"owl": keygen(datadir, "owl", "ed25519"),
            "big": keygen(datadir, "big", "rsa")}
    cert = make_cert(str(tmp_path / "cert.pem"), HOST)
    good = {
        "mx": ["--mx-host=%s,%s,10" % (DOMAIN, HOST)],
        "host": ["--host-record=%s,127.0.0.1" % HOST],  # A and PTR
        "spf": ["--txt-record=%s,v=spf1 mx -all" % DOMAIN],
        # other TXT records at the domain, long enough that the answer
        # does not fit 512 octets: truncated over UDP, asked over TCP
        "other": ["--txt-record=%s,site-verification=%s" % (DOMAIN, "x" * 240),
                  "--txt-record=%s,site-verification=%s" % (DOMAIN, "y" * 240)],
        "dkim": ["--txt-record=%s._domainkey.%s,%s" % (s, DOMAIN, r)
                 for s, r in sorted(keys.items())],
        "dmarc": ["--txt-record=_dmarc.%s,v=DMARC1; p=quarantine; "
                  "rua=mailto:postmaster@%s" % (DOMAIN, DOMAIN)],
        "reverse": ["--local=/127.in-addr.arpa/"],
    }

    class Setup:
        pass

    s = Setup()
    s.keys, s.datadir, s.tmp = keys, datadir, tmp_path

    def run(smtp_port=1, opts=(), json_out=True, resolver=None, **changes):
        records = dict(good, **changes)
        port = dnsmasq(*[r for v in records.values() for r in v])
        args = [OWLCTL, "-D", datadir, "-o", "hostname=" + HOST,
                "-o", "dns.resolver=127.0.0.1:%d" % (resolver or port),
                "-o", "dns.timeout=1", "-o", "dns.attempts=1",
                "-o", "tls.cert=" + cert,
                "-o", "smtp.listen=127.0.0.1:%d" % smtp_port]
        for o in opts:
            args += ["-o", o]
        args += ["doctor", DOMAIN] + (["--json"] if json_out else [])
        r = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert r.stderr == ""
        if not json_out:
            return r
        out = json.loads(r.stdout)
        assert out["domain"] == DOMAIN and out["host"] == HOST
        assert out["ok"] == (r.returncode == 0)
        return r.returncode, out["checks"]

    s.run = run
    s.cert = cert
    return s


def by_name(checks, name):
    return [c for c in checks if c["name"] == name]


def failed(checks):
    return [c for c in checks if c["status"] == "fail"]


def test_everything_right(setup, owld):
    o = owld()  # relay.networks empty: a stranger's relaying is refused
    rc, checks = setup.run(smtp_port=o.port)
    assert rc == 0, checks
    assert {c["status"] for c in checks} == {"ok"}, checks
    names = [c["name"] for c in checks]
    for n in ("mx", "address", "ptr", "spf", "dkim", "dmarc", "tls", "relay"):
        assert n in names
    assert len(by_name(checks, "dkim")) == 2  # one per key on disk
    assert "forward-confirmed" in by_name(checks, "ptr")[0]["detail"]
    assert "refused" in by_name(checks, "relay")[0]["detail"]
    # the text form: one line a check, and the summary
    r = setup.run(smtp_port=o.port, json_out=False)
    assert r.returncode == 0
    # the record evaluated as receivers do, for this host's address
    assert re.search(r"^ok +spf +\"v=spf1 mx -all\" lets this host send: "
                     r"pass for 127\.0\.0\.1 \(mx matched at doctor\.test\)$",
                     r.stdout, re.M)
    assert r.stdout.rstrip().endswith("9 ok, 0 warn, 0 FAIL")


def test_no_mx(setup):
    rc, checks = setup.run(mx=[])
    assert rc == 1
    (mx,) = by_name(checks, "mx")
    assert mx["status"] == "fail" and "no MX record" in mx["detail"]
    assert mx["fix"] == "doctor.test. IN MX 10 mx.doctor.test."
    # the owld not running is a warning, not a failure
    assert by_name(checks, "relay")[0]["status"] == "warn"
    # and "mx -all" without an MX lets nobody send: SPF fails this host
    assert [c["name"] for c in failed(checks)] == ["mx", "spf"]
    (spf,) = by_name(checks, "spf")
    assert "fail for 127.0.0.1 (-all matched at doctor.test)" in spf["detail"]
    assert spf["fix"] == 'doctor.test. IN TXT "v=spf1 ip4:127.0.0.1 mx -all"'



def test_mx_elsewhere(setup):
    rc, checks = setup.run(mx=["--mx-host=%s,mail.other.test,10" % DOMAIN],
                           other=["--host-record=mail.other.test,127.0.0.9"])
    (mx,) = by_name(checks, "mx")
    assert rc == 1 and mx["status"] == "fail"
    assert "none is this host" in mx["detail"]


def test_no_spf(setup):
    rc, checks = setup.run(spf=[])
    (spf,) = by_name(checks, "spf")
    assert rc == 1 and spf["status"] == "fail"
    assert spf["fix"] == 'doctor.test. IN TXT "v=spf1 mx -all"'
    assert [c["name"] for c in failed(checks)] == ["spf"]


def test_two_spf_records(setup):
    rc, checks = setup.run(spf=["--txt-record=%s,v=spf1 mx -all" % DOMAIN,
                                "--txt-record=%s,v=spf1 a ~all" % DOMAIN])
    (spf,) = by_name(checks, "spf")
    assert rc == 1 and spf["status"] == "fail"
    assert "2 SPF records" in spf["detail"] and "v=spf1 mx -all" in spf["fix"]


def spf_check(setup, record, *more):
    rc, checks = setup.run(spf=["--txt-record=%s,%s" % (DOMAIN, record)]
                           + list(more))
    (spf,) = by_name(checks, "spf")
    return rc, spf


def test_spf_without_this_host(setup):
    rc, spf = spf_check(setup, "v=spf1 ip4:192.0.2.0/24 -all")
    assert rc == 1 and spf["status"] == "fail"
    assert "does not let this host send" in spf["detail"]
    assert "fail for 127.0.0.1 (-all matched at doctor.test)" in spf["detail"]
    # the record to publish: the same, with this host's address first
    assert spf["fix"] == ('doctor.test. IN TXT '
                          '"v=spf1 ip4:127.0.0.1 ip4:192.0.2.0/24 -all"')
    rc, spf = spf_check(setup, "v=spf1 ip4:127.0.0.0/8 -all")
    assert rc == 0 and spf["status"] == "ok"


def test_spf_include_followed(setup):
    # the address is only in an included record: evaluated, not guessed
    rc, spf = spf_check(setup, "v=spf1 include:spf.other.test -all",
                        "--txt-record=spf.other.test,v=spf1 ip4:127.0.0.1 -all")
    assert rc == 0 and spf["status"] == "ok", spf
    assert "pass for 127.0.0.1" in spf["detail"]
    rc, spf = spf_check(setup, "v=spf1 include:spf.other.test -all",
                        "--txt-record=spf.other.test,v=spf1 ip4:192.0.2.1 -all")
    assert rc == 1 and spf["status"] == "fail", spf
    # an include that cannot be looked up (no server for example.com
    # here): nothing can be told
    rc, spf = spf_check(setup, "v=spf1 include:spf.example.com -all")
    assert rc == 1 and spf["status"] == "fail"
    assert spf["detail"].startswith("cannot tell: temperror for 127.0.0.1")
    assert spf["fix"] == ""


def test_spf_softfail_and_neutral_warn(setup):
    for rec, result in (("v=spf1 ip4:192.0.2.0/24 ~all", "softfail"),
                        ("v=spf1 ip4:192.0.2.0/24 ?all", "neutral")):
        rc, spf = spf_check(setup, rec)
        assert rc == 0 and spf["status"] == "warn", spf
        assert "%s for 127.0.0.1" % result in spf["detail"]
        assert "ip4:127.0.0.1 ip4:192.0.2.0/24" in spf["fix"]


def test_spf_broken_or_open(setup):
    # a syntax error that the old term scan let through ("mx" named us)
    rc, spf = spf_check(setup, "v=spf1 mx foo:bar -all")
    assert rc == 1 and spf["status"] == "fail"
    assert "is broken" in spf["detail"] and "permerror for 127.0.0.1" in spf["detail"]
    assert spf["fix"] == 'doctor.test. IN TXT "v=spf1 mx -all"'
    rc, spf = spf_check(setup, "v=spf1 mx +all")
    assert rc == 1 and spf["status"] == "fail" and "anyone" in spf["detail"]


def test_dkim_record_missing(setup):
    rc, checks = setup.run(dkim=["--txt-record=owl._domainkey.%s,%s" % (DOMAIN, setup.keys["owl"])])
    assert rc == 1
    (big,) = [c for c in by_name(checks, "dkim") if c["status"] == "fail"]
    assert "big._domainkey.doctor.test has no DKIM key record" in big["detail"]
    # the record to publish, cut into strings of at most 255 octets
    strings = re.findall(r'"([^"]*)"', big["fix"])
    assert big["fix"].startswith("big._domainkey.doctor.test. IN TXT (")
    assert "".join(strings) == setup.keys["big"] and len(strings) == 2
    assert max(len(x) for x in strings) == 255


def test_dkim_record_mismatched(setup):
    other = keygen(str(setup.tmp), "owl", "ed25519")  # another key
    rc, checks = setup.run(dkim=["--txt-record=owl._domainkey.%s,%s" % (DOMAIN, other),
                                 "--txt-record=big._domainkey.%s,%s" % (DOMAIN, setup.keys["big"])])
    assert rc == 1
    (owl,) = failed(checks)
    assert owl["name"] == "dkim" and "is not the key" in owl["detail"]
    assert setup.keys["owl"] in owl["fix"]


def test_no_dmarc(setup):
    rc, checks = setup.run(dmarc=[])
    (dm,) = by_name(checks, "dmarc")
    assert rc == 1 and dm["status"] == "fail"
    assert dm["fix"] == ('_dmarc.doctor.test. IN TXT "v=DMARC1; p=quarantine; '
                         'rua=mailto:postmaster@doctor.test"')
    rc, checks = setup.run(dmarc=["--txt-record=_dmarc.%s,v=DMARC1; rua=mailto:x@y.test" % DOMAIN])
    assert rc == 1 and "no valid p= tag" in by_name(checks, "dmarc")[0]["detail"]


def test_dmarc_parsed(setup):
    # p=none: monitoring only, a warning with the record to move to
    rc, checks = setup.run(dmarc=["--txt-record=_dmarc.%s,v=DMARC1; p=none" % DOMAIN])
    (dm,) = by_name(checks, "dmarc")
    assert rc == 0 and dm["status"] == "warn" and "monitoring only" in dm["detail"]
    assert "p=quarantine" in dm["fix"]
    # a tag with a bad value: receivers take the record as broken
    rc, checks = setup.run(dmarc=["--txt-record=_dmarc.%s,v=DMARC1; p=reject; pct=200" % DOMAIN])
    (dm,) = by_name(checks, "dmarc")
    assert rc == 1 and dm["status"] == "fail"
    assert "not a valid DMARC record: pct= is not a number 0 to 100" in dm["detail"]
    # a record with no p= and no rua=: invalid too, with why
    rc, checks = setup.run(dmarc=["--txt-record=_dmarc.%s,v=DMARC1; adkim=s" % DOMAIN])
    (dm,) = by_name(checks, "dmarc")
    assert rc == 1 and dm["detail"].endswith("not a valid DMARC record: no p= tag")


def test_certificate_wrong_name_or_expired(setup):
    wrong = make_cert(str(setup.tmp / "wrong.pem"), "www.doctor.test")
    rc, checks = setup.run(opts=["tls.cert=" + wrong])
    (tls,) = by_name(checks, "tls")
    assert rc == 1 and tls["status"] == "fail"
    assert "does not cover mx.doctor.test" in tls["detail"]
    assert "-d mx.doctor.test" in tls["fix"]
    soon = make_cert(str(setup.tmp / "soon.pem"), HOST, days=3)
    rc, checks = setup.run(opts=["tls.cert=" + soon])
    assert rc == 0 and by_name(checks, "tls")[0]["status"] == "warn"
    expired = make_expired_cert(str(setup.tmp / "expired.pem"), HOST)
    rc, checks = setup.run(opts=["tls.cert=" + expired])
    (tls,) = by_name(checks, "tls")
    assert rc == 1 and tls["status"] == "fail" and "has expired" in tls["detail"]


def test_ptr_missing(setup):
    # an A record without the PTR that --host-record would add
    rc, checks = setup.run(host=["--address=/%s/127.0.0.1" % HOST])
    (ptr,) = by_name(checks, "ptr")
    assert rc == 1 and ptr["status"] == "fail"
    assert "127.0.0.1 has no PTR record" in ptr["detail"]
    assert ptr["fix"].startswith("1.0.0.127.in-addr.arpa. IN PTR mx.doctor.test.")
    # a PTR that does not lead back
    rc, checks = setup.run(host=["--address=/%s/127.0.0.1" % HOST,
                                 "--ptr-record=1.0.0.127.in-addr.arpa,other.doctor.test"])
    (ptr,) = by_name(checks, "ptr")
    assert rc == 1 and "not forward-confirmed" in ptr["detail"]


def test_open_relay(setup, owld):
    o = owld(["relay.networks=0.0.0.0/0"])
    rc, checks = setup.run(smtp_port=o.port, opts=["relay.networks=0.0.0.0/0"])
    assert rc == 1
    relay = by_name(checks, "relay")
    assert [c["status"] for c in relay] == ["fail", "warn"]
    assert "whole Internet" in relay[0]["detail"]
    # from loopback, which that list trusts, a 250 says nothing more
    assert "relay.networks trusts" in relay[1]["detail"]
    # an owld that still runs with an old relay.networks: the dialogue
    # itself finds it (the configuration read here trusts no one)
    o2 = owld(["relay.networks=127.0.0.0/8"])
    rc, checks = setup.run(smtp_port=o2.port, opts=["relay.networks="])
    (relay,) = by_name(checks, "relay")
    assert rc == 1 and relay["status"] == "fail"
    assert "an open relay" in relay["detail"] and "relay.networks" in relay["fix"]


def test_dns_down_fails(setup):
    # nothing answers on the resolver's port: no verdict, but a FAIL
    from test_relay import free_port
    rc, checks = setup.run(resolver=free_port())
    assert rc == 1
    assert by_name(checks, "mx")[0]["detail"].startswith("cannot tell:")


def test_usage(setup):
    r = subprocess.run([OWLCTL, "-D", setup.datadir, "doctor"], capture_output=True, text=True)
    assert r.returncode == 64 and "usage: owlctl doctor" in r.stderr
    r = subprocess.run([OWLCTL, "-D", setup.datadir, "doctor", "a..b" * 100],
                       capture_output=True, text=True)
    assert r.returncode == 64


def test_config_file_after_the_command(setup, tmp_path):
    # -c FILE after the command reads that file (hostname from it here)
    conf = tmp_path / "owld.conf"
    conf.write_text("hostname = other.doctor.test\ndns.resolver = 127.0.0.1:9\n"
                    "dns.timeout = 1\ndns.attempts = 1\nsmtp.listen = 127.0.0.1:1\n")
    r = subprocess.run([OWLCTL, "doctor", DOMAIN, "--json", "-c", str(conf)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and json.loads(r.stdout)["host"] == "other.doctor.test"
    conf.write_text("no.such.key = 1\n")
    r = subprocess.run([OWLCTL, "doctor", DOMAIN, "-c", str(conf)],
                       capture_output=True, text=True)
    assert r.returncode == 78 and "no.such.key" in r.stderr
