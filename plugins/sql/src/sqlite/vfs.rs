//! A read-only SQLite VFS over the host's input view.
//!
//! The plugin has no filesystem: the database is a byte range the host
//! hands over (`io.input`). This VFS, registered once as `runtime-input`,
//! opens names that [`register`] mapped to a [`ByteSource`] and serves
//! `xRead` from it through a small read-ahead block, so SQLite's page reads
//! become few large host calls. Databases are opened with `immutable=1`:
//! no locks, no journal, no `-wal`/`-shm` files; every write fails.

use rusqlite::ffi;
use std::cell::RefCell;
use std::collections::HashMap;
use std::ffi::{CStr, c_char, c_int, c_void};
use std::rc::Rc;
use std::sync::Once;
use std::sync::atomic::{AtomicU64, Ordering};

/// Random-access bytes of a database file.
pub trait ByteSource {
    fn size(&self) -> u64;
    /// Up to `len` bytes at `offset` (fewer only at the end).
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String>;
}

impl ByteSource for Vec<u8> {
    fn size(&self) -> u64 {
        self.len() as u64
    }
    fn read_at(&self, offset: u64, len: usize) -> Result<Vec<u8>, String> {
        let start = (offset as usize).min(self.len());
        let end = start.saturating_add(len).min(self.len());
        Ok(self[start..end].to_vec())
    }
}

/// The VFS name to pass to `sqlite3_open_v2`.
pub const VFS_NAME: &CStr = c"runtime-input";

/// Bytes fetched from the host per miss.
const READ_AHEAD: usize = 1 << 20;

thread_local! {
    /// Sources by file name. SQLite calls the VFS on the thread that opened
    /// the connection (the bundled build has no worker threads), so a
    /// thread-local map is enough and sources need not be `Send`.
    static SOURCES: RefCell<HashMap<String, Rc<dyn ByteSource>>> = RefCell::new(HashMap::new());
    /// The last read error, to report instead of SQLite's generic I/O error.
    static LAST_ERROR: RefCell<Option<String>> = const { RefCell::new(None) };
}

/// A name registered with the VFS; unregistered on drop.
pub struct Registration {
    name: String,
}

impl Registration {
    /// The SQLite URI opening the source read-only and immutable.
    pub fn uri(&self) -> String {
        format!("file:{}?immutable=1", self.name)
    }
}

impl Drop for Registration {
    fn drop(&mut self) {
        SOURCES.with(|s| s.borrow_mut().remove(&self.name));
    }
}

/// Makes `source` openable under a fresh name; registers the VFS on first use.
pub fn register(source: Rc<dyn ByteSource>) -> Registration {
    static REGISTER: Once = Once::new();
    REGISTER.call_once(|| {
        let vfs = Box::leak(Box::new(ffi::sqlite3_vfs {
            iVersion: 1,
            szOsFile: size_of::<File>() as c_int,
            mxPathname: 512,
            pNext: std::ptr::null_mut(),
            zName: VFS_NAME.as_ptr(),
            pAppData: std::ptr::null_mut(),
            xOpen: Some(x_open),
            xDelete: Some(x_delete),
            xAccess: Some(x_access),
            xFullPathname: Some(x_full_pathname),
            xDlOpen: None,
            xDlError: None,
            xDlSym: None,
            xDlClose: None,
            xRandomness: Some(x_randomness),
            xSleep: Some(x_sleep),
            xCurrentTime: Some(x_current_time),
            xGetLastError: Some(x_get_last_error),
            xCurrentTimeInt64: None,
            xSetSystemCall: None,
            xGetSystemCall: None,
            xNextSystemCall: None,
        }));
        // SAFETY: `vfs` is leaked, so it outlives every connection.
        let rc = unsafe { ffi::sqlite3_vfs_register(vfs, 0) };
        assert_eq!(rc, ffi::SQLITE_OK, "registering the input VFS failed");
    });
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!("input-{}", NEXT.fetch_add(1, Ordering::Relaxed));
    SOURCES.with(|s| s.borrow_mut().insert(name.clone(), source));
    Registration { name }
}

/// Takes the last read error recorded by the VFS on this thread.
pub fn take_last_error() -> Option<String> {
    LAST_ERROR.with(|e| e.borrow_mut().take())
}

/// An open file: SQLite allocates `szOsFile` bytes and we write this into
/// them in `xOpen`; `xClose` drops it in place.
#[repr(C)]
struct File {
    base: ffi::sqlite3_file,
    source: Rc<dyn ByteSource>,
    size: u64,
    block: Vec<u8>,
    block_offset: u64,
}

static IO_METHODS: ffi::sqlite3_io_methods = ffi::sqlite3_io_methods {
    iVersion: 1,
    xClose: Some(x_close),
    xRead: Some(x_read),
    xWrite: Some(x_write),
    xTruncate: Some(x_truncate),
    xSync: Some(x_sync),
    xFileSize: Some(x_file_size),
    xLock: Some(x_lock),
    xUnlock: Some(x_lock),
    xCheckReservedLock: Some(x_check_reserved_lock),
    xFileControl: Some(x_file_control),
    xSectorSize: Some(x_sector_size),
    xDeviceCharacteristics: Some(x_device_characteristics),
    xShmMap: None,
    xShmLock: None,
    xShmBarrier: None,
    xShmUnmap: None,
    xFetch: None,
    xUnfetch: None,
};

