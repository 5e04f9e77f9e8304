"""Fixtures for the integration tests: start build/owld on free loopback
ports (port 0, read back from the log) with a temp data directory."""
import imaplib
import os
import poplib
import re
import smtplib
import signal
import socket
import socketserver
import ssl
import subprocess
import threading
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(ROOT, os.environ.get("OWLD_BUILD", "build"))
OWLD = os.path.join(BUILD, "owld")
OWLCTL = os.path.join(BUILD, "owlctl")


class Owld:
    def __init__(self, datadir, opts=(), env=None, users=("alice", "bob"),
                 verbose=True, addr="127.0.0.1"):
        self.datadir = str(datadir)
        self.addr = addr  # every listener's address (the cluster tests)
        self.log = os.path.join(self.datadir, "test.log")
        os.makedirs(self.datadir, exist_ok=True)
        for u in users:
            add_user(self.datadir, u + "@localhost", "pw-" + u)
        self.opts = list(opts)
        self.env = dict(os.environ, **(env or {}))
        self.verbose = verbose
        self.proc = None
        self.port = None
        self.pop3_port = None
        self.sub_port = None
        self.subs_port = None
        self.pop3s_port = None
        self.imap_port = None
        self.imaps_port = None

    def start(self):
        args = [OWLD] + (["-v"] if self.verbose else []) + ["-D", self.datadir,
                "-o", "smtp.listen=%s:0" % self.addr, "-o", "hostname=mx.test",
                "-o", "pop3.listen=%s:0" % self.addr, "-o", "auth.fail_delay=50ms",
                "-o", "submission.listen=%s:0" % self.addr,
                "-o", "imap.listen=%s:0" % self.addr,
                "-o", "relay.networks=", "-o", "log.file=" + self.log]
        for o in self.opts:
            args += ["-o", o]
        start = os.path.getsize(self.log) if os.path.exists(self.log) else 0
        self.proc = subprocess.Popen(args, env=self.env,
                                     stderr=subprocess.PIPE, text=True)
        a = re.escape(self.addr)
        deadline = time.time() + 10
        while time.time() < deadline:
            text = self.logtext()[start:]
            m = re.search(r"event=listen proto=smtp addr=%s:(\d+)" % a, text)
            p = re.search(r"event=listen proto=pop3 addr=%s:(\d+)" % a, text)
            u = re.search(r"event=listen proto=submission addr=%s:(\d+)" % a, text)
            i = re.search(r"event=listen proto=imap addr=%s:(\d+)" % a, text)
            if m and (p or "pop3.listen=" in " ".join(self.opts)) and \
                    (u or "submission.listen=" in " ".join(self.opts)) and \
                    (i or "imap.listen=" in " ".join(self.opts)):
                self.imap_port = int(i.group(1)) if i else None
                self.port = int(m.group(1))
                self.pop3_port = int(p.group(1)) if p else None
                self.sub_port = int(u.group(1)) if u else None
                m = re.search(r"event=listen proto=submissions "
                              r"addr=%s:(\d+)" % a, text)
                self.subs_port = int(m.group(1)) if m else None
                m = re.search(r"event=listen proto=pop3s "
                              r"addr=%s:(\d+)" % a, text)
                self.pop3s_port = int(m.group(1)) if m else None
                m = re.search(r"event=listen proto=imaps "
                              r"addr=%s:(\d+)" % a, text)
                self.imaps_port = int(m.group(1)) if m else None
                return self
            if self.proc.poll() is not None:
                raise RuntimeError("owld exited: " + self.proc.stderr.read())
            time.sleep(0.02)
        raise RuntimeError("owld did not start:\n" + self.logtext())

    def logtext(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def stop(self, sig=signal.SIGTERM, timeout=15):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
        self.proc.stderr.close()
        return rc

    def maildir(self, user="alice", sub="new"):
        tree = os.path.join(self.datadir, "mail")
        for o in self.opts:
            if o.startswith("mailbox.dir="):
                tree = o.split("=", 1)[1]
        return os.path.join(tree, "localhost", user, sub)

    def messages(self, user="alice"):
        d = self.maildir(user)
        if not os.path.isdir(d):
            return []
        out = []
        for name in sorted(os.listdir(d)):
            with open(os.path.join(d, name), "rb") as f:
                out.append((name, f.read()))
        return out

    def connect(self, timeout=10):
        s = socket.create_connection((self.addr, self.port), timeout=timeout)
        return Client(s)

    def submission(self, timeout=10):
        s = socket.create_connection((self.addr, self.sub_port), timeout=timeout)
        return Client(s)

    def submit(self, rcpts, body, user="alice", sender=None):
        """Sends one message through submission with AUTH PLAIN."""
        with smtplib.SMTP(self.addr, self.sub_port, timeout=30) as c:
            c.login(user + "@localhost", "pw-" + user)
            c.sendmail(sender or user + "@localhost", rcpts, body)

    def wait_log(self, pattern, timeout=20, count=1):
        """Waits until pattern (a regex) occurs count times in the log."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(re.findall(pattern, self.logtext())) >= count:
                return
            time.sleep(0.05)
        raise AssertionError("no %r in log:\n%s" % (pattern, self.logtext()[-4000:]))

    def ctl(self, *args, check=True):
        r = subprocess.run([OWLCTL, "-D", self.datadir] + list(args),
                           capture_output=True, text=True, timeout=30)
        if check:
            assert r.returncode == 0, r.stderr
        return r

    def pop3(self, timeout=10):
        s = socket.create_connection((self.addr, self.pop3_port), timeout=timeout)
        return Pop3Client(s)

    def imap(self, timeout=10):
        s = socket.create_connection((self.addr, self.imap_port), timeout=timeout)
        return ImapClient(s)

    def imaplib(self, user="alice", password=None):
        """A logged-in imaplib.IMAP4 session."""
        m = imaplib.IMAP4(self.addr, self.imap_port, timeout=30)
        m.login(user + "@localhost", password or "pw-" + user.split("@")[0])
        return m

    def poplib(self, user="alice", password=None):
        """A logged-in poplib.POP3 session."""
        p = poplib.POP3(self.addr, self.pop3_port, timeout=30)
        p.user(user)
        p.pass_(password or "pw-" + user.split("@")[0])
        return p

    def send(self, rcpts, body, sender="sender@example.org"):
        """Delivers one message over SMTP; body is bytes with CRLF ends."""
        with smtplib.SMTP(self.addr, self.port, timeout=30) as c:
            c.sendmail(sender, rcpts, body)


class Client:
    """A raw SMTP client reading whole replies (multi-line aware)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = b""

    def send(self, data):
        if isinstance(data, str):
            data = data.encode()
        self.sock.sendall(data)

    def readline(self):
        while b"\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed; buffered %r" % self.buf)
            self.buf += chunk
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("latin-1") + "\n"

    def reply(self):
        """One whole reply: (code, [lines])."""
        lines = []
        while True:
            line = self.readline()
            assert line.endswith("\r\n"), repr(line)
            lines.append(line[:-2])
            if len(line) < 4 or line[3] != "-":
                return int(line[:3]), lines

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.reply()

    def closed(self, timeout=5):
        """True if the server closed the connection."""
        self.sock.settimeout(timeout)
        try:
            while True:
                data = self.sock.recv(65536)
                if not data:
                    return True
                self.buf += data
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False

    def close(self):
        self.sock.close()


