#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Fail if any function of a module reserves a stack frame of LIMIT bytes or more.

Reads `llvm-objdump -d` of the module and takes each function's largest `sub $N, %rsp`.
rslab runs parts of its paths with interrupts off on a kernel stack: a function that once put a
2 KiB array there (a copy of a per-CPU array) is the bug class this check keeps out.

    stack_frames.py <objdump> <module.ko> [limit]
"""
import re
import subprocess
import sys


def frames(objdump, ko):
    out = subprocess.run([objdump, "-d", "--no-show-raw-insn", ko], check=True,
                         capture_output=True, text=True).stdout
    fn, sizes = None, {}
    for line in out.splitlines():
        m = re.match(r"^[0-9a-f]+ <(.*)>:$", line)
        if m:
            fn = m.group(1)
            continue
        m = re.search(r"sub[lq]?\s+\$0x([0-9a-f]+),\s*%rsp", line)
        if m and fn:
            sizes[fn] = max(sizes.get(fn, 0), int(m.group(1), 16))
    return sizes


def main():
    objdump, ko = sys.argv[1], sys.argv[2]
    limit = int(sys.argv[3]) if len(sys.argv) > 3 else 1024
    sizes = frames(objdump, ko)
    big = sorted(((v, f) for f, v in sizes.items() if v >= limit), reverse=True)
    top = max(sizes.items(), key=lambda x: x[1], default=("-", 0))
    if big:
        for v, f in big:
            print(f"stack frame of {v} bytes (limit {limit}): {f}")
        return 1
    print(f"largest stack frame: {top[1]} bytes ({top[0][:80]}), limit {limit}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
