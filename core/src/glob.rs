//! Key selection by name or glob (`*` any run of characters, `?` one character).

/// One pattern: a plain name matches itself only.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob(String);

impl Glob {
    /// A pattern from its text.
    pub fn new(pattern: &str) -> Self {
        Self(pattern.to_owned())
    }

    /// Does `name` match the whole pattern?
    pub fn matches(&self, name: &str) -> bool {
        matches(self.0.as_bytes(), name.as_bytes())
    }
}

/// Iterative wildcard matching with single-star backtracking: linear in practice, never
/// exponential.
fn matches(pattern: &[u8], name: &[u8]) -> bool {
    let (mut p, mut n) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while n < name.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, n));
                p += 1;
            }
            Some(&c) if c == b'?' || c == name[n] => {
                p += 1;
                n += 1;
            }
            _ => match star {
                Some((sp, sn)) => {
                    p = sp + 1;
                    n = sn + 1;
                    star = Some((sp, sn + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

/// Which keys a command acts on: those matching any `include` pattern (all when there is
/// none), minus those matching any `exclude` pattern. Exclusion wins.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    include: Vec<Glob>,
    exclude: Vec<Glob>,
}

impl Selection {
    /// Every key.
    pub fn all() -> Self {
        Self::default()
    }

    /// A selection from include and exclude patterns.
    pub fn new<I, E>(include: I, exclude: E) -> Self
    where
        I: IntoIterator,
        I::Item: AsRef<str>,
        E: IntoIterator,
        E::Item: AsRef<str>,
    {
        Self {
            include: include.into_iter().map(|p| Glob::new(p.as_ref())).collect(),
            exclude: exclude.into_iter().map(|p| Glob::new(p.as_ref())).collect(),
        }
    }

    /// Is `key` selected?
    pub fn contains(&self, key: &str) -> bool {
        (self.include.is_empty() || self.include.iter().any(|g| g.matches(key)))
            && !self.exclude.iter().any(|g| g.matches(key))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs_match_whole_names() {
        let cases = [
            ("API_KEY", "API_KEY", true),
            ("API_KEY", "API_KEYS", false),
            ("*_TOKEN", "GITHUB_TOKEN", true),
            ("*_TOKEN", "TOKEN", false),
            ("API_*", "API_", true),
            ("A?C", "ABC", true),
            ("A?C", "AC", false),
            ("*a*b*", "xxaxxbxx", true),
            ("*a*b", "xxaxxbxxc", false),
            ("*", "", true),
        ];
        for (pattern, name, expected) in cases {
            assert_eq!(
                Glob::new(pattern).matches(name),
                expected,
                "{pattern} vs {name}"
            );
        }
    }

    #[test]
    fn exclusion_wins() {
        let s = Selection::new(["API_*"], ["*_PUBLIC"]);
        assert!(s.contains("API_KEY"));
        assert!(!s.contains("API_PUBLIC"));
        assert!(!s.contains("OTHER"));
        assert!(Selection::all().contains("ANY"));
    }
}
