# SPDX-License-Identifier: GPL-2.0
"""Unit tests of the shell harness (scripts/lib.sh): failures are never silent."""
import os
import re
import shutil
import subprocess
import sys
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

    def ksrc(self):
        """The kernel source setup.sh extracted (its kselftest machinery), or skip."""
        r = bash("ksrc_dir")
        path = r.stdout.strip()
        if r.returncode != 0 or not path:
            self.skipTest("no kernel source in the cache (scripts/setup.sh extracts it)")
        return path

    def test_every_selftest_is_installed(self):
        # selftests/Makefile's TEST_PROGS, installed by the kernel's kselftest install, is what
        # the guest runs (kselftest-list.txt): a selftest left out of it would never run, silently.
        top = os.path.join(os.path.dirname(LIB), "..")
        sel = os.path.join(top, "selftests")
        ksrc = self.ksrc()
        with tempfile.TemporaryDirectory() as d:
            r = bash(f'ksft_install "{ksrc}" "{d}/k"')
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            with open(os.path.join(d, "k", "kselftest-list.txt")) as f:
                listed = f.read().split()
            # What the tests and the runner use beside them, where the kernel's install puts it.
            for path in ("kselftest/runner.sh", "kselftest/ktap_helpers.sh", "cpu-hotplug/cpu-on-off-test.sh",
                         "memory-hotplug/mem-on-off-test.sh",
                         "rslab/rslab_lib.sh", "rslab/settings", "rslab/config"):
                self.assertTrue(os.path.isfile(os.path.join(d, "k", path)), path)
            for name in listed:
                self.assertTrue(os.access(os.path.join(d, "k", "rslab", name.split(":", 1)[1]), os.X_OK), name)
        tests = sorted(f for f in os.listdir(sel) if f.startswith("rslab_") and f.endswith(".sh")
                       and f != "rslab_lib.sh")
        self.assertTrue(all(t.startswith("rslab:") for t in listed), listed)
        self.assertEqual(sorted(t.split(":", 1)[1] for t in listed), tests)
        self.assertEqual(listed[0], "rslab:rslab_module.sh")

    def test_skip_all_exits_skip(self):
        # A test that prints KTAP's "1..0 # SKIP" plan must end there with KSFT_SKIP (4), or it
        # goes on to report results it said it would not, and the runner counts its exit status.
        sel = os.path.join(os.path.dirname(LIB), "..", "selftests")
        calls = 0
        for name in sorted(os.listdir(sel)):
            if not name.endswith(".sh"):
                continue
            with open(os.path.join(sel, name)) as f:
                text = f.read()
            for m in re.finditer(r"^[^#\n]*\bktap_skip_all\b[^;\n]*", text, re.M):
                calls += 1
                line = text.count("\n", 0, m.start()) + 1
                self.assertRegex(text[m.end():], r'^(;|\s*\n)\s*exit "?\$KSFT_SKIP"?(;|\s)',
                                 f"{name}:{line}: ktap_skip_all not followed by exit $KSFT_SKIP")
        self.assertGreater(calls, 0)

    def test_runner_ktap(self):
        # scripts/guest/runner.sh on the host, on a kselftest tree of stand-in tests: the kernel's
        # runner.sh runs them (settings timeout included), the filter and the extra collection
        # apply, and verdict.py reads the result.
        ksrc = self.ksrc()
        runner = os.path.join(os.path.dirname(LIB), "guest", "runner.sh")
        tests = {
            "rslab/a_pass.sh": "ktap_print_header; ktap_set_plan 2; ktap_test_pass one; ktap_test_pass two; ktap_finished",
            "rslab/b_skip.sh": 'ktap_print_header; ktap_skip_all "nothing to test"; exit "$KSFT_SKIP"',
            "rslab/c_fail.sh": "ktap_print_header; ktap_set_plan 1; ktap_test_fail one; ktap_finished",
            # bash's exit status for a syntax error is 2, kselftest's XFAIL: it must fail.
            "rslab/c_syntax.sh": "ktap_print_header; ktap_set_plan 2; ktap_test_pass one\nif then",
            "rslab/d_hang.sh": "sleep 30",
            "rslab/e_filtered.sh": "exit 1",
            "extra/x_extra.sh": "echo plain output; exit 0",
        }
        with tempfile.TemporaryDirectory() as d:
            shutil.copytree(os.path.join(ksrc, "tools/testing/selftests/kselftest"), os.path.join(d, "kselftest"))
            for sub in ("rslab", "extra"):
                os.mkdir(os.path.join(d, sub))
            with open(os.path.join(d, "rslab", "settings"), "w") as f:
                f.write("timeout=2\n")
            with open(os.path.join(d, "kselftest-list.txt"), "w") as f:
                for path, body in tests.items():
                    with open(os.path.join(d, path), "w") as t:
                        t.write("#!/bin/bash\n. ../kselftest/ktap_helpers.sh\n" + body + "\n")
                    os.chmod(os.path.join(d, path), 0o755)
                    f.write(path.replace("/", ":") + "\n")
            env = dict(os.environ, BASE_DIR=d, RSLAB_MODE="check", RSLAB_TEST_FILTER="^[a-d]_")
            r = subprocess.run(["bash", runner], capture_output=True, text=True, env=env, timeout=60, check=False)
            self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
            out = r.stdout.splitlines()
            self.assertNotIn("e_filtered", r.stdout)
            self.assertIn("ok 1 selftests: rslab: a_pass.sh", out)
            self.assertIn("ok 2 selftests: rslab: b_skip.sh # SKIP", out)
            self.assertIn("not ok 3 selftests: rslab: c_fail.sh # exit=1", out)
            self.assertIn("not ok 4 selftests: rslab: c_syntax.sh # exit=2", out)
            self.assertTrue(any(line.startswith("not ok 5 selftests: rslab: d_hang.sh # TIMEOUT") for line in out), out)
            self.assertIn("ok 6 selftests: extra: x_extra.sh", out)
            self.assertIn("# plain output", out)
            # The extra collection has no settings: the selftests' timeout, not kselftest's 45 s.
            self.assertEqual(out.count("# timeout set to 2"), 6, out)
            self.assertEqual(sum(1 for line in out if "guest_seconds=" in line), 6)
            sys.path.insert(0, os.path.dirname(LIB))
            import verdict
            t = verdict.Tally()
            planned, seen, _ = verdict.parse_ktap(out, t)
            self.assertEqual((planned, seen), (6, 6))
            # a_pass's two leaves, c_syntax's leaf and x_extra pass; b_skip skips; c_fail's leaf,
            # c_syntax (its exit status) and d_hang fail.
            self.assertEqual((t.passed, t.failed, t.skipped), (4, 3, 1), t.failures)

            # An `extra` run: the extra collection only, whatever the filter.
            env["RSLAB_MODE"] = "extra"
            r = subprocess.run(["bash", runner], capture_output=True, text=True, env=env, timeout=60, check=False)
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            self.assertIn("1..1", r.stdout.splitlines())
            self.assertIn("ok 1 selftests: extra: x_extra.sh", r.stdout.splitlines())

    def test_die_says_why(self):
        r = bash('die "the reason"')
        self.assertEqual(r.returncode, 1)
        self.assertIn("rslab: error: the reason", r.stderr)


if __name__ == "__main__":
    unittest.main()
