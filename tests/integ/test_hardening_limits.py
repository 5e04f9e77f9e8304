"""Per-address limits and login penalties (issue 16, items 3 and 4):
max_connections_per_ip and connection_rate_limit on every listener, and
failed logins counted per address and per account across connections,
with the owner still let in promptly from another address.  Other
loopback addresses (127.0.0.2, ...) stand in for other clients."""
import base64
import socket
import ssl
import threading
import time

import pytest

from conftest import Client, Pop3Client


def connect_from(port, src="127.0.0.1", timeout=30):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def smtp_from(o, src="127.0.0.1", port=None):
    return Client(connect_from(port or o.port, src))


def pop3_from(o, src="127.0.0.1"):
    return Pop3Client(connect_from(o.pop3_port, src))


def refused_smtp(c, peer="127.0.0.1"):
    code, lines = c.reply()
    assert code == 421, lines
    assert lines[0].startswith("421 4.7.0 ")
    assert "too many connections from %s" % peer in lines[0], lines
    assert c.closed()


def test_per_ip_session_limit_every_listener(owld):
    o = owld(["max_connections_per_ip=3"])
    held = [smtp_from(o), smtp_from(o, port=o.sub_port), pop3_from(o)]
    assert held[0].reply()[0] == 220
    assert held[1].reply()[0] == 220
    assert held[2].status().startswith("+OK")
    # the fourth session of 127.0.0.1, whichever listener
    refused_smtp(smtp_from(o))
    refused_smtp(smtp_from(o, port=o.sub_port))
    p = pop3_from(o)
    assert p.status() == ("-ERR [SYS/TEMP] Too many connections from your "
                          "address, try again later")
    assert p.closed()
    # another address is not affected
    other = smtp_from(o, "127.0.0.2")
    assert other.reply()[0] == 220
    # one leaves: there is room again
    held[0].cmd("QUIT")
    held[0].close()
    o.wait_log(r"event=disconnect reason=quit")
    c = smtp_from(o)
    assert c.reply()[0] == 220
    o.wait_log(r"event=reject reason=per-ip-limit sessions=3", count=3)


def test_per_ip_limit_on_implicit_tls_listeners(owld, tmp_path):
    """submissions and pop3s sessions count with the others; a refused
    client gets the answer in the clear, before any handshake, as for
    max_connections."""
    from test_tls import make_cert
    cert, key = make_cert(str(tmp_path), "c")
    o = owld(["tls.cert=" + cert, "tls.key=" + key,
              "submissions.listen=127.0.0.1:0", "pop3s.listen=127.0.0.1:0",
              "max_connections_per_ip=2"])
    ctx = ssl.create_default_context(cafile=cert)
    subs = Client(ctx.wrap_socket(connect_from(o.subs_port),
                                  server_hostname="localhost"))
    assert subs.reply()[0] == 220
    pops = Pop3Client(ctx.wrap_socket(connect_from(o.pop3s_port),
                                      server_hostname="localhost"))
    assert pops.status().startswith("+OK")
    refused_smtp(Client(connect_from(o.subs_port)))
    p = Pop3Client(connect_from(o.pop3s_port))
    assert p.status().startswith("-ERR [SYS/TEMP] Too many connections from")
    assert p.closed()
    refused_smtp(smtp_from(o))
    o.wait_log(r"event=reject reason=per-ip-limit sessions=2", count=3)


def test_default_leaves_room_for_a_burst_then_limits(owld):
    """Defaults: 50 sessions from one address (Postfix's
    smtpd_client_connection_count_limit) are fine, the 51st is refused."""
    o = owld(["max_connections=200"])
    held = []
    try:
        for _ in range(50):
            c = smtp_from(o)
            held.append(c)
        for c in held:
            assert c.reply()[0] == 220
        refused_smtp(smtp_from(o))
        o.wait_log(r"event=reject reason=per-ip-limit sessions=50")
    finally:
        for c in held:
            c.close()


def test_connection_rate_limit(owld):
    o = owld(["connection_rate_limit=5"])
    for _ in range(3):
        c = smtp_from(o)
        assert c.reply()[0] == 220
        c.cmd("QUIT")
        c.close()
    for _ in range(2):
        p = pop3_from(o)
        assert p.status().startswith("+OK")
        p.cmd("QUIT")
        p.close()
    # the sixth connection of 127.0.0.1 this minute
    refused_smtp(smtp_from(o))
    p = pop3_from(o)
    assert p.status().startswith("-ERR [SYS/TEMP] Too many connections from")
    assert p.closed()
    c = smtp_from(o, "127.0.0.2")
    assert c.reply()[0] == 220
    o.wait_log(r"event=reject reason=rate-limit connections=6/min")
    o.wait_log(r"event=reject reason=rate-limit connections=7/min")


def test_limits_off_with_zero(owld):
    o = owld(["max_connections_per_ip=0", "connection_rate_limit=0",
              "max_connections=200"])
    held = [smtp_from(o) for _ in range(60)]
    try:
        for c in held:
            assert c.reply()[0] == 220
    finally:
        for c in held:
            c.close()


def pop3_pass(o, src, user, password, results, barrier=None):
    """One POP3 login from src; appends (seconds for PASS, answer)."""
    p = pop3_from(o, src)
    assert p.status().startswith("+OK")
    assert p.cmd("USER " + user).startswith("+OK")
    if barrier is not None:
        barrier.wait()
    t = time.time()
    r = p.cmd("PASS " + password)
    results.append((time.time() - t, r))
    return p


PENALTY = ["auth.fail_delay=200ms", "auth.penalty_max_delay=3s"]


