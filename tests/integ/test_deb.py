"""The Debian package (debian/, make deb): built once per run into a temp
build dir, then its file list, modes, conffiles, maintainer scripts, the
packaged configuration, the systemd unit (systemd-analyze verify and
security --offline) and lintian's verdict are checked.  Skipped, saying
why, where dpkg-buildpackage or debhelper is missing (make test-deps
installs them).  About 20 s."""
import os
import re
import shutil
import subprocess
import tarfile

import pytest

from conftest import ROOT

pytestmark = [pytest.mark.skipif(
    shutil.which("dpkg-buildpackage") is None or
    not os.path.exists("/usr/bin/dh"),
    reason="dpkg-buildpackage or debhelper missing (make test-deps)"),
    pytest.mark.plain_only]  # builds its own binaries: nothing of ASan's


@pytest.fixture(scope="module")
def deb(tmp_path_factory):
    build = tmp_path_factory.mktemp("debbuild")
    r = subprocess.run(["make", "-C", ROOT, "deb", "BUILD=%s" % build],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    debs = [f for f in os.listdir(build / "deb")
            if re.fullmatch(r"owlpost_[^_]+_[a-z0-9]+\.deb", f)]
    assert len(debs) == 1, debs
    root = build / "root"
    subprocess.run(["dpkg-deb", "-x", str(build / "deb" / debs[0]),
                    str(root)], check=True)
    ctl = build / "control"
    subprocess.run(["dpkg-deb", "-e", str(build / "deb" / debs[0]),
                    str(ctl)], check=True)
    return {"deb": str(build / "deb" / debs[0]), "root": root, "ctl": ctl,
            "build": build}


def _contents(path):
    """{path: (mode, owner, group)} from dpkg-deb -c."""
    out = subprocess.run(["dpkg-deb", "--fsys-tarfile", path],
                         capture_output=True, check=True).stdout
    import io
    with tarfile.open(fileobj=io.BytesIO(out)) as t:
        return {m.name.lstrip("."): (m.mode, m.uname, m.gname)
                for m in t.getmembers()}


def test_files_and_modes(deb):
    files = _contents(deb["deb"])
    want = {
        "/usr/sbin/owld": 0o755, "/usr/sbin/owlctl": 0o755,
        "/usr/bin/owl": 0o755,
        "/etc/owlpost/owld.conf": 0o644,
        "/lib/systemd/system/owld.service": 0o644,
        "/usr/share/man/man8/owld.8.gz": 0o644,
        "/usr/share/man/man8/owlctl.8.gz": 0o644,
        "/usr/share/man/man1/owl.1.gz": 0o644,
        "/usr/share/man/man5/owld.conf.5.gz": 0o644,
        "/usr/share/doc/owlpost/copyright": 0o644,
    }
    for path, mode in want.items():
        assert path in files, path
        assert files[path] == (mode, "root", "root"), (path, files[path])
    # nothing in /usr/local, no build leftovers
    assert not [p for p in files if p.startswith("/usr/local")]
    assert not [p for p in files if p.endswith(".o") or "/build/" in p]


def test_conffile_and_config(deb):
    conffiles = (deb["ctl"] / "conffiles").read_text().split()
    assert conffiles == ["/etc/owlpost/owld.conf"]
    conf = (deb["root"] / "etc/owlpost/owld.conf").read_text()
    assert re.search(r"^data_dir = /var/lib/owlpost$", conf, re.M)
    assert re.search(r"^user = owlpost$", conf, re.M)
    for key, port in (("smtp", 25), ("submission", 587), ("pop3", 110),
                      ("imap", 143)):
        assert re.search(r"^%s.listen = \*:%d$" % (key, port), conf, re.M)
    for key, port in (("submissions", 465), ("pop3s", 995), ("imaps", 993)):
        assert re.search(r"^# %s.listen = \*:%d " % (key, port), conf, re.M)
    # the packaged owlctl reads it (user= blanked: no owlpost user here)
    r = subprocess.run([str(deb["root"] / "usr/sbin/owlctl"), "-c",
                        str(deb["root"] / "etc/owlpost/owld.conf"),
                        "-o", "user=", "-D", str(deb["build"] / "data"),
                        "check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "# configuration OK" in r.stdout


def test_maintainer_scripts(deb):
    postinst = (deb["ctl"] / "postinst").read_text()
    assert "adduser --system --group" in postinst
    assert "owlpost" in postinst
    assert "/var/lib/owlpost" in postinst
    # debhelper's own snippet enables and starts owld.service
    assert "owld.service" in postinst
    control = (deb["ctl"] / "control").read_text()
    assert re.search(r"^Depends:.*\badduser\b", control, re.M)


def test_binaries_run(deb):
    r = subprocess.run([str(deb["root"] / "usr/sbin/owld"), "-V"],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.startswith("owld ")


def _unit_for_verify(deb):
    """The unit with ExecStart pointing into the extracted package."""
    unit = (deb["root"] / "lib/systemd/system/owld.service").read_text()
    d = deb["build"] / "unit"
    d.mkdir(exist_ok=True)
    (d / "owld.service").write_text(
        unit.replace("/usr/sbin/owld", str(deb["root"] / "usr/sbin/owld")))
    return str(d / "owld.service")


@pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                    reason="systemd-analyze missing (package systemd)")
def test_unit_verifies_and_is_hardened(deb):
    unit = (deb["root"] / "lib/systemd/system/owld.service").read_text()
    for line in ("Type=notify", "User=owlpost", "NoNewPrivileges=yes",
                 "ProtectSystem=strict", "ReadWritePaths=/var/lib/owlpost",
                 "PrivateTmp=yes",
                 "CapabilityBoundingSet=CAP_NET_BIND_SERVICE",
                 "AmbientCapabilities=CAP_NET_BIND_SERVICE",
                 "ExecReload=/bin/kill -HUP $MAINPID"):
        assert re.search("^" + re.escape(line) + "$", unit, re.M), line
    path = _unit_for_verify(deb)
    r = subprocess.run(["systemd-analyze", "verify", "--man=no", path],
                       capture_output=True, text=True)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    r = subprocess.run(["systemd-analyze", "security", "--offline=true",
                        "--no-pager", path], capture_output=True, text=True)
    m = re.search(r"Overall exposure level for owld.service: ([0-9.]+)",
                  r.stdout)
    assert m, r.stdout + r.stderr
    assert float(m.group(1)) <= 2.0, r.stdout  # 1.7 when written


@pytest.mark.skipif(shutil.which("lintian") is None,
                    reason="lintian missing (make test-deps)")
def test_lintian_clean(deb):
    r = subprocess.run(["lintian", "--pedantic", deb["deb"]],
                       capture_output=True, text=True, timeout=300)
    bad = [l for l in r.stdout.splitlines() if re.match(r"^[EW]: ", l)]
    assert bad == [] and r.returncode == 0, r.stdout


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("unshare") is None,
                    reason="needs root and unshare (a private mount "
                           "namespace)")
def test_postinst_in_a_scratch_system(deb):
    """The built postinst, run twice (install, then upgrade) in a private
    mount namespace over copies of /etc, /var/lib and the unit directory:
    it makes the owlpost system user and group and /var/lib/owlpost
    (0700, owlpost's), and enables owld.service with its owlpost.service
    alias; the machine's own files are never touched."""
    scratch = deb["build"] / "scratch"
    scratch.mkdir()
    script = r'''
set -e
mount --make-rprivate /
cp -a /etc "$S/etc"; mount --bind "$S/etc" /etc
mkdir "$S/varlib"; mount --bind "$S/varlib" /var/lib
cp -a /lib/systemd/system "$S/units"
cp "$R/lib/systemd/system/owld.service" "$S/units/"
mount --bind "$S/units" /lib/systemd/system
sh -e "$C/postinst" configure >/dev/null 2>&1
sh -e "$C/postinst" configure 0.1.0 >/dev/null 2>&1
getent passwd owlpost
getent group owlpost
stat -c '%a %U %G' /var/lib/owlpost
readlink /etc/systemd/system/multi-user.target.wants/owld.service
readlink /etc/systemd/system/owlpost.service
'''
    env = dict(os.environ, S=str(scratch), R=str(deb["root"]),
               C=str(deb["ctl"]), DPKG_MAINTSCRIPT_PACKAGE="owlpost",
               DPKG_MAINTSCRIPT_NAME="postinst")
    r = subprocess.run(["unshare", "-m", "sh", "-c", script], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    pw, gr, st, wants, alias = r.stdout.splitlines()
    name, _, uid, gid, _, home, shell = pw.split(":")
    assert name == "owlpost" and int(uid) < 1000
    assert home == "/var/lib/owlpost" and shell == "/usr/sbin/nologin"
    assert gr.split(":")[0] == "owlpost" and gr.split(":")[2] == gid
    assert st == "700 owlpost owlpost"
    assert wants == alias == "/lib/systemd/system/owld.service"
    import pwd
    with pytest.raises(KeyError):
        pwd.getpwnam("owlpost")  # not on this machine
