//! API keys (off by default): read once at start-up from `--api-keys-file PATH` (one key per
//! line, `#` starts a comment) or the `GREETER_API_KEYS` environment variable (comma
//! separated); never from a flag's value, which `ps` would show. Only each key's SHA-256 is kept,
//! and a presented key is compared with every one of them in constant time.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use crate::config::files::read_text_file;

/// The environment variable holding keys, comma separated.
pub const API_KEYS_ENV: &str = "GREETER_API_KEYS";

/// The fewest characters a key may have: a guessable key is no key.
pub const MIN_KEY_LENGTH: usize = 16;

/// A value that must never be printed (the keys of `GREETER_API_KEYS`); `None` inside when the
/// variable is set to bytes that are not text, which [`ApiKeys::load`] refuses (rather than
/// starting with no keys).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(Option<String>);

impl Secret {
    /// Wraps `value`.
    pub fn new(value: impl Into<String>) -> Self {
        Self(Some(value.into()))
    }

    /// The variable `name`'s value, if set.
    pub fn from_env(name: &str) -> Option<Self> {
        match std::env::var(name) {
            Ok(value) => Some(Self(Some(value))),
            Err(std::env::VarError::NotPresent) => None,
            Err(std::env::VarError::NotUnicode(_)) => Some(Self(None)),
        }
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// The largest API keys file read: some 16,000 keys of 64 characters. A larger one is not a
/// keys file (`/dev/zero` would fill the memory).
pub const MAX_KEYS_FILE_BYTES: u64 = 1 << 20;

/// The accepted keys, by digest; clones share them.
#[derive(Clone)]
pub struct ApiKeys {
    digests: Arc<[[u8; 32]]>,
}

impl fmt::Debug for ApiKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ApiKeys({} keys)", self.digests.len())
    }
}

impl ApiKeys {
    /// The keys of `file` or `env` (not both); `None` when neither is set. The error is one
    /// line naming the source and line, never a key.
    pub fn load(file: Option<&Path>, env: Option<&Secret>) -> Result<Option<Self>, String> {
        match (file, env) {
            (None, None) => Ok(None),
            (Some(_), Some(_)) => Err(format!(
                "--api-keys-file and {API_KEYS_ENV} are both set: choose one"
            )),
            (Some(path), None) => {
                let source = format!("--api-keys-file {}", path.display());
                let text = read_text_file(path, MAX_KEYS_FILE_BYTES)
                    .map_err(|why| format!("{source}: {why}"))?;
                let keys = text.lines().enumerate().filter_map(|(index, line)| {
                    let key = line.split('#').next().unwrap_or_default().trim();
                    (!key.is_empty()).then(|| (format!("{source} line {}", index + 1), key))
                });
                Self::from_keys(&source, keys).map(Some)
            }
            (None, Some(secret)) => {
                let text = secret
                    .0
                    .as_deref()
                    .ok_or_else(|| format!("{API_KEYS_ENV} is not valid UTF-8"))?;
                let keys = text
                    .split(',')
                    .enumerate()
                    .map(|(index, key)| (format!("{API_KEYS_ENV} key {}", index + 1), key.trim()));
                Self::from_keys(API_KEYS_ENV, keys).map(Some)
            }
        }
    }

    fn from_keys<'a>(
        source: &str,
        keys: impl Iterator<Item = (String, &'a str)>,
    ) -> Result<Self, String> {
        let mut digests = Vec::new();
        for (place, key) in keys {
            if key.len() < MIN_KEY_LENGTH || !is_token68(key) {
                return Err(format!(
                    "{place}: a key is at least {MIN_KEY_LENGTH} characters of A-Z a-z 0-9 \
                     - . _ ~ + / (then = padding), e.g. from `openssl rand -hex 32`"
                ));
            }
            digests.push(Sha256::digest(key.as_bytes()).into());
        }
        if digests.is_empty() {
            return Err(format!("{source} holds no key"));
        }
        Ok(Self {
            digests: digests.into(),
        })
    }

    /// Whether `presented` is one of the keys. The time taken does not depend on which key, if
    /// any, it matches, nor on how much of one it matches.
    pub fn accepts(&self, presented: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(presented).into();
        self.digests.iter().fold(false, |found, key| {
            found | constant_time_eq::constant_time_eq_32(key, &digest)
        })
    }

