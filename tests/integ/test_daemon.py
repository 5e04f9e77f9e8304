"""The daemon as a process: graceful stop and kill -9 with clients in
flight (nothing acknowledged lost, nothing half-written visible), config
errors (exit 78), owlctl, daemon mode, privilege drop, SIGHUP."""
import os
import pwd
import signal
import socket
import subprocess
import threading
import time

import pytest

from conftest import OWLCTL, OWLD, Client


def body_for(i):
    return ("Subject: load %d\r\n\r\n" % i + ("line %d of message %d\r\n" % (0, i)) * 200)


def check_mailbox(server, acked):
    """Every acknowledged message is there, complete; nothing else is
    half-written; tmp/ holds no visible mail."""
    found = {}
    for user in ("alice", "bob"):
        for name, raw in server.messages(user):
            text = raw.decode()
            subj = [l for l in text.split("\n") if l.startswith("Subject: load ")]
            assert len(subj) == 1, name
            i = int(subj[0].split()[2])
            expect = body_for(i).replace("\r\n", "\n")
            assert text.endswith(expect[expect.index("\n\n") + 2:]), "truncated: " + name
            found.setdefault(i, 0)
            found[i] += 1
    for i in acked:
        assert found.get(i) == 1, "acknowledged message %d lost" % i
    return found


def client_loop(server, start, count, acked, lock, stop_in_data=None):
    try:
        s = socket.create_connection(("127.0.0.1", server.port), timeout=20)
        c = Client(s)
        assert c.reply()[0] == 220
        c.cmd("EHLO load")
        for i in range(start, start + count):
            if c.cmd("MAIL FROM:<l@example.net>")[0] != 250:
                return
            if c.cmd("RCPT TO:<alice@localhost>")[0] != 250:
                return
            if c.cmd("DATA")[0] != 354:
                return
            body = body_for(i)
            if stop_in_data is not None:
                half = len(body) // 2
                c.send(body[:half])
                stop_in_data.wait(10)
                c.send(body[half:] + ".\r\n")
            else:
                c.send(body + ".\r\n")
            code, _ = c.reply()
            if code == 250:
                with lock:
                    acked.append(i)
            else:
                return
    except (OSError, EOFError, AssertionError):
        return


def test_sigterm_during_data_from_20_clients(server):
    acked, lock = [], threading.Lock()
    in_data = threading.Event()
    threads = [threading.Thread(target=client_loop,
                                args=(server, k * 1000, 3, acked, lock, in_data))
               for k in range(20)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # every client is now inside DATA, half a message sent
    t0 = time.time()
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    in_data.set()
    rc = server.proc.wait(15)
    assert rc == 0
    assert time.time() - t0 < 12
    for t in threads:
        t.join(20)
    check_mailbox(server, acked)
    log = server.logtext()
    assert "event=stopping signal=TERM" in log and "event=stopped" in log


def test_sigterm_tells_idle_sessions_421(server):
    c = server.connect()
    c.reply()
    c.cmd("EHLO x")
    server.proc.send_signal(signal.SIGTERM)
    code, lines = c.reply()
    assert code == 421 and "Service shutting down" in lines[0]
    assert c.closed()
    assert server.proc.wait(10) == 0


def test_kill9_under_load(server):
    acked, lock = [], threading.Lock()
    threads = [threading.Thread(target=client_loop,
                                args=(server, k * 1000, 40, acked, lock))
               for k in range(10)]
    for t in threads:
        t.start()
    deadline = time.time() + 15
    while len(acked) < 20 and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)  # kill in the middle of the flow, not at a lull
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait(10)
    for t in threads:
        t.join(20)
    assert len(acked) > 10, "the load did not get going"
    check_mailbox(server, acked)
    # and it restarts on the same data
    server.start()
    c = server.connect()
    assert c.reply()[0] == 220