class Pop3Client(Client):
    """A raw POP3 client: status lines and dot-terminated lists."""

    def status(self):
        line = self.readline()
        assert line.endswith("\r\n"), repr(line)
        return line[:-2]

    def cmd(self, text):
        self.send(text + "\r\n")
        return self.status()

    def multi(self):
        """The lines of a multi-line body, un-dot-stuffed, as bytes."""
        out = []
        while True:
            while b"\r\n" not in self.buf:
                chunk = self.sock.recv(65536)
                if not chunk:
                    raise EOFError("closed in a multi-line reply")
                self.buf += chunk
            line, self.buf = self.buf.split(b"\r\n", 1)
            if line == b".":
                return out
            out.append(line[1:] if line.startswith(b".") else line)

    def login(self, user="alice", password=None):
        assert self.status().startswith("+OK")
        assert self.cmd("USER " + user).startswith("+OK")
        r = self.cmd("PASS " + (password or "pw-" + user.split("@")[0]))
        assert r.startswith("+OK"), r
        return r


class ImapClient(Client):
    """A raw IMAP client: lines, and a command's response up to its tag."""

    def line(self):
        line = self.readline()
        assert line.endswith("\r\n"), repr(line)
        return line[:-2]

    def until(self, tag):
        """The lines of a response up to and with the tagged one."""
        out = []
        while True:
            line = self.line()
            out.append(line)
            if line.startswith(tag + " "):
                return out

    def cmd(self, tag, text):
        self.send("%s %s\r\n" % (tag, text))
        return self.until(tag)

    def login(self, user="alice", password=None):
        assert self.line().startswith("* OK")
        r = self.cmd("L", 'LOGIN %s@localhost "%s"' % (
            user, password or "pw-" + user))
        assert r[-1].startswith("L OK"), r
        return r


