use std::collections::HashMap;

use super::files::{EnvFileKind, env_file_kind, private_key_line};
use super::*;
use crate::load::load_file_with_env;

/// Names that load code, redirect traffic or change trust, one or more per class, as a
/// committed file might set them. Every one must be refused.
const REFUSED: &[&str] = &[
    // dynamic linker
    "LD_PRELOAD",
    "LD_LIBRARY_PATH",
    "LD_AUDIT",
    "LD_BIND_NOW",
    "DYLD_INSERT_LIBRARIES",
    "DYLD_LIBRARY_PATH",
    "GCONV_PATH",
    "GLIBC_TUNABLES",
    // command search, home and config folders
    "PATH",
    "PATHEXT",
    "COMSPEC",
    "SHELL",
    "HOME",
    "XDG_CONFIG_HOME",
    "XDG_DATA_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_DATA_DIRS",
    "XDG_CACHE_HOME",
    "XDG_RUNTIME_DIR",
    "USERPROFILE",
    "APPDATA",
    "LOCALAPPDATA",
    "ZDOTDIR",
    // shells
    "BASH_ENV",
    "ENV",
    "BASH_FUNC_ls%%",
    "PROMPT_COMMAND",
    "PS1",
    "PS4",
    "SHELLOPTS",
    "BASHOPTS",
    "IFS",
    "FPATH",
    "INPUTRC",
    // git
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_SSH_COMMAND",
    "GIT_SSH",
    "GIT_EXEC_PATH",
    "GIT_ASKPASS",
    "GIT_PAGER",
    "GIT_EDITOR",
    "GIT_EXTERNAL_DIFF",
    "GIT_CONFIG_GLOBAL",
    "GIT_CONFIG_COUNT",
    "GIT_CONFIG_KEY_0",
    "GIT_TEMPLATE_DIR",
    "GIT_PROXY_COMMAND",
    "GIT_SSL_NO_VERIFY",
    "GIT_SSL_CAINFO",
    "GIT_INDEX_FILE",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    // python
    "PYTHONPATH",
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONINSPECT",
    "PYTHONBREAKPOINT",
    "PYTHONWARNINGS",
    "PYTHONPYCACHEPREFIX",
    "PYTHONEXECUTABLE",
    "PYTHONHTTPSVERIFY",
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "PIP_CONFIG_FILE",
    "UV_INDEX_URL",
    "UV_EXTRA_INDEX_URL",
    // node
    "NODE_OPTIONS",
    "NODE_PATH",
    "NODE_EXTRA_CA_CERTS",
    "NODE_TLS_REJECT_UNAUTHORIZED",
    "NODE_REPL_HISTORY",
    "NODE_ICU_DATA",
    "ELECTRON_RUN_AS_NODE",
    "YARN_NPM_REGISTRY_SERVER",
    "YARN_RC_FILENAME",
    "COREPACK_NPM_REGISTRY",
    "npm_config_registry",
    "NPM_CONFIG_REGISTRY",
    "npm_config_script_shell",
    "npm_config_node_options",
    "npm_config_userconfig",
    // proxies
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "ALL_PROXY",
    "NO_PROXY",
    "FTP_PROXY",
    "GRPC_PROXY",
    "http_proxy",
    "https_proxy",
    "all_proxy",
    "no_proxy",
    // trust
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "AWS_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
    "SSLKEYLOGFILE",
    "OPENSSL_CONF",
    "OPENSSL_ENGINES",
    "OPENSSL_MODULES",
    "CURL_HOME",
    "WGETRC",
    "NETRC",
    "GNUPGHOME",
    "HOSTALIASES",
    "LOCALDOMAIN",
    "RES_OPTIONS",
    // build tools
    "CARGO",
    "CARGO_HOME",
    "CARGO_TARGET_DIR",
    "CARGO_BUILD_RUSTC_WRAPPER",
    "CARGO_TARGET_X86_64_UNKNOWN_LINUX_GNU_RUNNER",
    "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
    "CARGO_HTTP_CAINFO",
    "RUSTC",
    "RUSTC_WRAPPER",
    "RUSTC_WORKSPACE_WRAPPER",
    "RUSTDOC",
    "RUSTFLAGS",
    "RUSTDOCFLAGS",
    "RUSTUP_TOOLCHAIN",
    "RUSTUP_DIST_SERVER",
    "CGO_LDFLAGS",
    "GOFLAGS",
    "GOPROXY",
    "GOSUMDB",
    "GONOSUMDB",
    "GOINSECURE",
    "GOTOOLCHAIN",
    "CC",
    "CXX",
    "CFLAGS",
    "LDFLAGS",
    "MAKEFLAGS",
    "MAKEFILES",
    // JVM, .NET
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
    "COR_PROFILER_PATH",
    "CORECLR_PROFILER_PATH",
    // perl, ruby, php, lua, R
    "PERL5OPT",
    "PERL5LIB",
    "PERL5DB",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "GEM_HOME",
    "GEM_PATH",
    "BUNDLE_GEMFILE",
    "BUNDLE_PATH",
    "IRBRC",
    "PHPRC",
    "PHP_INI_SCAN_DIR",
    "LUA_INIT",
    "LUA_INIT_5_4",
    "LUA_PATH",
    "LUA_CPATH",
    "R_PROFILE_USER",
    "R_ENVIRON_USER",
    "R_LIBS_USER",
    "TCLLIBPATH",
    // helper commands
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
    "SSH_ASKPASS",
    "SUDO_ASKPASS",
    "SSH_AUTH_SOCK",
    "PSMODULEPATH",
    "GH_PAGER",
    "GOOGLE_EXTERNAL_ACCOUNT_ALLOW_EXECUTABLES",
    // remote services
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "KUBECONFIG",
    "DOCKER_HOST",
    "DOCKER_CONFIG",
    "TF_CLI_CONFIG_FILE",
    "DISPLAY",
    // the rest of the named ones
    "PS2",
    "BASH_LOADABLES_PATH",
    "UV_DEFAULT_INDEX",
    "UV_FIND_LINKS",
    "UV_CONFIG_FILE",
    "BUN_CONFIG_REGISTRY",
    "DENO_CERT",
    "DENO_TLS_CA_STORE",
    "GONOSUMCHECK",
    "GOROOT",
    "GOPATH",
    "GOENV",
    "CXXFLAGS",
    "CPPFLAGS",
    "DOTNET_ROOT",
    "DOTNET_SHARED_STORE",
    "PERLDB_OPTS",
    "VIMRUNTIME",
    "SSH_ASKPASS_REQUIRE",
    "GH_EDITOR",
    "GH_BROWSER",
    "SYSTEMD_PAGER",
    "SYSTEMD_EDITOR",
    "DOCKER_CERT_PATH",
    "DOCKER_TLS_VERIFY",
    "DOCKER_CONTEXT",
];

