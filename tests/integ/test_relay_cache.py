"""The relay's connection cache (issue 23): sessions to a destination stay
open for relay.connection_cache_time and carry the next messages, at most
relay.max_connections_per_destination at once; a cached session the peer
ends (421, EOF) loses and bounces nothing; idle sessions get QUIT at a
reload and at the stop.  owld against the SMTP sinks of conftest.Sink."""
import smtplib
import threading
import time

from test_relay import MSG, max_overlap, queue_ids, wait_queue_empty


def relay_opts(sink, *more):
    return ["relay.host=127.0.0.1:%d" % sink.port, "queue.retry=1h"] + list(more)


def submit_many(o, n, sessions=5):
    """n messages over a few submission sessions at once, as a burst."""
    def one(k):
        with smtplib.SMTP("127.0.0.1", o.sub_port, timeout=30) as c:
            c.login("alice@localhost", "pw-alice")
            for i in range(k, n, sessions):
                c.sendmail("alice@localhost", ["x%d@remote.test" % i], MSG)
    ts = [threading.Thread(target=one, args=(k,)) for k in range(sessions)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()


def test_burst_uses_the_destination_limit(owld, sink):
    def final(msg):
        time.sleep(0.05)  # slow enough that a burst queues up
        return "250 ok"

    s = sink(final=final)
    o = owld(relay_opts(s, "relay.max_connections_per_destination=3"))
    submit_many(o, 40)
    s.wait(40)
    wait_queue_empty(o)
    # every session went on carrying mail: 40 messages, at most 3 sessions
    assert 2 <= s.connections <= 3, s.connections
    assert s.max_open <= 3
    assert len(s.acked()) == 40
    assert [c.split()[0] for c in s.commands].count("MAIL") == 40


def test_parallel_limit_across_cache_and_burst(owld, sink):
    def final(msg):
        time.sleep(0.1)
        return "250 ok"

    s = sink(final=final)
    o = owld(relay_opts(s, "relay.max_connections_per_destination=2",
                        "relay.connection_cache_time=300ms"))
    for _ in range(2):  # a burst, the cache runs out, another burst
        submit_many(o, 12, sessions=4)
        wait_queue_empty(o)
        time.sleep(0.8)
    s.wait(24)
    assert s.max_open <= 2
    assert max_overlap(list(s.spans)) <= 2
    assert s.connections <= 4  # two per burst at most


def test_idle_session_carries_a_later_message(owld, sink):
    s = sink()
    o = owld(relay_opts(s, "relay.connection_cache_time=5s"))
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    time.sleep(1)  # idle, within the cache time
    assert s.open == 1 and "QUIT" not in s.commands
    t0 = time.time()
    o.submit(["y@remote.test"], MSG)
    s.wait(2)
    assert time.time() - t0 < 2
    assert s.connections == 1  # no new connection
    assert [c.split()[0] for c in s.commands].count("EHLO") == 1
    wait_queue_empty(o)


def test_idle_session_ends_with_quit_after_the_cache_time(owld, sink):
    s = sink()
    o = owld(relay_opts(s, "relay.connection_cache_time=500ms"))
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    t0 = time.time()
    deadline = t0 + 5
    while s.open and time.time() < deadline:
        time.sleep(0.02)
    assert s.open == 0 and s.commands[-1] == "QUIT"
    assert len(s.spans) == 1


def reused_session_lost(owld, sink, how):
    """The peer takes one message, then ends the session at the next MAIL
    (the race of a cached session closed as mail comes for it)."""
    s = sink(drop=(how, 1))
    o = owld(relay_opts(s, "relay.connection_cache_time=10s"))
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    o.submit(["y@remote.test"], MSG)
    s.wait(2, timeout=10)  # on a fresh session, not in queue.retry (1 h)
    wait_queue_empty(o)
    assert s.dropped == 1 and s.connections == 2
    assert sorted(m["rcpts"][0] for m in s.acked()) == ["x@remote.test",
                                                         "y@remote.test"]
    log = o.logtext()
    assert "event=retry-fresh" in log
    assert "event=deferred" not in log and "event=bounced" not in log
    assert "bounce" not in log.split("event=retry-fresh", 1)[1]
    assert o.stop() == 0  # a clean stop (sanitizer builds: no leak)


def test_cached_session_421_at_mail_is_no_failure(owld, sink):
    reused_session_lost(owld, sink, "421")


def test_cached_session_eof_at_mail_is_no_failure(owld, sink):
    reused_session_lost(owld, sink, "eof")


def test_idle_session_closed_by_the_peer(owld, sink):
    s = sink(idle_close=0.3)
    o = owld(relay_opts(s, "relay.connection_cache_time=10s"))
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    deadline = time.time() + 5
    while s.dropped == 0 and time.time() < deadline:
        time.sleep(0.02)
    time.sleep(0.3)  # owld reads the 421 and closes
    o.submit(["y@remote.test"], MSG)
    s.wait(2, timeout=10)
    wait_queue_empty(o)
    assert s.connections == 2
    log = o.logtext()
    assert "event=deferred" not in log and "event=bounced" not in log
    assert not queue_ids(o)
    assert o.stop() == 0


def test_reload_and_stop_quit_idle_sessions(owld, sink):
    s = sink()
    o = owld(relay_opts(s, "relay.connection_cache_time=60s"))
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    time.sleep(0.3)
    assert s.open == 1 and "QUIT" not in s.commands  # cached
    o.ctl("reload")
    deadline = time.time() + 5
    while s.open and time.time() < deadline:
        time.sleep(0.02)
    assert s.open == 0 and s.commands[-1] == "QUIT"
    # a new session after the reload, cached in turn, QUIT at the stop
    o.submit(["y@remote.test"], MSG)
    s.wait(2)
    time.sleep(0.3)
    assert s.open == 1 and s.connections == 2
    t0 = time.time()
    assert o.stop() == 0
    assert time.time() - t0 < 5
    assert s.commands[-1] == "QUIT" and s.commands.count("QUIT") == 2


def test_idle_session_gives_way_under_the_global_limit(owld, sink):
    from test_relay import free_port
    port = free_port()
    a = sink(host="127.0.0.1", port=port)
    b = sink(host="127.0.0.2", port=port)
    o = owld(["relay.port=%d" % port, "relay.max_connections=1",
              "relay.connection_cache_time=30s", "queue.retry=1h"])
    o.submit(["x@[127.0.0.1]"], MSG)
    a.wait(1)
    time.sleep(0.3)
    assert a.open == 1  # cached, and the only session allowed
    t0 = time.time()
    o.submit(["y@[127.0.0.2]"], MSG)
    b.wait(1, timeout=10)
    assert time.time() - t0 < 3  # not after the 30 s of cache time
    assert a.commands[-1] == "QUIT" and a.max_open == 1
    wait_queue_empty(o)
    cpu = sum(int(x) for x in open("/proc/%d/stat" % o.proc.pid).read()
              .rsplit(")", 1)[1].split()[11:13])
    time.sleep(1)  # b's session idles: nothing spins meanwhile
    cpu2 = sum(int(x) for x in open("/proc/%d/stat" % o.proc.pid).read()
               .rsplit(")", 1)[1].split()[11:13])
    assert cpu2 - cpu < 20  # clock ticks (1/100 s)


def test_reuse_time_ends_an_old_session(owld, sink):
    s = sink()
    o = owld(relay_opts(s, "relay.connection_cache_time=30s",
                        "relay.connection_reuse_time=1"))
    o.submit(["x@remote.test"], MSG)
    s.wait(1)
    deadline = time.time() + 5
    while s.open and time.time() < deadline:
        time.sleep(0.02)
    assert s.open == 0 and s.commands[-1] == "QUIT"  # at 1 s, not 30
    o.submit(["y@remote.test"], MSG)
    s.wait(2)
    assert s.connections == 2
