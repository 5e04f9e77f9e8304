#!/usr/bin/python3
"""imapload - the IMAP load client of "make bench" (see bench/bench.py).

    imapload.py -p PORT -w PASS -u USER [options] MODE

One command at a time, as a mail client sends them (no pipelining), over
raw sockets; every response is read whole: a line that ends in a literal
({n}) is followed by exactly n octets and then the rest of the response.
Modes (each logs in with LOGIN, then SELECTs INBOX unless said otherwise):

  fetch   -c C clients at once (one process each, all on USER's INBOX),
          each UID FETCH 1:* BODY.PEEK[] once; timed from the first
          client's command to the last client's tagged OK (the logins and
          SELECTs come first and are not timed).  -n N: each client must
          get N bodies.
  open    SELECT INBOX + UID FETCH 1:* (FLAGS), timed together from the
          SELECT to the FETCH's tagged OK (the LOGIN before is not).
  append  -n N APPENDs of -s SIZE octet messages to INBOX, each a
          synchronizing literal (wait for "+", send, wait for the tagged
          OK), timed from the first APPEND to the last OK.
  hold    -n N connections, USER with %d for the connection's number
          (1..N; with -U K, its number modulo K, 1..K) or one user for all,
          each LOGIN, SELECT INBOX, IDLE (until the server's "+"), over -P
          processes; prints "held" when all are idling, waits for a line
          on stdin, closes them all.
  bigappend, bigfetch
          one APPEND of -s SIZE octets (sent in 64 KiB pieces) or one
          UID FETCH 1:* BODY.PEEK[] read in 1 MiB pieces and dropped; prints
          "held" and waits for a line on stdin after the SELECT and again
          after the tagged OK, before LOGOUT (so the bench can measure the
          server's memory around the command, its session still open).

Prints one line "key=value ...": messages, bytes (octets of the literals
received or sent), seconds, client_cpu (the load client's own CPU seconds
over the timed part, every process: if it is close to seconds times the
number of clients, the client was the bottleneck).  Any protocol error
(NO, BAD, BYE, a short read) is one line on stderr and exit status 1.
"""
import argparse
import os
import resource
import socket
import sys
import time


class ImapError(Exception):
    pass


def cpu_seconds():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def raise_nofile():
    """Our soft descriptor limit up to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def quote(s):
    return b'"' + s.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'


class Conn:
    """One IMAP connection: lines and literals read exactly."""

    def __init__(self, port, buffering=1 << 18, timeout=600):
        self.s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.r = self.s.makefile("rb", buffering=buffering)
        self.seq = 0
        self.greeting = self.response()
        if not self.greeting.startswith(b"* OK"):
            raise ImapError("greeting %r" % self.greeting[:200])

    def close(self):
        self.r.close()
        self.s.close()

    def line(self):
        line = self.r.readline()
        if not line.endswith(b"\n"):
            raise ImapError("connection closed (after %r)" % line[:200])
        return line

    def read_exact(self, n):
        data = self.r.read(n)
        if len(data) != n:
            raise ImapError("connection closed in a literal (%d of %d)" %
                            (len(data), n))
        return data

    def skip(self, n):
        while n:
            got = len(self.r.read(min(n, 1 << 20)))
            if not got:
                raise ImapError("connection closed in a literal")
            n -= got

    @staticmethod
    def literal_size(line):
        """n if line ends with a literal's {n} (or literal8's ~{n})."""
        if not line.endswith(b"}\r\n"):
            return None
        i = line.rfind(b"{")
        digits = line[i + 1:-3]
        if i < 0 or not digits.isdigit():
            return None
        return int(digits)

    def response(self, literal=None):
        """One whole response.  literal(self, n), if given, must consume
        the n octets of each literal (which are then not in the result);
        otherwise they are kept in it."""
        parts = []
        while True:
            line = self.line()
            parts.append(line)
            n = self.literal_size(line)
            if n is None:
                return b"".join(parts) if len(parts) > 1 else line
            if literal is None:
                parts.append(self.read_exact(n))
            else:
                literal(self, n)

    def tag(self):
        self.seq += 1
        return b"a%d" % self.seq

    def wait(self, tag, literal=None, untagged=None):
        """Responses until tag's; its text, or ImapError unless OK."""
        while True:
            resp = self.response(literal)
            if resp.startswith(tag + b" "):
                if resp[len(tag) + 1:len(tag) + 4].upper() != b"OK ":
                    raise ImapError(resp.decode("latin-1").strip())
                return resp
            if resp.startswith(b"* BYE"):
                raise ImapError(resp.decode("latin-1").strip())
            if resp.startswith(b"+"):
                raise ImapError("unexpected continuation %r" % resp[:200])
            if untagged is not None:
                untagged(resp)

    def command(self, text, literal=None, untagged=None):
        tag = self.tag()
        self.s.sendall(tag + b" " + text + b"\r\n")
        return self.wait(tag, literal, untagged)

    def continuation(self, tag):
        """Waits for "+" (untagged data may come first); ImapError if
        the command is answered instead."""
        while True:
            resp = self.response()
            if resp.startswith(b"+"):
                return resp
            if resp.startswith(tag + b" ") or resp.startswith(b"* BYE"):
                raise ImapError(resp.decode("latin-1").strip())

    def login(self, user, password):
        self.command(b"LOGIN " + quote(user.encode()) + b" " +
                     quote(password.encode()))

    def select(self, mailbox="INBOX"):
        self.command(b"SELECT " + quote(mailbox.encode()))

    def logout(self):
        tag = self.tag()
        self.s.sendall(tag + b" LOGOUT\r\n")
        try:
            self.wait(tag)
        except ImapError:
            pass
        self.close()

    def append(self, mailbox, size, send):
        """APPEND of a synchronizing literal of size octets, which
        send(sock) writes once the server has said "+"."""
        tag = self.tag()
        self.s.sendall(tag + b" APPEND " + quote(mailbox.encode()) +
                       b" {%d}\r\n" % size)
        self.continuation(tag)
        send(self.s)
        self.s.sendall(b"\r\n")
        return self.wait(tag)


