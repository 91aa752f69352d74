//! One module per subcommand; `run` dispatches.

pub mod access;
pub mod completions;
pub mod decrypt;
pub mod del;
pub mod diff;
pub mod edit;
pub mod encrypt;
pub mod get;
pub mod git_setup;
pub mod gitignore;
pub mod identity;
pub mod keypair;
pub mod ls;
pub mod merge_driver;
pub mod precommit;
pub mod rotate;
pub mod run;
pub mod seal;
pub mod set;
pub mod textconv;
pub mod verify;

use std::io::{self, Write};

use crate::args::{Cli, Command};
use crate::context::Context;
use crate::exit::Exit;
use crate::proxy_engine::ProxyEngine;
use crate::ui::{Failure, Ui};

/// Runs the chosen subcommand. `engine` is the `--proxy` engine, in `envx-proxy` only.
pub fn run(cli: Cli, ui: &Ui, engine: Option<&'static ProxyEngine>) -> Result<Exit, Failure> {
    let ctx = Context::capture(
        cli.global.strict,
        cli.global.no_cache,
        cli.global.identity_command.as_deref(),
    );
    match cli.command {
        Command::Encrypt(args) => encrypt::run(&args, &ctx, ui),
        Command::Decrypt(args) => decrypt::run(&args, &ctx, ui),
        Command::Set(args) => set::run(&args, &ctx, ui),
        Command::Del(args) => del::run(&args, &ctx, ui),
        Command::Get(args) => get::run(&args, &ctx, ui),
        Command::Edit(args) => edit::run(&args, &ctx, ui),
        Command::Keypair(args) => keypair::run(&args, &ctx, ui),
        Command::Ls(args) => ls::run(&args, &ctx, ui),
        Command::Diff(args) => diff::run(&args, &ctx, ui),
        Command::GitSetup(args) => git_setup::run(&args, &ctx, ui),
        Command::Textconv(args) => textconv::run(&args, &ctx, ui),
        Command::MergeDriver(args) => merge_driver::run(&args, &ctx, ui),
        Command::Gitignore(args) => gitignore::run(&args, &ctx, ui),
        Command::Precommit(args) => precommit::run(&args, &ctx, ui),
        Command::Rotate(args) => rotate::run(&args, &ctx, ui),
        Command::Run(args) => run::run(args, ctx, ui, engine),
        Command::Seal(args) => seal::run(&args, &ctx, ui),
        Command::Verify(args) => verify::run(&args, &ctx, ui),
        Command::Access(command) => access::run(&command, &ctx, ui),
        Command::Identity(command) => identity::run(&command, &ctx, ui),
        Command::Completions(args) => completions::run(&args),
    }
}

/// Writes a result to stdout. A closed pipe (`envx get | head -1`) is not an error: the reader
/// has what it wanted.
pub fn print_stdout(text: &str) -> Result<Exit, Failure> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(Exit::Success),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(Exit::Success),
        Err(e) => Err(Failure::new(format!(
            "cannot write to standard output: {e}"
        ))),
    }
}

/// Shows a path for messages, as given on the command line.
pub fn show(path: &std::path::Path) -> String {
    path.display().to_string()
}
