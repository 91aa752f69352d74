//! Variables that change how programs load code, where their traffic goes, or what they
//! trust, grouped in classes. A committed file (even encrypted: anyone with the public key can
//! write one) must not set them for a child unless the user names them.

/// A group of variables refused for one reason.
#[derive(Debug)]
pub struct LoaderClass {
    /// A short name for messages, e.g. "dynamic linker".
    pub name: &'static str,
    /// The names in the class: `NAME` exactly, `PREFIX*` or `*SUFFIX`.
    pub patterns: &'static [&'static str],
    /// Whether the programs that read these names also read them in another letter case
    /// (`http_proxy`, `NPM_CONFIG_REGISTRY`), so the class matches ignoring ASCII case on
    /// every platform.
    pub any_case: bool,
    /// Why a file must not set them.
    pub reason: &'static str,
}

/// The classes. The README's loader table lists the same patterns and reasons (a test checks).
pub const LOADER_CLASSES: &[LoaderClass] = &[
    LoaderClass {
        name: "dynamic linker",
        patterns: &["LD_*", "DYLD_*", "GCONV_PATH", "GLIBC_TUNABLES"],
        any_case: false,
        reason: "the linker loads the named libraries into every program started",
    },
    LoaderClass {
        name: "command search",
        patterns: &["PATH", "PATHEXT", "COMSPEC", "SHELL"],
        any_case: false,
        reason: "decides which binary runs for every command name",
    },
    LoaderClass {
        name: "home and config folders",
        patterns: &[
            "HOME",
            "XDG_*",
            "USERPROFILE",
            "APPDATA",
            "LOCALAPPDATA",
            "ZDOTDIR",
        ],
        any_case: false,
        reason: "programs read their start-up files (.gitconfig, .bashrc, .npmrc, ...) from there, and those run commands",
    },
    LoaderClass {
        name: "shell start-up",
        patterns: &[
            "BASH_ENV",
            "ENV",
            "BASH_FUNC_*",
            "PROMPT_COMMAND*",
            "PS1",
            "PS2",
            "PS4",
            "SHELLOPTS",
            "BASHOPTS",
            "IFS",
            "FPATH",
            "INPUTRC",
            "BASH_LOADABLES_PATH",
        ],
        any_case: false,
        reason: "shells source these files, define these functions or run these commands",
    },
    LoaderClass {
        name: "git",
        patterns: &["GIT_*"],
        any_case: false,
        reason: "git runs commands named here (GIT_SSH_COMMAND, GIT_PAGER) and reads config, hooks and objects from the folders named here (GIT_DIR, GIT_CONFIG_*)",
    },
    LoaderClass {
        name: "python",
        patterns: &[
            "PYTHON*",
            "PIP_*",
            "UV_INDEX*",
            "UV_DEFAULT_INDEX",
            "UV_EXTRA_INDEX_URL",
            "UV_FIND_LINKS",
            "UV_CONFIG_FILE",
        ],
        any_case: false,
        reason: "imports modules from the paths named (PYTHONPATH, PYTHONUSERBASE, PYTHONSTARTUP) or installs packages from the index named",
    },
    LoaderClass {
        name: "node",
        patterns: &[
            "NODE_*",
            "ELECTRON_RUN_AS_NODE",
            "YARN_*",
            "COREPACK_*",
            "BUN_CONFIG_REGISTRY",
            "DENO_CERT",
            "DENO_TLS_CA_STORE",
        ],
        any_case: false,
        reason: "node preloads modules (NODE_OPTIONS=--require), resolves them from NODE_PATH, trusts NODE_EXTRA_CA_CERTS; package managers install from the registry named",
    },
    LoaderClass {
        name: "npm configuration",
        patterns: &["npm_config_*"],
        any_case: true,
        reason: "npm and pnpm read any setting from it (registry, script-shell, node-options, cafile), in any letter case",
    },
    LoaderClass {
        name: "proxies",
        patterns: &["*_PROXY"],
        any_case: true,
        reason: "sends the child's traffic, with its credentials, through the host named (curl and most libraries also read the lower-case spelling)",
    },
    LoaderClass {
        name: "TLS trust",
        patterns: &[
            "*_CA_BUNDLE",
            "SSL_CERT_*",
            "SSLKEYLOGFILE",
            "OPENSSL_*",
            "CURL_HOME",
            "WGETRC",
            "NETRC",
            "GNUPGHOME",
            "HOSTALIASES",
            "LOCALDOMAIN",
            "RES_OPTIONS",
        ],
        any_case: false,
        reason: "changes which certificates, keys or hosts the child trusts, or writes its TLS session keys to a file (OPENSSL_CONF also loads engines)",
    },
    LoaderClass {
        name: "rust and build tools",
        patterns: &[
            "CARGO",
            "CARGO_*",
            "RUSTC*",
            "RUSTDOC*",
            "RUSTFLAGS",
            "RUSTUP_*",
            "CGO_*",
            "GOFLAGS",
            "GOPROXY",
            "GOSUMDB",
            "GONOSUMDB",
            "GONOSUMCHECK",
            "GOINSECURE",
            "GOTOOLCHAIN",
            "GOROOT",
            "GOPATH",
            "GOENV",
            "CC",
            "CXX",
            "CFLAGS",
            "CXXFLAGS",
            "CPPFLAGS",
            "LDFLAGS",
            "MAKEFLAGS",
            "MAKEFILES",
        ],
        any_case: false,
        reason: "build tools run the compiler, wrapper, linker or runner named (RUSTC_WRAPPER, CARGO_TARGET_*_RUNNER, GOFLAGS=-toolexec) and fetch code from the registry named",
    },
    LoaderClass {
        name: "JVM and .NET",
        patterns: &[
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "JDK_JAVA_OPTIONS",
            "JAVA_OPTS",
            "JAVA_HOME",
            "CLASSPATH",
            "MAVEN_OPTS",
            "GRADLE_OPTS",
            "GRADLE_USER_HOME",
            "DOTNET_STARTUP_HOOKS",
            "DOTNET_ADDITIONAL_DEPS",
            "DOTNET_ROOT",
            "DOTNET_SHARED_STORE",
            "COR_*",
            "CORECLR_*",
        ],
        any_case: false,
        reason: "the runtime loads agents, profilers, startup hooks or classes from the paths named (-javaagent:)",
    },
    LoaderClass {
        name: "perl, ruby, php, lua, R",
        patterns: &[
            "PERL5*",
            "PERLLIB",
            "PERLDB_OPTS",
            "RUBY*",
            "GEM_*",
            "BUNDLE_*",
            "IRBRC",
            "PHPRC",
            "PHP_INI_SCAN_DIR",
            "LUA_INIT*",
            "LUA_PATH*",
            "LUA_CPATH*",
            "R_PROFILE*",
            "R_ENVIRON*",
            "R_LIBS*",
            "TCLLIBPATH",
        ],
        any_case: false,
        reason: "the interpreter runs options (RUBYOPT=-r, PERL5OPT=-M), start-up code or libraries from the paths named (BUNDLE_GEMFILE, PHPRC auto_prepend_file)",
    },
    LoaderClass {
        name: "helper commands",
        patterns: &[
            "EDITOR",
            "VISUAL",
            "PAGER",
            "MANPAGER",
            "BROWSER",
            "LESS",
            "LESSOPEN",
            "LESSCLOSE",
            "VIMINIT",
            "EXINIT",
            "VIMRUNTIME",
            "SSH_ASKPASS",
            "SSH_ASKPASS_REQUIRE",
            "SUDO_ASKPASS",
            "SSH_AUTH_SOCK",
            "PSMODULEPATH",
            "GH_EDITOR",
            "GH_BROWSER",
            "GH_PAGER",
            "SYSTEMD_PAGER",
            "SYSTEMD_EDITOR",
            "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
        ],
        any_case: false,
        reason: "programs run the command named when they need an editor, pager, password or key (LESSOPEN runs on every file `less` opens)",
    },
    LoaderClass {
        name: "remote services",
        patterns: &[
            "AWS_CONFIG_FILE",
            "AWS_SHARED_CREDENTIALS_FILE",
            "AWS_ENDPOINT_URL*",
            "KUBECONFIG",
            "DOCKER_HOST",
            "DOCKER_CONFIG",
            "DOCKER_CERT_PATH",
            "DOCKER_TLS_VERIFY",
            "DOCKER_CONTEXT",
            "TF_CLI_CONFIG_FILE",
            "DISPLAY",
        ],
        any_case: false,
        reason: "the client runs the credential command a config file names (credential_process, exec plugins, credential helpers), or sends its requests, credentials or windows to the host named",
    },
];

