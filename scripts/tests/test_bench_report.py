# SPDX-License-Identifier: GPL-2.0
"""Unit tests of scripts/bench_report.py on a synthetic make bench output: every kind of row the
guest program prints reaches the table and bench.csv."""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import bench_report  # noqa: E402

KTAP = """# BENCHMODE cpus=4 console=ttyS0
# BENCHCSV pair,64,2000,rslab,20.5,19,30,41,15
# BENCHCSV pair,64,2000,slub,25.0,24,40,50,15
# BENCHCSV batch,256,16,rslab,30.0,29,35,60,15
# BENCHCSV batch,256,16,slub,30.0,28,33,60,15
# BENCHCSV bulk,256,16,rslab,20.0,19,25,40,15
# BENCHCSV bulk,256,16,slub,22.0,21,26,44,15
# BENCHCSV footprint,256,mix,rslab,260,1048576,,,1
# BENCHCSV footprint,256,mix,slub,256,1048576,,,1
# BENCHCSV footprint,256,shrunk,rslab,250,1048576,,,1
# BENCHCSV footprint,256,shrunk,slub,256,1048576,,,1
# BENCHCSV dimm_offline,512,idle,rslab,120,,,,1
# BENCHCSV dimm_offline,512,holding,rslab,130,,,,1
ok 1 pair 64
"""
FLUSH = "# BENCHCSV flushlat,64,32,rslab,45000,40000,50000,,15\n"


class BenchReportTest(unittest.TestCase):
    def test_rows_reach_the_table(self):
        with tempfile.TemporaryDirectory() as d:
            for sub, text in (("guest-tcg", KTAP), ("guest-flush-4", FLUSH)):
                os.mkdir(os.path.join(d, sub))
                with open(os.path.join(d, sub, "ktap.log"), "w") as f:
                    f.write(text)
            with contextlib.redirect_stdout(io.StringIO()):
                rc = bench_report.main(d)
            with open(os.path.join(d, "table.txt")) as f:
                table = f.read()
            with open(os.path.join(d, "bench.csv")) as f:
                rows = [l.split(",")[1] for l in f.read().splitlines()[1:]]
        # 1 only for a missing matplotlib (no bench.png); no figure is below the floor.
        self.assertIn(rc, (0, 1))
        self.assertNotIn("SANITY FAILURE", table)
        self.assertRegex(table, r"pair\s+64\s+-\s+20\.5")
        self.assertRegex(table, r"batch\s+256\s+16\s+30\.0")
        self.assertRegex(table, r"bulk\s+256\s+16\s+20\.0.*0\.91\s+ok")
        self.assertIn("bulk against single calls (batch), ns per object: 256/16: 20.0 vs 30.0", table)
        self.assertRegex(table, r"256\s+mix\s+260\s+256\s+1\.02")
        self.assertRegex(table, r"256\s+shrunk\s+250\s+256\s+0\.98")
        self.assertIn("rslab idle: 120, rslab holding: 130", table)
        self.assertRegex(table, r"4\s+45\.0")
        self.assertEqual(rows, ["pair", "batch", "bulk", "footprint-mix", "footprint-shrunk", "dimm_offline-idle",
                                "dimm_offline-holding", "flushlat"])

    def test_floor(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "guest-tcg"))
            with open(os.path.join(d, "guest-tcg", "ktap.log"), "w") as f:
                f.write(KTAP.replace("pair,64,2000,rslab,20.5", "pair,64,2000,rslab,1.5"))
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(bench_report.main(d), 1)
            with open(os.path.join(d, "table.txt")) as f:
                self.assertIn("SANITY FAILURE", f.read())


if __name__ == "__main__":
    unittest.main()
