#!/usr/bin/env python3
"""The TUN helper runs as root: it must link nothing but libc.

    check_needed.py HELPER [--allow-sanitizer-runtimes]

Reads the dynamic section (readelf -d) and fails on any NEEDED entry other than
libc.so.6. In sanitizer builds (-Db_sanitize=...) the sanitizer runtimes and the
glibc libraries they pull in are allowed too, and nothing else (no GLib, ever).
"""
import re
import shutil
import subprocess
import sys

ALWAYS = {"libc.so.6"}
SANITIZER = re.compile(r"^lib(asan|ubsan|lsan|tsan|m|dl|pthread|rt|gcc_s|resolv|stdc\+\+)\.so(\.\d+)*$")


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    allow_sanitizers = "--allow-sanitizer-runtimes" in sys.argv[1:]
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    readelf = shutil.which("readelf")
    if readelf is None:
        print("SKIP: readelf not found (binutils)")
        return 77

    out = subprocess.run([readelf, "-d", "-W", args[0]], check=True, capture_output=True,
                         text=True, timeout=20).stdout
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]", out)
    print("NEEDED:", " ".join(needed) or "(none)")
    if "libc.so.6" not in needed:
        print("FAIL: libc.so.6 is not NEEDED: is this a dynamic executable?")
        return 1
    bad = [n for n in needed
           if n not in ALWAYS and not (allow_sanitizers and SANITIZER.match(n))]
    if bad:
        print("FAIL: the helper must link nothing but libc; it needs:", " ".join(bad))
        return 1
    print("ok: only libc" + (" (and sanitizer runtimes)" if allow_sanitizers else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
