"""owl over IMAP against a hostile server (a small fake on loopback):
a literal larger than owl's limit, lists nested too deep, escape
sequences in a NO, a response cut short - each one line and status 1
or the response ignored, never a crash."""
import socket
import threading

from test_owl import home, run_owl  # noqa: F401


class FakeImap:
    """Answers owl's commands from a table: command word -> lines."""

    def __init__(self, answers, caps=b"IMAP4rev1 AUTH=PLAIN SASL-IR"):
        self.answers = answers
        self.caps = caps
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(4)
        self.port = self.sock.getsockname()[1]
        self.seen = []
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self.session, args=(c,),
                             daemon=True).start()

    def session(self, c):
        f = c.makefile("rb")
        c.sendall(b"* OK [CAPABILITY %s] fake\r\n" % self.caps)
        auth_tag = None
        try:
            for line in f:
                if auth_tag is not None:  # the SASL answer after "+"
                    self.seen.append(line)
                    c.sendall(b"%s OK authenticated\r\n" % auth_tag)
                    auth_tag = None
                    continue
                if line.endswith(b"}\r\n"):  # a literal: ask for it
                    c.sendall(b"+ go on\r\n")
                    line = line + f.readline()
                tag, cmd = line.split(b" ", 2)[:2]
                if cmd == b"AUTHENTICATE" and b"SASL-IR" not in self.caps:
                    self.seen.append(line)
                    c.sendall(b"+ \r\n")
                    auth_tag = tag
                    continue
                if tag == b"o999":
                    break
                word = line.split(b" ")[1 if cmd != b"UID" else 2].strip()
                self.seen.append(line)
                ans = self.answers.get(word.upper().decode(),
                                       [b"%s OK done\r\n"])
                if any(a is None for a in ans):  # then hang up
                    c.sendall(b"".join(a for a in ans if a is not None))
                    break
                for a in ans:
                    c.sendall(a.replace(b"%s", tag))
        except (OSError, ValueError):
            pass
        c.close()

    def close(self):
        self.sock.close()


def owl(fake, home, *cmd, password="pw"):  # noqa: F811
    return run_owl(["-H", "127.0.0.1", "--imap-port", str(fake.port),
                    "--protocol=imap", "--tls=off", "-u", "a@localhost"] +
                   list(cmd), home, password=password)


def commands(fake):
    """What owl sent, tags dropped."""
    return [ln.split(b" ", 1)[1].rstrip(b"\r\n").decode() for ln in fake.seen
            if b" " in ln]


ONE = [b"* 1 EXISTS\r\n", b"%s OK selected\r\n"]
FETCH_ONE = [b"* 1 FETCH (UID 7 FLAGS () BODY[HEADER] {12}\r\n"
             b"Subject: x\r\n)\r\n", b"%s OK done\r\n"]


def test_login_when_no_auth_plain(home):  # noqa: F811
    fake = FakeImap({"SELECT": ONE, "FETCH": FETCH_ONE}, caps=b"IMAP4rev1")
    r = owl(fake, home, "list", password='p"w\\x')
    fake.close()
    assert r.returncode == 0, r.stderr
    assert "1*" in r.stdout and " x" in r.stdout
    assert commands(fake)[0] == 'LOGIN "a@localhost" "p\\"w\\\\x"'


def test_authenticate_plain_without_sasl_ir(home):  # noqa: F811
    fake = FakeImap({"SELECT": ONE, "FETCH": FETCH_ONE},
                    caps=b"IMAP4rev1 AUTH=PLAIN")
    r = owl(fake, home, "list")
    fake.close()
    assert r.returncode == 0, r.stderr
    # RFC 4616: authzid NUL authcid NUL password, base64, after the "+"
    assert commands(fake)[0] == "AUTHENTICATE PLAIN"
    assert fake.seen[1] == b"AGFAbG9jYWxob3N0AHB3\r\n"


