// SPDX-License-Identifier: GPL-2.0

//! debugfs directories and files whose `file_operations` name rslab as their owner.
//!
//! `kernel::debugfs` (7.3) builds its `file_operations` with no `.owner`. debugfs' full proxy
//! takes a reference on `real_fops->owner` when a file is opened (`fops_get()` in
//! `full_proxy_open_regular()`, `fs/debugfs/file.c`) and drops it in `full_proxy_release()`
//! after calling `real_fops->release`. With no owner, an open file does not pin the module: after
//! `rmmod`, closing it calls a `release` pointer read from the unloaded module's `.rodata`, and
//! the kernel oopses in `full_proxy_release`. C users set `.owner = THIS_MODULE`, which makes
//! `rmmod` fail while a file is open (`delete_module()` sees a non-zero module refcount:
//! `EWOULDBLOCK` with `O_NONBLOCK`, as rmmod asks); this file does the same for rslab.
//!
//! The upstream fix belongs in `rust/kernel/debugfs/file_ops.rs`: build the operations with
//! `owner: THIS_MODULE` of the calling module (as `miscdevice.rs` does with
//! `this_module::<T::OwnerModule>()`), e.g. by making `FileOps` generic over a
//! `ModuleMetadata` type that `Dir::new` and friends take. See `Documentation/rslab.rst`.
//!
//! Files are `single_open()` seq files: reads print with [`Show`], writes go to [`Store`].
//! Removing a file (dropping it) waits for reads and writes in progress: debugfs' proxy
//! brackets each of them with `debugfs_file_get()`/`debugfs_file_put()`, and
//! `debugfs_remove()` waits for those; a file still open afterwards gets `EIO`.

use core::{
    ffi::c_void,
    marker::PhantomPinned,
    pin::Pin, //
};
use kernel::{
    bindings,
    error::from_err_ptr,
    ffi::{
        c_char,
        c_int, //
    },
    fmt,
    prelude::*,
    seq_file::SeqFile,
    seq_print,
    uaccess::{
        UserPtr,
        UserSlice,
        UserSliceReader, //
    },
};

/// What a readable file prints.
pub(crate) trait Show: Sync {
    /// Writes the file's contents.
    fn show(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result;
}

/// What a writable file does with a write.
pub(crate) trait Store: Sync {
    /// Takes one `write(2)`; its bytes are in `reader`.
    fn store(&self, reader: &mut UserSliceReader) -> Result;
}

/// Longest command a control file accepts in one write.
pub(crate) const COMMAND_MAX: usize = 256;

/// One write to a control file, as a command: its bytes, or `EINVAL` if it is empty or longer
/// than [`COMMAND_MAX`].
pub(crate) struct Command {
    buf: [u8; COMMAND_MAX],
    len: usize,
}

impl Command {
    /// Reads the whole write from `reader`.
    pub(crate) fn read(reader: &mut UserSliceReader) -> Result<Self> {
        let len = reader.len();
        if len == 0 || len > COMMAND_MAX {
            return Err(EINVAL);
        }
        let mut buf = [0u8; COMMAND_MAX];
        reader.read_slice(&mut buf[..len])?;
        Ok(Self { buf, len })
    }