/// Names ordinary application env files set: none may be refused.
const ORDINARY: &[&str] = &[
    "DATABASE_URL",
    "API_KEY",
    "LDAP_URL",
    "NODE_ENV",
    "NODE_NO_WARNINGS",
    "PYTHONUNBUFFERED",
    "PYTHONDONTWRITEBYTECODE",
    "PYTHONHASHSEED",
    "PYTHONIOENCODING",
    "GIT_AUTHOR_NAME",
    "GIT_COMMITTER_EMAIL",
    "CARGO_TERM_COLOR",
    "CARGO_TERM_VERBOSE",
    "CARGO_INCREMENTAL",
    "XDG_SESSION_TYPE",
    "XDG_CURRENT_DESKTOP",
    "RUST_LOG",
    "RUST_BACKTRACE",
    "RAILS_ENV",
    "RACK_ENV",
    "RUBY_YJIT_ENABLE",
    "RUBY_GC_HEAP_GROWTH_FACTOR",
    "DJANGO_SETTINGS_MODULE",
    "SECRET_KEY",
    "NEXT_PUBLIC_API_URL",
    "NEXTAUTH_URL",
    "PORT",
    "HOST",
    "APP_ENV",
    "NPM_TOKEN",
    "TRUST_PROXY",
    "PATHNAME",
    "MY_PATH",
    "LESSON",
    "ENVIRONMENT",
    "CC_NUMBER_FIELD",
    "GOOGLE_API_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_REGION",
    "HOMEPAGE_URL",
    "REDIS_URL",
    "PIP_NO_CACHE_DIR",
    "GEM_HOST_API_KEY",
    "BUNDLE_WITHOUT",
];

#[test]
fn every_class_refuses_its_names() {
    for name in REFUSED {
        assert!(is_loader_var(name), "{name} should be refused");
        assert!(Policy::new().refusal(name).is_some(), "{name}");
    }
    assert!(REFUSED.len() > 200, "{}", REFUSED.len());
}

#[test]
fn every_pattern_has_a_refused_name_above() {
    for class in LOADER_CLASSES {
        for pattern in class.patterns {
            assert!(
                REFUSED
                    .iter()
                    .any(|n| loader::matches(pattern, n, class.any_case)),
                "no test name for {pattern}"
            );
        }
    }
}

