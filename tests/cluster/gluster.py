"""gluster - a throw-away GlusterFS cluster on loopback for the cluster tests.

Starts n glusterd (one per address 127.1.1.1..n, each with its own working
directory under base), a replica-n volume with one brick per glusterd in
base, and one FUSE mount of it per glusterd.  Everything it starts is
stopped by process id in stop(), which is safe to call after a failure at
any step and more than once; nothing is stopped by name.

Why this shape: Debian's glusterd takes its working directory, its
management socket and its bind address as xlator options, so several run
side by side on one machine without touching /var/lib/glusterd.  Brick
processes bind to their glusterd's address, so nothing listens beyond
loopback.  Each glusterd runs in a mount namespace of its own with a
private /run/gluster (where it keeps the pid files of its bricks and of its
self-heal daemon): three sharing one cannot restart a killed brick.  The
volume name is unique per run.

why_not() says in one line why this machine cannot run a cluster (not
root, no /dev/fuse, no GlusterFS packages), or None.
"""
import os
import re
import shutil
import signal
import subprocess
import time
import xml.etree.ElementTree as ET

GLUSTERD = "/usr/sbin/glusterd"
GLUSTER = "/usr/sbin/gluster"
GLUSTERFS = "/usr/sbin/glusterfs"


def why_not():
    """None when a cluster can run here, else the reason."""
    if os.geteuid() != 0:
        return "not root (glusterd and FUSE mounts need root)"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    for p in (GLUSTERD, GLUSTER, GLUSTERFS):
        if not os.access(p, os.X_OK):
            return "%s missing (Debian's glusterfs-server and " \
                   "glusterfs-client; scripts/deps.sh test installs them)" % p
    return None


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie is gone for our purposes
        with open("/proc/%d/stat" % pid) as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def _kill(pid, sig=signal.SIGTERM, wait=10.0):
    """Sends sig to pid, then SIGKILL if it is still there after wait s."""
    if pid is None or not _alive(pid):
        return
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return
    end = time.time() + wait
    while time.time() < end and _alive(pid):
        time.sleep(0.05)
    if _alive(pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# The kernel's FUSE caches of names and attributes off: with them, a name
# looked up before another host renamed a new file over it still leads to
# the old file (ESTALE) for up to a second, and a directory's changed
# mtime is seen late.  docs/CLUSTER.md asks the same of every host.
MOUNT_OPTIONS = ["--entry-timeout=0", "--attribute-timeout=0",
                 "--negative-timeout=0"]


# The client-side caches that answer for another host's files from this
# host's memory, as docs/CLUSTER.md sets them off: with md-cache
# (stat-prefetch) on, a file another mount had just renamed over read back
# old in 292 of 300 tries, and a file it had just unlinked read back in 300
# of 300; with these off, 0 and 0.
CACHES_OFF = ("performance.stat-prefetch", "performance.quick-read",
              "performance.open-behind", "performance.io-cache",
              "performance.read-ahead", "performance.readdir-ahead")


class GlusterError(RuntimeError):
    pass


class Cluster:
    """A replica-n GlusterFS volume on 127.1.1.1..n with n mounts."""

    def __init__(self, base, n=3, prefix="127.1.1."):
        self.base = os.path.abspath(base)
        self.n = n
        self.addrs = ["%s%d" % (prefix, k + 1) for k in range(n)]
        self.volume = "owl%d" % os.getpid()
        self.glusterd = [None] * n      # Popen of each glusterd
        self.mount_pids = [None] * n
        self.mounts = [os.path.join(self.base, "m%d" % (k + 1))
                       for k in range(n)]
        self.bricks = [os.path.join(self.base, "brick%d" % (k + 1), "b")
                       for k in range(n)]
        self.seen_pids = set()          # every brick/shd pid ever seen
        self.created = False

    # --- paths -----------------------------------------------------------

    def _wd(self, k):
        return os.path.join(self.base, "gd%d" % (k + 1))

    def _sock(self, k):
        return os.path.join(self._wd(k), "gd.sock")

    def _log(self, k, name):
        return os.path.join(self.base, "log%d" % (k + 1), name)

    # --- the gluster command -------------------------------------------

    def cli(self, *args, k=0, check=True, timeout=120):
        """gluster --mode=script ARGS on glusterd k: its stdout."""
        argv = [GLUSTER, "--mode=script", "--glusterd-sock=" + self._sock(k)]
        argv += list(args)
        p = subprocess.run(argv, capture_output=True, text=True,
                           timeout=timeout)
        if check and p.returncode != 0:
            raise GlusterError("gluster %s: %s" % (" ".join(args),
                               (p.stdout + p.stderr).strip()))
        return p.stdout

    # --- start ------------------------------------------------------------

    def start(self):
        """Starts everything; on failure stops what it started and raises."""
        try:
            self._start_glusterd()
            self._probe_peers()
            self._create_volume()
            for k in range(self.n):
                self.mount(k)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_glusterd(self):
        for k in range(self.n):
            os.makedirs(self._wd(k), exist_ok=True)
            os.makedirs(os.path.dirname(self._log(k, "x")), exist_ok=True)
            os.makedirs(self.bricks[k], exist_ok=True)
            # its own /run/gluster: glusterd keeps the self-heal daemon's
            # pid file there, and three sharing one cannot restart it
            argv = ["unshare", "--mount", "--propagation", "private", "sh",
                    "-c", 'mount -t tmpfs owl-gluster /run/gluster && '
                    'exec "$@"', "sh", GLUSTERD, "-N",
                    "--xlator-option",
                    "management.working-directory=" + self._wd(k),
                    "--xlator-option",
                    "management.transport.socket.bind-address=" +
                    self.addrs[k],
                    "--xlator-option",
                    "management.glusterd-sockfile=" + self._sock(k),
                    "--pid-file=" + os.path.join(self._wd(k), "glusterd.pid"),
                    "-l", self._log(k, "glusterd.log"), "-L", "WARNING"]
            out = open(self._log(k, "glusterd.out"), "w")
            self.glusterd[k] = subprocess.Popen(argv, stdout=out,
                                                stderr=subprocess.STDOUT)
            out.close()
        for k in range(self.n):
            self._wait(lambda k=k: self._answers(k), 60,
                       "glusterd on %s did not answer" % self.addrs[k])

    def _answers(self, k):
        if self.glusterd[k].poll() is not None:
            raise GlusterError("glusterd on %s exited %s" %
                               (self.addrs[k], self.glusterd[k].returncode))
        if not os.path.exists(self._sock(k)):
            return False
        try:
            return self.cli("peer", "status", k=k, check=False,
                            timeout=10).startswith("Number of Peers")
        except subprocess.TimeoutExpired:
            return False  # a loaded machine: ask again

    def _probe_peers(self):
        for a in self.addrs[1:]:
            self.cli("peer", "probe", a)
        self._wait(lambda: self.cli("peer", "status").count(
                   "Peer in Cluster (Connected)") == self.n - 1, 60,
                   "the peers did not all connect")

    def _create_volume(self):
        bricks = ["%s:%s" % (a, b) for a, b in zip(self.addrs, self.bricks)]
        self.cli("volume", "create", self.volume, "replica", str(self.n),
                 *bricks, "force")
        self.created = True
        # quick failover: a dead brick is noticed in 5 s, not 42
        self.cli("volume", "set", self.volume, "network.ping-timeout", "5")
        for opt in CACHES_OFF:
            self.cli("volume", "set", self.volume, opt, "off")
        self.cli("volume", "start", self.volume)
        self._wait(lambda: len(self.brick_pids()) == self.n, 60,
                   "the bricks did not all start")

    def mount(self, k):
        """Mounts the volume at mounts[k] through glusterd k."""
        os.makedirs(self.mounts[k], exist_ok=True)
        pidfile = os.path.join(self.base, "mount%d.pid" % (k + 1))
        subprocess.run([GLUSTERFS, "--volfile-server=" + self.addrs[k],
                        "--volfile-id=" + self.volume] + MOUNT_OPTIONS + [
                        "-l", self._log(k, "mount.log"),
                        "--pid-file=" + pidfile, self.mounts[k]],
                       check=True, timeout=60)
        self._wait(lambda: os.path.ismount(self.mounts[k]) and
                   os.path.exists(pidfile), 30,
                   "mount %s did not appear" % self.mounts[k])
        with open(pidfile) as f:
            self.mount_pids[k] = int(f.read().strip())

    @staticmethod
    def _wait(cond, timeout, what):
        end = time.time() + timeout
        while time.time() < end:
            if cond():
                return
            time.sleep(0.2)
        raise GlusterError(what)

    # --- state ------------------------------------------------------------

    def status(self):
        """(brick pids by address, self-heal daemon pids) from glusterd."""
        out = self.cli("volume", "status", self.volume, "--xml", check=False)
        bricks, shd = {}, set()
        try:
            root = ET.fromstring(out)
        except ET.ParseError:
            return bricks, shd
        for node in root.iter("node"):
            host = node.findtext("hostname") or ""
            pid = int(node.findtext("pid") or "-1")
            online = node.findtext("status") == "1"
            if pid <= 0 or not online:
                continue
            self.seen_pids.add(pid)
            if host == "Self-heal Daemon":
                shd.add(pid)
            else:
                bricks[host] = pid
        return bricks, shd

    def brick_pids(self):
        return self.status()[0]

    def kill_brick(self, k):
        """kill -9 of the brick process on addrs[k]; its pid."""
        pid = self.brick_pids().get(self.addrs[k])
        if pid is None:
            raise GlusterError("no brick running on %s" % self.addrs[k])
        os.kill(pid, signal.SIGKILL)
        # glusterd must have seen it go, or a restart thinks it runs
        self._wait(lambda: self.addrs[k] not in self.brick_pids(), 60,
                   "glusterd did not notice the killed brick")
        return pid

    def restart_bricks(self, timeout=90):
        """Restarts dead bricks and waits for them: volume start force,
        asked of the glusterd of each dead brick (asked of another, the
        command succeeds without starting it), again every 5 s until they
        run (glusterd starts none while it has not seen the old process go,
        which can take a few seconds after the kill)."""
        end = time.time() + timeout
        while time.time() < end:
            running = self.brick_pids()
            if len(running) == self.n:
                self.wait_writable()
                return
            for k, a in enumerate(self.addrs):
                if a not in running:
                    self.cli("volume", "start", self.volume, "force", k=k,
                             check=False)
            stop = time.time() + 5
            while time.time() < stop and len(self.brick_pids()) < self.n:
                time.sleep(0.3)
        raise GlusterError("the bricks did not all come back")

    def wait_writable(self, timeout=60):
        """Waits until every mount can write again (a mount reconnects to
        restarted bricks a few seconds after they start)."""
        def writable(k):
            probe = os.path.join(self.mounts[k], ".probe-%d" % os.getpid())
            try:
                with open(probe, "w") as f:
                    f.write("x")
                os.unlink(probe)
                return True
            except OSError:
                return False
        self._wait(lambda: all(writable(k) for k in range(self.n)), timeout,
                   "a mount did not become writable")

    def heal_pending(self):
        """Entries still to heal, summed over the bricks; None when not
        every brick answered (a loaded machine, a brick still starting):
        unknown is not healed.  (Not "heal info": its glfsheal asks the
        glusterd of 127.0.0.1, which is not ours; the heal count comes
        from the self-heal daemons through our glusterd.)"""
        try:
            out = self.cli("volume", "heal", self.volume, "statistics",
                           "heal-count", check=False, timeout=60)
        except subprocess.TimeoutExpired:
            return None
        counts = re.findall(r"Number of entries:\s*(\d+)", out)
        if len(counts) < self.n:
            return None
        return sum(int(m) for m in counts)

    def wait_healed(self, timeout=120):
        self.cli("volume", "heal", self.volume, check=False)
        self._wait(lambda: self.heal_pending() == 0, timeout,
                   "the volume did not heal")

    # --- stop -------------------------------------------------------------

    def stop(self):
        """Unmounts and stops everything this cluster started, by pid."""
        for k in range(self.n):
            if os.path.ismount(self.mounts[k]):
                subprocess.run(["umount", "-l", self.mounts[k]],
                               capture_output=True, timeout=60)
            _kill(self.mount_pids[k])
            self.mount_pids[k] = None
        if self.created and self.glusterd[0] is not None and \
                self.glusterd[0].poll() is None:
            try:
                self.status()
                self.cli("volume", "stop", self.volume, "force", check=False,
                         timeout=60)
                self.cli("volume", "delete", self.volume, check=False,
                         timeout=60)
            except (subprocess.TimeoutExpired, OSError):
                pass
        for pid in sorted(self.seen_pids):
            _kill(pid)
        for k, p in enumerate(self.glusterd):
            if p is not None:
                _kill(p.pid)
                p.wait()
                self.glusterd[k] = None
        self.created = False

    def remove(self):
        """stop(), then the tree under base (bricks, logs, mount points)."""
        self.stop()
        shutil.rmtree(self.base, ignore_errors=True)
