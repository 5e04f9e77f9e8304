#!/usr/bin/python3
"""gen_psl_vectors - writes tests/unit/psl_vectors.h: organizational
domains (registrable domains) computed by libpsl (Debian's libpsl5, an
implementation independent of owlpost's) from Debian's public suffix
list, for a sample of names made from the list's own rules (each rule,
"*" as a label, under zero, one and two more labels; every wildcard and
exception rule, every fifth international one, every 25th other), for
test_psl.c.  The header records the list's size and FNV-1a hash: the
test skips the vectors when Debian's list has changed since.

Usage: gen_psl_vectors.py > tests/unit/psl_vectors.h
"""
import ctypes

LIST = "/usr/share/publicsuffix/public_suffix_list.dat"


def fnv1a32(data):
    h = 0x811C9DC5
    for b in data:
        h = ((h ^ b) * 0x01000193) & 0xFFFFFFFF
    return h


def alabel(name):
    return ".".join(l if l.isascii() else
                    "xn--" + l.encode("punycode").decode()
                    for l in name.split("."))


def sample():
    n = 0
    for line in open(LIST, encoding="utf-8"):
        words = line.split()
        if not words or words[0].startswith("//"):
            continue
        rule = words[0]
        n += 1
        special = "*" in rule or rule.startswith("!")
        idn = not rule.isascii()
        if special or (idn and n % 5 == 0) or n % 25 == 0:
            name = alabel(rule.lstrip("!").replace("*", "x"))
            for pre in ("", "a.", "b.a."):
                yield pre + name


def main():
    lib = ctypes.CDLL("libpsl.so.5")
    lib.psl_load_file.restype = ctypes.c_void_p
    lib.psl_load_file.argtypes = [ctypes.c_char_p]
    lib.psl_registrable_domain.restype = ctypes.c_char_p
    lib.psl_registrable_domain.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    ctx = lib.psl_load_file(LIST.encode())
    assert ctx
    data = open(LIST, "rb").read()
    print("/* written by gen_psl_vectors.py from libpsl: do not edit */")
    print("#define PSL_VECTORS_LIST_SIZE %du" % len(data))
    print("#define PSL_VECTORS_LIST_FNV 0x%08xu" % fnv1a32(data))
    print("static const char *const psl_vectors[][2] = {")
    for name in sample():
        org = lib.psl_registrable_domain(ctx, name.encode())
        print('\t{ "%s", %s },' % (name, '"%s"' % org.decode()
                                   if org else "NULL"))
    print("};")


main()
