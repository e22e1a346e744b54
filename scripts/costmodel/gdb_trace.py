# SPDX-License-Identifier: GPL-2.0
"""gdb script of make bench's cost model: records the instructions each allocator call executes.

Run by scripts/costmodel/trace.sh as `gdb -nx -batch -x gdb_trace.py` while the guest (booted with
QEMU's gdbstub, -icount shift=0) runs scripts/guest/bench.sh's `trace` step. Environment:
  TRACE_PORT  the gdbstub's TCP port on 127.0.0.1
  TRACE_SYMS  the guest's ktap.log, whose "# TRACESYM <name> <address>" lines (from the guest's
              /proc/kallsyms) give the markers, the arming flag and the allocators' entry points
  TRACE_OUT   file to write the streams to

It sets RSLAB_TEST_TRACE_ARMED (each `bench trace` waits for it) and a breakpoint on
rslab_test_trace_begin. At each begin it reads the region's arguments (kind, size, n, which,
objects in %rdi, %rsi, %rdx, %rcx, %r8), breaks on every allocator entry point and on
rslab_test_trace_end, and at each entry hit on the same vCPU and task stack (not an interrupt's
allocation: those run on the IRQ stack) single-steps (`stepi`, the stepping vCPU alone, IRQs and
timers masked by QEMU's default sstep flags) until the stack pointer rises above its value at
entry, i.e. until the call has returned, writing every executed instruction. Output:
  R <kind> <size> <n> <which> <objects>    a region starts
  C <entry name>                           a call into an allocator starts
  I <address> <instruction, AT&T as gdb prints it>
  N <count>                                %rcx before a rep-prefixed instruction (its count;
                                           stepping runs it an iteration at a time, written once)
  E                                        the region ends
It stops when the guest powers off (the remote connection closes).
"""
import os

import gdb  # noqa: F401 (provided by gdb)

STEP_LIMIT = 50000  # instructions per call: beyond, the call is cut (marked "X")
ENTRIES = ("rslab_alloc", "rslab_free", "rslab_alloc_bulk", "rslab_free_bulk", "kmem_cache_alloc_noprof",
           "kmem_cache_free", "kmem_cache_alloc_bulk_noprof", "kmem_cache_free_bulk")


def syms(path):
    out = {}
    with open(path, errors="replace") as f:
        for line in f:
            p = line.split()
            if len(p) == 4 and p[:2] == ["#", "TRACESYM"]:
                out[p[2]] = int(p[3], 16)
    return out


def reg(name):
    return int(gdb.parse_and_eval(f"${name}")) & 0xFFFFFFFFFFFFFFFF


def main():
    s = syms(os.environ["TRACE_SYMS"])
    out = open(os.environ["TRACE_OUT"], "w")
    for c in ("set pagination off", "set confirm off", "set architecture i386:x86-64",
              "set breakpoint always-inserted on", f"target remote 127.0.0.1:{os.environ['TRACE_PORT']}",
              "set scheduler-locking step"):
        gdb.execute(c, to_string=True)
    arch = gdb.selected_frame().architecture()
    gdb.execute(f"set {{int}}{s['RSLAB_TEST_TRACE_ARMED']:#x} = 1", to_string=True)
    begin, end = s["rslab_test_trace_begin"], s["rslab_test_trace_end"]
    entries = {s[e]: e for e in ENTRIES if e in s}
    gdb.execute(f"break *{begin:#x}", to_string=True)
    asm = {}
    regions = 0
    try:
        while True:
            gdb.execute("continue", to_string=True)
            if reg("pc") != begin:
                continue
            args = [reg(r) for r in ("rdi", "rsi", "rdx", "rcx", "r8")]
            out.write("R " + " ".join(str(a) for a in args) + "\n")
            thread, top = gdb.selected_thread().num, reg("sp")
            bps = [gdb.Breakpoint(f"*{a:#x}", internal=True) for a in list(entries) + [end]]
            while True:
                gdb.execute("continue", to_string=True)
                pc, sp = reg("pc"), reg("sp")
                if gdb.selected_thread().num != thread or not top - 16384 < sp <= top:
                    continue
                if pc == end:
                    break
                if pc not in entries:
                    continue
                out.write(f"C {entries[pc]}\n")
                sp0, n = sp, 0
                prev = None
                while sp <= sp0:
                    if pc not in asm:
                        asm[pc] = arch.disassemble(pc)[0]["asm"]
                    # A rep string instruction single-steps an iteration at a time: written once,
                    # with its count.
                    if pc != prev or not asm[pc].startswith("rep"):
                        out.write(f"I {pc:#x} {asm[pc]}\n")
                        if asm[pc].startswith("rep"):
                            out.write(f"N {reg('rcx')}\n")
                    prev = pc
                    n += 1
                    if n > STEP_LIMIT:
                        out.write("X\n")
                        break
                    gdb.execute("stepi", to_string=True)
                    pc, sp = reg("pc"), reg("sp")
            for b in bps:
                b.delete()
            out.write("E\n")
            out.flush()
            regions += 1
    except gdb.error as e:
        out.write(f"# stopped: {e}\n")
    out.close()
    print(f"gdb_trace: {regions} regions")


main()
