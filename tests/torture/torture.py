#!/usr/bin/python3
"""make torture: the kill -9 campaign against owld (not part of make check).

Four modes, TRIALS trials each (30 by default; MODES=a,b picks), each
mode bounded in time (TORTURE_SECONDS); each kill lands at a random
moment and owld is restarted on the same data directory, as after a
crash:

  inbound  SMTP clients send to alice and bob while owld is killed; every
           message that got 250 must be in both mailboxes exactly once,
           and no file in new/ may be partial (half-visible).
  queue    clients queue mail for remote.test, relayed to a fake next hop
           (a loopback SMTP sink) while owld is killed; after the restart
           the queue drains and the next hop's copies are counted: lost,
           duplicated, and at most one duplicate per relay session that
           the kill interrupted (docs/QUEUE.md).
  pop3     a POP3 client marks several messages and sends QUIT, and the
           kill lands within the time QUIT takes; after the restart either
           every marked message is gone or none is (docs/MAILDIR.md), and
           no unmarked one is.
  imap     three IMAP clients (tests/torture/torture_imap.py) APPEND,
           MULTIAPPEND, UID COPY, UID MOVE, UID STORE +FLAGS/-FLAGS and
           UID EXPUNGE at random on three folders, each on its own
           messages, while owld is killed.  Only a tagged OK counts as
           done; the command on the wire at the kill is "cut".  After
           the restart a new session fetches every message and the
           folders' files are read.  Promises (RFC 3501/9051, 3502, 4315,
           6851, docs/MAILDIR.md): every message an OK put in a folder is
           there exactly once, with the UID it was given and the flags
           the last OK set; a cut APPEND, MULTIAPPEND or COPY saved all
           of its messages or none; a cut MOVE left each message in the
           source or the target (both is counted, not broken: the copy is
           committed before the expunge, docs/MAILDIR.md), in the target
           if COPYUID was said; a cut EXPUNGE removed all or none; what
           an OK expunged or moved away does not come back; no UID is
           given to two messages of a folder, UIDVALIDITY never changes;
           every message is byte for byte what was sent, and every file
           in new/ and cur/ is a whole message that IMAP shows (files
           left in tmp/ are counted: no reader looks there).

Prints acknowledged / lost / duplicated / half-visible per mode (imap:
and its figures per promise) and exits 1 if any promise was broken.
Uses the integration tests' helpers (tests/integ/conftest.py) and
build/owld (OWLD_BUILD).  Traffic is to loopback only.
"""
import argparse
import os
import random
import shutil
import signal
import smtplib
import socket
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "integ"))
from conftest import Owld, Sink  # noqa: E402
import torture_imap  # noqa: E402
import socketserver  # noqa: E402

# the sink's sessions are cut by every kill: no tracebacks for that
socketserver.BaseServer.handle_error = lambda self, request, addr: None

USERS = ("alice", "bob")
BIG = 300 * 1024  # past the 256 KiB spool threshold


