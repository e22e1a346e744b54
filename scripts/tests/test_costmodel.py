# SPDX-License-Identifier: GPL-2.0
"""Unit tests of scripts/costmodel/model.py: gdb's stream parsed, its text made assemblable,
llvm-mca's summary read, and the per-object figures (with llvm-mca faked, so that they are
exact)."""
import csv
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "costmodel"))
import model  # noqa: E402

STREAMS = """R 1 64 16 0 2
C rslab_alloc
I 0xffffffffa0010f20 test   %rdi,%rdi
I 0xffffffffa0004771 pushf
I 0xffffffffa0004774 cli
I 0xffffffffa0004780 mov    %gs:-0x1e6f6757(%rip),%ecx        # 0xffffffff8190e030
I 0xffffffffa0004882 sti
I 0xffffffffa0004894 ret
C rslab_free
I 0xffffffffa0010f40 cs nopw 0x0(%rax,%rax,1)
I 0xffffffffa0010f48 xchg   %ax,%ax
I 0xffffffffa0010f4a call   0xffffffffa0004740
I 0xffffffffa0010f4f ret
E
R 1 64 16 1 2
C kmem_cache_alloc_noprof
I 0xffffffff81175000 mov    0x8(%rdi),%rax
I 0xffffffff81175004 ret
E
R 4 64 16 0 16
C rslab_alloc
I 0xffffffffa0010f20 test   %rdi,%rdi
E
R 4 64 16 0 0
C rslab_free
I 0xffffffffa0010f20 test   %rsi,%rsi
I 0xffffffffa0010f23 ret
E
R 2 64 16 0 16
C rslab_alloc
I 0xffffffffa0010f20 test   %rdi,%rdi
X
E
R 2 64 16 1 16
C kmem_cache_alloc_noprof
I 0xffffffff81175000 mov    0x8(%rdi),%rax
"""
MCA_OUT = """Iterations:        100
Instructions:      500
Total Cycles:      1885
Total uOps:        1300
"""


def fake_mca(lines, mcpu, path):
    """One cycle per instruction, two per `cli`/`sti`, a pass of the stream."""
    return float(sum(2 if l in ("cli", "sti") else 1 for l in lines))


