#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# make run's guest program: load rslab, show what it reports, unload. Prints KTAP so the host's
# verdict can tell a working demonstration from a broken one.
DBG=/sys/kernel/debug/rslab
echo "TAP version 13"
echo "1..1"
ok=1
echo "# guest: $(nproc) CPUs online; nodes: $(ls -d /sys/devices/system/node/node* | sed 's|.*/||' | tr '\n' ' ')"
insmod /rslab/rslab.ko || ok=0
if [ $ok = 1 ]; then
	for f in "$DBG"/*; do
		[ -f "$f" ] && [ -r "$f" ] || continue
		echo "# ---- $f"
		sed 's/^/# /' "$f"
	done
	grep rslab /proc/modules | sed 's/^/# module: /'
	rmmod rslab || ok=0
	[ -e "$DBG" ] && ok=0
fi
if [ $ok = 1 ]; then echo "ok 1 rslab demo: load, report, unload"; else echo "not ok 1 rslab demo"; fi
