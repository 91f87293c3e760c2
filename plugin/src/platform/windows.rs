//! Windows side of the platform seam: the module that holds this code names its file, pinning
//! that module keeps it resident, and ONNX Runtime's DLL is loaded with its own folder on the
//! search path for the runtime libraries it imports.

use std::ffi::OsString;
use std::os::windows::ffi::{OsStrExt, OsStringExt};
use std::path::{Path, PathBuf};
use windows_sys::Win32::Foundation::{HMODULE, MAX_PATH};
use windows_sys::Win32::System::LibraryLoader::{
    GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS, GET_MODULE_HANDLE_EX_FLAG_PIN,
    GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT, GetModuleFileNameW, GetModuleHandleExW,
    LOAD_WITH_ALTERED_SEARCH_PATH, LoadLibraryExW,
};

pub const ONNXRUNTIME_LIBRARY: &str = "onnxruntime/onnxruntime.dll";

/// The module (DLL or executable) this function was linked into, with `flags` added.
fn own_module(flags: u32) -> Option<HMODULE> {
    let mut module: HMODULE = std::ptr::null_mut();
    let address = own_module as *const u16;
    // SAFETY: with FROM_ADDRESS the second argument is an address inside the module wanted;
    // `module` is a valid out-pointer.
    let ok = unsafe {
        GetModuleHandleExW(
            GET_MODULE_HANDLE_EX_FLAG_FROM_ADDRESS | flags,
            address,
            &mut module,
        )
    };
    (ok != 0 && !module.is_null()).then_some(module)
}

pub fn own_binary() -> Option<PathBuf> {
    let module = own_module(GET_MODULE_HANDLE_EX_FLAG_UNCHANGED_REFCOUNT)?;
    let mut buffer = vec![0u16; MAX_PATH as usize];
    loop {
        let capacity = u32::try_from(buffer.len()).ok()?;
        // SAFETY: `buffer` holds `capacity` writable UTF-16 units; `module` is a live module
        // (it holds this code).
        let written = unsafe { GetModuleFileNameW(module, buffer.as_mut_ptr(), capacity) };
        if written == 0 {
            return None;
        }
        if written < capacity {
            buffer.truncate(written as usize);
            break;
        }
        // Truncated: try again with room for long paths.
        if buffer.len() >= 32 * 1024 {
            return None;
        }
        buffer.resize(buffer.len() * 4, 0);
    }
    Some(PathBuf::from(OsString::from_wide(&buffer)))
}

pub fn keep_resident() {
    // Pinning cannot be undone and only adds a reference, so calling it again is harmless.
    let _ = own_module(GET_MODULE_HANDLE_EX_FLAG_PIN);
}

pub fn preload_runtime(library: &Path) -> Result<(), super::PreloadError> {
    let wide: Vec<u16> = library
        .as_os_str()
        .encode_wide()
        .chain(std::iter::once(0))
        .collect();
    // SAFETY: `wide` is a NUL-terminated UTF-16 path. The handle is kept loaded on purpose:
    // ONNX Runtime's bindings load the same file next and use it for the process's life.
    let handle = unsafe {
        LoadLibraryExW(
            wide.as_ptr(),
            std::ptr::null_mut(),
            LOAD_WITH_ALTERED_SEARCH_PATH,
        )
    };
    if handle.is_null() {
        return Err(super::PreloadError::Refused(std::io::Error::last_os_error()));
    }
    Ok(())
}

/// Nothing to do: Windows' heap returns large freed blocks to the system itself.
pub fn release_freed_memory() {}

/// Nothing to do: Windows' heap returns large blocks to the system itself.
pub fn tune_own_process_allocator() {}