    /// How many keys there are.
    pub fn len(&self) -> usize {
        self.digests.len()
    }

    /// Whether there are none (never true of loaded keys).
    pub fn is_empty(&self) -> bool {
        self.digests.is_empty()
    }
}

/// RFC 7235's `token68`: what a `Bearer` credential may hold.
fn is_token68(key: &str) -> bool {
    let body = key.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "k3y-0123456789abcdef";

    fn from_env(value: &str) -> Result<Option<ApiKeys>, String> {
        ApiKeys::load(None, Some(&Secret::new(value)))
    }

    #[test]
    fn keys_from_the_environment_are_comma_separated() {
        let keys = from_env(&format!(" {KEY} , other-key-0123456789"))
            .unwrap()
            .unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.accepts(KEY.as_bytes()));
        assert!(keys.accepts(b"other-key-0123456789"));
        assert!(!keys.accepts(b"k3y-0123456789abcde"));
        assert!(!keys.accepts(b""));
    }

    #[test]
    fn a_key_file_has_one_key_per_line_and_comments() {
        let dir = std::env::temp_dir().join(format!("greeter-keys-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("keys");
        std::fs::write(
            &file,
            format!("# the team's keys\n\n{KEY}  # ci\n  second-key-0123456789\n"),
        )
        .unwrap();
        let keys = ApiKeys::load(Some(&file), None).unwrap().unwrap();
        assert_eq!(keys.len(), 2);
        assert!(keys.accepts(b"second-key-0123456789"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn bad_keys_are_refused_in_one_line_that_shows_no_key() {
        for (value, expected) in [
            ("", "GREETER_API_KEYS key 1: a key is at least 16"),
            ("short", "GREETER_API_KEYS key 1: a key"),
            (
                &format!("{KEY},with space in it 012345"),
                "GREETER_API_KEYS key 2: a key",
            ),
            (&format!("{KEY},"), "GREETER_API_KEYS key 2: a key"),
            ("=================", "GREETER_API_KEYS key 1: a key"),
        ] {
            let error = from_env(value).unwrap_err();
            assert!(error.starts_with(expected), "{value:?}: {error}");
            assert!(!error.contains('\n'));
            assert!(value.is_empty() || !error.contains(value), "{error}");
        }
        let missing = ApiKeys::load(Some(Path::new("/nonexistent/keys")), None).unwrap_err();
        assert!(
            missing.starts_with("--api-keys-file /nonexistent/keys: cannot read it: "),
            "{missing}"
        );
        let both = ApiKeys::load(Some(Path::new("/k")), Some(&Secret::new(KEY))).unwrap_err();
        assert!(both.contains("choose one"), "{both}");
        assert!(ApiKeys::load(None, None).unwrap().is_none());
    }

    #[test]
    fn a_file_of_comments_alone_holds_no_key() {
        let file = std::env::temp_dir().join(format!("greeter-no-keys-{}", std::process::id()));
        std::fs::write(&file, "# none yet\n\n").unwrap();
        let error = ApiKeys::load(Some(&file), None).unwrap_err();
        assert!(error.ends_with("holds no key"), "{error}");
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn a_variable_that_is_not_text_is_refused_not_ignored() {
        let error = ApiKeys::load(None, Some(&Secret(None))).unwrap_err();
        assert_eq!(error, "GREETER_API_KEYS is not valid UTF-8");
    }

    #[test]
    fn a_byte_order_mark_before_the_first_key_is_skipped() {
        let file = std::env::temp_dir().join(format!("greeter-bom-keys-{}", std::process::id()));
        std::fs::write(&file, format!("\u{feff}{KEY}\r\n")).unwrap();
        let keys = ApiKeys::load(Some(&file), None).unwrap().unwrap();
        assert!(keys.accepts(KEY.as_bytes()));
        std::fs::remove_file(file).unwrap();
    }

    #[test]
    fn secrets_do_not_print() {
        assert_eq!(format!("{:?}", Secret::new(KEY)), "Secret(..)");
    }
}
