#!/usr/bin/python3
"""Section 9 of make bench ("msgauth"; make bench-msgauth runs it alone):
what mail authentication costs owld (issue 21).

a. DKIM CPU per message: `owlctl dkim bench` signs and verifies a 4 KiB
   message with a key made in memory, rsa-sha256 (2048 bits) and
   ed25519-sha256; CPU ms per signature and per verification.
b. Ingest with the inbound checks: --msgauth-messages messages of 5 KB
   over 10 SMTP sessions (smtp-source -F: the same DKIM-signed message,
   signed by dkimpy) to owld with inbound.checks = off and = tag, in turn
   inside every round (the order rotated), after bench.py's quiet gate.
   With tag each message gets SPF for HELO and MAIL FROM, the DKIM
   signature's key and DMARC's record from the section's own dnsmasq on
   loopback (127.0.0.1, warm: the cache holds the answers after the first
   message), and an Authentication-Results field.  msg/s until the last
   250, and owld's CPU per message.

Target (issue 21): ingest with the checks on >= 70 % of ingest with them
off, at 10 sessions.  --smoke runs a few hundred messages.
"""
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
from conftest import dns_ready, udp_tcp_port  # noqa: E402

SESSIONS = 10
DOMAIN = "bench.test"


def dkim_cpu(algo, count):
    """(sign ms, verify ms) per message from owlctl dkim bench."""
    r = subprocess.run([os.path.join(bench.BUILD, "owlctl"), "dkim", "bench",
                        "--algo", algo, "--count", str(count)],
                       capture_output=True, text=True, timeout=600,
                       **bench.client_kw())
    if r.returncode != 0:
        raise RuntimeError("owlctl dkim bench: " + r.stderr.strip())
    sign = re.search(r"sign ([\d.]+) ms CPU", r.stdout)
    verify = re.search(r"verify ([\d.]+) ms CPU", r.stdout)
    if not sign or not verify:
        raise RuntimeError("owlctl dkim bench said: " + r.stdout.strip())
    return float(sign.group(1)), float(verify.group(1))


# --- the zone and the message ----------------------------------------------------

