//! What the proxy remembers of each request that carried a placeholder: per-key counters for
//! the exit summary, and one JSON line in the audit log. Key names, hosts, methods and paths
//! only: never a value, never a query string.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::io::Write as _;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::target::Target;

/// One key's figures for the run.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KeySummary {
    /// The key's name.
    pub key: String,
    /// Requests in which its real value was put in place of the placeholder.
    pub substitutions: u64,
    /// Requests that carried its placeholder where the rule does not allow it.
    pub refused: u64,
    /// The `host:port`s its value was sent to, sorted.
    pub hosts: Vec<String>,
}

/// Every key's figures, sorted by key name (every key with a rule, used or not).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Summary {
    /// One entry per key.
    pub keys: Vec<KeySummary>,
}

/// One request that carried a placeholder.
pub struct Record<'a> {
    /// The CONNECT target.
    pub target: &'a Target,
    /// The request method.
    pub method: &'a str,
    /// The request path as the client sent it, query removed.
    pub path: &'a str,
    /// Keys whose value was substituted (head or body).
    pub substituted: &'a [String],
    /// Keys whose placeholder was seen where it is not allowed.
    pub refused: &'a [String],
    /// The status the client got (403 when `--proxy-strict` refused it).
    pub status: u16,
}

#[derive(Default)]
struct Counts {
    substitutions: u64,
    refused: u64,
    hosts: BTreeSet<String>,
}

/// The counters and the log file, shared by every connection.
pub struct Audit {
    counts: Mutex<BTreeMap<String, Counts>>,
    log: Option<Mutex<File>>,
}

impl Audit {
    /// Counters for `keys`, and the log (opened by the caller, mode 0600) if any.
    pub fn new<'a>(keys: impl Iterator<Item = &'a str>, log: Option<File>) -> Audit {
        let counts = keys.map(|k| (k.to_owned(), Counts::default())).collect();
        Audit {
            counts: Mutex::new(counts),
            log: log.map(Mutex::new),
        }
    }

    /// Counts the request and writes its line. A failed write is not fatal to the request:
    /// the proxy keeps serving and the line is lost.
    pub fn record(&self, r: &Record<'_>) {
        if r.substituted.is_empty() && r.refused.is_empty() {
            return;
        }
        {
            let mut counts = self
                .counts
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            for key in r.substituted {
                let c = counts.entry(key.clone()).or_default();
                c.substitutions += 1;
                c.hosts.insert(r.target.authority());
            }
            for key in r.refused {
                counts.entry(key.clone()).or_default().refused += 1;
            }
        }
        if let Some(log) = &self.log {
            let mut keys: Vec<&str> = r.substituted.iter().map(String::as_str).collect();
            keys.extend(r.refused.iter().map(String::as_str));
            keys.sort_unstable();
            keys.dedup();
            let line = serde_json::json!({
                "time": rfc3339_now(),
                "keys": keys,
                "host": r.target.host,
                "port": r.target.port,
                "method": r.method,
                "path": r.path,
                "outcome": if r.refused.is_empty() { "allowed" } else { "refused" },
                "substituted": r.substituted,
                "refused": r.refused,
                "status": r.status,
            });
            let mut bytes = line.to_string().into_bytes();
            bytes.push(b'\n');
            let mut file = log
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            // One write per line, so lines from concurrent requests never interleave.
            let _ = file.write_all(&bytes);
        }
    }

    /// The figures so far.
    pub fn summary(&self) -> Summary {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Summary {
            keys: counts
                .iter()
                .map(|(key, c)| KeySummary {
                    key: key.clone(),
                    substitutions: c.substitutions,
                    refused: c.refused,
                    hosts: c.hosts.iter().cloned().collect(),
                })
                .collect(),
        }
    }
}

/// Now, as `2026-11-30T01:02:03.456Z`.
fn rfc3339_now() -> String {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (y, m, d) = civil_from_days(i64::try_from(secs / 86_400).unwrap_or(0));
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

/// The proleptic Gregorian date of a day counted from 1970-01-01 (Howard Hinnant's
/// `civil_from_days` algorithm).
pub fn civil_from_days(days: i64) -> (i32, u8, u8) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    (
        i32::try_from(y).unwrap_or(i32::MAX),
        u8::try_from(m).unwrap_or(1),
        u8::try_from(d).unwrap_or(1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_787), (2026, 11, 30));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
    }
}