@pytest.mark.parametrize("opt,needle", [
    ("bogus.key=1", "unknown configuration key 'bogus.key'"),
    ("max_connections=zero", "'max_connections'"),
    ("mailbox.format=mh", "'mailbox.format'"),
    ("smtp.listen=nowhere", "'smtp.listen'"),
    ("domains=bad..domain", "'domains'"),
])
def test_config_errors_exit_78(tmp_path, opt, needle):
    r = subprocess.run([OWLD, "-D", str(tmp_path), "-o", opt],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 78
    assert needle in r.stderr and len(r.stderr.strip().split("\n")) == 1
    r = subprocess.run([OWLCTL, "-D", str(tmp_path), "-o", opt, "check"],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 78 and needle in r.stderr


def test_config_file(tmp_path):
    cf = tmp_path / "owld.conf"
    cf.write_text("# test\nhostname = mx.example.org\nsmtp.timeout = 2m\n"
                  "domains = example.org, example.net\n")
    r = subprocess.run([OWLCTL, "-c", str(cf), "-D", str(tmp_path), "check"],
                       capture_output=True, text=True)
    assert r.returncode == 0
    assert "hostname = mx.example.org\n" in r.stdout
    assert "smtp.timeout = 120\n" in r.stdout
    assert "domains = example.org,example.net\n" in r.stdout
    assert "data_dir = %s\n" % tmp_path in r.stdout
    cf.write_text("hostname = ok.example\nnot a key value line\n")
    r = subprocess.run([OWLD, "-c", str(cf)], capture_output=True, text=True)
    assert r.returncode == 78 and ":2:" in r.stderr


def test_mailbox_dir_elsewhere(owld, tmp_path):
    """mailbox.dir moves the mail tree out of the data dir (hosts sharing
    one tree on a cluster filesystem): delivery and POP3 both use it."""
    tree = tmp_path / "shared-tree"
    srv = owld(opts=["mailbox.dir=%s" % tree])
    srv.send(["alice@localhost"], "Subject: elsewhere\r\n\r\nhi\r\n")
    assert len(os.listdir(tree / "localhost" / "alice" / "new")) == 1
    assert not os.path.exists(os.path.join(srv.datadir, "mail", "localhost"))
    p = srv.poplib()
    assert p.stat()[0] == 1
    assert b"Subject: elsewhere" in b"\n".join(p.retr(1)[1])
    p.quit()


def test_owlctl_users(tmp_path):
    def ctl(*args, pw=None):
        return subprocess.run([OWLCTL, "-D", str(tmp_path)] + list(args),
                              input=pw, capture_output=True, text=True)
    assert ctl("user", "add", "Carol@Localhost", pw="pw1\n").returncode == 0
    assert ctl("user", "add", "carol@localhost", pw="pw1\n").returncode == 1
    assert ctl("user", "add", "dave@localhost", pw="").returncode == 1
    assert ctl("user", "list").stdout == "carol@localhost\n"
    line = open(tmp_path / "users").read()
    assert line.startswith("carol@localhost:{CRYPT}$y$") or \
        line.startswith("carol@localhost:{CRYPT}$6$")
    assert "pw1" not in line
    assert ctl("user", "passwd", "carol@localhost", pw="pw2\n").returncode == 0
    assert open(tmp_path / "users").read() != line
    assert ctl("user", "del", "carol@localhost").returncode == 0
    assert ctl("user", "del", "carol@localhost").returncode == 1
    assert ctl("user", "list").stdout == ""
    assert ctl("bogus").returncode == 64


def test_daemon_mode_and_pidfile(tmp_path):
    r = subprocess.run([OWLD, "-d", "-D", str(tmp_path), "-o", "smtp.listen=127.0.0.1:0", "-o", "pop3.listen=127.0.0.1:0", "-o", "imap.listen=",
                        "-o", "submission.listen="],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    pidfile = tmp_path / "owld.pid"
    for _ in range(100):
        if pidfile.exists() and "event=listen" in (tmp_path / "owld.log").read_text():
            break
        time.sleep(0.05)
    pid = int(pidfile.read_text())
    os.kill(pid, 0)
    # a second instance refuses to start on the same pid file
    r = subprocess.run([OWLD, "-D", str(tmp_path), "-o", "smtp.listen=127.0.0.1:0", "-o", "pop3.listen=127.0.0.1:0", "-o", "imap.listen=",
                        "-o", "submission.listen="],
                       capture_output=True, text=True, timeout=10)
    assert r.returncode == 75 and "already running" in r.stderr
    os.kill(pid, signal.SIGTERM)
    for _ in range(100):
        if not pidfile.exists():
            break
        time.sleep(0.05)
    assert not pidfile.exists()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_privilege_drop(tmp_path):
    import tempfile
    from conftest import Owld
    top = tempfile.mkdtemp(prefix="owl-priv-", dir="/tmp")
    os.chmod(top, 0o755)
    s = Owld(os.path.join(top, "data"), ["user=nobody"])
    s.start()
    try:
        _privilege_checks(s)
    finally:
        s.stop()
        subprocess.run(["rm", "-rf", top])


def _privilege_checks(s):
    with open("/proc/%d/status" % s.proc.pid) as f:
        uids = [l for l in f if l.startswith("Uid:")][0].split()[1:]
    nobody = pwd.getpwnam("nobody").pw_uid
    assert all(int(u) == nobody for u in uids)
    c = s.connect()
    c.reply()
    c.cmd("EHLO x")
    c.cmd("MAIL FROM:<a@b.c>")
    c.cmd("RCPT TO:<alice@localhost>")
    c.cmd("DATA")
    c.send("Subject: as nobody\r\n\r\nhi\r\n.\r\n")
    assert c.reply()[0] == 250
    st = os.stat(os.path.join(s.maildir(), s.messages()[0][0]))
    assert st.st_uid == nobody


def test_sighup_reopens_log(server):
    os.rename(server.log, server.log + ".1")
    server.proc.send_signal(signal.SIGHUP)
    for _ in range(100):
        if os.path.exists(server.log):
            break
        time.sleep(0.05)
    assert "event=reload" in open(server.log).read()


def _have_ipv6():
    try:
        with socket.socket(socket.AF_INET6) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _have_ipv6(), reason="no IPv6 loopback here")
def test_ipv6_and_several_listeners(tmp_path):
    from conftest import Owld
    o = Owld(tmp_path / "d", ["smtp.listen=127.0.0.1:0, [::1]:0"])
    o.start()
    try:
        for _ in range(50):
            if o.logtext().count("event=listen") == 2:
                break
            time.sleep(0.05)
        assert "addr=[::1]:" in o.logtext()
        port6 = int(o.logtext().split("addr=[::1]:")[1].split()[0])
        s = socket.create_connection(("::1", port6), timeout=5)
        assert Client(s).reply()[0] == 220
    finally:
        o.stop()


def test_sample_config_and_readme_list_every_key(tmp_path):
    from conftest import ROOT
    r = subprocess.run([OWLCTL, "-D", str(tmp_path), "check"],
                       capture_output=True, text=True)
    keys = [l.split(" = ")[0] for l in r.stdout.splitlines() if " = " in l]
    assert len(keys) >= 15
    sample = open(os.path.join(ROOT, "owld.conf.sample")).read()
    readme = open(os.path.join(ROOT, "README.md")).read()
    for k in keys:
        assert "# %s = " % k in sample, k
        assert "`%s`" % k in readme, k
    r = subprocess.run([OWLCTL, "-c", os.path.join(ROOT, "owld.conf.sample"),
                        "-D", str(tmp_path), "check"], capture_output=True, text=True)
    assert r.returncode == 0


def start_with_nofile(o, soft, hard):
    """Starts owld o with RLIMIT_NOFILE set to (soft, hard)."""
    import resource

    def limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    args_popen = subprocess.Popen

    def popen(*a, **kw):
        kw["preexec_fn"] = limit
        return args_popen(*a, **kw)
    subprocess.Popen = popen
    try:
        o.start()
    finally:
        subprocess.Popen = args_popen


def test_soft_nofile_limit_raised_for_max_connections(tmp_path):
    """A soft limit of 1024 descriptors would refuse connections long
    before max_connections=1500: owld raises it (up to the hard limit)
    and greets 1,200 clients at once."""
    import resource
    from conftest import Owld
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip("hard RLIMIT_NOFILE below 4096")
    resource.setrlimit(resource.RLIMIT_NOFILE, (4096, hard))
    # 1,200 clients of one address stand in for 1,200 clients: the
    # per-address limits would refuse all but 50 (their own tests check them)
    o = Owld(tmp_path / "d", ["max_connections=1500", "imap.max_connections=1",
                              "pop3.listen=",
                              "submission.listen=", "max_connections_per_ip=0",
                              "connection_rate_limit=0"], verbose=False)
    start_with_nofile(o, 1024, 4096)
    socks = []
    try:
        limits = open("/proc/%d/limits" % o.proc.pid).read()
        assert any(line.startswith("Max open files") and line.split()[3] == "3182"
                   for line in limits.splitlines()), limits
        for _ in range(1200):
            s = socket.create_connection(("127.0.0.1", o.port), timeout=10)
            socks.append(s)
            assert s.recv(100).startswith(b"220 ")
        assert "accept-failed" not in o.logtext()
    finally:
        for s in socks:
            s.close()
        o.stop()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_nofile_hard_limit_too_low_is_logged(tmp_path):
    from conftest import Owld
    o = Owld(tmp_path / "d", ["max_connections=1000",
                              "imap.max_connections=500"], verbose=False)
    start_with_nofile(o, 48, 48)
    try:
        assert "event=nofile-limit limit=48 needed=3180 max_connections=1000 " \
            "imap.max_connections=500" in o.logtext()
    finally:
        o.stop()


def test_out_of_file_descriptors_recovers(tmp_path):
    """accept() failing with EMFILE pauses the listener instead of spinning;
    once clients leave, service resumes."""
    from conftest import Owld
    o = Owld(tmp_path / "d", ["max_connections=1000"])
    start_with_nofile(o, 48, 48)
    try:
        socks = []
        for _ in range(60):
            socks.append(socket.create_connection(("127.0.0.1", o.port), timeout=5))
        time.sleep(0.5)
        assert "event=accept-failed" in o.logtext()
        for s in socks:
            s.close()
        time.sleep(0.6)
        c = o.connect()
        assert c.reply()[0] == 220
        assert o.proc.poll() is None
    finally:
        o.stop()
