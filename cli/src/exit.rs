//! Exit codes, in one place.

use std::process::ExitCode;

/// How `envx` ends. `run` passes on the child's own status instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// Everything worked.
    Success,
    /// Something went wrong (bad file, missing key, ...). The message says what.
    Error,
    /// The command line itself was wrong.
    Usage,
    /// `run`: the child's status (or 128 + signal when a signal ended it).
    Child(u8),
    /// `run`: the command exists but cannot be executed.
    CannotExecute,
    /// `run`: the command was not found.
    NotFound,
}

impl Exit {
    /// The numeric status.
    pub fn code(self) -> u8 {
        match self {
            Self::Success => 0,
            Self::Error => 1,
            Self::Usage => 2,
            Self::Child(code) => code,
            Self::CannotExecute => 126,
            Self::NotFound => 127,
        }
    }
}

impl From<Exit> for ExitCode {
    fn from(exit: Exit) -> Self {
        ExitCode::from(exit.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable() {
        assert_eq!(Exit::Success.code(), 0);
        assert_eq!(Exit::Error.code(), 1);
        assert_eq!(Exit::Usage.code(), 2);
        assert_eq!(Exit::Child(42).code(), 42);
        assert_eq!(Exit::CannotExecute.code(), 126);
        assert_eq!(Exit::NotFound.code(), 127);
    }
}
