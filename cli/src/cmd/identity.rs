//! `envx identity new`: a personal age identity in the user's config folder.

use clap::Subcommand;
use envx_core::access::identity::{config_identity_path, create_identity_file, generate};

use crate::cmd::print_stdout;
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// `envx identity …`.
#[derive(Subcommand)]
pub enum IdentityCommand {
    /// Create your age identity ($XDG_CONFIG_HOME/envx/identity.txt, else
    /// ~/.config/envx/identity.txt; 0600) and print the recipient line to share.
    New,
}

/// Runs an identity subcommand.
pub fn run(command: &IdentityCommand, ctx: &Context, ui: &Ui) -> Result<Exit, Failure> {
    match command {
        IdentityCommand::New => {
            let path = config_identity_path(&ctx.env).ok_or_else(|| {
                Failure::new(
                    "no config folder: neither XDG_CONFIG_HOME nor HOME is an absolute path",
                )
            })?;
            if path.exists() {
                return Err(Failure::new(format!(
                    "{} exists already; envx never replaces an identity",
                    path.display()
                ))
                .hint("its recipient line is the `# public key:` comment in it"));
            }
            let (text, recipient) = generate();
            create_identity_file(&path, &text)
                .map_err(|e| Failure::new(format!("{}: {e}", path.display())))?;
            ui.info(&format!(
                "created {} (0600); share the line below, e.g. in a pull request that runs `envx access grant NAME <line> -f F`",
                path.display()
            ));
            print_stdout(&format!("{recipient}\n"))
        }
    }
}
