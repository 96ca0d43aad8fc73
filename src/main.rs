//! The `face-enroll` binary: parses the command line and runs one command.

mod cli;

fn main() -> std::process::ExitCode {
    return_large_buffers_to_the_system();
    cli::main()
}

/// Makes the allocator map every buffer over 128 KiB (images, their base64,
/// request bodies) on its own and unmap it when freed, so resident memory
/// follows `worker.max_inflight_bytes`. Without this, glibc raises its mmap
/// threshold after the first large free and serves later large buffers from
/// heaps that never shrink: the memory benchmark measured 390 MiB instead of
/// 253 MiB under a 256 MiB budget.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn return_large_buffers_to_the_system() {
    // SAFETY: mallopt only sets an allocator parameter, and this runs before
    // any other thread exists.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
    }
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn return_large_buffers_to_the_system() {}