class Counter:
    """Counts the bodies of a FETCH and their octets."""

    def __init__(self, chunked=False):
        self.messages = self.bytes = 0
        self.chunked = chunked

    def __call__(self, conn, n):
        if self.chunked:
            conn.skip(n)
        else:
            conn.read_exact(n)
        self.messages += 1
        self.bytes += n


def session(a, user=None):
    c = Conn(a.port)
    c.login(user or a.user, a.password)
    c.select(a.mailbox)
    return c


def hold_point(a):
    """-H: "held" on stdout, then a line from stdin."""
    print("held", flush=True)
    if not sys.stdin.readline():
        raise ImapError("stdin closed while held")


def timed_fetch(c, chunked=False):
    count = Counter(chunked)
    cpu0, t0 = cpu_seconds(), time.monotonic()
    c.command(b"UID FETCH 1:* BODY.PEEK[]", literal=count)
    t1 = time.monotonic()
    return count, t0, t1, cpu_seconds() - cpu0


def fork_children(n, child):
    """n processes running child(i, ready_w, go_r, res_w); each writes one
    octet to ready ("r", or "e" if it failed), waits for one from go, and
    writes its result line to res.  Returns (pids, ready_r, go_w,
    res_r)."""
    ready_r, ready_w = os.pipe()
    go_r, go_w = os.pipe()
    res_r, res_w = os.pipe()
    pids = []
    for i in range(n):
        pid = os.fork()
        if pid == 0:
            status = 1
            try:
                for fd in (ready_r, go_w, res_r):
                    os.close(fd)
                child(i, ready_w, go_r, res_w)
                status = 0
            except Exception as e:  # noqa: BLE001 (reported to the parent)
                msg = ("error %s\n" % e).encode()[:4000]
                try:
                    os.write(ready_w, b"e")
                    os.write(res_w, msg)
                except OSError:
                    pass
            finally:
                os._exit(status)
        pids.append(pid)
    for fd in (ready_w, go_r, res_w):
        os.close(fd)
    return pids, ready_r, go_w, res_r


def gather(n, pids, ready_r, go_w, res_r, between=None):
    """Waits for n readies, runs between(), lets all go, returns their
    result lines; ImapError with the first child's error."""
    got = b""
    while len(got) < n:
        b = os.read(ready_r, n - len(got))
        if not b:
            break
        got += b
        if b"e" in b:
            break
    ok = len(got) == n and b"e" not in got
    if ok and between is not None:
        between()
    try:
        os.write(go_w, b"g" * n)
    except OSError:
        pass
    os.close(go_w)
    out = b""
    while True:
        b = os.read(res_r, 65536)
        if not b:
            break
        out += b
    for p in pids:
        os.waitpid(p, 0)
    lines = out.decode().splitlines()
    errors = [ln for ln in lines if ln.startswith("error ")]
    if errors or not ok:
        raise ImapError(errors[0][6:] if errors else "a client died")
    return lines


def mode_fetch(a):
    def child(i, ready_w, go_r, res_w):
        c = session(a)
        os.write(ready_w, b"r")
        os.read(go_r, 1)
        count, t0, t1, cpu = timed_fetch(c)
        if a.n is not None and count.messages != a.n:
            raise ImapError("%d bodies of %d" % (count.messages, a.n))
        c.logout()
        os.write(res_w, b"%d %d %.6f %.6f %.6f\n" % (count.messages, count.bytes,
                                                     t0, t1, cpu))

    lines = gather(a.clients, *fork_children(a.clients, child))
    rows = [ln.split() for ln in lines]
    msgs = sum(int(r[0]) for r in rows)
    octets = sum(int(r[1]) for r in rows)
    secs = max(float(r[3]) for r in rows) - min(float(r[2]) for r in rows)
    cpu = sum(float(r[4]) for r in rows)
    return dict(messages=msgs, bytes=octets, seconds=secs, client_cpu=cpu)


