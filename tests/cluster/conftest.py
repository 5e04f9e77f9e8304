"""Fixtures of the cluster tests: one GlusterFS cluster (gluster.py) for
the module, and three owld on 127.0.0.11-13, each with its own data dir
(queue, spool, users file) and the volume's mount of its glusterd as its
mailbox.dir.  Skipped, with the reason, where the machine cannot run a
cluster (gluster.why_not)."""
import importlib.util
import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import gluster  # noqa: E402

_spec = importlib.util.spec_from_file_location(
    "integ_conftest", os.path.join(HERE, "..", "integ", "conftest.py"))
integ = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(integ)

ADDRS = ["127.0.0.11", "127.0.0.12", "127.0.0.13"]


@pytest.fixture(scope="module")
def volume():
    why = gluster.why_not()
    if why is not None:
        pytest.skip("no GlusterFS cluster on this machine: " + why)
    # not under pytest's tmp_path: a path with the test's name can be long,
    # and the bricks' paths name the glusterd socket paths (108 octets)
    base = tempfile.mkdtemp(prefix="owlcl-")
    c = gluster.Cluster(os.path.join(base, "g"))
    try:
        c.start()
        yield c
    finally:
        c.stop()
        shutil.rmtree(base, ignore_errors=True)


class Hosts(list):
    """The three owld; stop() stops the ones still running."""

    def stop(self):
        for h in self:
            if h.proc is not None and h.proc.poll() is None:
                h.stop()


@pytest.fixture
def hosts(volume, tmp_path, request):
    """Three owld sharing a fresh mail tree on the volume (one per test)."""
    tree = "mail-%s" % request.node.name[:40]
    hs = Hosts()
    try:
        for k, addr in enumerate(ADDRS):
            h = integ.Owld(tmp_path / ("host%d" % (k + 1)), addr=addr,
                           users=("alice", "bob", "carol"), verbose=False,
                           opts=["mailbox.dir=%s" % os.path.join(
                                 volume.mounts[k], tree),
                                 "hostname=mx%d.test" % (k + 1),
                                 "mailbox.poll_interval=500ms",
                                 "max_connections_per_ip=0",
                                 "connection_rate_limit=0"])
            hs.append(h.start())
        yield hs
    finally:
        hs.stop()