class Sink:
    """A small SMTP server in the test process that records what it gets.

    rcpt(addr) and final(msg) give the reply texts; final may sleep.  Each
    message is recorded with acked=True only once its 2xx reply was sent.
    """

    def __init__(self, host="127.0.0.1", port=0, rcpt=None, final=None,
                 ehlo=("PIPELINING", "SIZE 100000000", "8BITMIME"),
                 greet_delay=0, tls=None, drop=None, idle_close=None):
        self.messages = []
        self.connections = 0
        self.open = self.max_open = 0  # sessions open now, and at most
        # drop=(how, n): after n messages in a session the next MAIL gets
        # "421" (then a close) or "eof" (a close, no reply): a cached
        # session the server ends under the client; idle_close=secs: 421
        # to a session quiet that long after a message
        self.drop = drop
        self.idle_close = idle_close
        self.dropped = 0
        self.spans = []  # (opened, closed) of each session
        self.greet_delay = greet_delay
        self.commands = []
        self.rcpt = rcpt or (lambda addr: "250 2.1.5 ok")
        self.final = final or (lambda msg: "250 2.0.0 ok")
        self.ehlo = ehlo
        self.tls = tls  # an ssl.SSLContext: offer STARTTLS with it
        self.tls_errors = []
        self.lock = threading.Lock()
        sink = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self):
                with sink.lock:
                    sink.connections += 1
                    sink.open += 1
                    sink.max_open = max(sink.max_open, sink.open)
                opened = time.time()
                closed = None
                try:
                    closed = sink.session(self.rfile, self.wfile, self.request)
                finally:
                    with sink.lock:
                        sink.open -= 1
                        sink.spans.append((opened, closed or time.time()))

        class Server(socketserver.ThreadingTCPServer):
            allow_reuse_address = True
            daemon_threads = True

        self.server = Server((host, port), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def session(self, rfile, wfile, sock=None):
        """Serves one connection; returns when it ended for the client (the
        moment QUIT was answered), or None when the client went away."""
        def say(text):
            wfile.write(text.encode() + b"\r\n")
            wfile.flush()
        time.sleep(self.greet_delay)
        say("220 sink.test ESMTP")
        sender, rcpts = None, []
        tls = None
        done = 0  # messages of this session
        while True:
            if self.idle_close and done and sock is not None:
                (tls or sock).settimeout(self.idle_close)
            try:
                line = rfile.readline()
            except (socket.timeout, TimeoutError):
                say("421 4.4.2 sink.test idle too long")
                with self.lock:
                    self.dropped += 1
                return
            if sock is not None:
                (tls or sock).settimeout(None)
            if not line:
                return
            cmd = line.decode("latin-1").rstrip("\r\n")
            with self.lock:
                self.commands.append(cmd)
            verb = cmd.split(" ")[0].upper()
            if verb == "STARTTLS" and self.tls and tls is None:
                say("220 2.0.0 ready")
                try:
                    tls = self.tls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as e:
                    with self.lock:
                        self.tls_errors.append(str(e))
                    return
                rfile, wfile = tls.makefile("rb"), tls.makefile("wb")
                sender, rcpts = None, []
                continue
            if verb == "EHLO":
                lines = ["sink.test"] + list(self.ehlo)
                if self.tls and tls is None:
                    lines.append("STARTTLS")
                for i, l in enumerate(lines):
                    say("250%s%s" % (" " if i == len(lines) - 1 else "-", l))
            elif verb == "HELO":
                say("250 sink.test")
            elif verb == "MAIL" and self.drop and done >= self.drop[1]:
                with self.lock:
                    self.dropped += 1
                if self.drop[0] == "421":
                    say("421 4.3.2 sink.test closing")
                return
            elif verb == "MAIL":
                sender, rcpts = cmd[10:].split(">")[0].lstrip("<"), []
                say("250 2.1.0 ok")
            elif verb == "RCPT":
                addr = cmd[8:].split(">")[0].lstrip("<")
                r = self.rcpt(addr)
                if r.startswith("2"):
                    rcpts.append(addr)
                say(r)
            elif verb == "DATA":
                if not rcpts:
                    say("554 5.5.1 no valid recipients")
                    continue
                say("354 go ahead")
                parts = []
                while True:
                    l = rfile.readline()
                    if not l:
                        return
                    if l == b".\r\n":
                        break
                    parts.append(l[1:] if l.startswith(b".") else l)
                data = b"".join(parts)
                msg = {"from": sender, "rcpts": rcpts, "data": data, "acked": False,
                       "tls": tls.version() if tls else None,
                       "resumed": tls.session_reused if tls else None}
                done += 1
                with self.lock:
                    self.messages.append(msg)
                r = self.final(msg)
                say(r)
                msg["acked"] = r.startswith("2")
            elif verb == "RSET":
                sender, rcpts = None, []
                say("250 ok")
            elif verb == "QUIT":
                # the session ends here for the client: once it reads 221 it
                # may open the next one before this thread runs again
                closed = time.time()
                say("221 bye")
                return closed
            else:
                say("502 5.5.1 unknown")

    def acked(self):
        with self.lock:
            return [m for m in self.messages if m["acked"]]

    def wait(self, n, timeout=20):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if len(self.acked()) >= n:
                return self.acked()
            time.sleep(0.05)
        raise AssertionError("sink got %d of %d messages" % (len(self.acked()), n))

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def sink():
    sinks = []

    def make(**kw):
        s = Sink(**kw)
        sinks.append(s)
        return s

    yield make
    for s in sinks:
        s.close()


def run_fetchmail(tmp_path, port, out, options):
    """Runs fetchmail once for alice@localhost on 127.0.0.1:port, its mail
    appended to out; options are its TLS keywords."""
    rc = tmp_path / "fetchmailrc"
    rc.write_text("poll 127.0.0.1 service %d protocol pop3 uidl auth password\n"
                  "  user 'alice@localhost' there with password 'pw-alice' is 'x' here\n"
                  "  %s\n"
                  "  mda \"/bin/sh -c 'cat >> %s'\"\n" % (port, options, out))
    os.chmod(rc, 0o600)
    env = dict(os.environ, HOME=str(tmp_path), FETCHMAILHOME=str(tmp_path))
    return subprocess.run(["fetchmail", "-f", str(rc), "--nosyslog", "-v",
                           "--idfile", str(tmp_path / "ids"), "--pidfile",
                           str(tmp_path / "fm.pid")],
                          capture_output=True, text=True, timeout=60, env=env)


def status_kib(pid, field="VmRSS", gone=None):
    """A memory figure of a process, KiB (VmRSS now, VmHWM its peak);
    gone, if given, for a process that has exited meanwhile (make bench
    sums over servers whose children come and go)."""
    try:
        # the read too: a process that exits after the open gives ESRCH
        with open("/proc/%d/status" % pid) as f:
            lines = f.readlines()
    except OSError:
        if gone is None:
            raise
        return gone
    for line in lines:
        if line.startswith(field + ":"):
            return int(line.split()[1])
    if gone is not None:
        return gone  # a zombie has no memory lines
    raise AssertionError("no %s for process %d" % (field, pid))


def low_quarantine(mb=2):
    """ASan keeps freed memory in quarantine (256 MB by default), where it
    counts as RSS; a small one, so that memory bounds measure owld."""
    asan = os.environ.get("ASAN_OPTIONS", "")
    return {"ASAN_OPTIONS": asan + ":quarantine_size_mb=%d" % mb} if asan else {}


def wait_port(port, timeout=20, proc=None):
    """Waits until something accepts on 127.0.0.1:port (a server the test
    started; proc, if given, must not have died meanwhile)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            assert proc is None or proc.poll() is None, proc.stdout.read()
            time.sleep(0.1)
    raise AssertionError("nothing listens on port %d" % port)


def add_user(datadir, name, password):
    # owlctl refuses a domain outside its domains unless forced; a test's
    # owld gets its domains with -o, which this owlctl does not see
    force = [] if name.endswith("@localhost") else ["--force"]
    r = subprocess.run([OWLCTL, "-D", str(datadir), "user", "add"] + force +
                       [name],
                       input=password + "\n", capture_output=True, text=True)
    assert r.returncode == 0, r.stderr


@pytest.fixture
def owld(tmp_path):
    servers = []

    def make(opts=(), env=None, users=("alice", "bob"), start=True, verbose=True):
        o = Owld(tmp_path / ("data%d" % len(servers)), opts, env, users, verbose)
        servers.append(o)
        return o.start() if start else o

    yield make
    for s in servers:
        s.stop(signal.SIGKILL if s.proc and s.proc.poll() is None else signal.SIGTERM)


@pytest.fixture
def server(owld):
    return owld()


# --- dnsmasq: DNS for the tests, on loopback ------------------------------

def dns_ready(port, proc, timeout=10):
    """Waits until a DNS server answers on 127.0.0.1:port (UDP).
    Returns False if the process exits first (its port was taken)."""
    import struct
    q = struct.pack(">HHHHHH", 1, 0x0100, 1, 0, 0, 0) + b"\x04test\x00\x00\x06\x00\x01"
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(0.2)
        try:
            s.sendto(q, ("127.0.0.1", port))
            s.recv(512)
            return True
        except OSError:
            time.sleep(0.1)
        finally:
            s.close()
    raise AssertionError("dnsmasq did not answer on port %d" % port)


def udp_tcp_port():
    """A loopback port free for both UDP and TCP: dnsmasq binds both and
    exits if either is taken (a port free for UDP alone failed in CI)."""
    while True:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.bind(("127.0.0.1", 0))
        port = u.getsockname()[1]
        t = socket.socket()
        try:
            t.bind(("127.0.0.1", port))
            return port
        except OSError:
            continue
        finally:
            t.close()
            u.close()


@pytest.fixture
def dnsmasq(tmp_path):
    """dnsmasq on a loopback port, answering only for *.test (and what
    --local=/ZONE/ records add, e.g. "--local=/127.in-addr.arpa/"), from
    nothing but its arguments: start(*records) -> port, each record one
    dnsmasq option such as "--mx-host=example.test,mx.example.test,10",
    '--txt-record=example.test,"v=spf1 mx -all"',
    "--host-record=mx.example.test,127.0.0.2" (A and PTR),
    "--ptr-record=2.0.0.127.in-addr.arpa,mx.example.test".  Every
    dnsmasq started is killed at the end of the test."""
    procs = []

    def start(*records):
        log = tmp_path / "dnsmasq.log"
        for _ in range(5):
            port = udp_tcp_port()
            args = ["dnsmasq", "-k", "--conf-file=/dev/null", "--no-resolv", "--no-hosts",
                    "--listen-address=127.0.0.1", "--bind-interfaces", "--port=%d" % port,
                    "--local=/test/", "--pid-file=", "--user=root", "--log-facility=-"]
            with open(str(log), "w") as err:
                p = subprocess.Popen(args + list(records), stdout=subprocess.DEVNULL,
                                     stderr=err)
            procs.append(p)
            if dns_ready(port, p):
                return port
            # Another process took the port between our check and dnsmasq's bind.
        raise AssertionError("dnsmasq would not start: " + log.read_text())

    yield start
    for p in procs:
        p.kill()
        p.wait()
def pytest_configure(config):
    # tests that start a slow real peer; -m "not rspamd" leaves them out
    config.addinivalue_line("markers", "rspamd: starts a real rspamd (~7 s)")
    # make asan leaves these out: they run no owld code the plain run
    # does not (the package's own build; a real peer's start-up, where the
    # scripted milter covers the same owld code under ASan)
    config.addinivalue_line("markers", "plain_only: not in make asan's run")
