//! Messages on stderr: one place decides about quiet, verbose, colour and escaping.

use std::fmt::{self, Write as _};
use std::io::{IsTerminal as _, Write as _};

use crate::exit::Exit;

/// A failed command: what to print and how to exit.
#[derive(Debug)]
pub struct Failure {
    message: String,
    hint: Option<String>,
    exit: Exit,
}

impl Failure {
    /// An error with exit code 1.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            hint: None,
            exit: Exit::Error,
        }
    }

    /// A command-line mistake, exit code 2.
    pub fn usage(message: impl Into<String>) -> Self {
        Self {
            exit: Exit::Usage,
            ..Self::new(message)
        }
    }

    /// Adds a suggestion printed under the message.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Sets the exit status.
    pub fn with_exit(mut self, exit: Exit) -> Self {
        self.exit = exit;
        self
    }

    /// The exit status.
    pub fn exit_code(&self) -> Exit {
        self.exit
    }
}

impl From<envx_core::Error> for Failure {
    fn from(error: envx_core::Error) -> Self {
        use envx_core::Error as E;
        let hint = match &error {
            E::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
                Some("check the path given with -f".to_owned())
            }
            E::Decrypt { key, path, .. } => Some(format!(
                "if the value is damaged, set it again: envx set {key} -f {}",
                path.display()
            )),
            E::InvalidPublicKey { .. } => {
                Some("restore the public key line from version control".to_owned())
            }
            _ => None,
        };
        Self {
            message: error.to_string(),
            hint,
            exit: Exit::Error,
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Where messages go.
pub struct Ui {
    quiet: bool,
    verbose: bool,
    colour: bool,
}

impl Ui {
    /// Colour only on a terminal, and never when `NO_COLOR` is set.
    pub fn new(quiet: bool, verbose: bool) -> Self {
        let colour = std::io::stderr().is_terminal()
            && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
        Self {
            quiet,
            verbose,
            colour,
        }
    }

    /// Is `--verbose` on?
    pub fn verbose(&self) -> bool {
        self.verbose && !self.quiet
    }

    /// A progress or result line (silenced by `--quiet`).
    pub fn info(&self, message: &str) {
        if !self.quiet {
            self.line("", message);
        }
    }

    /// A detail shown with `--verbose`.
    pub fn detail(&self, message: &str) {
        if self.verbose() {
            self.line("", message);
        }
    }

    /// A warning (shown even with `--quiet`).
    pub fn warn(&self, message: &str) {
        self.line(&self.paint("warning: ", "33"), message);
    }

    /// Warns about keys files other users can read.
    pub fn warn_loose_keys_files(&self, files: &[(std::path::PathBuf, u32)]) {
        for (path, mode) in files {
            self.warn(&format!(
                "{} is readable by other users (mode {mode:o}); run `chmod 600 {}` (--strict refuses such files)",
                path.display(),
                path.display()
            ));
        }
    }

    /// An error and its hint.
    pub fn error(&self, failure: &Failure) {
        self.line(&self.paint("error: ", "1;31"), &failure.message);
        if let Some(hint) = &failure.hint {
            self.line(&self.paint("hint: ", "36"), hint);
        }
    }

    fn paint(&self, text: &str, code: &str) -> String {
        if self.colour {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }

    fn line(&self, prefix: &str, message: &str) {
        let mut stderr = std::io::stderr().lock();
        let _ = writeln!(stderr, "envx: {prefix}{}", escape(message));
    }
}

/// Makes control and bidirectional-override characters visible, so a crafted file or key name
/// cannot rewrite the terminal or disguise a message.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let hidden = c.is_control()
            || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}');
        if hidden {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_and_bidi_characters() {
        assert_eq!(escape("a\x1b[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(escape("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(escape(".env.production: ok ✓"), ".env.production: ok ✓");
    }
}