def test_delete_by_copy_to_trash_named_so(home):  # noqa: F811
    """No MOVE, no UIDPLUS, no \\Trash attribute: COPY to the folder
    named Trash, STORE \\Deleted, EXPUNGE."""
    fake = FakeImap({"SELECT": ONE, "FETCH": FETCH_ONE,
                     "LIST": [b'* LIST () "/" INBOX\r\n',
                              b'* LIST (\\HasNoChildren) "/" Trash\r\n',
                              b"%s OK listed\r\n"]},
                    caps=b"IMAP4rev1 AUTH=PLAIN SASL-IR")
    r = owl(fake, home, "delete", "1")
    fake.close()
    assert r.returncode == 0, r.stderr
    assert commands(fake)[-4:] == [
        'UID COPY 7 "Trash"', "UID STORE 7 +FLAGS.SILENT (\\Deleted)",
        "EXPUNGE", "LOGOUT"], commands(fake)


def test_delete_without_trash_expunges(home):  # noqa: F811
    fake = FakeImap({"SELECT": ONE, "FETCH": FETCH_ONE,
                     "LIST": [b'* LIST (\\Sent) "/" Sent\r\n',
                              b"%s OK listed\r\n"]},
                    caps=b"IMAP4rev1 AUTH=PLAIN SASL-IR UIDPLUS MOVE")
    r = owl(fake, home, "delete", "1")
    fake.close()
    assert r.returncode == 0, r.stderr
    assert commands(fake)[-3:] == [
        "UID STORE 7 +FLAGS.SILENT (\\Deleted)", "UID EXPUNGE 7", "LOGOUT"]


def test_literal_past_the_limit(home):  # noqa: F811
    fake = FakeImap({
        "SELECT": [b"* 1 EXISTS\r\n", b"%s OK selected\r\n"],
        "FETCH": [b"* 1 FETCH (UID 1 BODY[HEADER] {99999999999}\r\n"],
    })
    r = owl(fake, home, "list")
    fake.close()
    assert r.returncode == 1
    assert "a literal of 99999999999 octets, more than 64 MiB" in r.stderr


def test_deep_lists_and_escapes(home):  # noqa: F811
    deep = b"(" * 200 + b")" * 200
    fake = FakeImap({
        "SELECT": [b"* 2 EXISTS\r\n", b"%s OK selected\r\n"],
        "FETCH": [b"* 1 FETCH (UID 1 X " + deep + b" BODY[HEADER] {14}\r\n"
                  b"Subject: bad\r\n)\r\n",
                  b"* 2 FETCH (UID 2 FLAGS () BODY[HEADER] {15}\r\n"
                  b"Subject: good\r\n)\r\n", b"%s OK done\r\n"],
    })
    r = owl(fake, home, "list")
    assert r.returncode == 0, r.stderr
    assert "good" in r.stdout and "bad" not in r.stdout
    assert "1*" in r.stdout  # numbered by the listing, unread
    fake.answers["SELECT"] = [b"%s NO \x1b[31mred\x07 no such folder\r\n"]
    r = owl(fake, home, "list", "-f", "x")
    fake.close()
    assert r.returncode == 1
    assert "NO ?[31mred? no such folder" in r.stderr and "\x1b" not in r.stderr


def test_connection_cut_mid_literal(home):  # noqa: F811
    fake = FakeImap({
        "SELECT": [b"* 1 EXISTS\r\n", b"%s OK selected\r\n"],
        "FETCH": [b"* 1 FETCH (UID 1 BODY[HEADER] {100}\r\nshort", None],
    })
    r = owl(fake, home, "list")
    fake.close()
    assert r.returncode == 1
    assert "connection closed by the server" in r.stderr, r.stderr


def test_mailbox_name_as_literal(home):  # noqa: F811
    """A name a quoted string cannot hold (8-bit, as servers with UTF-8
    names send) goes as a literal after the server's "+"."""
    fake = FakeImap({"SELECT": ONE, "FETCH": FETCH_ONE,
                     "LIST": [b'* LIST (\\Trash) "/" {5}\r\nM\xc3\xbcll\r\n',
                              b"%s OK listed\r\n"]},
                    caps=b"IMAP4rev1 AUTH=PLAIN SASL-IR MOVE")
    r = owl(fake, home, "delete", "1")
    fake.close()
    assert r.returncode == 0, r.stderr
    assert fake.seen[-2].split(b" ", 1)[1] == b"UID MOVE 7 {5}\r\nM\xc3\xbcll\r\n"
