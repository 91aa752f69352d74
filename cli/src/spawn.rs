//! `envx run --redact`: the child runs as our child, its output passes through the redaction
//! filter, and the signals a supervisor sends to envx are forwarded to it.
//!
//! While envx stays alive next to a child it holds what the child must not see (private keys,
//! every secret as a redaction pattern), so it first makes itself unreadable to the child: see
//! [`spawn_supervised`].

use std::io::{Read, Write};
use std::os::fd::{AsFd, BorrowedFd};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use envx_core::redact::{Emitted, Output, RedactStream, Redactor};
use signal_hook::iterator::SignalsInfo;
use signal_hook::iterator::exfiltrator::WithRawSiginfo;

use crate::exit::Exit;
use crate::ui::Failure;

/// Signals forwarded to the child when another process sent them to envx.
const FORWARDED: [i32; 4] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
];

/// How long envx goes on copying output already in the pipes once the child has exited.
/// Background processes the child started may hold the pipes open for hours; envx waits for
/// the child, not for them.
const DRAIN_LIMIT: Duration = Duration::from_millis(250);

/// Starts `command` as a child that envx outlives, after making envx unreadable to it.
///
/// Every mode in which envx stays alive next to the child it started (`run --redact` today)
/// starts the child here. Before the child exists, envx marks itself non-dumpable (Linux:
/// `prctl(PR_SET_DUMPABLE, 0)`), so a process of the same ordinary (non-root) user, the child
/// included, can no longer open envx's `/proc/PID/environ`, `mem`, `maps` or `fd/*`, attach a
/// debugger, or get a core dump. Root with `CAP_SYS_PTRACE` still can (see the README's
/// security model). The child itself is dumpable as usual: `execve` resets the flag. Once the child runs, envx also sets its own core size limit to zero, soft
/// and hard (so the child cannot raise it again with `prlimit`); that is the only protection
/// on systems without `PR_SET_DUMPABLE`. It comes after the spawn so the child keeps the
/// user's limit.
///
/// # Errors
/// [`SpawnError::Protect`] when envx cannot protect itself (then no child runs), and
/// [`SpawnError::Start`] when the command cannot be started.
pub fn spawn_supervised(command: &mut Command) -> Result<Child, SpawnError> {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)
        .map_err(|e| SpawnError::Protect(e.into()))?;
    let child = command.spawn().map_err(SpawnError::Start)?;
    let none = rustix::process::Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    if let Err(e) = rustix::process::setrlimit(rustix::process::Resource::Core, none) {
        let mut child = child;
        let _ = child.kill();
        let _ = child.wait();
        return Err(SpawnError::Protect(e.into()));
    }
    Ok(child)
}

/// Why [`spawn_supervised`] started no child.
#[derive(Debug)]
pub enum SpawnError {
    /// envx could not make itself unreadable to the child.
    Protect(std::io::Error),
    /// The command could not be started.
    Start(std::io::Error),
}

/// Spawns `command` with stdout and stderr piped through `redactor`, forwards signals, waits,
/// and returns the child's exit status (128 + n when signal n ended it).
///
/// The child stays in envx's process group and keeps envx's stdin, so in a terminal it is in
/// the foreground as it would be without `--redact`: it reads the terminal, and Ctrl-C, Ctrl-\
/// and Ctrl-Z reach it straight from the terminal, once. Forwarding those as well would
/// deliver them twice, so envx forwards only the signals another process sent it (`kill`,
/// `sigqueue`), not those the kernel raised for the terminal. A signal sent to the whole group
/// (`kill -TERM -PGID`) still reaches the child twice: directly, and through envx.
pub fn run_redacted(
    mut command: Command,
    redactor: Redactor,
    start_failure: impl Fn(&std::io::Error) -> Failure,
) -> Result<Exit, Failure> {
    // The pumps learn that the child has exited when the write end of this pipe is closed
    // (std creates both ends close-on-exec, so the child does not hold them).
    let (exited_read, exited_write) =
        std::io::pipe().map_err(|e| Failure::new(format!("cannot create a pipe: {e}")))?;
    command
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut supervised = Supervised::start(command, start_failure)?;
    let stdout = supervised.child.stdout.take();
    let stderr = supervised.child.stderr.take();
    let exited = exited_read.as_fd();
    let shared = Mutex::new(Outputs::new(&redactor));
    let outputs = &shared;
    let status = thread::scope(|scope| {
        if let Some(out) = stdout {
            scope.spawn(move || pump(out, STDOUT, outputs, exited));
        }
        if let Some(err) = stderr {
            scope.spawn(move || pump(err, STDERR, outputs, exited));
        }
        let status = supervised.wait();
        drop(exited_write);
        status
    });
    shared
        .into_inner()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .finish();
    let status =
        status.map_err(|e| Failure::new(format!("waiting for the command failed: {e}")))?;
    Ok(Exit::Child(exit_code(status)))
}

