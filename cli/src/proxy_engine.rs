//! The seam between `envx` and `envx-proxy`.
//!
//! `run --proxy` and `run --proxy --check` reach the proxy only through a [`ProxyEngine`]. The
//! one instance, [`ENGINE`], is referenced only from [`crate::main_with_proxy`], so the linker
//! keeps the engine (and tokio, hyper and rustls behind it) out of the `envx` executable, which
//! starts a run without `--proxy` as fast as an envx that never had a proxy.

use std::collections::HashMap;

use envx_core::discover::Candidate;
use envx_core::load::Loaded;
use zeroize::Zeroizing;

use crate::cmd::run::RunArgs;
use crate::context::Context;
use crate::exit::Exit;
use crate::ui::{Failure, Ui};

/// What `run` calls for `--proxy`.
pub struct ProxyEngine {
    /// Runs the child behind the proxy; the arguments are those of `cmd::run::proxied::run`.
    #[allow(clippy::type_complexity)]
    pub run: fn(
        &RunArgs,
        &Context,
        &Ui,
        &Loaded,
        HashMap<String, String>,
        Vec<(String, Zeroizing<String>)>,
        &[Candidate],
    ) -> Result<Exit, Failure>,
    /// `--check`: probes the installed clients through the proxy.
    pub check: fn(&HashMap<String, String>, &Ui) -> Result<Exit, Failure>,
}

/// The engine, linked only into `envx-proxy`.
pub static ENGINE: ProxyEngine = ProxyEngine {
    run: crate::cmd::run::proxied::run,
    check: crate::proxy::check::run,
};

/// The name of the executable that carries the engine, beside `envx`.
pub const EXECUTABLE: &str = "envx-proxy";
