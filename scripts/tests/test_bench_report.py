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
# BENCHCSV footprint,256,mix,rslab,260.0,1048576,,,1
# BENCHCSV footprint,256,mix,slub,256,1048576,,,1
# BENCHCSV footprint,256,shrunk,rslab,250,1048576,,,1
# BENCHCSV footprint,256,shrunk,slub,256,1048576,,,1
# BENCHCSV dimm_offline,512,idle,rslab,120,,,,1
# BENCHCSV dimm_offline,512,holding,rslab,130,,,,1
ok 1 pair 64
"""
FLUSH = "# BENCHCSV flushlat,64,32,rslab,45000,40000,50000,,15\n"
# flush_all latency in both modes, rslab's and SLUB's: (mode, vCPUs) -> (rslab, slub) medians.
FLUSH2 = {("tcg", 2): (400000, 500000), ("tcg", 4): (600000, 800000),
          ("tcg-icount", 2): (100000, 150000), ("tcg-icount", 4): (180000, 290000),
          ("tcg-icount", 8): (340000, 570000)}
MODEL = """model,workload,size,n,alloc,cycles,raw_cycles,insns,irq,popf,rep
skylake,pair,64,,rslab,130.0,116.1,123.0,4.00,0.00,0.00
skylake,pair,64,,slub,92.0,92.0,138.0,0.00,0.00,0.00
skylake,batch,256,16,rslab,50.0,60.0,70.0,0.50,0.00,0.25
skylake,batch,256,16,slub,100.0,100.0,140.0,0.00,0.00,0.00
znver3,pair,64,,rslab,96.0,210.0,123.0,4.00,0.00,0.00
znver3,pair,64,,slub,71.0,71.0,138.0,0.00,0.00,0.00
znver3,cross,64,16,rslab,80.0,80.0,90.0,4.00,0.00,0.00
"""
CALIBRATION = """model,snippet,cycles,raw_cycles
skylake,local_irq_save/restore (popf),21.5,18.9
skylake,local_irq_disable/enable,7.4,200.0
znver3,local_irq_disable/enable,7.5,200.0
"""


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
        self.assertRegex(table, r"256\s+mix\s+260\.0\s+256\s+1\.016\s+>1\.0")
        self.assertRegex(table, r"256\s+shrunk\s+250\.0\s+256\s+0\.977\s+ok")
        self.assertIn("rslab idle: 120, rslab holding: 130", table)
        self.assertRegex(table, r"4\s+45\.0")
        self.assertEqual(rows, ["pair", "batch", "bulk", "footprint-mix", "footprint-shrunk", "dimm_offline-idle",
                                "dimm_offline-holding", "flushlat"])

    def test_flush_modes(self):
        with tempfile.TemporaryDirectory() as d:
            for (mode, cpus), (r, s) in FLUSH2.items():
                sub = os.path.join(d, f"guest-flush-{mode}-{cpus}")
                os.mkdir(sub)
                with open(os.path.join(sub, "ktap.log"), "w") as f:
                    f.write(f"# BENCHCSV flushlat,64,32,rslab,{r},{r - 10},{r + 10},,15\n"
                            f"# BENCHCSV flushlat,64,32,slub,{s},{s - 10},{s + 10},,15\n")
            with contextlib.redirect_stdout(io.StringIO()):
                rc = bench_report.main(d)
            with open(os.path.join(d, "table.txt")) as f:
                table = f.read()
            with open(os.path.join(d, "bench.csv")) as f:
                rows = [l.split(",") for l in f.read().splitlines()[1:]]
        self.assertIn(rc, (0, 1))
        self.assertIn("timing mode tcg:", table)
        self.assertIn("timing mode tcg-icount:", table)
        # vCPUs, rslab, (min..max), slub, (min..max), ratio, then the cost of each CPU added.
        self.assertRegex(table, r"\n\s+2\s+100\.0\s+\(100\.0\.\.100\.0\)\s+150\.0\s+\(150\.0\.\.150\.0\)\s+0\.67\s+-\s+-")
        self.assertRegex(table, r"\n\s+4\s+180\.0\s+\S+\s+290\.0\s+\S+\s+0\.62\s+40\.0\s+70\.0")
        self.assertRegex(table, r"\n\s+8\s+340\.0\s+\S+\s+570\.0\s+\S+\s+0\.60\s+40\.0\s+70\.0")
        self.assertRegex(table, r"\n\s+4\s+600\.0\s+\S+\s+800\.0\s+\S+\s+0\.75\s+100\.0\s+150\.0")
        self.assertEqual(sorted((r[0], r[3], r[4], r[8], r[12]) for r in rows),
                         [("tcg", "2", "400000.0", "500000.0", "0.800"), ("tcg", "4", "600000.0", "800000.0", "0.750"),
                          ("tcg-icount", "2", "100000.0", "150000.0", "0.667"),
                          ("tcg-icount", "4", "180000.0", "290000.0", "0.621"),
                          ("tcg-icount", "8", "340000.0", "570000.0", "0.596")])

    def test_floor(self):
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "guest-tcg"))
            with open(os.path.join(d, "guest-tcg", "ktap.log"), "w") as f:
                f.write(KTAP.replace("pair,64,2000,rslab,20.5", "pair,64,2000,rslab,1.5"))
            with contextlib.redirect_stdout(io.StringIO()):
                self.assertEqual(bench_report.main(d), 1)
            with open(os.path.join(d, "table.txt")) as f:
                self.assertIn("SANITY FAILURE", f.read())


    def cycles(self, model_csv):
        """bench_report.main on a directory holding only the cost model's files: (status, table.txt,
        cycles.csv's lines)."""
        with tempfile.TemporaryDirectory() as d:
            os.mkdir(os.path.join(d, "trace"))
            for name, text in (("model.csv", model_csv), ("calibration.csv", CALIBRATION)):
                with open(os.path.join(d, "trace", name), "w") as f:
                    f.write(text)
            with contextlib.redirect_stdout(io.StringIO()):
                rc = bench_report.main(d)
            with open(os.path.join(d, "table.txt")) as f:
                table = f.read()
            with open(os.path.join(d, "cycles.csv")) as f:
                rows = f.read().splitlines()
        return rc, table, rows

    def test_cycles(self):
        rc, table, rows = self.cycles(MODEL)
        self.assertIn(rc, (0, 1))
        self.assertNotIn("SANITY FAILURE", table)
        # Calibration: estimate (raw) per model, next to the measured figure.
        self.assertRegex(table, r"local_irq_disable/enable\s+7\.4 \(200\)\s+7\.5 \(200\)\s+7 \(Brouer")
        self.assertRegex(table, r"local_irq_save/restore \(popf\)\s+21\.5 \(19\)\s+-\s+37 \(Brouer")
        self.assertIn("42 cycles measured (Brouer", table)
        self.assertIn("popf: ~40 cycles measured", table)
        self.assertRegex(table, r"skylake\s+pair\s+64\s+-\s+130\.0\s+92\.0\s+1\.41\s+116\.1")
        self.assertRegex(table, r"skylake\s+batch\s+256\s+16\s+50\.0\s+100\.0\s+0\.50.*0\.50/0\.00\s+0\.00/0\.00\s+0\.25/0\.00")
        # A row with one allocator only (znver3 cross) is left out.
        self.assertEqual(rows, ["model,workload,size,n,rslab_cycles,slub_cycles,ratio",
                                "skylake,pair,64,,130.0,92.0,1.413",
                                "skylake,batch,256,16,50.0,100.0,0.500",
                                "znver3,pair,64,,96.0,71.0,1.352"])

    def test_cycles_floor(self):
        rc, table, _ = self.cycles(MODEL.replace("skylake,pair,64,,slub,92.0", "skylake,pair,64,,slub,2.0"))
        self.assertEqual(rc, 1)
        self.assertIn("SANITY FAILURE: cycles skylake pair 64", table)

    def test_no_cost_model(self):
        with tempfile.TemporaryDirectory() as d:
            with contextlib.redirect_stdout(io.StringIO()):
                bench_report.main(d)
            self.assertFalse(os.path.exists(os.path.join(d, "cycles.csv")))


if __name__ == "__main__":
    unittest.main()
