//! `envx`: encrypted `.env` files, compatible with dotenvx. `run --proxy` hands over to the
//! `envx-proxy` executable beside this one.

fn main() -> std::process::ExitCode {
    envx_cli::main()
}
