"""make check-layers (scripts/check-layers.py): the tree passes, and each
kind of violation of DESIGN.md's layers, put into a copy of src/, fails
with the file and the reason named."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))
SCRIPT = os.path.join(ROOT, "scripts", "check-layers.py")


def run(src):
    p = subprocess.run([sys.executable, SCRIPT, str(src)],
                       capture_output=True, text=True)
    return p.returncode, p.stdout


def copy_src(tmp_path):
    dst = tmp_path / "src"
    shutil.copytree(os.path.join(ROOT, "src"), dst)
    return dst


def append(path, text):
    with open(path, "a") as f:
        f.write(text)


def test_tree_passes():
    rc, out = run(os.path.join(ROOT, "src"))
    assert rc == 0, out
    assert "check-layers: ok" in out


def test_arrow_up_fails(tmp_path):
    src = copy_src(tmp_path)
    append(src / "relay" / "dns.c", '#include "../owld/owld.h"\n')
    rc, out = run(src)
    assert rc == 1
    assert 'relay/dns.c' in out and '"../owld/owld.h"' in out


def test_arrow_sideways_fails(tmp_path):
    src = copy_src(tmp_path)
    append(src / "mime" / "parse.c", '#include "../proto/wire.h"\n')
    append(src / "auth" / "users.c", '#include "../store/store.h"\n')
    append(src / "lib" / "buf.c", '#include "../net/conn.h"\n')
    rc, out = run(src)
    assert rc == 1
    for f in ("mime/parse.c", "auth/users.c", "lib/buf.c"):
        assert f in out


def test_proto_may_use_mime(tmp_path):
    src = copy_src(tmp_path)
    append(src / "proto" / "wire.c", '#include "../mime/mime.h"\n')
    rc, out = run(src)
    assert rc == 0, out


def test_io_header_in_core_fails(tmp_path):
    src = copy_src(tmp_path)
    append(src / "proto" / "sasl.c", "#include <unistd.h>\n")
    append(src / "net" / "framer.c", "#include <event2/event.h>\n")
    append(src / "store" / "queue.c", "#include <event2/event.h>\n")
    rc, out = run(src)
    assert rc == 1
    for f in ("proto/sasl.c", "net/framer.c", "store/queue.c"):
        assert f in out


def test_msgauth_may_use_openssl_only(tmp_path):
    """msgauth/ (DKIM) signs with OpenSSL but stays sans-I/O, uses lib/
    only, and proto/ may not reach it."""
    src = copy_src(tmp_path)
    append(src / "msgauth" / "dkim_tags.c", "#include <openssl/evp.h>\n")
    assert run(src)[0] == 0
    append(src / "msgauth" / "dkim_canon.c", "#include <time.h>\n")
    append(src / "msgauth" / "dkim_key.c", '#include "../store/fsops.h"\n')
    append(src / "proto" / "wire.c", '#include "../msgauth/dkim.h"\n')
    rc, out = run(src)
    assert rc == 1
    for f in ("msgauth/dkim_canon.c", "msgauth/dkim_key.c", "proto/wire.c"):
        assert f in out


def test_unknown_folder_fails(tmp_path):
    src = copy_src(tmp_path)
    os.mkdir(src / "imap")
    append(src / "imap" / "x.c", "int imap_x;\n")
    rc, out = run(src)
    assert rc == 1 and "imap/" in out


def test_circle_of_files_fails(tmp_path):
    src = copy_src(tmp_path)
    append(src / "net" / "framer.c",
           "\nint framer_calls_anvil(void);\nint\n"
           "framer_calls_anvil(void)\n{\n\treturn anvil_calls_framer();\n}\n")
    append(src / "net" / "anvil.c",
           "\nint anvil_calls_framer(void);\nint\n"
           "anvil_calls_framer(void)\n{\n\treturn framer_calls_anvil();\n}\n")
    rc, out = run(src)
    assert rc == 1
    assert "net/: files in a circle: anvil, framer" in out


def test_static_namesake_is_no_dependency(tmp_path):
    src = copy_src(tmp_path)
    append(src / "net" / "framer.c",
           "\nint framer_own(void);\nint\nframer_own(void)\n{\n"
           "\treturn 0;\n}\n")
    append(src / "net" / "anvil.c",
           "\nstatic int\nframer_own(void)\n{\n\treturn 0;\n}\n"
           "int anvil_own(void);\nint\nanvil_own(void)\n{\n"
           "\treturn framer_own();\n}\n")
    append(src / "net" / "framer.c",
           "/* anvil_own() in a comment is no use */\n"
           "const char *framer_s = \"anvil_own\";\n")
    rc, out = run(src)
    assert rc == 0, out


def test_circle_of_headers_fails(tmp_path):
    src = copy_src(tmp_path)
    append(src / "net" / "framer.h", '#include "anvil.h"\n')
    append(src / "net" / "anvil.h", '#include "framer.h"\n')
    rc, out = run(src)
    assert rc == 1
    assert "net/: headers in a circle: anvil.h, framer.h" in out