#[test]
fn everyday_names_pass() {
    for name in ORDINARY {
        assert!(!is_loader_var(name), "{name} should pass");
    }
}

#[test]
fn every_harmless_name_lies_inside_a_class() {
    // Otherwise the exception is dead text and hides a typo.
    for pattern in HARMLESS {
        let name = pattern.replace('*', "X");
        assert!(
            LOADER_CLASSES.iter().any(|c| c
                .patterns
                .iter()
                .any(|p| loader::matches(p, &name, c.any_case))),
            "{pattern} is in no class"
        );
        assert!(!is_loader_var(&name), "{pattern}");
    }
}

#[test]
fn letter_case_follows_the_platform_and_the_reader() {
    let exact = Policy::new().ignoring_case(false);
    let folded = Policy::new().ignoring_case(true);
    // Exact elsewhere: `ld_preload` is another variable, which the linker ignores.
    assert!(exact.refusal("ld_preload").is_none());
    assert!(folded.refusal("ld_preload").is_some());
    assert!(folded.refusal("Path").is_some());
    assert!(folded.refusal("node_env").is_none());
    // Readers that accept any case are matched in any case everywhere.
    for name in ["http_proxy", "Https_Proxy", "npm_CONFIG_registry"] {
        assert!(exact.refusal(name).is_some(), "{name}");
    }
    assert!(exact.is_private_key("DOTENV_PRIVATE_KEY_CI"));
    assert!(!exact.is_private_key("dotenv_private_key_ci"));
    assert!(folded.is_private_key("dotenv_private_key_ci"));
}

#[test]
fn allowing_one_name_allows_only_that_name() {
    let policy = Policy::new()
        .allow_loader_vars(["HTTPS_PROXY", "NODE_OPTIONS"])
        .unwrap();
    assert!(policy.refusal("HTTPS_PROXY").is_none());
    assert!(policy.refusal("NODE_OPTIONS").is_none());
    assert!(policy.refusal("HTTP_PROXY").is_some());
    assert!(policy.refusal("https_proxy").is_some());
    assert!(policy.refusal("NODE_PATH").is_some());
    assert!(policy.refusal("LD_PRELOAD").is_some());
    let typo = Policy::new()
        .allow_loader_vars(["HTTPS_PROXI"])
        .unwrap_err();
    assert_eq!(
        typo.to_string(),
        "HTTPS_PROXI is not a loader variable; there is nothing to allow"
    );
}

#[test]
fn apply_refuses_file_values_and_drops_private_keys() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join(".env");
    std::fs::write(
        &path,
        "A=1\nDOTENV_PRIVATE_KEY_X=abc\nPYTHONUSERBASE=/tmp/evil\nPATH=/evil\n",
    )
    .unwrap();
    let env = HashMap::from([("PATH".to_owned(), "/usr/bin".to_owned())]);
    let mut loaded = load_file_with_env(&path, &env).unwrap();
    let error = Policy::new().apply(&mut loaded).unwrap_err();
    assert_eq!(
        error.to_string(),
        format!(
            "{}:3: PYTHONUSERBASE changes how programs load code, where their traffic goes or what they trust (python); envx does not set it from a file",
            path.display()
        )
    );
    assert_eq!(loaded.variables.len(), 4, "left as it was");
    // Allowed by name, PYTHONUSERBASE passes; PATH comes from the environment, which wins.
    let policy = Policy::new().allow_loader_vars(["PYTHONUSERBASE"]).unwrap();
    policy.apply(&mut loaded).unwrap();
    let names: Vec<&str> = loaded.variables.iter().map(|v| v.key.as_str()).collect();
    assert_eq!(names, ["A", "PYTHONUSERBASE", "PATH"]);
    assert_eq!(
        loaded.get("PATH").unwrap().value.expose_secret(),
        "/usr/bin"
    );
}

#[test]
fn the_readme_table_lists_every_class_and_harmless_name() {
    let readme = include_str!("../../../README.md");
    let start = readme
        .find("<!-- loader-classes -->")
        .expect("table marker");
    let table = &readme[start..];
    for class in LOADER_CLASSES {
        assert!(
            table.contains(&format!("| {} |", class.name)),
            "{}",
            class.name
        );
        for pattern in class.patterns {
            assert!(table.contains(&format!("`{pattern}`")), "{pattern}");
        }
    }
    for name in HARMLESS {
        assert!(table.contains(&format!("`{name}`")), "{name}");
    }
}