/// Everyday names inside the classes that load nothing, redirect nothing and change no trust;
/// ordinary application env files set them. `PREFIX*` covers a family.
pub const HARMLESS: &[&str] = &[
    // node
    "NODE_ENV",
    "NODE_NO_WARNINGS",
    "NODE_DEBUG",
    "NODE_PENDING_DEPRECATION",
    "NODE_DISABLE_COLORS",
    // python: output, encoding and diagnostics only. PYTHONHASHSEED fixes the hash seed
    // (reproducible runs); it loads nothing, so it is not refused.
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONIOENCODING",
    "PYTHONHASHSEED",
    "PYTHONUTF8",
    "PYTHONFAULTHANDLER",
    "PYTHONOPTIMIZE",
    "PYTHONDEVMODE",
    "PYTHONTRACEMALLOC",
    "PYTHONASYNCIODEBUG",
    "PYTHONCOERCECLOCALE",
    "PYTHONLEGACYWINDOWSSTDIO",
    "PYTHONINTMAXSTRDIGITS",
    "PYTHONWARNDEFAULTENCODING",
    "PIP_NO_CACHE_DIR",
    "PIP_DISABLE_PIP_VERSION_CHECK",
    "PIP_DEFAULT_TIMEOUT",
    "PIP_ROOT_USER_ACTION",
    "PIP_PROGRESS_BAR",
    // git: identity and dates written into commits, and turning prompts off
    "GIT_AUTHOR_NAME",
    "GIT_AUTHOR_EMAIL",
    "GIT_AUTHOR_DATE",
    "GIT_COMMITTER_NAME",
    "GIT_COMMITTER_EMAIL",
    "GIT_COMMITTER_DATE",
    "GIT_TERMINAL_PROMPT",
    // rust: terminal output and parallelism
    "CARGO_TERM_*",
    "CARGO_INCREMENTAL",
    "CARGO_BUILD_JOBS",
    "CARGO_NET_RETRY",
    // desktop session descriptions
    "XDG_SESSION_*",
    "XDG_CURRENT_DESKTOP",
    "XDG_SEAT",
    "XDG_VTNR",
    // ruby: garbage collector and JIT tuning, gem push credentials
    "RUBY_GC_*",
    "RUBY_YJIT_ENABLE",
    "GEM_HOST_API_KEY",
    "BUNDLE_WITHOUT",
    "BUNDLE_JOBS",
    "BUNDLE_RETRY",
    // an application's own proxy setting
    "TRUST_PROXY",
];

