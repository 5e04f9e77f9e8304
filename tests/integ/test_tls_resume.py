"""TLS session resumption (issue 23): owld's listeners resume sessions from
their own ticket keys, across a reload, for tls.session_timeout; the relay
offers each destination's last session again on its next connection."""
import socket
import ssl
import time

from test_relay import MSG
from test_tls import certs, client_ctx, sink_ctx, tls_owld  # noqa: F401


def starttls_session(port, ctx, session=None):
    """One STARTTLS session to owld's SMTP port; (session, reused)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    f = s.makefile("rb")

    def reply():
        while True:
            line = f.readline()
            assert line, "connection closed"
            if line[3:4] != b"-":
                return line
    assert reply().startswith(b"220")
    s.sendall(b"EHLO client.test\r\n")
    reply()
    s.sendall(b"STARTTLS\r\n")
    assert reply().startswith(b"220")
    t = ctx.wrap_socket(s, server_hostname="localhost", session=session)
    tf = t.makefile("rb")
    t.sendall(b"EHLO client.test\r\n")  # the tickets come with its reply
    while True:
        line = tf.readline()
        if line[3:4] != b"-":
            break
    reused = t.session_reused
    t.sendall(b"QUIT\r\n")
    tf.readline()
    sess = t.session
    t.close()
    return sess, reused


def test_owld_resumes_sessions_and_keeps_them_across_reload(tls_owld, certs):  # noqa: F811
    o = tls_owld()
    ctx = client_ctx(certs)
    sess, reused = starttls_session(o.port, ctx)
    assert not reused and sess is not None
    sess, reused = starttls_session(o.port, ctx, sess)
    assert reused
    o.ctl("reload")  # a new server context: the ticket keys stay
    o.wait_log(r"event=reload ")
    sess, reused = starttls_session(o.port, ctx, sess)
    assert reused
    # TLS 1.2 as well (a ticket, RFC 5077)
    ctx12 = client_ctx(certs)
    ctx12.maximum_version = ssl.TLSVersion.TLSv1_2
    s12, reused = starttls_session(o.port, ctx12)
    assert not reused
    assert starttls_session(o.port, ctx12, s12)[1]


def test_tickets_expire_with_the_session_timeout(tls_owld, certs):  # noqa: F811
    o = tls_owld(["tls.session_timeout=1"])
    ctx = client_ctx(certs)
    sess, _ = starttls_session(o.port, ctx)
    assert starttls_session(o.port, ctx, sess)[1]
    sess, _ = starttls_session(o.port, ctx)
    time.sleep(3.2)  # past its life and its key's (two rotations)
    assert not starttls_session(o.port, ctx, sess)[1]


def test_relay_resumes_its_session_with_a_destination(owld, sink, certs):  # noqa: F811
    s = sink(tls=sink_ctx(certs, "other"))
    # no cache: each message on a connection of its own
    o = owld(["relay.host=127.0.0.1:%d" % s.port, "queue.retry=1h",
              "relay.connection_cache_time=0"])
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    o.wait_log(r"event=tls .*resumed=no")
    o.submit(["y@remote.test"], MSG)
    s.wait(2)
    assert s.connections == 2
    first, second = s.acked()
    assert first["tls"] == second["tls"] == "TLSv1.3"
    assert first["resumed"] is False and second["resumed"] is True
    o.wait_log(r"event=tls target=\S+ version=TLSv1\.3 cipher=\S+ "
               r"verified=no resumed=yes")
    assert o.stop() == 0  # the session cache freed (sanitizer builds)


def test_relay_session_cache_off(owld, sink, certs):  # noqa: F811
    s = sink(tls=sink_ctx(certs, "other"))
    o = owld(["relay.host=127.0.0.1:%d" % s.port, "queue.retry=1h",
              "relay.connection_cache_time=0",
              "relay.tls.session_cache_size=0"])
    for r in ("x@remote.test", "y@remote.test"):
        o.submit([r], MSG)
        s.wait(1 if r[0] == "x" else 2)
    assert [m["resumed"] for m in s.acked()] == [False, False]
