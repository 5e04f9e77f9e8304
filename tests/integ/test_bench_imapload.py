"""bench/imapload.py, make bench's IMAP load client, against a scripted
fake server: literals are read to the octet (whatever they hold), a
response may carry several, errors end the run with status 1.  (The
figures themselves are checked by make check's bench-smoke.)"""
import os
import socket
import subprocess
import sys
import threading

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
IMAPLOAD = os.path.join(ROOT, "bench", "imapload.py")
CLOSE = b"CLOSE"


def fake_server(answers):
    """A one-connection IMAP server: greets, then answers each command
    line whose command word is in answers with answers[word] (a bytes
    with {tag} for the tag; the literal of an APPEND is read after a "+";
    one that starts with CLOSE is sent without it and the connection
    closed), OK otherwise.  Returns its port."""
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(1)

    def serve():
        c, _ = ls.accept()
        ls.close()
        r = c.makefile("rb")
        c.sendall(b"* OK fake\r\n")
        while True:
            line = r.readline()
            if not line:
                break
            words = line.split()
            tag, word = words[0], words[1].upper()
            if word == b"UID":
                word = words[2].upper()
            if line.endswith(b"}\r\n"):
                n = int(line[line.rindex(b"{") + 1:-3])
                c.sendall(b"+ go\r\n")
                r.read(n + 2)
            reply = answers.get(word.decode(), b"{tag} OK done\r\n")
            c.sendall(reply.removeprefix(CLOSE).replace(b"{tag}", tag))
            if word == b"LOGOUT" or reply.startswith(CLOSE):
                break
        c.close()
    threading.Thread(target=serve, daemon=True).start()
    return ls.getsockname()[1]


def imapload(port, *args):
    return subprocess.run([sys.executable, IMAPLOAD, "-p", str(port), "-u", "u",
                           "-w", "pw"] + list(args), capture_output=True,
                          text=True, timeout=30)


def result(r):
    assert r.returncode == 0, r.stderr
    return dict(f.split("=") for f in r.stdout.split())


def test_literals_are_read_to_the_octet():
    # the first body holds what would end the command if read as lines
    tricky = b"x\r\n{tag} OK not yet\r\n* 9 FETCH {3}\r\n"
    plain = b"y" * 5000
    fetch = (b"* 1 FETCH (UID 1 BODY[] {%d}\r\n" % len(tricky) + tricky + b")\r\n"
             b"* 1 FETCH (FLAGS (\\Seen))\r\n"
             b"* 2 FETCH (UID 2 BODY[] {%d}\r\n" % len(plain) + plain + b")\r\n"
             b"{tag} OK done\r\n")
    r = result(imapload(fake_server({"FETCH": fetch}), "-n", "2", "fetch"))
    assert r["messages"] == "2"
    assert r["bytes"] == str(len(tricky) + len(plain))


def test_a_literal_in_the_middle_of_a_response():
    fetch = (b"* 1 FETCH (BODY[] {4}\r\nabcd UID 1)\r\n"
             b"* 2 FETCH (BODY[] {0}\r\n UID 2)\r\n"
             b"{tag} OK done\r\n")
    r = result(imapload(fake_server({"FETCH": fetch}), "fetch"))
    assert (r["messages"], r["bytes"]) == ("2", "4")


def test_open_counts_the_flags_responses():
    fetch = b"".join(b"* %d FETCH (UID %d FLAGS (\\Recent))\r\n" % (i, i)
                     for i in range(1, 101)) + b"{tag} OK done\r\n"
    r = result(imapload(fake_server({"FETCH": fetch}), "-n", "100", "open"))
    assert r["messages"] == "100"


def test_append_waits_for_the_continuation():
    r = result(imapload(fake_server({}), "-n", "3", "-s", "5000", "append"))
    assert (r["messages"], r["bytes"]) == ("3", "15000")


def test_a_refusal_fails_the_run():
    r = imapload(fake_server({"SELECT": b"{tag} NO [NONEXISTENT] no such\r\n"}),
                 "fetch")
    assert r.returncode == 1
    assert "NO [NONEXISTENT] no such" in r.stderr


def test_a_short_literal_fails_the_run():
    r = imapload(fake_server({"FETCH": CLOSE + b"* 1 FETCH (BODY[] {100}\r\nshort"}),
                 "fetch")
    assert r.returncode == 1
    assert "connection closed in a literal" in r.stderr


def test_fewer_bodies_than_expected_fail_the_run():
    fetch = b"* 1 FETCH (BODY[] {1}\r\nz)\r\n{tag} OK done\r\n"
    r = imapload(fake_server({"FETCH": fetch}), "-n", "2", "fetch")
    assert r.returncode == 1
    assert "1 bodies of 2" in r.stderr
