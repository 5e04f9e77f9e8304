"""The manual pages against the programs: owld.conf(5) has an entry for
every key `owlctl check` prints, and each page says its exit statuses."""
import os
import re
import subprocess

from conftest import OWLCTL, ROOT


def _man(name):
    return open(os.path.join(ROOT, "docs", name)).read()


def test_owld_conf_5_lists_every_key(tmp_path):
    r = subprocess.run([OWLCTL, "-D", str(tmp_path), "check"],
                       capture_output=True, text=True)
    keys = [l.split(" = ")[0] for l in r.stdout.splitlines() if " = " in l]
    assert len(keys) >= 70
    page = _man("owld.conf.5")
    entries = re.findall(r"^\.TP\n\.BR (\S+)", page, re.M)
    entries = [e.replace("\\-", "-") for e in entries]
    for k in keys:
        assert k in entries, k
    # and nothing there that the programs do not know
    assert sorted(entries) == sorted(keys)


def test_every_page_has_exit_status():
    for page, codes in (("owld.8", ["64", "71", "73", "75", "77", "78"]),
                        ("owlctl.8", ["64", "65", "73", "75", "77", "78"]),
                        ("owl.1", ["1", "64"]),
                        ("owld.conf.5", ["78"])):
        text = _man(page)
        if page != "owld.conf.5":
            assert ".SH EXIT STATUS" in text, page
        for c in codes:
            assert re.search(r"\b%s\b" % c, text), (page, c)
