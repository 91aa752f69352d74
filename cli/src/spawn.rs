//! `envx run --redact`: the child runs as our child, its output passes through the redaction
//! filter, and the signals a terminal or supervisor sends to envx are forwarded to it.

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::thread;

use envx_core::redact::Redactor;

use crate::exit::Exit;
use crate::ui::Failure;

/// Signals forwarded to the child as soon as envx receives them.
const FORWARDED: [i32; 4] = [
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGHUP,
    signal_hook::consts::SIGQUIT,
];

/// Spawns `command` with stdout and stderr piped through `redactor`, forwards signals, waits,
/// and returns the child's exit status (128 + n when signal n ended it).
pub fn run_redacted(
    mut command: Command,
    redactor: Redactor,
    start_failure: impl Fn(&std::io::Error) -> Failure,
) -> Result<Exit, Failure> {
    // Registered before the child starts, so no signal falls between the two.
    let mut signals = signal_hook::iterator::Signals::new(FORWARDED)
        .map_err(|e| Failure::new(format!("cannot install signal handlers: {e}")))?;
    let mut child: Child = command
        .stdin(Stdio::inherit())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| start_failure(&e))?;
    let pid = rustix::process::Pid::from_child(&child);
    let handle = signals.handle();
    let forwarder = thread::spawn(move || {
        for signal in signals.forever() {
            if let Some(signal) = rustix::process::Signal::from_named_raw(signal) {
                // The child may already be gone; nothing to do then.
                let _ = rustix::process::kill_process(pid, signal);
            }
        }
    });
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let status = thread::scope(|scope| {
        if let Some(out) = stdout {
            scope.spawn(|| pump(out, std::io::stdout(), &redactor));
        }
        if let Some(err) = stderr {
            scope.spawn(|| pump(err, std::io::stderr(), &redactor));
        }
        child.wait()
    });
    handle.close();
    let _ = forwarder.join();
    let status =
        status.map_err(|e| Failure::new(format!("waiting for the command failed: {e}")))?;
    Ok(Exit::Child(exit_code(status)))
}

/// Copies `from` to `to` through a redaction stream, flushing after every read so the child's
/// output appears as it is written.
fn pump(mut from: impl Read, to: impl Write, redactor: &Redactor) {
    let mut to = to;
    let mut stream = redactor.stream();
    let mut buffer = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(buffer.len() + 256);
    loop {
        let n = match from.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        };
        out.clear();
        stream.push(&buffer[..n], &mut out);
        if to.write_all(&out).and_then(|()| to.flush()).is_err() {
            // Our reader went away; keep draining so the child is not blocked on a full pipe.
            continue;
        }
    }
    out.clear();
    stream.finish(&mut out);
    let _ = to.write_all(&out).and_then(|()| to.flush());
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