/// Does `name` match `pattern` (`NAME`, `PREFIX*` or `*SUFFIX`)?
pub(crate) fn matches(pattern: &str, name: &str, fold: bool) -> bool {
    let eq = |a: &str, b: &str| {
        if fold {
            a.eq_ignore_ascii_case(b)
        } else {
            a == b
        }
    };
    if let Some(prefix) = pattern.strip_suffix('*') {
        name.len() >= prefix.len()
            && name.is_char_boundary(prefix.len())
            && eq(&name[..prefix.len()], prefix)
    } else if let Some(suffix) = pattern.strip_prefix('*') {
        name.len() > suffix.len()
            && name.is_char_boundary(name.len() - suffix.len())
            && eq(&name[name.len() - suffix.len()..], suffix)
    } else {
        eq(pattern, name)
    }
}

/// The class `name` falls in, unless it is one of the [`HARMLESS`] names. `fold` matches every
/// class ignoring ASCII case (a platform whose environment is case-insensitive).
///
/// Every variable a run injects is checked, so the patterns are looked up by the first two
/// letters of the name (ignoring case) instead of tried one by one; the result is the first
/// class in [`LOADER_CLASSES`] order that matches, as a plain scan gives
/// (`policy::tests::the_index_finds_what_a_scan_of_every_pattern_finds`).
pub fn class_of(name: &str, fold: bool) -> Option<&'static LoaderClass> {
    let index = Index::get();
    let bytes = name.as_bytes();
    let by_start = match bytes {
        [a, b, ..] => index
            .by_start
            .get(&[a.to_ascii_uppercase(), b.to_ascii_uppercase()])
            .map_or(&[][..], Vec::as_slice),
        _ => &[],
    };
    let class = by_start
        .iter()
        .chain(&index.others)
        .filter(|(c, p)| matches(p, name, fold || LOADER_CLASSES[*c].any_case))
        .map(|(c, _)| *c)
        .min()
        .map(|c| &LOADER_CLASSES[c])?;
    let harmless = HARMLESS
        .iter()
        .any(|p| matches(p, name, fold || class.any_case));
    (!harmless).then_some(class)
}

/// The patterns of [`LOADER_CLASSES`] with their class's position: those a name must begin
/// with (a whole name or a prefix of two bytes or more) under the first two bytes, upper-cased;
/// the rest (suffix patterns, shorter prefixes) apart.
struct Index {
    by_start: std::collections::HashMap<[u8; 2], Vec<(usize, &'static str)>>,
    others: Vec<(usize, &'static str)>,
}

impl Index {
    fn get() -> &'static Self {
        static INDEX: std::sync::OnceLock<Index> = std::sync::OnceLock::new();
        INDEX.get_or_init(|| {
            let mut index = Index {
                by_start: std::collections::HashMap::new(),
                others: Vec::new(),
            };
            for (c, class) in LOADER_CLASSES.iter().enumerate() {
                for &pattern in class.patterns {
                    let start = pattern.strip_suffix('*').unwrap_or(pattern).as_bytes();
                    match start {
                        [a, b, ..] if !pattern.starts_with('*') => index
                            .by_start
                            .entry([a.to_ascii_uppercase(), b.to_ascii_uppercase()])
                            .or_default()
                            .push((c, pattern)),
                        _ => index.others.push((c, pattern)),
                    }
                }
            }
            index
        })
    }
}

/// [`class_of`] as a scan of every pattern in order: what the index must agree with.
#[cfg(test)]
pub(crate) fn class_of_by_scan(name: &str, fold: bool) -> Option<&'static LoaderClass> {
    let class = LOADER_CLASSES.iter().find(|class| {
        class
            .patterns
            .iter()
            .any(|p| matches(p, name, fold || class.any_case))
    })?;
    let harmless = HARMLESS
        .iter()
        .any(|p| matches(p, name, fold || class.any_case));
    (!harmless).then_some(class)
}
