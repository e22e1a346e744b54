# SPDX-License-Identifier: GPL-2.0
"""Unit tests of the shell harness (scripts/lib.sh): failures are never silent."""
import os
import subprocess
import tempfile
import unittest

LIB = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "lib.sh")


def bash(script, cwd=None):
    """Runs `script` under `set -euo pipefail` with lib.sh sourced, as the harness does."""
    return subprocess.run(
        ["bash", "-c", 'set -euo pipefail; . "$0"; ' + script, LIB],
        capture_output=True, text=True, cwd=cwd, check=False)


class HarnessTest(unittest.TestCase):
    def test_non_executable_last_file(self):
        # The RSLAB_EXTRA_TESTS case: tests plus a helper that is not executable and sorts last.
        with tempfile.TemporaryDirectory() as d:
            for name, mode in (("a_test.sh", 0o755), ("b_test.sh", 0o755),
                               ("zz-helper.sh", 0o644)):
                path = os.path.join(d, name)
                with open(path, "w") as f:
                    f.write("true\n")
                os.chmod(path, mode)
            os.mkdir(os.path.join(d, "zz_dir"))
            r = bash('list_executables "$1"; echo went-on'.replace("$1", d))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(r.stdout.split(), ["a_test.sh", "b_test.sh", "went-on"])

    def test_failure_is_named(self):
        r = bash("echo start; false; echo unreachable")
        self.assertNotEqual(r.returncode, 0)
        self.assertNotIn("unreachable", r.stdout)
        self.assertIn("rslab: error:", r.stderr)
        self.assertIn("`false` failed (exit 1)", r.stderr)

    def test_failure_in_function_is_named(self):
        r = bash("f() { ls /nonexistent-rslab-dir >/dev/null; }; f; echo unreachable")
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("rslab: error:", r.stderr)
        self.assertIn("ls /nonexistent-rslab-dir", r.stderr)

    def test_checked_failures_stay_quiet(self):
        # `set +e` regions and conditions check statuses themselves: no message.
        r = bash("set +e; false; rc=$?; set -e; if ! false; then :; fi; echo rc=$rc")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout.strip(), "rc=1")
        self.assertEqual(r.stderr, "")

    def test_every_selftest_is_installed(self):
        # selftests/Makefile's TEST_PROGS is what the guest runs: a selftest left out of it
        # would never run, silently.
        top = os.path.join(os.path.dirname(LIB), "..")
        sel = os.path.join(top, "selftests")
        with tempfile.TemporaryDirectory() as d:
            ksft = os.path.join(d, "ksft")
            for sub, name in (("kselftest", "ktap_helpers.sh"), ("cpu-hotplug", "cpu-on-off-test.sh")):
                os.makedirs(os.path.join(ksft, sub))
                open(os.path.join(ksft, sub, name), "w").close()
            inst = os.path.join(d, "k", "rslab")
            r = subprocess.run(["make", "-s", "-C", sel, "install", f"INSTALL_PATH={inst}", f"KSFT_SRC={ksft}"],
                               capture_output=True, text=True, check=False)
            self.assertEqual(r.returncode, 0, r.stderr)
            with open(os.path.join(inst, "tests.list")) as f:
                listed = f.read().split()
        tests = sorted(f for f in os.listdir(sel) if f.startswith("rslab_") and f.endswith(".sh")
                       and f != "rslab_lib.sh")
        self.assertEqual(sorted(listed), tests)
        self.assertEqual(listed[0], "rslab_module.sh")

    def test_die_says_why(self):
        r = bash('die "the reason"')
        self.assertEqual(r.returncode, 1)
        self.assertIn("rslab: error: the reason", r.stderr)


if __name__ == "__main__":
    unittest.main()
