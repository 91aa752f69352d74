//! `envx completions`.

use clap::{Args, CommandFactory as _};
use clap_complete::Shell;

use crate::args::Cli;
use crate::cmd::print_stdout;
use crate::exit::Exit;
use crate::ui::Failure;

/// Arguments of `envx completions`.
#[derive(Args)]
pub struct CompletionsArgs {
    /// The shell.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the completion script.
pub fn run(args: &CompletionsArgs) -> Result<Exit, Failure> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "envx", &mut script);
    print_stdout(&String::from_utf8_lossy(&script))
}
