//! The safety rules `envx run` applies to a child's environment, kept in one place.

use crate::names::PRIVATE_KEY_PREFIX;

/// Variables that change how programs are loaded or started: whoever sets them runs code in
/// the child (or in anything it spawns). A committed file must not be able to set them unless
/// the user says so (`--allow-loader-vars`).
pub const LOADER_VARS: &[&str] = &[
    // Dynamic linker (glibc, musl).
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "LD_PROFILE",
    "LD_DEBUG_OUTPUT",
    // Shells: files sourced at start-up, prompt commands.
    "BASH_ENV",
    "ENV",
    "PROMPT_COMMAND",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "ZDOTDIR",
    "IFS",
    // Language runtimes: code or modules loaded before the program.
    "NODE_OPTIONS",
    "NODE_PATH",
    "PYTHONSTARTUP",
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONINSPECT",
    "PERL5OPT",
    "PERL5LIB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
    "DOTNET_STARTUP_HOOKS",
    "GCONV_PATH",
    // Git runs these as commands.
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "GIT_EXTERNAL_DIFF",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_CONFIG_GLOBAL",
    "GIT_TEMPLATE_DIR",
    // Other commands run on the user's behalf.
    "SSH_ASKPASS",
    "EDITOR",
    "VISUAL",
    "PAGER",
    "BROWSER",
    // Where commands are found.
    "PATH",
];

/// Prefixes with the same effect: every variable starting with one of these.
pub const LOADER_VAR_PREFIXES: &[&str] = &["DYLD_", "LD_", "GIT_CONFIG_"];

/// Does setting `name` change how the child (or what it starts) loads code?
pub fn is_loader_var(name: &str) -> bool {
    LOADER_VARS.contains(&name) || LOADER_VAR_PREFIXES.iter().any(|p| name.starts_with(p))
}

/// Is `name` a private-key variable? These never reach a child.
pub fn is_private_key_var(name: &str) -> bool {
    name.starts_with(PRIVATE_KEY_PREFIX)
}

/// The variables a child started with `--clean-env` keeps from the parent: what a program
/// needs to find commands, files, a terminal and a locale, and nothing that holds credentials.
pub const CLEAN_ENV_ALLOWLIST: &[&str] = &[
    "PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TERM",
    "TZ", "TMPDIR", "PWD",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_loader_and_key_variables() {
        for name in [
            "LD_PRELOAD",
            "DYLD_INSERT_LIBRARIES",
            "NODE_OPTIONS",
            "BASH_ENV",
            "PATH",
        ] {
            assert!(is_loader_var(name), "{name}");
        }
        for name in ["DATABASE_URL", "API_KEY", "LDAP_URL", "NODE_ENV"] {
            assert!(!is_loader_var(name), "{name}");
        }
        assert!(is_private_key_var("DOTENV_PRIVATE_KEY_PRODUCTION"));
        assert!(!is_private_key_var("DOTENV_PUBLIC_KEY_PRODUCTION"));
    }
}
