//! Handing freed memory back to the operating system.
//!
//! A batch run frees large structures part-way (the columns of the transactions table once
//! they are packed into rows). Arrow allocates those columns as many buffers of tens of
//! kilobytes, and glibc's `malloc` keeps such freed blocks inside its heaps rather than
//! returning them, so the resident set does not shrink, and the memory is not reused by the
//! next stage's large vectors either (those are mapped separately). The peak resident memory
//! of a run then counts the table twice over. `malloc_trim` returns every whole free page of
//! every heap to the OS.

/// Returns the pages the allocator holds free to the operating system, so that memory freed
/// by a finished stage no longer counts towards the process's resident set.
///
/// Call it after dropping something large. It does nothing except on Linux with glibc, where
/// it calls `malloc_trim(0)`; it takes milliseconds per gigabyte of free heap.
pub fn release_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` has no preconditions: it only walks glibc's own arenas under their
    // locks and advises the kernel that their free pages are unused. It is safe to call from
    // any thread at any time.
    unsafe {
        libc::malloc_trim(0);
    }
}
