#![forbid(unsafe_code)]

/// mimalloc instead of the C library's allocator: a request allocates and frees many
/// small buffers on whichever worker thread runs it, where glibc's malloc spent about
/// 12 % of the server's CPU (docs/performance.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    sesam_server::cli::main()
}
