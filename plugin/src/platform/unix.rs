//! Linux (and other Unix) side of the platform seam: `dladdr` names the binary, the link flag
//! `-z nodelete` keeps the library resident, glibc's `malloc_trim` returns freed memory.

use std::path::{Path, PathBuf};

pub const ONNXRUNTIME_LIBRARY: &str = "onnxruntime/libonnxruntime.so.1.32.0";

pub fn own_binary() -> Option<PathBuf> {
    let mut info = libc::Dl_info {
        dli_fname: std::ptr::null(),
        dli_fbase: std::ptr::null_mut(),
        dli_sname: std::ptr::null(),
        dli_saddr: std::ptr::null_mut(),
    };
    let address = own_binary as *const libc::c_void;
    // SAFETY: dladdr only reads the loader's tables; `info` is a valid out-pointer, and the
    // returned name points into loader-owned memory that stays valid while the library is
    // loaded (we copy it at once).
    let found = unsafe { libc::dladdr(address, &mut info) } != 0;
    if !found || info.dli_fname.is_null() {
        return None;
    }
    // SAFETY: dli_fname is a NUL-terminated string owned by the loader (checked non-null).
    let name = unsafe { std::ffi::CStr::from_ptr(info.dli_fname) };
    let path = PathBuf::from(
        <std::ffi::OsStr as std::os::unix::ffi::OsStrExt>::from_bytes(name.to_bytes()),
    );
    path.canonicalize().ok().or(Some(path))
}

/// Nothing to do: `plugin/build.rs` links the library with `-z nodelete`.
pub fn keep_resident() {}

/// Nothing to do: ONNX Runtime's Linux library finds its dependencies by itself.
pub fn preload_runtime(_library: &Path) -> Result<(), super::PreloadError> {
    Ok(())
}

pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The size from which glibc maps a block on its own, bytes (see the seam's doc).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
const MMAP_THRESHOLD: libc::c_int = 1 << 20;

pub fn tune_own_process_allocator() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes glibc's tuning; it runs before the process starts threads.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}
