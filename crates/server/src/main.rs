#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    sesam_server::cli::main()
}
