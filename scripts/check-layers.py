#!/usr/bin/python3
"""check-layers - the layers of DESIGN.md, checked on the sources.

Usage: check-layers.py [SRC]      (SRC defaults to src; run by make check-layers)

Three checks, each on every folder of SRC:

1. Arrows: a file of folder F may include a header of folder G
   ("../G/x.h") only if G is in USES[F].  A folder missing from USES
   is an error too, so a new folder gets its arrows written down.
2. System headers: the sans-I/O cores and the pure modules include no
   header of the event loop, of TLS or of I/O (FORBIDDEN).
3. Circles: within one folder, a file module (x.c with x.h) depends on
   another when it includes its header or uses a function or variable
   the other's .c file defines (not static).  No circle of such
   dependencies may exist: a set of files that all reach each other is
   one module split in files, or a layer missing between them.

Symbols are found in the sources with their comments, strings and
preprocessor lines removed: top-level function definitions and
variables not marked static (STYLE.md: a definition starts at column 0
of its own line, but any layout is understood).  Exits 1 and names every
violation, with the include line or the symbol behind each arrow.
"""
import os
import re
import sys

LOW = {"lib"}
MIDDLE = {"net", "proto", "store", "auth", "mime", "msgauth"}
BELOW_THE_LINE = LOW | MIDDLE
PROGRAM_USES = BELOW_THE_LINE | {"relay"}

# DESIGN.md "Layers": which folders each folder may include from.
USES = {
    "lib": set(),
    "net": {"lib"},
    "proto": {"lib", "mime"},  # IMAP's ENVELOPE and BODYSTRUCTURE
    "store": {"lib"},
    "auth": {"lib"},
    "mime": {"lib"},
    "msgauth": {"lib"},  # DKIM, SPF, DMARC, the inbound checks: pure, OpenSSL's crypto
    "relay": BELOW_THE_LINE,
    "owld": PROGRAM_USES,
    "owlctl": PROGRAM_USES,
    "owl": PROGRAM_USES,
}

SANS_IO = r"event2/|openssl/|unistd\.h|fcntl\.h|time\.h|sys/socket\.h"
# (folder, file stem or None for every file, forbidden <...> pattern, why)
FORBIDDEN = [
    ("proto", None, SANS_IO, "protocol cores stay sans-I/O"),
    ("mime", None, SANS_IO, "mime/ stays sans-I/O"),
    ("msgauth", None, r"event2/|unistd\.h|fcntl\.h|time\.h|sys/socket\.h",
     "msgauth/ stays sans-I/O (OpenSSL's crypto only)"),
    ("store", None, r"event2/", "store/ does not use the event loop"),
    ("auth", None, r"event2/", "auth/ does not use the event loop"),
    ("lib", None, r"event2/", "lib/ does not use the event loop"),
    ("net", "framer", r"event2/|openssl/",
     "net/framer stays pure (unit tests, fuzzing)"),
    ("net", "anvil", r"event2/|openssl/",
     "net/anvil stays pure (unit tests)"),
]

# Circles that exist today and are being removed on a branch of their
# own: (folder, sorted modules) -> where.  Reported, not failed.  Delete
# an entry when its circle is gone.
KNOWN_CIRCLES = {}

INCLUDE_RE = re.compile(r'^[ \t]*#[ \t]*include[ \t]*([<"])([^>"]+)[>"]', re.M)
TOKEN_RE = re.compile(r"[A-Za-z_]\w*|\S")
KEYWORDS = {"static", "extern", "typedef", "inline", "const", "volatile",
            "struct", "union", "enum", "unsigned", "signed", "void", "char",
            "short", "int", "long", "float", "double", "bool", "_Bool",
            "_Thread_local", "__thread", "register", "restrict",
            "sizeof", "return"}