class CostModelTest(unittest.TestCase):
    def test_parse_streams(self):
        regions = model.parse_streams(STREAMS)
        # The region still open at the end of the file (the guest stopped) is not one.
        self.assertEqual(len(regions), 5)
        r = regions[0]
        self.assertEqual((r["kind"], r["size"], r["n"], r["which"], r["objects"]), (1, 64, 16, 0, 2))
        self.assertEqual([c for c, _ in r["calls"]], ["rslab_alloc", "rslab_free"])
        self.assertEqual(r["calls"][0][1][1], "pushf")
        self.assertTrue(regions[4]["cut"])

    def test_normalize(self):
        n = model.normalize
        self.assertEqual(n("mov    %gs:-0x1e6f6757(%rip),%ecx        # 0xffffffff8190e030"),
                         "mov %gs:-0x1e6f6757(%rip),%ecx")
        self.assertEqual(n("cs nopw 0x0(%rax,%rax,1)"), "nop")
        self.assertEqual(n("data16 cs nopw 0x0(%rax,%rax,1)"), "nop")
        self.assertEqual(n("xchg   %ax,%ax"), "nop")
        self.assertEqual(n("nopl   0x0(%rax,%rax,1)"), "nop")
        self.assertEqual(n("notrack jmp *%rax"), "jmp *%rax")
        self.assertEqual(n("lock cmpxchg16b %gs:(%rsi)"), "lock cmpxchg16b %gs:(%rsi)")
        self.assertEqual(n("xchg   %rax,%rbx"), "xchg %rax,%rbx")
        self.assertIsNone(n("(bad)"))
        self.assertIsNone(n("cs"))
        self.assertEqual(model.assembly(["cli", "mov %rax,%rbx", "sti"], True), ["nop", "mov %rax,%rbx", "nop"])
        self.assertEqual(model.assembly(["cli", "sti"], False), ["cli", "sti"])

    def test_stack_engine(self):
        # The estimate breaks the %rsp chain of pushes and pops; the raw figure keeps them.
        insns = ["push   %rbx", "pushq  $0x10", "pop    %r15", "popq   %rbp", "push   0x8(%rdi)", "pushf"]
        self.assertEqual(model.assembly(insns, True), [
            "movq %rbx,(%rsp)", "movq $0x10,(%rsp)", "movq (%rsp),%r15", "movq (%rsp),%rbp",
            "push 0x8(%rdi)", "pushf"])
        self.assertEqual(model.assembly(insns, False)[:3], ["push %rbx", "pushq $0x10", "pop %r15"])

    def test_rep(self):
        regions = model.parse_streams("R 3 64 16 1 16\nC kmem_cache_free_bulk\n"
                                      "I 0xffffffff81000000 rep movsq %ds:(%rsi),%es:(%rdi)\nN 32\n"
                                      "I 0xffffffff81000000 rep movsq %ds:(%rsi),%es:(%rdi)\nN 31\n"
                                      "I 0xffffffff81000000 rep movsq %ds:(%rsi),%es:(%rdi)\nN 30\n"
                                      "I 0xffffffff81000003 rep stos %al,%es:(%rdi)\nN 64\nE\n")
        insns = regions[0]["calls"][0][1]
        # Stepped an iteration at a time, it is one instruction, with its first count.
        self.assertEqual(len(insns), 2)
        self.assertEqual(insns[0], "rep movsq %ds:(%rsi),%es:(%rdi) #rcx=32")
        self.assertEqual(model.assembly(insns, False)[0], "rep movsq %ds:(%rsi),%es:(%rdi)")
        self.assertEqual(model.assembly(insns, True), ["nop", "nop"])
        # 32 quadwords, then 64 bytes.
        self.assertAlmostEqual(model.extra_cycles(insns),
                               2 * model.REP_START + (256 + 64) / model.REP_BYTES_PER_CYCLE)

    def test_parse_mca(self):
        self.assertEqual(model.parse_mca(MCA_OUT), (100, 1885))
        with self.assertRaises(ValueError):
            model.parse_mca("error: invalid instruction")

    def test_rows(self):
        rows = model.rows_of(model.parse_streams(STREAMS))
        # The cut region (batch, rslab) and the unfinished one (batch, slub) make no row.
        self.assertEqual(list(rows), [("pair", 64, 16, "rslab"), ("pair", 64, 16, "slub"), ("cross", 64, 16, "rslab")])
        insns, objects = rows[("pair", 64, 16, "rslab")]
        self.assertEqual((len(insns), objects), (10, 2))
        # cross: the free half counts no objects; both halves' instructions count.
        insns, objects = rows[("cross", 64, 16, "rslab")]
        self.assertEqual((len(insns), objects), (3, 16))

    def test_estimate(self):
        with tempfile.TemporaryDirectory() as d:
            insns = model.rows_of(model.parse_streams(STREAMS))[("pair", 64, 16, "rslab")][0]
            est, raw = model.estimate(insns, 2, "skylake", os.path.join(d, "x"), fake_mca)
        # 10 instructions, cli and sti twice as dear raw: 12 a pass; the estimate makes them
        # nops (10) and adds IRQ_TOGGLE for each: (10 + 7) / 2 objects.
        self.assertAlmostEqual(raw, 6.0)
        self.assertAlmostEqual(est, (10 + 2 * model.IRQ_TOGGLE) / 2)

    def test_main(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "trace"))
            with open(os.path.join(d, "trace", "streams.txt"), "w") as f:
                f.write(STREAMS)
            self.assertEqual(model.main(d, ("skylake", "znver3"), fake_mca), 0)
            with open(os.path.join(d, "trace", "model.csv")) as f:
                rows = list(csv.DictReader(f))
            with open(os.path.join(d, "trace", "calibration.csv")) as f:
                cal = list(csv.DictReader(f))
        self.assertEqual(len(rows), 6)
        pair = rows[0]
        self.assertEqual((pair["model"], pair["workload"], pair["n"], pair["alloc"]), ("skylake", "pair", "", "rslab"))
        self.assertEqual((pair["cycles"], pair["raw_cycles"], pair["insns"], pair["irq"]), ("8.5", "6.0", "5.0", "1.00"))
        self.assertEqual(rows[2]["n"], "16")
        self.assertEqual(len(cal), 2 * len(model.CALIBRATION))
        dis = next(r for r in cal if r["snippet"] == "local_irq_disable/enable")
        # Two nops (one cycle each here) and 3.5 cycles for each of cli and sti.
        self.assertEqual((dis["cycles"], dis["raw_cycles"]), ("9.0", "4.0"))

    def test_no_region(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "trace"))
            with open(os.path.join(d, "trace", "streams.txt"), "w") as f:
                f.write("R 1 64 16 0 2\n")
            with open(os.devnull, "w") as null:
                old, sys.stdout = sys.stdout, null
                try:
                    self.assertEqual(model.main(d, ("skylake",), fake_mca), 1)
                finally:
                    sys.stdout = old


if __name__ == "__main__":
    unittest.main()