#[test]
fn one_rule_says_which_files_are_env_files() {
    use EnvFileKind::{Keys, Template, Values};
    let cases: &[(&str, Option<EnvFileKind>)] = &[
        (".env", Some(Values)),
        (".ENV", Some(Values)),
        (".env.production", Some(Values)),
        (".env.production.local", Some(Values)),
        (".Env.Production", Some(Values)),
        (".env-staging", Some(Values)),
        (".env.txt", Some(Values)),
        ("env.production", Some(Values)),
        ("production.env", Some(Values)),
        ("example.env", Some(Template)),
        ("app.sample.env", Some(Template)),
        ("production.env.txt", Some(Values)),
        ("app.env.local", Some(Values)),
        (".env.keys", Some(Keys)),
        (".ENV.KEYS", Some(Keys)),
        (".env.keys.bak", Some(Keys)),
        (".env.example", Some(Template)),
        (".env.local.example", Some(Template)),
        (".env.sample", Some(Template)),
        (".env.template", Some(Template)),
        ("env.example", Some(Template)),
        (".envrc", None),
        (".environment", None),
        ("environment.ts", None),
        (".envx-tmp-abc123", None),
        ("env.py", None),
        ("env.d.ts", None),
        ("vite-env.d.ts", None),
        ("app.env.json", None),
        ("env", None),
        ("README.md", None),
        ("dotenv", None),
    ];
    for (name, kind) in cases {
        assert_eq!(env_file_kind(name), *kind, "{name}");
    }
}

#[test]
fn private_keys_are_found_by_content() {
    let key = "64294efce9d019865bd2ed212fac9dfaacfb744fa5fd5c39453ea0f20871948f";
    let found = |text: &str, env_like| private_key_line(text, env_like);
    assert_eq!(
        found(&format!("# x\nDOTENV_PRIVATE_KEY_CI={key}\n"), false),
        Some(2)
    );
    assert_eq!(
        found(
            &format!("export DOTENV_PRIVATE_KEY=\"{key},{key}\"\n"),
            false
        ),
        Some(1)
    );
    assert_eq!(
        found(&format!("#DOTENV_PRIVATE_KEY={key}\n"), false),
        Some(1)
    );
    assert_eq!(
        found(&format!("{{\"DOTENV_PRIVATE_KEY\": \"{key}\",\n"), false),
        None
    );
    assert_eq!(
        found(&format!("  \"DOTENV_PRIVATE_KEY\": \"{key}\",\n"), false),
        Some(1)
    );
    // Any 64-hex value counts in an env file, not in other files.
    assert_eq!(
        found(&format!("A=1\nSIGNING_KEY_PLAIN={key}\n"), true),
        Some(2)
    );
    assert_eq!(found(&format!("SIGNING_KEY_PLAIN={key}\n"), false), None);
    // A public key (66 digits), a ciphertext or a short hex value is not a private key.
    let public = format!("02{key}");
    assert_eq!(
        found(&format!("DOTENV_PUBLIC_KEY={public}\nA=abc123\n"), true),
        None
    );
    assert_eq!(
        found(&format!("DOTENV_PRIVATE_KEY={}\n", &key[..63]), false),
        None
    );
}

/// The names a pattern is about: itself, with something after or before its `*`, and each in
/// lower case.
fn names_near(pattern: &str) -> Vec<String> {
    let bare = pattern.trim_matches('*');
    let mut names = vec![
        bare.to_owned(),
        format!("{bare}X"),
        format!("X{bare}"),
        format!("{bare}_1"),
        bare.chars().take(1).collect(),
        bare.chars().skip(1).collect(),
        bare.chars().take(bare.len().saturating_sub(1)).collect(),
    ];
    let lower: Vec<String> = names.iter().map(|n| n.to_ascii_lowercase()).collect();
    names.extend(lower);
    names
}

proptest::proptest! {
    /// The index over the patterns finds, for any name and either case rule, the class a scan
    /// of every pattern in order finds.
    #[test]
    fn the_index_finds_what_a_scan_of_every_pattern_finds(
        pick in 0usize..1000,
        noise in "[A-Za-z_0-9]{0,6}",
        fold in proptest::bool::ANY,
    ) {
        let patterns: Vec<&str> = LOADER_CLASSES
            .iter()
            .flat_map(|c| c.patterns.iter().copied())
            .chain(HARMLESS.iter().copied())
            .collect();
        let pattern = patterns[pick % patterns.len()];
        for name in names_near(pattern).into_iter().chain([noise.clone(), format!("{noise}{}", pattern.trim_matches('*'))]) {
            proptest::prop_assert_eq!(
                loader::class_of(&name, fold).map(|c| c.name),
                loader::class_of_by_scan(&name, fold).map(|c| c.name),
                "{}", name
            );
        }
    }
}