/// Spawns `command` as a supervised child with its own stdin, stdout and stderr (envx's),
/// forwards the signals another process sends envx, waits, and returns the child's exit status
/// (128 + n when signal n ended it). `run --proxy` uses it: envx stays alive for the proxy, and
/// cleans up (the CA bundle, the proxy) after the child, however the child ended.
pub fn run_supervised(
    command: Command,
    start_failure: impl Fn(&std::io::Error) -> Failure,
) -> Result<Exit, Failure> {
    let status = Supervised::start(command, start_failure)?
        .wait()
        .map_err(|e| Failure::new(format!("waiting for the command failed: {e}")))?;
    Ok(Exit::Child(exit_code(status)))
}

/// A child started by [`spawn_supervised`], with a thread that forwards to it the signals
/// another process sends envx.
struct Supervised {
    child: Child,
    signals: signal_hook::iterator::Handle,
    forwarder: thread::JoinHandle<()>,
}

impl Supervised {
    /// Installs the signal handlers, then starts the child: no signal falls between the two.
    /// `command`, with its copy of the environment (every injected secret), is dropped once
    /// the child runs.
    fn start(
        mut command: Command,
        start_failure: impl Fn(&std::io::Error) -> Failure,
    ) -> Result<Self, Failure> {
        let mut signals = SignalsInfo::<WithRawSiginfo>::new(FORWARDED)
            .map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
        let child = spawn_supervised(&mut command).map_err(|e| match e {
            SpawnError::Protect(e) => Failure::new(format!(
                "cannot protect envx's memory from the command, so it was not started: {e}"
            )),
            SpawnError::Start(e) => start_failure(&e),
        })?;
        drop(command);
        let pid = rustix::process::Pid::from_child(&child);
        let handle = signals.handle();
        let forwarder = thread::spawn(move || {
            for info in signals.forever() {
                if !sent_by_a_process(&info) {
                    continue;
                }
                if let Some(signal) = rustix::process::Signal::from_named_raw(info.si_signo) {
                    // The child may already have exited; nothing to do then.
                    let _ = rustix::process::kill_process(pid, signal);
                }
            }
        });
        Ok(Self {
            child,
            signals: handle,
            forwarder,
        })
    }

    /// Waits for the child's exit without reaping it, stops the forwarder (so it cannot signal
    /// another process that gets the pid later), then reaps the child.
    fn wait(mut self) -> std::io::Result<std::process::ExitStatus> {
        let exit = loop {
            match rustix::process::waitid(
                rustix::process::WaitId::Pid(rustix::process::Pid::from_child(&self.child)),
                rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
            ) {
                Err(rustix::io::Errno::INTR) => continue,
                other => break other,
            }
        };
        self.signals.close();
        let _ = self.forwarder.join();
        exit.map_err(std::io::Error::from)?;
        self.child.wait()
    }
}