    /// The bytes written.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

/// A debugfs directory, removed (with anything left in it) on drop.
///
/// # Invariants
///
/// `dentry` is a directory this value created and has not removed.
pub(crate) struct DbgDir {
    dentry: *mut bindings::dentry,
}

// SAFETY: a `dentry` may be used and removed from any thread; debugfs serialises itself.
unsafe impl Send for DbgDir {}
// SAFETY: shared access only creates children, which debugfs serialises.
unsafe impl Sync for DbgDir {}

impl DbgDir {
    /// Creates directory `name` under `parent` (the debugfs root if `None`). Fails with the
    /// kernel's error, e.g. `EEXIST` if the name is taken.
    pub(crate) fn new(name: &CStr, parent: Option<&DbgDir>) -> Result<Self> {
        let parent = parent.map_or(core::ptr::null_mut(), |p| p.dentry);
        // SAFETY: `name` is a C string; `parent` is null or a live directory (invariant).
        let dentry =
            from_err_ptr(unsafe { bindings::debugfs_create_dir(name.as_char_ptr(), parent) })?;
        // INVARIANT: created just now, not removed.
        Ok(Self { dentry })
    }
}

impl Drop for DbgDir {
    fn drop(&mut self) {
        // SAFETY: a live directory of ours (invariant), removed once.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// A debugfs file backed by `data`, removed on drop.
///
/// # Invariants
///
/// `dentry` is a file this value created with `i_private == &self.data` and operations for `T`
/// ([`Ops`]); it is removed before `data` is dropped, and `self` never moves (pinned).
#[pin_data(PinnedDrop)]
pub(crate) struct DbgFile<T: Sync> {
    dentry: *mut bindings::dentry,
    data: T,
    #[pin]
    _pin: PhantomPinned,
}

// SAFETY: the dentry may be removed from any thread; `T` is `Sync` and only shared through it.
unsafe impl<T: Sync + Send> Send for DbgFile<T> {}
// SAFETY: shared access is to `data` only, which is `Sync`.
unsafe impl<T: Sync> Sync for DbgFile<T> {}

impl<T: Sync> DbgFile<T> {
    fn create(
        name: &CStr,
        parent: &DbgDir,
        data: T,
        fops: &'static Ops<T>,
    ) -> Result<Pin<KBox<Self>>> {
        let mut file = KBox::pin_init(
            pin_init!(Self {
                dentry: core::ptr::null_mut(),
                data,
                _pin: PhantomPinned,
            }),
            GFP_KERNEL,
        )?;
        let private = core::ptr::from_ref(&file.data).cast_mut().cast::<c_void>();
        // SAFETY: `name` is a C string, `parent` a live directory; `private` points to `T`,
        // pinned in `file`, which removes the file before dropping it; `fops` are the
        // operations for a `T` behind `i_private` ([`Ops`]) and are static.
        let dentry = from_err_ptr(unsafe {
            bindings::debugfs_create_file_full(
                name.as_char_ptr(),
                fops.mode,
                parent.dentry,
                private,
                core::ptr::null(),
                &fops.fops,
            )
        })?;
        // `dentry` is not structurally pinned: the projection hands it out.
        *file.as_mut().project().dentry = dentry;
        // INVARIANT: the file is created with `i_private == &data` and is removed in `drop`.
        Ok(file)
    }
}

impl<T: Show + 'static> DbgFile<T> {
    /// A read-only (0400) file printing `data`.
    pub(crate) fn read_only(name: &CStr, parent: &DbgDir, data: T) -> Result<Pin<KBox<Self>>> {
        Self::create(name, parent, data, &<T as ReadOps>::OPS)
    }
}

impl<T: Store + 'static> DbgFile<T> {
    /// A write-only (0200) file handing each write to `data`.
    pub(crate) fn write_only(name: &CStr, parent: &DbgDir, data: T) -> Result<Pin<KBox<Self>>> {
        Self::create(name, parent, data, &<T as WriteOps>::OPS)
    }
}

#[pinned_drop]
impl<T: Sync> PinnedDrop for DbgFile<T> {
    fn drop(self: Pin<&mut Self>) {
        // SAFETY: the file is live (invariant); removal waits for readers and writers in
        // progress, so `data` is unused once it returns.
        unsafe { bindings::debugfs_remove(self.dentry) };
    }
}

/// `file_operations` for files whose inode's `i_private` points to a `T`, owned by rslab.
///
/// # Invariants
///
/// `fops` are safe to use for a debugfs file whose `i_private` points to a live `T` that
/// outlives the file's removal.
pub(crate) struct Ops<T> {
    fops: bindings::file_operations,
    mode: u16,
    _t: core::marker::PhantomData<T>,
}

// SAFETY: a table of function pointers and constants, never written after construction.
unsafe impl<T> Sync for Ops<T> {}

/// The module whose reference an open file holds.
const OWNER: *mut bindings::module = kernel::module::this_module::<crate::LocalModule>().as_ptr();

struct ShowAdapter<'a, T>(&'a T);

impl<T: Show> fmt::Display for ShowAdapter<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.show(f)
    }
}

