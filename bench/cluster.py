#!/usr/bin/python3
"""bench/cluster.py - what the shared filesystem costs (make bench-cluster).

Three set-ups, alternated inside every round (A B C, A B C, ...):
  A. one owld, mail tree on local disk (the data dir);
  B. one owld, mail tree on a replica-3 GlusterFS volume (three glusterd
     and three mounts on this machine, tests/cluster/gluster.py);
  C. three owld, each on its own mount of that volume.
Figures, each the median (min-max) of --rounds rounds:
  - messages in per second: smtp-source, 10 sessions per host, --messages
    messages of 5 KB in all (spread over the hosts), timed from the first
    connection to the last message stored;
  - POP3 RETR per second: bench/pop3load -r, one client per host, each its
    own user of --messages / hosts messages.
On one 2-core machine, C shows the cost of three hosts' work on the same
cores and disk, not a speed-up: every write crosses FUSE and is made three
times, and the hosts share two cores.

Needs root, /dev/fuse and GlusterFS (tests/cluster/gluster.why_not).
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "..", "tests", "cluster"))
import bench  # noqa: E402
import gluster  # noqa: E402


class Host(bench.Owld):
    """bench's owld with its mail tree at tree."""

    def __init__(self, base, users, tree, name):
        self.tree = tree
        super().__init__(base, users, fast_hash=True,
                         opts=["mailbox.dir=" + tree, "hostname=" + name])

    def maildir(self, u):
        return os.path.join(self.tree, "localhost", u)


def parallel(fns):
    """Runs each fn in a thread; their results in order; re-raises."""
    out, errs = [None] * len(fns), []

    def run(i, fn):
        try:
            out[i] = fn()
        except BaseException as e:  # noqa: B902 - re-raised below
            errs.append(e)
    ts = [threading.Thread(target=run, args=(i, fn)) for i, fn in enumerate(fns)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errs:
        raise errs[0]
    return out


def one_round(kind, base, trees, n):
    """{"in": msg/s, "retr": msg/s} of set-up kind on trees (one per host)."""
    hosts = []
    users = ["c%d" % k for k in range(len(trees))]
    try:
        for k, tree in enumerate(trees):
            os.makedirs(tree, exist_ok=True)
            hosts.append(Host(base, users, tree, "bench%d.test" % (k + 1)))
        share = n // len(hosts)
        t0 = time.monotonic()
        parallel([lambda h=h, u=u: bench.smtp_source(h.port, h.rcpt(u), 10,
                                                     share)
                  for h, u in zip(hosts, users)])
        for h, u in zip(hosts, users):
            bench.wait_count(h, u, share)
        t_in = time.monotonic() - t0
        t0 = time.monotonic()
        rs = parallel([lambda h=h, u=u: bench.pop3load(h.pop3_port, [u], "-r")
                       for h, u in zip(hosts, users)])
        t_retr = time.monotonic() - t0
        assert sum(r["messages"] for r in rs) == share * len(hosts), rs
        return {"in": share * len(hosts) / t_in,
                "retr": share * len(hosts) / t_retr}
    finally:
        for h in hosts:
            h.stop()
        for tree in trees:
            shutil.rmtree(tree, ignore_errors=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--messages", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    why = gluster.why_not()
    if why is not None:
        print("bench-cluster: skipped: " + why)
        return 0
    base = tempfile.mkdtemp(prefix="owlbc-")
    c = gluster.Cluster(os.path.join(base, "g"))
    try:
        c.start()
        setups = [("A: 1 host, local disk",
                   lambda r: [os.path.join(base, "local%d" % r)]),
                  ("B: 1 host, GlusterFS",
                   lambda r: [os.path.join(c.mounts[0], "b%d" % r)]),
                  ("C: 3 hosts, GlusterFS",
                   lambda r: [os.path.join(m, "c%d" % r) for m in c.mounts])]
        res = {name: [] for name, _ in setups}
        for r in range(a.rounds):
            for name, trees in setups:
                res[name].append(one_round(name, base, trees(r), a.messages))
                print("round %d %s: %s" % (r + 1, name, res[name][-1]),
                      flush=True)
        print()
        print("%d messages of 5 KB, median (min-max) of %d rounds, "
              "set-ups alternated in each round" % (a.messages, a.rounds))
        print()
        print("| set-up | messages in/s | POP3 RETR/s |")
        print("|---|---|---|")
        for name, _ in setups:
            cols = []
            for key in ("in", "retr"):
                xs = sorted(x[key] for x in res[name])
                cols.append("%.0f (%.0f-%.0f)" % (xs[len(xs) // 2], xs[0],
                                                  xs[-1]))
            print("| %s | %s | %s |" % (name, cols[0], cols[1]))
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