def mode_open(a):
    c = Conn(a.port)
    c.login(a.user, a.password)
    n = [0]

    def untagged(resp):
        if b" FETCH " in resp:
            n[0] += 1
    cpu0, t0 = cpu_seconds(), time.monotonic()
    c.command(b"SELECT " + quote(a.mailbox.encode()))
    t1 = time.monotonic()
    c.command(b"UID FETCH 1:* (FLAGS)", untagged=untagged)
    t2 = time.monotonic()
    cpu = cpu_seconds() - cpu0
    c.logout()
    if a.n is not None and n[0] != a.n:
        raise ImapError("FLAGS of %d messages of %d" % (n[0], a.n))
    return dict(messages=n[0], bytes=0, seconds=t2 - t0, select_seconds=t1 - t0,
                client_cpu=cpu)


def message(i, size):
    """Message i, size octets with CRLF line ends."""
    head = ("From: bench@example.org\r\nTo: u@localhost\r\n"
            "Subject: append %d\r\nMessage-ID: <%d.append@bench.example>\r\n"
            "\r\n" % (i, i)).encode()
    line = b"y" * 76 + b"\r\n"
    body = line * ((size - len(head)) // len(line) + 1)
    m = (head + body)[:size - 2]
    if m.endswith(b"\r"):  # no bare CR where the cut falls
        m = m[:-1] + b"y"
    return m + b"\r\n"


def mode_append(a):
    c = session(a)
    msgs = [message(i, a.size) for i in range(a.n)]
    cpu0, t0 = cpu_seconds(), time.monotonic()
    for m in msgs:
        c.append(a.mailbox, len(m), lambda s, m=m: s.sendall(m))
    t1 = time.monotonic()
    cpu = cpu_seconds() - cpu0
    c.logout()
    return dict(messages=a.n, bytes=a.n * a.size, seconds=t1 - t0, client_cpu=cpu)


def mode_bigappend(a):
    c = session(a)
    m = message(0, a.size)
    hold_point(a)

    def send(s):
        view = memoryview(m)
        for off in range(0, len(m), 65536):
            s.sendall(view[off:off + 65536])
    cpu0, t0 = cpu_seconds(), time.monotonic()
    c.append(a.mailbox, len(m), send)
    t1 = time.monotonic()
    cpu = cpu_seconds() - cpu0
    hold_point(a)
    c.logout()
    return dict(messages=1, bytes=len(m), seconds=t1 - t0, client_cpu=cpu)


def mode_bigfetch(a):
    c = session(a)
    hold_point(a)
    count, t0, t1, cpu = timed_fetch(c, chunked=True)
    hold_point(a)
    c.logout()
    if a.size and count.bytes < a.size:
        raise ImapError("fetched %d octets of %d" % (count.bytes, a.size))
    return dict(messages=count.messages, bytes=count.bytes, seconds=t1 - t0,
                client_cpu=cpu)


def idle(c):
    tag = c.tag()
    c.s.sendall(tag + b" IDLE\r\n")
    c.continuation(tag)


def mode_hold(a):
    raise_nofile()
    procs = max(1, min(a.procs, a.n))
    t0 = time.monotonic()

    def child(i, ready_w, go_r, res_w):
        conns = []
        for k in range(i, a.n, procs):
            num = k % a.users + 1 if a.users else k + 1
            user = a.user % num if "%d" in a.user else a.user
            c = Conn(a.port, buffering=4096)
            c.login(user, a.password)
            c.select(a.mailbox)
            idle(c)
            conns.append(c)
        os.write(ready_w, b"r")
        os.read(go_r, 1)
        for c in conns:
            c.close()
        os.write(res_w, b"%d\n" % len(conns))

    def between():
        print("held seconds=%.3f" % (time.monotonic() - t0), flush=True)
        if not sys.stdin.readline():
            raise ImapError("stdin closed while held")
    lines = gather(procs, *fork_children(procs, child), between=between)
    return dict(connections=sum(int(x) for x in lines),
                seconds=time.monotonic() - t0)


MODES = {"fetch": mode_fetch, "open": mode_open, "append": mode_append,
         "hold": mode_hold, "bigappend": mode_bigappend, "bigfetch": mode_bigfetch}


def main():
    ap = argparse.ArgumentParser(description="the IMAP load client of make bench")
    ap.add_argument("-p", "--port", type=int, required=True)
    ap.add_argument("-u", "--user", required=True)
    ap.add_argument("-w", "--password", required=True)
    ap.add_argument("-m", "--mailbox", default="INBOX")
    ap.add_argument("-c", "--clients", type=int, default=1)
    ap.add_argument("-n", type=int, default=None)
    ap.add_argument("-s", "--size", type=int, default=5000)
    ap.add_argument("-P", "--procs", type=int, default=8)
    ap.add_argument("-U", "--users", type=int, default=0)
    ap.add_argument("mode", choices=sorted(MODES))
    a = ap.parse_args()
    try:
        r = MODES[a.mode](a)
    except (ImapError, OSError) as e:
        print("imapload %s: %s" % (a.mode, e), file=sys.stderr)
        sys.exit(1)
    print(" ".join("%s=%s" % (k, ("%.6f" % v) if isinstance(v, float) else v)
                   for k, v in r.items()), flush=True)


if __name__ == "__main__":
    main()
