#!/usr/bin/env python3
"""Layout lint (issue 14): what keeps the rooms readable, checked in CTest (label lint).

  1. No function outside tests/ and examples/ is longer than MAX_LINES lines, except those
     listed in EXCEPTIONS, each with its reason. A function is a definition that starts at
     column 0 (clang-format puts every namespace-scope definition there), whose signature
     may wrap onto further lines, indented or not (a long parameter list, a constructor's
     member-initializer list), up to the line ending with "{"; it ends at the next line
     that is a lone "}" at column 0, and its length counts from its first line to that "}".
  2. One definition each: the Role enum (paxos_commit/role.h), FNV-1a (paxos_commit/hash.h),
     JSON escaping (json/): no other source defines them again.

Usage: layout_lint.py SOURCE_DIR [--max-lines N]. Exit 0 clean, 1 with one line per
problem (file:line: what), 2 on a usage error.
"""
import os
import re
import sys

MAX_LINES = 80
ROOTS = ["paxos_commit", "storage", "rpc", "runtime", "coordinator", "acceptor", "participant",
         "client", "cli", "bench", "json"]

# file -> function name -> reason. Keep this list short; each entry says why the function
# is clearer whole than split.
EXCEPTIONS = {
    "rpc/convert.cc": {
        "convert": "one case per message kind of rpc/pcommit.capnp, in schema order: each "
                   "kind's reader beside its edge checks, the whole mapping in one view",
        "toWire": "the same mapping back, one case per message kind, mirroring convert",
    },
    "runtime/node_metrics.cc": {
        "NodeMetrics::NodeMetrics": "its member-initializer list is the table of the metrics "
                                    "every node exports, one registration (name, help, "
                                    "labels) per member in the header's order; the body's "
                                    "steps are functions of their own",
    },
    "bench/peers/pg2pc.cc": {
        "clientLoop": "the PostgreSQL peer's closed-loop client: one transaction's SQL "
                      "statements on three servers in protocol order, read top to bottom",
        "main": "a standalone peer program's option parsing and run, outside pcommit itself",
    },
}

NOT_FUNCTIONS = re.compile(r"^(namespace|class|struct|enum|union|extern|using|typedef|"
                           r"template\s*<[^>]*>\s*(class|struct|union|using))\b")
LITERALS = re.compile(r'"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


def code(line):
    """`line` without its string and character literals and its // comment."""
    return LITERALS.sub('""', line).split("//")[0].rstrip()


def is_start(line):
    """Text at column 0 that may open a namespace-scope definition: not a directive, a
    comment, a brace, or a namespace, type, using or typedef declaration."""
    return bool(line) and not line[0].isspace() and not line.startswith(
        ("#", "//", "/*", "*", "}", "{")) and not NOT_FUNCTIONS.match(line)


def signature_end(lines, first):
    """Index of the line that ends the signature opened at `first` with "{", or None when
    what opens there is no definition. The signature may wrap: a return type on its own
    line, a parameter list over several lines, a constructor's member-initializer list
    (": a_(x), b_(y) {"), indented or not. Outside parentheses, a line ending with ";" ends
    a declaration and one ending with "}" a one-line definition; a blank line or a
    directive ends whatever this was."""
    depth = 0
    for k in range(first, len(lines)):
        text = code(lines[k])
        if k > first and (not text.strip() or lines[k].startswith("#")):
            return None
        depth += text.count("(") - text.count(")")
        if depth > 0:
            continue
        if text.endswith("{"):
            return k
        if text.endswith((";", "}")):
            return None
    return None


def function_name(signature):
    """The (qualified) name before the signature's parameter list: "Family<M>::with",
    "NodeMetrics::NodeMetrics", "operator<<"."""
    m = re.search(r"([\w:~]*operator\s*(\(\)|[^\s(]+))\s*\(", signature)
    if m:
        return m.group(1)
    depth = 0  # template brackets: the parameter list's "(" is the first outside them
    for pos, ch in enumerate(signature):
        if ch == "<":
            depth += 1
        elif ch == ">":
            depth = max(0, depth - 1)
        elif ch == "(" and depth == 0:
            words = signature[:pos].split()
            return words[-1].lstrip("*&") if words else signature.strip()
    return signature.strip()


def functions(path):
    """(name, first line, length) of every definition in `path` that starts at column 0
    (clang-format puts every namespace-scope definition there). Its signature starts at
    column 0 and may continue on the following lines (see signature_end); its body ends at
    the next line that is a lone "}" at column 0. The length counts from the signature's
    first line to that "}", both included."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = f.read().split("\n")
    out = []
    i = 0
    while i < len(lines):
        sig_end = signature_end(lines, i) if is_start(lines[i]) else None
        signature = "" if sig_end is None else " ".join(map(code, lines[i:sig_end + 1]))
        if "(" not in signature:  # not a function: a variable's "= {", say
            i += 1
            continue
        end = sig_end + 1
        while end < len(lines) and lines[end] not in ("}", "};"):
            end += 1
        out.append((function_name(signature), i + 1, end - i + 1))
        i = end + 1
    return out


def main():
    args = sys.argv[1:]
    if not args or args[0].startswith("-"):
        print(__doc__.strip().split("\n")[-3], file=sys.stderr)
        return 2
    src = args[0]
    limit = MAX_LINES
    if len(args) == 3 and args[1] == "--max-lines" and args[2].isdigit():
        limit = int(args[2])
    elif len(args) != 1:
        print("usage: layout_lint.py SOURCE_DIR [--max-lines N]", file=sys.stderr)
        return 2
    problems = []
    used = set()
    role_defs, fnv_defs, escapers = [], [], []
    for root in ROOTS:
        for dirpath, _, names in os.walk(os.path.join(src, root)):
            for n in sorted(names):
                if not n.endswith((".h", ".cc")):
                    continue
                path = os.path.join(dirpath, n)
                rel = os.path.relpath(path, src)
                for name, line, length in functions(path):
                    if length <= limit:
                        continue
                    if name in EXCEPTIONS.get(rel, {}):
                        used.add((rel, name))
                        continue
                    problems.append(f"{rel}:{line}: {name} is {length} lines (limit {limit})")
                text = open(path, encoding="utf-8", errors="replace").read()
                if re.search(r"enum\s+class\s+Role\b", text):
                    role_defs.append(rel)
                if re.search(r"1099511628211|0x100000001b3", text, re.I):
                    fnv_defs.append(rel)
                if re.search(r"\\\\u00|\\\\u%04", text):
                    escapers.append(rel)
    for rel, names in EXCEPTIONS.items():
        for name in names:
            if os.path.exists(os.path.join(src, rel)) and (rel, name) not in used:
                problems.append(f"{rel}: exception for {name} no longer needed: remove it")
    if role_defs != ["paxos_commit/role.h"]:
        problems.append(f"enum class Role defined in {role_defs} (only paxos_commit/role.h)")
    if fnv_defs != ["paxos_commit/hash.h"]:
        problems.append(f"FNV-1a constants in {fnv_defs} (only paxos_commit/hash.h)")
    escapers = [e for e in escapers if not e.startswith("json/")]
    if escapers:
        problems.append(f"hand-written JSON escaping in {escapers} (use json/json.h)")
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
