//! The `envx` command line: encrypted `.env` files, compatible with dotenvx.
//!
//! [`main`] only parses arguments, dispatches to one module per subcommand and turns the result
//! into an exit code; the work happens in `envx-core`.
//!
//! Two executables share this library. `envx` is everything but the `run --proxy` engine
//! (tokio, hyper, rustls): a run without `--proxy` loads none of it. `envx-proxy` is
//! everything, and `envx run --proxy` hands over to it (see [`cmd::run`]'s hand-over), so the
//! proxy's code is linked only into the executable that needs it.

mod args;
mod cmd;
mod context;
mod exit;
mod git;
mod spawn;
// `envx run --proxy`; `--check` and the tests use parts the run itself does not.
#[allow(dead_code)]
mod proxy;
mod proxy_engine;
mod ui;

use std::process::ExitCode;

use clap::{CommandFactory as _, FromArgMatches as _};

use crate::args::Cli;
use crate::exit::Exit;
use crate::proxy_engine::ProxyEngine;

/// `envx`'s entry point: every command, with `run --proxy` handed over to `envx-proxy`.
pub fn main() -> ExitCode {
    main_with(None)
}

/// `envx-proxy`'s entry point: every command, `run --proxy` included.
pub fn main_with_proxy() -> ExitCode {
    main_with(Some(&proxy_engine::ENGINE))
}

fn main_with(engine: Option<&'static ProxyEngine>) -> ExitCode {
    let argv = args::dotenvx_spellings(std::env::args_os());
    let mut command = Cli::command();
    let parsed = command
        .try_get_matches_from_mut(argv)
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches))
        .map_err(|e| e.format(&mut command));
    // clap's description of every subcommand and flag is a tree of many small allocations;
    // freeing it costs a fifth of a short run, and the process ends soon after anyway.
    std::mem::forget(command);
    let cli = match parsed {
        Ok(cli) => cli,
        Err(e) => {
            // clap prints help and version to stdout with exit 0, usage errors to stderr with 2.
            let _ = e.print();
            return if e.use_stderr() {
                Exit::Usage
            } else {
                Exit::Success
            }
            .into();
        }
    };
    let ui = ui::Ui::new(cli.global.is_quiet(), cli.global.is_verbose());
    if let Some(refusal) = cli.global.dotenvx.refusal() {
        ui.error(&refusal);
        return refusal.exit_code().into();
    }
    match cmd::run(cli, &ui, engine) {
        Ok(code) => code.into(),
        Err(error) => {
            ui.error(&error);
            error.exit_code().into()
        }
    }
}
