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

    /// Keys files a command went on without (a malformed line, an unreadable file) once it
    /// `found` the key it needed elsewhere: each gets a warning, never an error.
    pub fn warn_keys_file_problems(
        &self,
        found: bool,
        problems: &[envx_core::discover::KeysFileProblem],
    ) {
        for problem in problems.iter().filter(|_| found) {
            self.warn(&format!(
                "{}; ignored, the key came from elsewhere",
                escape(&problem.to_string())
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

/// Makes control, bidirectional and invisible formatting characters visible, so a crafted
/// file, key name or value cannot rewrite the terminal, hide text or disguise a message. The
/// one escaper for everything envx shows that came from a file: messages, and the values and
/// lines `diff` and `textconv` print. `\n`, `\r` and `\t` get their short forms, other ASCII
/// controls `\x1b`-style, the rest `\u{202e}`-style. A backslash is left as it is, so the
/// result is for reading, not for parsing back.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let _ = match c {
            '\n' => out.write_str("\\n"),
            '\r' => out.write_str("\\r"),
            '\t' => out.write_str("\\t"),
            c if c.is_ascii_control() => write!(out, "\\x{:02x}", u32::from(c)),
            c if c.is_control() || is_invisible(c) => write!(out, "\\u{{{:x}}}", u32::from(c)),
            c => out.write_char(c),
        };
    }
    out
}

/// Bidirectional controls, zero-width characters, line and paragraph separators, and the
/// byte-order mark: characters that change or hide what a reader sees without being
/// `char::is_control`.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{061c}' | '\u{200b}'..='\u{200f}' | '\u{2028}'..='\u{202e}' | '\u{2060}'..='\u{2069}' | '\u{feff}'
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_control_and_bidi_characters() {
        assert_eq!(escape("a\x1b[2Jb\x7f"), "a\\x1b[2Jb\\x7f");
        assert_eq!(escape("a\r\nb\tc"), "a\\r\\nb\\tc");
        assert_eq!(
            escape("x\u{202e}y\u{2066}z\u{200b}"),
            "x\\u{202e}y\\u{2066}z\\u{200b}"
        );
        assert_eq!(escape("c1\u{9b}2J"), "c1\\u{9b}2J");
        assert_eq!(escape("C:\\path"), "C:\\path", "a backslash stays");
        assert_eq!(escape(".env.production: ok ✓"), ".env.production: ok ✓");
    }
}