unsafe extern "C" fn x_open(
    _vfs: *mut ffi::sqlite3_vfs,
    name: ffi::sqlite3_filename,
    file: *mut ffi::sqlite3_file,
    flags: c_int,
    out_flags: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes a file buffer of `szOsFile` bytes.
    unsafe { (*file).pMethods = std::ptr::null() };
    if name.is_null() || flags & ffi::SQLITE_OPEN_MAIN_DB == 0 {
        // Temporary files and journals: nothing to open (temp_store=memory).
        return ffi::SQLITE_CANTOPEN;
    }
    // SAFETY: a non-null name is a NUL-terminated string.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    let Some(source) = SOURCES.with(|s| s.borrow().get(name.as_ref()).cloned()) else {
        return ffi::SQLITE_CANTOPEN;
    };
    let size = source.size();
    let f = File {
        base: ffi::sqlite3_file { pMethods: &IO_METHODS },
        source,
        size,
        block: Vec::new(),
        block_offset: 0,
    };
    // SAFETY: the buffer is `size_of::<File>()` bytes, suitably aligned by
    // SQLite's allocator, and uninitialized.
    unsafe {
        std::ptr::write(file.cast::<File>(), f);
        if !out_flags.is_null() {
            *out_flags = ffi::SQLITE_OPEN_READONLY;
        }
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_close(file: *mut ffi::sqlite3_file) -> c_int {
    // SAFETY: only files opened by `x_open` have these methods.
    unsafe { std::ptr::drop_in_place(file.cast::<File>()) };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_read(
    file: *mut ffi::sqlite3_file,
    buf: *mut c_void,
    amount: c_int,
    offset: i64,
) -> c_int {
    // SAFETY: `file` was initialized by `x_open`; `buf` holds `amount` bytes.
    let (f, out) = unsafe {
        (&mut *file.cast::<File>(), std::slice::from_raw_parts_mut(buf.cast::<u8>(), amount as usize))
    };
    let offset = offset as u64;
    let end = offset + out.len() as u64;
    let block_end = f.block_offset + f.block.len() as u64;
    if offset < f.block_offset || end > block_end {
        let want = out.len().max(READ_AHEAD);
        match f.source.read_at(offset, want) {
            Ok(data) => {
                f.block = data;
                f.block_offset = offset;
            }
            Err(e) => {
                LAST_ERROR.with(|l| *l.borrow_mut() = Some(e));
                return ffi::SQLITE_IOERR_READ;
            }
        }
    }
    let start = (offset - f.block_offset) as usize;
    let available = f.block.len().saturating_sub(start).min(out.len());
    out[..available].copy_from_slice(&f.block[start..start + available]);
    if available < out.len() {
        out[available..].fill(0);
        return ffi::SQLITE_IOERR_SHORT_READ;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_write(_: *mut ffi::sqlite3_file, _: *const c_void, _: c_int, _: i64) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn x_truncate(_: *mut ffi::sqlite3_file, _: i64) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn x_sync(_: *mut ffi::sqlite3_file, _: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_file_size(file: *mut ffi::sqlite3_file, size: *mut i64) -> c_int {
    // SAFETY: `file` was initialized by `x_open`.
    unsafe { *size = (*file.cast::<File>()).size as i64 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_lock(_: *mut ffi::sqlite3_file, _: c_int) -> c_int {
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_check_reserved_lock(_: *mut ffi::sqlite3_file, out: *mut c_int) -> c_int {
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *out = 0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_file_control(_: *mut ffi::sqlite3_file, _: c_int, _: *mut c_void) -> c_int {
    ffi::SQLITE_NOTFOUND
}

unsafe extern "C" fn x_sector_size(_: *mut ffi::sqlite3_file) -> c_int {
    4096
}

unsafe extern "C" fn x_device_characteristics(_: *mut ffi::sqlite3_file) -> c_int {
    ffi::SQLITE_IOCAP_IMMUTABLE
}

unsafe extern "C" fn x_delete(_: *mut ffi::sqlite3_vfs, _: *const c_char, _: c_int) -> c_int {
    ffi::SQLITE_READONLY
}

unsafe extern "C" fn x_access(
    _: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    _: c_int,
    out: *mut c_int,
) -> c_int {
    // SAFETY: SQLite passes a NUL-terminated name and a valid out pointer.
    let name = unsafe { CStr::from_ptr(name) }.to_string_lossy();
    let exists = SOURCES.with(|s| s.borrow().contains_key(name.as_ref()));
    unsafe { *out = exists as c_int };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_full_pathname(
    _: *mut ffi::sqlite3_vfs,
    name: *const c_char,
    n_out: c_int,
    out: *mut c_char,
) -> c_int {
    // SAFETY: `name` is NUL-terminated; `out` holds `n_out` bytes.
    unsafe {
        let bytes = CStr::from_ptr(name).to_bytes();
        let n = bytes.len().min(n_out.max(1) as usize - 1);
        std::ptr::copy_nonoverlapping(bytes.as_ptr().cast::<c_char>(), out, n);
        *out.add(n) = 0;
    }
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_randomness(_: *mut ffi::sqlite3_vfs, n: c_int, out: *mut c_char) -> c_int {
    // Only used to name temporary files and seed random(); a read-only
    // reader needs no entropy, so fill from the clock.
    let mut x =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
    for i in 0..n.max(0) as usize {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        // SAFETY: `out` holds `n` bytes.
        unsafe { *out.add(i) = x as c_char };
    }
    n
}

unsafe extern "C" fn x_sleep(_: *mut ffi::sqlite3_vfs, micros: c_int) -> c_int {
    micros
}

unsafe extern "C" fn x_current_time(_: *mut ffi::sqlite3_vfs, out: *mut f64) -> c_int {
    let secs =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64());
    // SAFETY: SQLite passes a valid out pointer.
    unsafe { *out = 2_440_587.5 + secs / 86_400.0 };
    ffi::SQLITE_OK
}

unsafe extern "C" fn x_get_last_error(_: *mut ffi::sqlite3_vfs, _: c_int, _: *mut c_char) -> c_int {
    0
}