/// Whether a process sent this signal (`kill`, `sigqueue`, `tgkill`), as opposed to the kernel
/// raising it for a terminal's keys or hangup, which reach the whole foreground group.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn sent_by_a_process(info: &libc::siginfo_t) -> bool {
    matches!(
        info.si_code,
        libc::SI_USER | libc::SI_QUEUE | libc::SI_TKILL
    )
}

/// Elsewhere the origin is not told apart (a documented limit): every signal is forwarded.
#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn sent_by_a_process(_: &libc::siginfo_t) -> bool {
    true
}

/// The filter's outputs: one shared redaction stream for stdout and stderr, so that a secret
/// written half to each is caught as it would appear in a log holding both (`2>&1`). Bytes are
/// written, each to the output it came from, in the order the filter saw them, under one lock:
/// what a combined log receives is exactly what the filter checked.
struct Outputs<'r> {
    stream: RedactStream<'r>,
    shown: Emitted,
}

const STDOUT: Output = 0;
const STDERR: Output = 1;

impl<'r> Outputs<'r> {
    fn new(redactor: &'r Redactor) -> Self {
        Self {
            stream: redactor.stream(),
            shown: Emitted::default(),
        }
    }

    /// Filters what `from` produced and writes what may be shown, flushing so the child's
    /// output appears as it is written.
    fn pass(&mut self, from: Output, bytes: &[u8]) {
        self.shown.clear();
        self.stream.push(from, bytes, &mut self.shown);
        self.write();
    }

    /// Releases what is still held back (it did not become a secret).
    fn finish(mut self) {
        self.shown.clear();
        self.stream.finish(&mut self.shown);
        self.write();
    }

    fn write(&self) {
        for (output, part) in self.shown.parts() {
            // A reader that went away is not an error: the child's output keeps being drained
            // so that it is not blocked on a full pipe.
            let _ = if output == STDOUT {
                let mut out = std::io::stdout().lock();
                out.write_all(part).and_then(|()| out.flush())
            } else {
                std::io::stderr().write_all(part)
            };
        }
    }
}

/// Copies `from` (the child's output `which`) through the shared filter. Stops at end of file,
/// or, once `exited` reports that the child has exited, as soon as the pipe holds nothing more
/// (at most [`DRAIN_LIMIT`] later).
fn pump(
    from: impl Read + AsFd,
    which: Output,
    outputs: &Mutex<Outputs<'_>>,
    exited: BorrowedFd<'_>,
) {
    use rustix::event::{PollFd, PollFlags, Timespec, poll};
    let mut from = from;
    let mut buffer = vec![0u8; 64 * 1024];
    let mut drain_until: Option<Instant> = None;
    let now = Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        let pipe = from.as_fd();
        let mut fds = [
            PollFd::from_borrowed_fd(pipe, PollFlags::IN),
            PollFd::from_borrowed_fd(exited, PollFlags::IN),
        ];
        let (watched, timeout) = match drain_until {
            None => (&mut fds[..], None),
            Some(_) => (&mut fds[..1], Some(&now)),
        };
        match poll(watched, timeout) {
            Ok(_) => {}
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => break,
        }
        if fds[0].revents().is_empty() {
            if drain_until.is_some() {
                // The child has exited and nothing more is buffered.
                break;
            }
            drain_until = Some(Instant::now() + DRAIN_LIMIT);
            continue;
        }
        if drain_until.is_some_and(|limit| Instant::now() >= limit) {
            break;
        }
        // Readable or hung up: this read does not block.
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        outputs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .pass(which, &buffer[..n]);
    }
    zeroize::Zeroize::zeroize(&mut buffer);
}

/// The status a shell would report: the exit code, or 128 + the signal that ended the child.
fn exit_code(status: std::process::ExitStatus) -> u8 {
    if let Some(code) = status.code() {
        return u8::try_from(code & 0xff).unwrap_or(1);
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        if let Some(signal) = status.signal() {
            return u8::try_from(128 + signal).unwrap_or(255);
        }
    }
    1
}