class Zone:
    """dnsmasq on loopback with the bench domain's SPF, DKIM key and DMARC
    records, and the signed message in a file for smtp-source -F."""

    def __init__(self, base):
        import dkim  # python3-dkim
        self.d = tempfile.mkdtemp(prefix="msgauth-", dir=base)
        r = subprocess.run([os.path.join(bench.BUILD, "owlctl"), "-D", self.d,
                            "dkim", "keygen", DOMAIN, "--selector", "b1"],
                           capture_output=True, text=True, check=True)
        m = re.search(r"^(\S+) IN TXT \((.*)\)$", r.stdout, re.M)
        strings = re.findall(r'"([^"]*)"', m.group(2))
        with open(os.path.join(self.d, "dkim", DOMAIN + ".b1.key"), "rb") as f:
            pem = f.read()
        body = b"".join(b"Line %04d of the benchmark message, 5 KB in all.......\r\n" % i
                        for i in range(90))[:4950] + b"\r\n"
        msg = (b"From: Bench <bench@" + DOMAIN.encode() + b">\r\n"
               b"To: <u@localhost>\r\nSubject: msgauth bench\r\n"
               b"Message-ID: <b1@bench.test>\r\n\r\n" + body)
        msg = dkim.sign(msg, b"b1", DOMAIN.encode(), pem,
                        include_headers=[b"from", b"to", b"subject", b"message-id"]) + msg
        self.msgfile = os.path.join(self.d, "message")
        with open(self.msgfile, "wb") as f:  # smtp-source adds the CRs
            f.write(msg.replace(b"\r\n", b"\n"))
        recs = [(DOMAIN, ["v=spf1 ip4:127.0.0.0/8 -all"]),
                ("_dmarc." + DOMAIN, ["v=DMARC1; p=reject"]),
                ("b1._domainkey." + DOMAIN, strings),
                ("helo." + DOMAIN, ["v=spf1 a -all"])]
        # the strings joined: dnsmasq splits a text in strings of 255
        args = ["--txt-record=%s,%s" % (n, "".join(ss)) for n, ss in recs]
        args.append("--host-record=helo.%s,127.0.0.1" % DOMAIN)
        args.append("--local-ttl=3600")  # else TTL 0: nothing cached
        for _ in range(5):
            self.port = udp_tcp_port()
            self.proc = subprocess.Popen(
                ["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv",
                 "--no-hosts", "--listen-address=127.0.0.1", "--bind-interfaces",
                 "--port=%d" % self.port, "--local=/test/", "--pid-file=",
                 "--user=root", "--log-facility=-"] + args,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if dns_ready(self.port, self.proc):
                return
            self.proc.kill()
            self.proc.wait()
        raise RuntimeError("dnsmasq would not start")

    def stop(self):
        self.proc.kill()
        self.proc.wait()
        shutil.rmtree(self.d, ignore_errors=True)


def send_signed(port, zone, n):
    r = subprocess.run(["smtp-source", "-d", "-s", str(SESSIONS), "-m", str(n),
                        "-F", zone.msgfile, "-f", "bench@" + DOMAIN,
                        "-M", "helo." + DOMAIN, "-t", "u@localhost",
                        "127.0.0.1:%d" % port],
                       capture_output=True, text=True, timeout=1200,
                       **bench.client_kw())
    if r.returncode != 0 or r.stderr.strip():
        raise RuntimeError("smtp-source: " + r.stderr.strip())


def check_results(srv, n):
    """Every message stored with spf, dkim and dmarc pass in its
    Authentication-Results field: the checks ran and found the records."""
    new = os.path.join(srv.maildir("u"), "new")
    passed = 0
    for name in os.listdir(new):
        with open(os.path.join(new, name), "rb") as f:
            head = f.read(4096).split(b"\n\n", 1)[0]
        head = re.sub(rb"\n[ \t]+", b" ", head)
        if re.search(rb"^Authentication-Results: .*spf=pass.*dkim=pass.*"
                     rb"dmarc=pass", head, re.M):
            passed += 1
    if passed != n:
        raise RuntimeError("owld: %d of %d messages passed the checks; "
                           "one: %r" % (passed, n, head[:600]))


def ingest_run(mode, base, zone, n):
    # relay.networks empty: loopback (the bench's client) is otherwise
    # trusted, and trusted clients are not checked
    srv = bench.Owld(base, opts=("inbound.checks=" + mode, "relay.networks=",
                                 "dns.resolver=127.0.0.1:%d" % zone.port))
    try:
        cpu0 = srv.cpu()
        t0 = time.monotonic()
        send_signed(srv.port, zone, n)
        t1 = time.monotonic()
        bench.wait_count(srv, "u", n)
        cpu1 = srv.cpu()
        if mode != "off":
            check_results(srv, n)
        return {"msgs": n / (t1 - t0),
                "cpu_ms": (cpu1 - cpu0) * 1000 / n if cpu0 is not None else None}
    finally:
        srv.stop()


# --- the section ----------------------------------------------------------------

def add_args(ap):
    ap.add_argument("--msgauth-messages", type=int, default=5000,
                    help="msgauth (b): messages per run")
    ap.add_argument("--msgauth-dkim-count", type=int, default=2000,
                    help="msgauth (a): signatures timed per algorithm")


def smoke(a):
    a.msgauth_messages, a.msgauth_dkim_count = 300, 50


def section_msgauth(a, base, out):
    print("## 9. Mail authentication: DKIM CPU, and ingest with the inbound "
          "checks (issue 21)")
    print()
    rows = []
    for algo in ("rsa", "ed25519"):
        s, v = dkim_cpu(algo, a.msgauth_dkim_count)
        rows.append([algo, "%.3f" % s, "%.3f" % v])
    print("(a) owlctl dkim bench, %d signatures of a 4 KiB message each:"
          % a.msgauth_dkim_count)
    print()
    bench.table(["algorithm", "sign, CPU ms", "verify, CPU ms"], rows)
    print("(b) %d messages of 5 KB, DKIM-signed, over %d sessions; owld "
          "with inbound.checks = off and = tag in turn inside every round "
          "(the order rotated), after the quiet gate; median (min-max) of "
          "%d rounds.  DNS: the section's dnsmasq on loopback."
          % (a.msgauth_messages, SESSIONS, a.rounds))
    print()
    zone = Zone(base)
    try:
        res = bench.alternate(a, [("ingest", None)],
                              [("checks off", "off"), ("checks on", "tag")],
                              lambda mode, _: ingest_run(mode, base, zone,
                                                         a.msgauth_messages),
                              what="msgauth")
    finally:
        zone.stop()
    print()
    off, on = res["ingest"]["checks off"], res["ingest"]["checks on"]
    rows = [["ingest, msg/s", bench.cell(on.col("msgs"), "%.0f", a),
             bench.cell(off.col("msgs"), "%.0f", a)] +
            bench.ratio_row(a, "", on.col("msgs"), off.col("msgs"),
                            ">= 0.7", 0.7)[1:],
            ["owld CPU ms per message", bench.cell(on.col("cpu_ms"), "%.3f", a),
             bench.cell(off.col("cpu_ms"), "%.3f", a)] +
            bench.ratio_row(a, "", on.col("cpu_ms"), off.col("cpu_ms"))[1:] + [""]]
    bench.table(["", "checks on", "checks off", "on/off", "target"], rows)
    print(bench.gate_summary(res))
    print()


bench.register("msgauth", section_msgauth, add_args=add_args, smoke=smoke)


if __name__ == "__main__":
    sys.argv[1:1] = ["--only", "msgauth"]
    bench.PLUGINS.append("msgauth")
    bench.main()
