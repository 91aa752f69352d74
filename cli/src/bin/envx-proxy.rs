//! `envx-proxy`: envx with the `run --proxy` engine linked in. `envx run --proxy` starts it in
//! its own place (same process, same arguments); it can also be run by that name directly.

fn main() -> std::process::ExitCode {
    envx_cli::main_with_proxy()
}
