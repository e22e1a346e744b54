# SPDX-License-Identifier: GPL-2.0
#
# rslab: developer entry points. The module itself is built by Kbuild (see ./Kbuild):
#   make                 build rslab.ko against the cached test kernel (or KDIR=<build tree>),
#                        then the sample client samples/rslab_client against its exports
#   make run             boot the test kernel, load rslab, run a demo workload, unload
#   make check           host unit tests + in-guest selftests + kernel-log gate (what CI runs)
#   make soak            the long run: 10,000 CPU transitions, 1,000 memory block cycles, 10,000
#                        cache create/destroy, 1,000 injected faults, more topologies (~75 min)
#   make bench           rslab vs SLUB on the perf kernel: table, CSV and PNG in out/bench/
#   make setup           install the toolchain only (idempotent)
#   make kernel          build (or reuse) the test kernel only
#   make fmt / clippy    rustfmt with the kernel's .rustfmt.toml / CLIPPY=1 build
# Knobs are environment variables; README.md lists them.

SHELL := /bin/bash
export RSLAB_TOP := $(CURDIR)

.PHONY: all module run check soak bench setup kernel host-test fmt fmt-check clippy clean

all: module

module:
	@scripts/module.sh

run:
	@scripts/run.sh run

check:
	@scripts/check.sh

soak:
	@scripts/soak.sh

bench:
	@scripts/bench.sh

setup:
	@scripts/setup.sh

kernel:
	@scripts/setup.sh && scripts/kernel.sh

host-test:
	@cd hosted && cargo test --quiet

fmt:
	@scripts/module.sh fmt

fmt-check:
	@scripts/module.sh fmt-check

clippy:
	@CLIPPY=1 scripts/module.sh

clean:
	rm -rf out hosted/target
	rm -f *.o *.ko *.mod *.mod.c *.mod.o .*.cmd modules.order Module.symvers rslab/*.o .*.d .module-common.o
	rm -f rslab/.*.cmd rslab_test/*.o rslab_test/.*.cmd
	cd samples/rslab_client && rm -f *.o *.ko *.mod *.mod.c .*.cmd .*.d modules.order Module.symvers \
		.module-common.o