# timing (seconds of penalties and delays): run plain only, to keep make
# check in its 20 minutes; the code it drives runs under ASan in the
# faster login and relay tests and in the penalty's unit tests (test_anvil)
@pytest.mark.plain_only
def test_brute_force_across_connections_is_slowed(owld):
    o = owld(PENALTY)
    n = 6
    results, threads = [], []
    barrier = threading.Barrier(n)
    for _ in range(n):
        t = threading.Thread(target=pop3_pass,
                             args=(o, "127.0.0.1", "alice", "wrong",
                                   results, barrier))
        t.start()
        threads.append(t)
    # while those wait (alice has 5 failures, the next guess waits 3s),
    # the owner from another address gets in at once
    o.wait_log(r"event=login-failed", count=5)
    mine = []
    p = pop3_pass(o, "127.0.0.2", "alice", "pw-alice", mine)
    assert mine[0][1].startswith("+OK"), mine
    assert mine[0][0] < 1.5, mine
    p.cmd("QUIT")
    for t in threads:
        t.join()
    assert all(r.startswith("-ERR [AUTH]") for _, r in results), results
    times = sorted(s for s, _ in results)
    # guesses from one address are answered one after the other, each
    # waiting longer (0.2, 0.4, 0.8, 1.6, then the 3s cap): without the
    # penalty all six come back after auth.fail_delay
    assert times[0] < 1.0, times
    assert times[-1] >= 5.0, times
    # the right password from the guessing address waits out the penalty
    mine = []
    p = pop3_pass(o, "127.0.0.1", "alice", "pw-alice", mine)
    assert mine[0][1].startswith("+OK"), mine
    assert mine[0][0] >= 2.0, mine
    p.cmd("QUIT")
    o.wait_log(r"event=disconnect reason=quit", count=2)
    # success reset the address: prompt again, and a wrong password costs
    # auth.fail_delay only
    mine = []
    p = pop3_pass(o, "127.0.0.1", "alice", "pw-alice", mine)
    assert mine[0][1].startswith("+OK") and mine[0][0] < 1.0, mine
    p.cmd("QUIT")
    mine = []
    pop3_pass(o, "127.0.0.1", "bob", "wrong", mine)
    assert 0.15 <= mine[0][0] < 1.0, mine
    log = o.logtext()
    assert "event=auth-penalty user=alice@localhost failures=" in log
    assert log.count("event=login-failed") == n + 1


# timing (seconds of penalties and delays): run plain only, to keep make
# check in its 20 minutes; the code it drives runs under ASan in the
# faster login and relay tests and in the penalty's unit tests (test_anvil)
@pytest.mark.plain_only
def test_shutdown_does_not_wait_for_penalised_logins(owld):
    """SIGTERM closes sessions whose login waits out a penalty at once
    (421 / -ERR, no answer to the login) instead of after the wait."""
    o = owld(["auth.fail_delay=1s", "auth.penalty_max_delay=30s"])
    r = []
    for _ in range(4):
        pop3_pass(o, "127.0.0.1", "alice", "wrong", r)
    p = pop3_from(o)
    assert p.status().startswith("+OK")
    p.cmd("USER alice")
    p.send("PASS pw-alice\r\n")
    c = smtp_from(o, port=o.sub_port)
    assert c.reply()[0] == 220
    c.cmd("EHLO client.test")
    tok = base64.b64encode(b"\0alice\0pw-alice").decode()
    c.send("AUTH PLAIN %s\r\n" % tok)
    o.wait_log(r"event=auth-penalty", count=4)
    t = time.time()
    assert o.stop() == 0
    assert time.time() - t < 5
    assert p.status().startswith("-ERR")
    assert c.reply()[0] == 421


def smtp_auth(o, src, user, password):
    """One AUTH PLAIN on submission from src: (seconds, reply code)."""
    c = smtp_from(o, src, o.sub_port)
    assert c.reply()[0] == 220
    c.cmd("EHLO client.test")
    tok = base64.b64encode(("\0%s\0%s" % (user, password)).encode()).decode()
    t = time.time()
    code, _ = c.cmd("AUTH PLAIN " + tok)
    return time.time() - t, code


# timing (seconds of penalties and delays): run plain only, to keep make
# check in its 20 minutes; the code it drives runs under ASan in the
# faster login and relay tests and in the penalty's unit tests (test_anvil)
@pytest.mark.plain_only
def test_penalty_shared_by_smtp_and_pop3(owld):
    """Failures over POP3 slow SMTP AUTH from that address too; an
    address that guessed at alice waits for alice's count; an address
    that never failed does not."""
    o = owld(PENALTY)
    r = []
    pop3_pass(o, "127.0.0.3", "alice", "wrong", r)
    for _ in range(3):
        pop3_pass(o, "127.0.0.1", "bob", "wrong", r)
    # 127.0.0.1 guessed at bob: its AUTH as alice waits too (0.8s after
    # its third failure)
    s, code = smtp_auth(o, "127.0.0.1", "alice", "pw-alice")
    assert code == 235 and s >= 0.4, s
    # four guesses at alice from 127.0.0.4: alice has 5 failures
    for _ in range(4):
        pop3_pass(o, "127.0.0.4", "alice", "wrong", r)
    assert all(x.startswith("-ERR [AUTH]") for _, x in r), r
    # an address that never failed is answered at once
    s, code = smtp_auth(o, "127.0.0.2", "alice", "pw-alice")
    assert code == 235 and s < 1.0, s
    # 127.0.0.3 once failed for alice: it waits for alice's count (3s)
    s, code = smtp_auth(o, "127.0.0.3", "alice", "pw-alice")
    assert code == 235 and s >= 1.5, s
    assert "event=auth-penalty user=alice@localhost failures=5" in \
        o.logtext()
