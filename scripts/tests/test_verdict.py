# SPDX-License-Identifier: GPL-2.0
"""Unit tests of scripts/verdict.py on synthetic serial logs."""
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import verdict  # noqa: E402

CLEAN_CONSOLE = """[    0.000000] Linux version 7.3.4
[    0.100000] Kernel command line: console=ttyS0 panic=-1
[    1.000000] rslab: rslab 0.1.0 loaded
"""

KTAP_OK = """TAP version 13
1..2
# selftests: rslab: a.sh
# TAP version 13
# 1..2
# ok 1 load
# ok 2 unload
# # Totals: pass:2 fail:0 xfail:0 xpass:0 skip:0 error:0
ok 1 selftests: rslab: a.sh
# selftests: rslab: b.sh
# plain output, no nested KTAP
ok 2 selftests: rslab: b.sh # SKIP
rslab-guest: exit 0
rslab-guest: done
"""


class VerdictTest(unittest.TestCase):
    def run_verdict(self, console, ktap, status=0):
        with tempfile.TemporaryDirectory() as d:
            c, k = os.path.join(d, "c"), os.path.join(d, "k")
            with open(c, "w") as f:
                f.write(console)
            with open(k, "w") as f:
                f.write(ktap)
            return verdict.main(["--console", c, "--ktap", k, "--qemu-status", str(status)])

    def test_clean_run_passes(self):
        self.assertEqual(self.run_verdict(CLEAN_CONSOLE, KTAP_OK), 0)

    def test_counts_leaves(self):
        t = verdict.Tally()
        verdict.parse_ktap(KTAP_OK.splitlines(), t)
        self.assertEqual((t.passed, t.failed, t.skipped), (2, 0, 1))

    def test_nested_failure_fails(self):
        self.assertEqual(self.run_verdict(CLEAN_CONSOLE, KTAP_OK.replace("# ok 2 unload", "# not ok 2 unload")), 1)

    def test_program_failure_without_failed_leaf_fails(self):
        ktap = KTAP_OK.replace("ok 1 selftests: rslab: a.sh", "not ok 1 selftests: rslab: a.sh # exit=1")
        t = verdict.Tally()
        verdict.parse_ktap(ktap.splitlines(), t)
        self.assertEqual(t.failed, 1)

    def test_missing_results_fail(self):
        ktap = KTAP_OK.replace("1..2", "1..3")
        self.assertEqual(self.run_verdict(CLEAN_CONSOLE, ktap), 1)

    def test_unfinished_guest_has_no_verdict(self):
        self.assertEqual(self.run_verdict(CLEAN_CONSOLE, KTAP_OK.replace("rslab-guest: done\n", ""), 124), 3)

    def test_gate_catches_each_class(self):
        reports = [
            "[   5.0] WARNING: CPU: 1 PID: 1 at mm/slub.c:1 foo+0x1/0x2",
            "[   5.0] BUG: KASAN: slab-use-after-free in bar",
            "[   5.0] Oops: general protection fault, probably for non-canonical address",
            "[   5.0] WARNING: possible circular locking dependency detected",
            "[   5.0] unreferenced object 0xffff888004a1b000 (size 64):",
            "[   5.0] rcu: INFO: rcu_preempt detected stalls on CPUs/tasks:",
            "[   5.0] watchdog: BUG: soft lockup - CPU#0 stuck for 22s!",
            "[   5.0] INFO: task kworker/0:1:10 blocked for more than 120 seconds.",
            "[   5.0] BUG: sleeping function called from invalid context at mm/slab.c:1",
            "[   5.0] rust_kernel: panicked at rslab/x.rs:1:1:",
            "[   5.0] rslab: cache \"keep\": 3 objects remaining at unload; freed with the cache",
        ]
        for r in reports:
            with self.subTest(report=r):
                self.assertEqual(self.run_verdict(CLEAN_CONSOLE + r + "\n", KTAP_OK), 2)

    def test_gate_ignores_benign_lines(self):
        benign = "[   1.0] Kernel command line: console=ttyS0 panic=-1 softlockup_panic=0\n" \
                 "[   1.0] kmemleak: Kernel memory leak detector initialized (mem pool available: 15711)\n" \
                 "[   1.0] DEBUG: nothing to see\n" \
                 "[   1.0] rslab: destroy \"st\": 5 objects still allocated\n"
        self.assertEqual(self.run_verdict(CLEAN_CONSOLE + benign, KTAP_OK), 0)

    def test_kunit_results_count(self):
        console = CLEAN_CONSOLE + (
            "[   1.5]     KTAP version 1\n"
            "[   1.5]     # Subtest: rust_kernel_fmt\n"
            "[   1.5]     ok 1 test_ptr_formatting\n"
            "[   1.5] ok 1 rust_kernel_fmt\n"
            "[   2.0]     KTAP version 1\n"
            "[   2.0]     # Subtest: rslab\n"
            "[   2.0]     1..2\n"
            "[   2.0]     ok 1 rslab_alloc_free\n"
            "[   2.0]     not ok 2 rslab_double_free\n"
            "[   2.0] not ok 1 rslab\n")
        t = verdict.Tally()
        verdict.parse_kunit(console.splitlines(), t)
        self.assertEqual((t.passed, t.failed), (1, 1))
        # A second load runs the suite again: each case still counts once, and a failure in
        # any run is a failure.
        again = console.replace("not ok 2 rslab_double_free", "ok 2 rslab_double_free") \
            .replace("ok 1 rslab_alloc_free", "not ok 1 rslab_alloc_free")
        t = verdict.Tally()
        verdict.parse_kunit((console + again).splitlines(), t)
        self.assertEqual((t.passed, t.failed), (0, 2))
        self.assertEqual(self.run_verdict(console, KTAP_OK), 1)

    def test_kunit_suites_of_both_modules_count_apart(self):
        # rslab.ko's rslab_kunit and rslab_test.ko's rslab_api, with a case name in common.
        console = CLEAN_CONSOLE + (
            "[   2.0]     # Subtest: rslab_kunit\n"
            "[   2.0]     ok 1 alloc_free\n"
            "[   2.0] ok 1 rslab_kunit\n"
            "[   3.0]     # Subtest: rslab_api\n"
            "[   3.0]     ok 1 alloc_free\n"
            "[   3.0]     not ok 2 destroy_busy\n"
            "[   3.0] not ok 1 rslab_api\n"
            "[   4.0]     # Subtest: other_suite\n"
            "[   4.0]     not ok 1 alloc_free\n")
        t = verdict.Tally()
        self.assertEqual(verdict.parse_kunit(console.splitlines(), t), 2)
        self.assertEqual((t.passed, t.failed), (2, 1))
        self.assertEqual(t.failures, ["kunit: rslab_api: destroy_busy"])


if __name__ == "__main__":
    unittest.main()