def strip_code(text):
    """The text without comments, string and char literals, preprocessor
    lines (line structure kept)."""
    out, i, n = [], 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("/*", i):
            j = text.find("*/", i + 2)
            j = n if j == -1 else j + 2
            out.append("\n" * text.count("\n", i, j))
            i = j
        elif text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j == -1 else j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c:
                j += 2 if text[j] == "\\" else 1
            out.append(" 0 ")
            i = j + 1
        elif c == "#" and (i == 0 or text[i - 1] == "\n"
                           or text[:i].rsplit("\n", 1)[-1].strip() == ""):
            # a preprocessor line, with its continuations
            j = i
            while True:
                k = text.find("\n", j)
                if k == -1:
                    j = n
                    break
                if text[k - 1] == "\\":
                    j = k + 1
                    continue
                j = k
                break
            out.append("\n" * text.count("\n", i, j))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def top_level_definitions(code):
    """(globals, statics): the names a .c file defines at top level,
    functions with "()" after the name."""
    toks = TOKEN_RE.findall(code)
    glob, stat = set(), set()
    decl = []  # tokens of the current top-level declaration
    depth = 0
    i = 0
    while i < len(toks):
        t = toks[i]
        if depth == 0 and t == "{":
            # a function body when the declaration ends with (...)
            if decl and decl[-1] == ")":
                name = function_name(decl)
                if name:
                    (stat if "static" in decl else glob).add(name + "()")
                i = skip_block(toks, i)
                decl = []
                continue
            # an initializer or a struct/enum body: skip it, keep going
            j = skip_block(toks, i)
            decl.append("{}")
            i = j
            continue
        if depth == 0 and t == ";":
            note_variables(decl, glob, stat)
            decl = []
        elif depth == 0:
            decl.append(t)
        i += 1
    return glob, stat


