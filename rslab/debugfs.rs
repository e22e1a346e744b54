// SPDX-License-Identifier: GPL-2.0

//! rslab's debugfs files: `control` (commands), `info`, `slabinfo`, `reaper`, `hotplug`, and
//! each cache's `caches/<name>/stats`.
//!
//! Every file holds a reference (`Arc`) to what it shows, so none can outlive its data; their
//! removal waits for reads and writes in progress (see `sys/dbgfs.rs`).

use crate::{
    cache::Cache,
    cmd, info,
    registry::{
        Entry,
        Registry, //
    },
    sys::{
        dbgfs::{
            Command,
            DbgDir,
            DbgFile,
            Show,
            Store, //
        },
        topology, //
    },
};
use core::fmt;
use kernel::{
    page::PAGE_SIZE,
    prelude::*,
    sync::Arc,
    uaccess::UserSliceReader, //
};

/// What a read-only file of the registry prints.
type ShowFn = fn(&Registry, &mut fmt::Formatter<'_>) -> fmt::Result;

/// A read-only file of the registry: prints with `show`.
struct RegShow {
    reg: Arc<Registry>,
    show: ShowFn,
}

impl Show for RegShow {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        (self.show)(&self.reg, f)
    }
}

/// The `control` file.
struct Control(Arc<Registry>);

impl Store for Control {
    fn store(&self, reader: &mut UserSliceReader) -> Result {
        let input = Command::read(reader)?;
        let cmd = cmd::parse(input.bytes(), PAGE_SIZE).map_err(|e| {
            pr_debug!("control: refused ({:?})\n", e);
            EINVAL
        })?;
        self.0.execute(cmd)
    }
}

/// The files at the top of rslab's debugfs directory: the way in for commands.
pub(crate) struct Files {
    _control: Pin<KBox<DbgFile<Control>>>,
    _info: Pin<KBox<DbgFile<info::Info>>>,
    _shows: KVec<Pin<KBox<DbgFile<RegShow>>>>,
}

impl Files {
    /// Creates the files in `dir`, the control file last: no command can arrive before
    /// everything else is there.
    pub(crate) fn new(dir: &DbgDir, reg: &Arc<Registry>) -> Result<Self> {
        let mut shows = KVec::new();
        let table: [(&CStr, ShowFn); 3] = [
            (c"slabinfo", slabinfo),
            (c"reaper", |r, f| r.reapers.show(f)),
            (c"hotplug", show_hotplug),
        ];
        for (name, show) in table {
            let file = DbgFile::read_only(
                name,
                dir,
                RegShow {
                    reg: reg.clone(),
                    show,
                },
            )?;
            shows.push(file, GFP_KERNEL)?;
        }
        Ok(Self {
            _info: DbgFile::read_only(c"info", dir, info::Info)?,
            _shows: shows,
            _control: DbgFile::write_only(c"control", dir, Control(reg.clone()))?,
        })
    }
}

/// A cache's `stats` file.
pub(crate) struct CacheStats(pub(crate) Arc<Entry>);

impl Show for CacheStats {
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_stats(&self.0.cache, f)
    }
}

/// Writes `hotplug`: the hotplug events seen and what rslab did about them.
fn show_hotplug(r: &Registry, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let h = &r.hotplug;
    for (k, v) in [
        ("cpu_prepare", &h.cpu_prepare),
        ("cpu_dead", &h.cpu_dead),
        ("cpu_online", &h.cpu_online),
        ("cpu_offline", &h.cpu_offline),
        ("dead_drained_objects", &h.dead_drained),
        ("node_adding_first_memory", &h.node_adding_first),
        ("node_added_first_memory", &h.node_added_first),
        ("node_removing_last_memory", &h.node_removing_last),
        ("node_removed_last_memory", &h.node_removed_last),
        ("node_cancel", &h.node_cancel),
        ("node_structs_reused", &h.node_structs_reused),
        ("mem_going_offline", &h.mem_going_offline),
        ("mem_offline", &h.mem_offline),
        ("mem_going_online", &h.mem_going_online),
        ("mem_online", &h.mem_online),
        ("mem_cancel", &h.mem_cancel),
        ("flushed_for_offline", &h.flushed_for_offline),
        ("shrunk_for_offline", &h.shrunk_for_offline),
    ] {
        writeln!(f, "{} {}", k, v.get())?;
    }
    Ok(())
}

/// Writes `slabinfo`: `/proc/slabinfo` 2.1's first six columns, then rslab's own. A slab costs
/// its pages and nothing besides (its header is in its first `struct page`).
fn slabinfo(r: &Registry, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    writeln!(f, "slabinfo - version: 2.1 (rslab)")?;
    writeln!(
        f,
        "# name            <active_objs> <num_objs> <objsize> <objperslab> <pagesperslab> : rslab <stride> <align> <waste_per_slab> <debug> <slabs> <live>"
    )?;
    let caches = r.lock_caches();
    for l in caches.iter() {
        let c = &l.entry.cache;
        let l = &c.layout;
        let (mut total, mut free, mut slabs) = (0usize, 0usize, 0usize);
        for nid in 0..topology::nr_node_ids() {
            if let Some((lists, [t, fr])) = c.node_counts(nid) {
                total += t;
                free += fr;
                slabs += lists.iter().sum::<usize>();
            }
        }
        writeln!(
            f,
            "{:<17} {:>13} {:>10} {:>9} {:>12} {:>14} : rslab {} {} {} {} {} {}",
            c.name.as_str(),
            total - free,
            total,
            l.object_size,
            l.objects,
            1usize << l.order,
            l.stride,
            l.align,
            l.waste,
            u8::from(c.debug),
            slabs,
            c.live(),
        )?;
    }
    Ok(())
}

fn write_stats(c: &Cache, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    let [allocs, frees, refills, flushes, remote] = c.cpu_totals();
    let s = &c.stats;
    writeln!(f, "allocs {}", allocs + s.node_allocs.get())?;
    writeln!(f, "frees {}", frees + s.node_frees.get())?;
    writeln!(f, "cpu_refills {}", refills)?;
    writeln!(f, "cpu_flushes {}", flushes)?;
    writeln!(f, "remote_frees {}", remote)?;
    writeln!(f, "slabs_allocated {}", s.slabs_allocated.get())?;
    writeln!(f, "slabs_freed {}", s.slabs_freed.get())?;
    writeln!(f, "debug_errors {}", s.debug_errors.get())?;
    writeln!(f, "quarantined {}", s.quarantined.get())?;
    writeln!(f, "offline_drained {}", s.offline_drained.get())?;
    writeln!(f, "contended {}", s.contended.get())?;
    writeln!(f, "live {}", c.live())?;
    for nid in 0..topology::nr_node_ids() {
        if let Some(([p, fu, fr], [tot, free])) = c.node_counts(nid) {
            writeln!(f, "node{}_partial {}", nid, p)?;
            writeln!(f, "node{}_full {}", nid, fu)?;
            writeln!(f, "node{}_free {}", nid, fr)?;
            writeln!(f, "node{}_objects {}", nid, tot)?;
            writeln!(f, "node{}_free_objects {}", nid, free)?;
        }
    }
    Ok(())
}