/// `single_open()`'s show callback.
///
/// # Safety
///
/// `seq` must be a live `seq_file` opened by [`open_read`], whose `private` points to a live `T`.
unsafe extern "C" fn show<T: Show>(seq: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: `private` is the `T` of the file (caller's contract), shared only.
    let data = unsafe { &*(*seq).private.cast::<T>() };
    // SAFETY: a live `seq_file`, used by this thread only during the callback.
    let seq = unsafe { SeqFile::from_raw(seq) };
    seq_print!(seq, "{}", ShowAdapter(data));
    0
}

/// The show callback of files that are only written: `single_open()` needs one.
///
/// # Safety
///
/// None beyond the C signature: it touches nothing.
unsafe extern "C" fn show_nothing(_seq: *mut bindings::seq_file, _v: *mut c_void) -> c_int {
    0
}

/// `open` of a write-only file: a `single_open()` seq file (printing nothing) whose `private`
/// is the inode's `i_private`, where [`write`] finds it.
///
/// # Safety
///
/// Called by the VFS (through debugfs' proxy) with a live inode of a file made by
/// [`DbgFile::create`] and a file being opened.
unsafe extern "C" fn open_write(inode: *mut bindings::inode, file: *mut bindings::file) -> c_int {
    // SAFETY: a live inode (caller's contract).
    let data = unsafe { (*inode).i_private };
    // SAFETY: `file` is being opened; `show_nothing` does not touch `data`.
    unsafe { bindings::single_open(file, Some(show_nothing), data) }
}

/// `write`: hands the user's bytes to [`Store::store`].
///
/// # Safety
///
/// Called by the VFS with a file opened by [`open_write`] (its `private_data` is a `seq_file`
/// whose `private` points to a live `T`) and a user buffer of `count` bytes.
unsafe extern "C" fn write<T: Store>(
    file: *mut bindings::file,
    buf: *const c_char,
    count: usize,
    _ppos: *mut bindings::loff_t,
) -> isize {
    // SAFETY: opened by `open_write`: `private_data` is the `seq_file`, whose `private` is the `T`.
    let data = unsafe {
        let seq = (*file).private_data.cast::<bindings::seq_file>();
        &*(*seq).private.cast::<T>()
    };
    let mut reader = UserSlice::new(UserPtr::from_ptr(buf.cast_mut().cast()), count).reader();
    match data.store(&mut reader) {
        Ok(()) => count as isize,
        Err(e) => e.to_errno() as isize,
    }
}

/// Seq-file operations owned by rslab: `open`, and `read` or `write`.
const fn seq_fops(
    open: OpenFn,
    readable: bool,
    write: Option<WriteFn>,
) -> bindings::file_operations {
    bindings::file_operations {
        owner: OWNER,
        open: Some(open),
        read: if readable {
            Some(bindings::seq_read)
        } else {
            None
        },
        write,
        llseek: Some(bindings::seq_lseek),
        release: Some(bindings::single_release),
        ..pin_init::zeroed()
    }
}

type OpenFn = unsafe extern "C" fn(*mut bindings::inode, *mut bindings::file) -> c_int;
type WriteFn =
    unsafe extern "C" fn(*mut bindings::file, *const c_char, usize, *mut bindings::loff_t) -> isize;

/// Operations of a read-only file of `Self`.
pub(crate) trait ReadOps: Show + Sized {
    const OPS: Ops<Self>;
}

impl<T: Show> ReadOps for T {
    // INVARIANT: `open_read` passes `i_private` to `single_open`, and `show` reads it as a `T`;
    // the rest are the stock seq-file operations.
    const OPS: Ops<T> = Ops {
        fops: seq_fops(open_read::<T>, true, None),
        mode: 0o400,
        _t: core::marker::PhantomData,
    };
}

/// Operations of a write-only file of `Self`.
pub(crate) trait WriteOps: Store + Sized {
    const OPS: Ops<Self>;
}

impl<T: Store> WriteOps for T {
    // INVARIANT: `open_write` makes a seq file with `private == i_private`; `write` reads it as
    // a `T`.
    const OPS: Ops<T> = Ops {
        fops: seq_fops(open_write, false, Some(write::<T>)),
        mode: 0o200,
        _t: core::marker::PhantomData,
    };
}

/// `open` of a readable file: `single_open()` with [`show`].
///
/// # Safety
///
/// Called by the VFS (through debugfs' proxy) with a file being opened and a live inode of a
/// file made by [`DbgFile::create`]: its `i_private` points to a live `T`.
unsafe extern "C" fn open_read<T: Show>(
    inode: *mut bindings::inode,
    file: *mut bindings::file,
) -> c_int {
    // SAFETY: a live inode (caller's contract).
    let data = unsafe { (*inode).i_private };
    // SAFETY: `file` is being opened; `show::<T>` reads `data` as the `T` it is.
    unsafe { bindings::single_open(file, Some(show::<T>), data) }
}
