#!/usr/bin/env python3
"""Keeps the layout the README describes (issue "Re-lay the house"): no import circle between the
top-level modules of src/, no function over MAX_FN_LINES lines and no file over MAX_FILE_LINES
lines outside its tests. Prints every violation and exits 1 if there is one.

    python3 scripts/check-layout.py            # run by scripts/test.sh
"""
import os
import re
import sys

MAX_FN_LINES = 100
MAX_FILE_LINES = 900
SRC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src")
# The binary's own modules sit beside the library's; they may use anything.
BINARY_MODULES = {"main", "cli", "lib"}


def non_test_lines(path):
    """The file's lines up to its `#[cfg(test)] mod tests` (a `tests.rs` file has none)."""
    if os.path.basename(path) == "tests.rs":
        return []
    lines = open(path, encoding="utf-8").read().split("\n")
    for i, line in enumerate(lines[:-1]):
        if line.strip() == "#[cfg(test)]" and re.match(r"^mod tests\b", lines[i + 1]):
            return lines[:i]
    return lines


def long_functions(lines):
    """(name, first line, length) of each fn longer than MAX_FN_LINES, from its `fn` line to the
    closing brace at the same indentation. A signature ending in `;` (a trait method without a
    default body) has no body to measure."""
    found = []
    for i, line in enumerate(lines):
        m = re.match(r"^(\s*)(pub(\([a-z]+\))? )?(const )?(async )?(unsafe )?fn (\w+)", line)
        if not m:
            continue
        end_of_signature = next(
            (j for j in range(i, len(lines)) if lines[j].rstrip().endswith(("{", ";"))), None
        )
        if end_of_signature is None or lines[end_of_signature].rstrip().endswith(";"):
            continue
        indent = m.group(1)
        for j in range(end_of_signature, len(lines)):
            if lines[j] == indent + "}" or (j == end_of_signature and lines[j].rstrip().endswith("{}")):
                if j - i + 1 > MAX_FN_LINES:
                    found.append((m.group(7), i + 1, j - i + 1))
                break
    return found


def main():
    problems = []
    deps = {}
    for root, _, files in os.walk(SRC):
        for name in sorted(files):
            if not name.endswith(".rs"):
                continue
            path = os.path.join(root, name)
            rel = os.path.relpath(path, SRC)
            lines = non_test_lines(path)
            if len(lines) > MAX_FILE_LINES:
                problems.append(f"src/{rel}: {len(lines)} lines outside its tests (limit {MAX_FILE_LINES})")
            for fn, line, length in long_functions(lines):
                problems.append(f"src/{rel}:{line}: fn {fn} is {length} lines (limit {MAX_FN_LINES})")
            top = rel.split(os.sep)[0].removesuffix(".rs")
            if top in BINARY_MODULES:
                continue
            code = "\n".join(l for l in lines if not l.lstrip().startswith("//"))
            for m in re.finditer(r"crate::([a-z_0-9]+)", code):
                if m.group(1) != top:
                    deps.setdefault(top, set()).add(m.group(1))

    def reaches(start, goal):
        seen, todo = set(), [start]
        while todo:
            for nxt in deps.get(todo.pop(), ()):
                if nxt == goal:
                    return True
                if nxt not in seen:
                    seen.add(nxt)
                    todo.append(nxt)
        return False

    for a in sorted(deps):
        for b in sorted(deps[a]):
            if a < b and reaches(b, a):
                problems.append(f"import circle: {a} uses {b} and {b} (indirectly) uses {a}")
    for p in problems:
        print(p)
    if problems:
        print(f"check-layout: {len(problems)} problem(s)", file=sys.stderr)
        return 1
    print("check-layout: no import circle, no fn over 100 lines, no file over 900 lines outside tests")
    return 0


if __name__ == "__main__":
    sys.exit(main())