def message(token, size=0):
    """A message whose Subject is token and whose last line says END."""
    head = "Subject: %s\r\nMessage-ID: <%s@torture>\r\n\r\n" % (token, token)
    filler = ""
    if size:
        line = ("%s " % token * 8)[:76] + "\r\n"
        filler = line * (size // len(line))
    return (head + filler + "END %s\r\n" % token).encode()


def parse(data):
    """(token, complete) of a stored or relayed message text."""
    text = data.decode("latin-1")
    token = None
    for line in text.splitlines():
        if line.startswith("Subject: "):
            token = line[9:].strip()
            break
        if line == "":
            break
    return token, token is not None and text.rstrip("\r\n").endswith(
        "END %s" % token)


DIED = []  # owld exits not caused by our kills: (rc, the end of stderr)


def kill9(o):
    if o.proc.poll() is not None:  # it died by itself: a bug
        DIED.append((o.proc.returncode, o.proc.stderr.read()[-2000:]))
    else:
        o.proc.send_signal(signal.SIGKILL)
        o.proc.wait()
    o.proc.stderr.close()


def final_stop(o):
    rc = o.stop()
    if rc != 0:
        DIED.append((rc, "at the final SIGTERM"))


class Tally:
    def __init__(self, mode):
        self.mode = mode
        self.trials = 0
        self.acked = 0
        self.lost = 0
        self.dups = 0
        self.half = 0
        self.notes = []

    def line(self):
        return ("%-8s trials %3d  acknowledged %5d  lost %d  duplicated %d  "
                "half-visible %d%s" % (
                    self.mode, self.trials, self.acked, self.lost, self.dups,
                    self.half, ("  (" + "; ".join(self.notes) + ")")
                    if self.notes else ""))


# --- load ----------------------------------------------------------------

def sender_loop(port, rcpts, prefix, stop, acked, lock, big_every=0,
                limit=60, pause=0.0):
    """Sends up to limit messages until stop or the server goes away;
    acked gets each token that got 250."""
    seq = 0
    while not stop.is_set() and seq < limit:
        try:
            with smtplib.SMTP("127.0.0.1", port, timeout=10) as c:
                for _ in range(20):
                    if stop.is_set() or seq >= limit:
                        break
                    time.sleep(random.uniform(0, pause))
                    seq += 1
                    token = "%s-%d" % (prefix, seq)
                    size = BIG if big_every and seq % big_every == 0 else \
                        random.randrange(0, 4000)
                    to = rcpts(seq) if callable(rcpts) else rcpts
                    c.sendmail("load@example.org", to, message(token, size))
                    with lock:
                        acked.add(token)
        except (smtplib.SMTPException, OSError):
            return  # killed under us: this client is done for the trial


def run_load(o, rcpts, trial, clients, kill_after, big_every=0,
             before_kill=None, limit=60, pause=0.0):
    """Clients send (each at most limit messages) until owld is killed
    kill_after seconds from now."""
    stop, lock, acked = threading.Event(), threading.Lock(), set()
    threads = [threading.Thread(target=sender_loop, daemon=True, args=(
        o.port, rcpts, "t%d-c%d" % (trial, i), stop, acked, lock,
        big_every, limit, pause)) for i in range(clients)]
    for t in threads:
        t.start()
    time.sleep(kill_after)
    if before_kill:
        before_kill()
    kill9(o)
    stop.set()
    for t in threads:
        t.join(15)
    return acked


# --- inbound ---------------------------------------------------------------

def mailbox_tokens(o, user):
    """{token: count} of complete messages in user's Maildir, and the
    number of partial (half-visible) ones."""
    counts, half = {}, 0
    for sub in ("new", "cur"):
        d = o.maildir(user, sub)
        if not os.path.isdir(d):
            continue
        for name in os.listdir(d):
            with open(os.path.join(d, name), "rb") as f:
                data = f.read()
            token, complete = parse(data)
            size = [p[2:] for p in name.split(":")[0].split(",")
                    if p.startswith("S=")]
            if not complete or (size and int(size[0]) != len(data)):
                half += 1
                continue
            counts[token] = counts.get(token, 0) + 1
    return counts, half


def mode_inbound(args, base, deadline):
    t = Tally("inbound")
    o = Owld(os.path.join(base, "inbound"), users=USERS, verbose=False)
    o.start()
    acked = set()
    for trial in range(args.trials):
        if time.time() > deadline:
            t.notes.append("stopped at the time bound")
            break
        acked |= run_load(o, ["alice@localhost", "bob@localhost"], trial,
                          clients=3, kill_after=random.uniform(0.2, 1.2),
                          big_every=7, limit=80, pause=0.02)
        o.start()  # recovery runs here
        t.trials += 1
    final_stop(o)
    t.acked = len(acked)
    for user in USERS:
        counts, half = mailbox_tokens(o, user)
        t.half += half
        t.lost += sum(1 for k in acked if k not in counts)
        t.dups += sum(n - 1 for k, n in counts.items() if n > 1)
    return t


# --- queue -----------------------------------------------------------------

def queue_empty(o):
    q = os.path.join(o.datadir, "queue")
    return all(not os.listdir(os.path.join(q, s)) for s in ("env", "msg")
               if os.path.isdir(os.path.join(q, s)))


def mode_queue(args, base, deadline):
    t = Tally("queue")
    sink = Sink(final=lambda m: (time.sleep(0.002), "250 2.0.0 ok")[1])
    o = Owld(os.path.join(base, "queue"), users=USERS, verbose=False,
             opts=["relay.host=127.0.0.1:%d" % sink.port,
                   "relay.networks=127.0.0.0/8", "queue.retry=1s"])
    o.start()
    acked, interrupted, worst, undrained = set(), 0, 0, 0

    def sink_dups():
        counts = {}
        for m in sink.acked():
            tok = parse(m["data"])[0]
            counts[tok] = counts.get(tok, 0) + 1
        return sum(n - 1 for n in counts.values())

    for trial in range(args.trials):
        if time.time() > deadline:
            t.notes.append("stopped at the time bound")
            break
        dups_before = sink_dups()
        open_at_kill = []

        def count_open():
            # relay sessions the kill cuts: the sink's unfinished ones
            with sink.lock:
                open_at_kill.append(sink.connections - len(sink.spans))
        acked |= run_load(o, lambda s: ["r%d@remote.test" % (s % 5)],
                          trial, clients=3,
                          kill_after=random.uniform(0.3, 1.5),
                          before_kill=count_open, limit=25, pause=0.04)
        o.start()
        end = time.time() + 60
        while not queue_empty(o) and time.time() < end:
            time.sleep(0.1)
        if not queue_empty(o):
            undrained += 1
        interrupted += open_at_kill[0]
        worst = max(worst, sink_dups() - dups_before - open_at_kill[0])
        t.trials += 1
    final_stop(o)
    sink.close()
    counts = {}
    for m in sink.acked():
        tok, complete = parse(m["data"])
        if not complete:
            t.half += 1
        counts[tok] = counts.get(tok, 0) + 1
    t.acked = len(acked)
    t.lost = sum(1 for k in acked if k not in counts)
    t.dups = sum(n - 1 for n in counts.values() if n > 1)
    t.notes.append("%d relay sessions cut by the kills" % interrupted)
    if worst > 0:
        t.notes.append("BROKEN: %d more duplicates than sessions cut in a "
                       "trial" % worst)
    if undrained:
        t.notes.append("BROKEN: queue not drained after %d trials" % undrained)
    t.broken_extra = worst > 0 or undrained > 0
    return t


# --- pop3 ------------------------------------------------------------------

def put_messages(o, trial, n):
    d = os.path.join(o.datadir, "mail", "localhost", "alice")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    tokens = []
    for i in range(n):
        token = "p%d-%d" % (trial, i)
        data = message(token).replace(b"\r\n", b"\n")
        name = "%d.M%dP1Q%d.torture,S=%d,W=%d" % (
            1700000000 + trial, i, i, len(data), len(data) + data.count(b"\n"))
        with open(os.path.join(d, "new", name), "wb") as f:
            f.write(data)
        tokens.append(token)
    return tokens


def pop3_tokens(o):
    """The tokens alice's POP3 shows, in order (nothing deleted)."""
    c = o.pop3(timeout=30)
    c.login()
    n = int(c.cmd("STAT").split()[1])
    out = []
    for i in range(1, n + 1):
        assert c.cmd("TOP %d 0" % i).startswith("+OK")
        out.append(parse(b"\r\n".join(c.multi()) + b"\r\n")[0])
    assert c.cmd("QUIT").startswith("+OK")
    c.close()
    return out


def quit_once(o, marked_idx, kill_after):
    """DELE marked_idx, QUIT; kill owld kill_after seconds after QUIT went
    out (None: no kill).  True if +OK to QUIT came back; its latency."""
    c = o.pop3(timeout=30)
    c.login()
    for i in marked_idx:
        assert c.cmd("DELE %d" % i).startswith("+OK")
    t0 = time.perf_counter()
    c.send("QUIT\r\n")
    if kill_after is None:
        ok = c.status().startswith("+OK")
        c.close()
        return ok, time.perf_counter() - t0
    time.sleep(kill_after)
    kill9(o)
    try:
        c.sock.settimeout(2)
        ok = c.status().startswith("+OK")
    except (EOFError, OSError):
        ok = False
    c.close()
    return ok, None


def clear_box(o):
    d = os.path.join(o.datadir, "mail", "localhost", "alice")
    for sub in ("new", "cur"):
        p = os.path.join(d, sub)
        for name in os.listdir(p) if os.path.isdir(p) else ():
            os.unlink(os.path.join(p, name))


def mode_pop3(args, base, deadline):
    t = Tally("pop3")
    o = Owld(os.path.join(base, "pop3"), users=USERS, verbose=False)
    o.start()
    nmsg, nmark = 40, 20
    # the time QUIT takes here, so that the kills land inside it
    lat = []
    for k in range(3):
        put_messages(o, 1000 + k, nmsg)
        lat.append(quit_once(o, random.sample(range(1, nmsg + 1), nmark),
                             None)[1])
        clear_box(o)
    window = sorted(lat)[1] * 1.2
    t.notes.append("QUIT takes %.1f ms; kills within %.1f ms of it" % (
        1000 * sorted(lat)[1], 1000 * window))
    all_gone = none_gone = 0
    for trial in range(args.trials):
        if time.time() > deadline:
            t.notes.append("stopped at the time bound")
            break
        tokens = put_messages(o, trial, nmsg)
        shown = pop3_tokens(o)
        idx = sorted(random.sample(range(1, nmsg + 1), nmark))
        marked = {shown[i - 1] for i in idx}
        ok, _ = quit_once(o, idx, random.uniform(0, window))
        o.start()
        left = pop3_tokens(o)
        gone = len(marked - set(left))
        t.acked += ok
        t.lost += sum(1 for k in tokens if k not in marked and k not in left)
        t.dups += len(left) - len(set(left))
        if gone == len(marked):
            all_gone += 1
        elif gone == 0:
            none_gone += 1
            if ok:
                t.lost += 1  # +OK said, nothing deleted: counted as broken
        else:
            t.half += 1
        clear_box(o)
        t.trials += 1
    final_stop(o)
    t.notes.append("all marked gone %d, none gone %d" % (all_gone, none_gone))
    return t


# --- imap ------------------------------------------------------------------

def mode_imap(args, base, deadline):
    t = Tally("imap")
    o = Owld(os.path.join(base, "imap"), users=USERS, verbose=False)
    o.start()
    camp = torture_imap.Campaign(os.path.join(o.datadir, "mail",
                                              "localhost", "alice"))
    camp.create_folders(o.imap_port)
    for trial in range(args.trials):
        if time.time() > deadline:
            t.notes.append("stopped at the time bound")
            break
        clients = camp.clients(o.imap_port, trial, 3)
        stop = threading.Event()
        threads = [threading.Thread(target=c.run, args=(stop,), daemon=True)
                   for c in clients]
        for th in threads:
            th.start()
        time.sleep(random.uniform(0.3, 2.0))
        kill9(o)
        stop.set()
        for th in threads:
            th.join(30)
        o.start()  # recovery runs here, and at the check's EXAMINEs
        camp.check(o.imap_port, clients)
        t.trials += 1
    final_stop(o)
    t.broken_extra = torture_imap.tally(t, camp.P, camp.no)
    return t


MODES = {"inbound": mode_inbound, "queue": mode_queue, "pop3": mode_pop3,
         "imap": mode_imap}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trials", type=int,
                    default=int(os.environ.get("TRIALS", "30")))
    ap.add_argument("--modes", default=os.environ.get(
        "MODES", "inbound,queue,pop3,imap"))
    ap.add_argument("--max-seconds", type=float, default=float(
        os.environ.get("TORTURE_SECONDS", "600")),
        help="time bound per mode (trials stop there)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true",
                    help="keep the data directories")
    args = ap.parse_args()
    seed = args.seed if args.seed is not None else int(time.time())
    random.seed(seed)
    base = tempfile.mkdtemp(prefix="owl-torture-")
    print("torture: %d trials per mode, seed %d, data in %s" % (
        args.trials, seed, base), flush=True)
    broken = False
    try:
        for name in args.modes.split(","):
            start = time.time()
            t = MODES[name](args, base, start + args.max_seconds)
            print(t.line() + "  [%.0fs]" % (time.time() - start), flush=True)
            for line in getattr(t, "table", ()):
                print(line, flush=True)
            if DIED:
                print("  owld died by itself %d times; last: rc %s %s" % (
                    len(DIED), DIED[-1][0], DIED[-1][1]), flush=True)
                broken = True
                del DIED[:]
            broken |= t.lost > 0 or t.half > 0 or \
                (name != "queue" and t.dups > 0) or \
                getattr(t, "broken_extra", False)
    finally:
        if not args.keep:
            shutil.rmtree(base, ignore_errors=True)
    print("torture: %s" % ("BROKEN" if broken else "ok"))
    return 1 if broken else 0


if __name__ == "__main__":
    socket.setdefaulttimeout(30)
    sys.exit(main())