def skip_block(toks, i):
    depth = 0
    while i < len(toks):
        if toks[i] == "{":
            depth += 1
        elif toks[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def function_name(decl):
    """The name of the function whose declaration tokens are decl."""
    depth = 0
    for k in range(len(decl) - 1, -1, -1):
        if decl[k] == ")":
            depth += 1
        elif decl[k] == "(":
            depth -= 1
            if depth == 0:
                if k > 0 and re.match(r"[A-Za-z_]\w*$", decl[k - 1]):
                    return decl[k - 1]
                return None
    return None


def note_variables(decl, glob, stat):
    """Variables defined by one top-level declaration (not prototypes,
    typedefs, type definitions or extern declarations)."""
    if not decl or "typedef" in decl or "extern" in decl:
        return
    names = []
    depth = 0
    for k, t in enumerate(decl):
        if t in "([":
            depth += 1
        elif t in ")]":
            depth -= 1
        elif depth == 0 and t in ("=", ",") and k > 0:
            names.append(k - 1)
        if depth == 0 and t == "[" and k > 0:
            names.append(k - 1)
    names.append(len(decl) - 1)
    for k in names:
        name = decl[k]
        if (re.match(r"[A-Za-z_]\w*$", name) and name not in KEYWORDS
                and k > 0 and decl[k - 1] not in ("struct", "union",
                                                  "enum")):
            if "(" in decl[:k]:
                continue  # a prototype or a function pointer
            (stat if "static" in decl else glob).add(name)


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def folder_files(src):
    folders = {}
    for d in sorted(os.listdir(src)):
        p = os.path.join(src, d)
        if os.path.isdir(p):
            folders[d] = sorted(f for f in os.listdir(p)
                                if f.endswith((".c", ".h")))
    return folders


def check_arrows_and_headers(src, folders, errors):
    for folder, files in folders.items():
        if folder not in USES:
            errors.append(f"{src}/{folder}/: a folder DESIGN.md does not "
                          f"place; add its arrows to scripts/"
                          f"check-layers.py")
            continue
        for f in files:
            path = f"{src}/{folder}/{f}"
            text = read(path)
            for m in INCLUDE_RE.finditer(text):
                line = text.count("\n", 0, m.start()) + 1
                kind, inc = m.group(1), m.group(2)
                if kind == '"':
                    check_arrow(path, line, folder, inc, folders, errors)
                else:
                    check_system(path, line, folder, f, inc, errors)


def check_arrow(path, line, folder, inc, folders, errors):
    parts = os.path.normpath(os.path.join(folder, inc)).split(os.sep)
    to = parts[0] if len(parts) > 1 else folder
    if to == "..":
        errors.append(f"{path}:{line}: includes \"{inc}\", outside src/")
    elif to != folder and to not in USES.get(folder, set()):
        allowed = ", ".join(sorted(USES[folder])) or "nothing"
        errors.append(f"{path}:{line}: {folder}/ includes \"{inc}\": "
                      f"{folder}/ may use {allowed} (DESIGN.md, Layers)")


def check_system(path, line, folder, f, inc, errors):
    stem = f.rsplit(".", 1)[0]
    for fo, st, pat, why in FORBIDDEN:
        if fo == folder and st in (None, stem) and re.match(pat, inc):
            errors.append(f"{path}:{line}: #include <{inc}>: {why}")


def module_graph(src, folder, files):
    """module -> {module: why}: module x (x.c) depends on module y when
    x.c uses a function or variable that y.c defines."""
    defs, statics, uses = {}, {}, {}
    for f in files:
        stem, ext = f.rsplit(".", 1)
        if ext != "c":
            continue
        code = strip_code(read(f"{src}/{folder}/{f}"))
        defs[stem], statics[stem] = top_level_definitions(code)
        uses[stem] = set(re.findall(r"[A-Za-z_]\w*", code))
    owner = {}
    for stem, names in sorted(defs.items()):
        for name in names:
            owner.setdefault(name.rstrip("()"), (stem, name))
    edges = {stem: {} for stem in defs}
    for stem, used in sorted(uses.items()):
        own = {n.rstrip("()") for n in defs[stem] | statics[stem]}
        for name in sorted(used - own):
            to, shown = owner.get(name, (None, None))
            if to is not None and to != stem:
                edges[stem].setdefault(to, f"{stem}.c uses {shown} of "
                                           f"{to}.c")
    return edges


def header_graph(src, folder, files):
    """header -> {header: why}: the headers of folder that include each
    other."""
    edges = {f: {} for f in files if f.endswith(".h")}
    for f in edges:
        text = read(f"{src}/{folder}/{f}")
        for m in INCLUDE_RE.finditer(text):
            inc = m.group(2)
            if m.group(1) == '"' and inc in edges and inc != f:
                edges[f].setdefault(inc, f"{f} includes {inc}")
    return edges


def circles(edges):
    """The strongly connected sets of more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []
    counter = [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in sorted(edges[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(edges):
        if v not in index:
            visit(v)
    return out


def one_cycle(edges, comp):
    """A path a -> ... -> a inside comp, for the message."""
    start = comp[0]
    path, seen = [start], {start}
    while True:
        nxt = [w for w in sorted(edges[path[-1]]) if w in comp]
        back = [w for w in nxt if w == start]
        if back and len(path) > 1:
            return path + [start]
        fresh = [w for w in nxt if w not in seen]
        if not fresh:
            # fall back on the first arrow that closes a loop
            w = nxt[0]
            return path[path.index(w):] + [w] if w in path else path
        path.append(fresh[0])
        seen.add(fresh[0])


def check_circles(src, folders, errors):
    seen = set()
    for folder, files in folders.items():
        for kind, edges in (("files", module_graph(src, folder, files)),
                            ("headers", header_graph(src, folder, files))):
            for comp in circles(edges):
                cyc = one_cycle(edges, comp)
                why = "; ".join(edges[a][b] for a, b in zip(cyc, cyc[1:]))
                known = KNOWN_CIRCLES.get((folder, tuple(comp)))
                seen.add((folder, tuple(comp)))
                line = (f"{src}/{folder}/: {kind} in a circle: "
                        f"{', '.join(comp)} ({why})")
                if known:
                    print(f"check-layers: known, not yet removed: {line}; "
                          f"{known}")
                else:
                    errors.append(line)
    for (folder, comp) in sorted(set(KNOWN_CIRCLES) - seen):
        if folder in folders:
            print(f"check-layers: the known circle {', '.join(comp)} of "
                  f"{folder}/ is gone: delete it from KNOWN_CIRCLES")


def main():
    src = sys.argv[1] if len(sys.argv) > 1 else "src"
    folders = folder_files(src)
    errors = []
    check_arrows_and_headers(src, folders, errors)
    check_circles(src, folders, errors)
    for e in errors:
        print(e)
    if errors:
        print(f"check-layers: {len(errors)} violation(s) of the layers "
              f"of DESIGN.md")
        return 1
    print(f"check-layers: ok ({len(folders)} folders)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
