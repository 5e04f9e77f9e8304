#!/usr/bin/python3
"""gen_dkim_vectors - writes tests/unit/dkim_vectors.h: messages signed by
dkimpy (python3-dkim, an implementation independent of owlpost's) with
fresh keys, and the key records that verify them, for test_dkim.c.

Usage: gen_dkim_vectors.py > tests/unit/dkim_vectors.h   (needs openssl)
"""
import base64
import subprocess
import sys
import tempfile

import dkim

MSG = (b"Received: from client (client [192.0.2.1])\r\n"
       b"\tby mx.example.org; Mon, 1 Jan 2024 00:00:00 +0000\r\n"
       b"From: Joe  Example <joe@example.org>\r\n"
       b"To: Suzie Q <suzie@shopping.example.net>,\r\n"
       b"  Bob <bob@example.net>\r\n"
       b"Subject:   Is dinner\tready?  \r\n"
       b"Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)\r\n"
       b"Message-ID: <20030712040037.46341.5F8J@example.org>\r\n"
       b"\r\n"
       b"Hi.  \r\n"
       b"\r\n"
       b" We lost the game.\t Are you hungry yet?\r\n"
       b"\r\n"
       b"Joe.\r\n"
       b"\r\n"
       b"\r\n")


def openssl(*args, data=None):
    return subprocess.run(["openssl", *args], input=data, check=True,
                          capture_output=True).stdout


def rsa(bits):
    pem = openssl("genpkey", "-algorithm", "RSA", "-pkeyopt",
                  "rsa_keygen_bits:%d" % bits)
    der = openssl("pkey", "-pubout", "-outform", "DER", data=pem)
    return pem, b"v=DKIM1; k=rsa; p=" + base64.b64encode(der)


def ed25519():
    pem = openssl("genpkey", "-algorithm", "ED25519")
    priv = openssl("pkey", "-outform", "DER", data=pem)[-32:]
    pub = openssl("pkey", "-pubout", "-outform", "DER", data=pem)[-32:]
    return (base64.b64encode(priv),
            b"v=DKIM1; k=ed25519; p=" + base64.b64encode(pub))


def sign(key, algo, canon, length=False, selector=b"sel"):
    return dkim.sign(MSG, selector, b"example.org", key,
                     canonicalize=canon, signature_algorithm=algo,
                     length=length) + MSG


def c_string(name, data):
    out = ["static const char %s[] =" % name]
    for line in data.split(b"\n"):
        if not line:
            continue
        esc = "".join(chr(c) if 32 <= c < 127 and chr(c) not in '"\\'
                      else "\\%03o" % c for c in line + b"\n")
        out.append('\t"%s"' % esc)
    return "\n".join(out) + ";\n"


def main():
    rpem, rrec = rsa(2048)
    spem, srec = rsa(1024)
    epriv, erec = ed25519()
    vec = [
        ("RSA_SIMPLE", sign(rpem, b"rsa-sha256", (b"simple", b"simple"))),
        ("RSA_RELAXED", sign(rpem, b"rsa-sha256", (b"relaxed", b"relaxed"))),
        ("RSA1024_RELAXED", sign(spem, b"rsa-sha256",
                                 (b"relaxed", b"relaxed"))),
        ("ED_RELAXED_SIMPLE", sign(epriv, b"ed25519-sha256",
                                   (b"relaxed", b"simple"))),
        ("ED_LENGTH", sign(epriv, b"ed25519-sha256",
                           (b"relaxed", b"relaxed"), length=True)
         + b"Appended after signing: not covered.\r\n"),
    ]
    print("/* Written by tests/unit/gen_dkim_vectors.py (dkimpy %s): "
          "do not edit. */" % getattr(dkim, "__version__", "?"))
    print(c_string("REC_RSA", rrec + b"\n"))
    print(c_string("REC_RSA1024", srec + b"\n"))
    print(c_string("REC_ED", erec + b"\n"))
    for name, data in vec:
        print(c_string("MSG_" + name, data))


if __name__ == "__main__":
    sys.exit(main())
