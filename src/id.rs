//! Cloudflare identifiers (docs/architecture.md §3, §9): an account id and a token id are
//! 32 lowercase hex characters. Ids are data from outside — the API, a snapshot, the command
//! line — and are checked where they enter; only a checked id reaches a request path or a
//! file name (issue 12). [`TokenId`] and [`AccountId`] are ids that passed the check.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The length of every Cloudflare account and token id.
pub const ID_LEN: usize = 32;

/// Whether `text` is a Cloudflare id: exactly 32 characters of `0-9a-f`.
pub fn is_id(text: &str) -> bool {
    text.len() == ID_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// `Ok` for a Cloudflare id, else an error that quotes (escaped, and cut when long) what
/// was given.
pub fn check(text: &str) -> Result<(), IdError> {
    if is_id(text) {
        Ok(())
    } else {
        Err(IdError(text.to_string()))
    }
}

/// Text that is not a Cloudflare id. Its message shows the text escaped (a newline or a NUL
/// is spelled out) and at most 64 characters of it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} is not a Cloudflare id (32 lowercase hex characters)", shown(.0))]
pub struct IdError(pub String);

/// `text` quoted with Rust's escapes, cut after 64 characters.
fn shown(text: &str) -> String {
    const MAX: usize = 64;
    let cut: String = text.chars().take(MAX).collect();
    if cut.len() < text.len() {
        format!("{cut:?}… ({} bytes)", text.len())
    } else {
        format!("{cut:?}")
    }
}

macro_rules! checked_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// The id, when `text` is one.
            pub fn parse(text: &str) -> Result<$name, IdError> {
                check(text).map(|()| $name(text.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl FromStr for $name {
            type Err = IdError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;

            fn try_from(s: String) -> Result<Self, Self::Error> {
                check(&s).map(|()| $name(s))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = String::deserialize(d)?;
                $name::try_from(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

checked_id!(
    /// A token id that is a Cloudflare id, so it is safe as one request-path segment and as
    /// a file name (`<id>.secret`).
    TokenId
);

checked_id!(
    /// An account id that is a Cloudflare id, so it is safe as one request-path segment.
    AccountId
);

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = "ed17574386854bf78a67040be0a770b0";

    #[test]
    fn only_32_lowercase_hex_characters_are_an_id() {
        assert!(is_id(GOOD));
        assert!(is_id(&"0".repeat(32)));
        for bad in [
            "",
            "t1",
            "/../../../../tmp/pwned",
            "a/b",
            "ed17574386854bf78a67040be0a770b%2F",
            "ed17574386854bf78a67040be0a770b\n",
            "ed17574386854bf78a67040be0a770b\0",
            "ED17574386854BF78A67040BE0A770B0",
            "ed17574386854bf78a67040be0a770b0 ",
            "ed17574386854bf78a67040be0a770b00",
            "ed17574386854bf78a67040be0a770bg",
            "..",
            // 32 bytes, but not 32 ASCII characters.
            "é7574386854bf78a67040be0a770b0",
        ] {
            assert!(!is_id(bad), "{bad:?}");
            assert!(TokenId::parse(bad).is_err(), "{bad:?}");
            assert!(AccountId::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn the_error_shows_the_text_escaped_and_cut() {
        let e = check("a\nb\0c").unwrap_err().to_string();
        assert_eq!(
            e,
            r#""a\nb\0c" is not a Cloudflare id (32 lowercase hex characters)"#
        );
        let long = "x".repeat(10_000);
        let e = check(&long).unwrap_err().to_string();
        assert!(e.len() < 200 && e.contains("10000 bytes"), "{e}");
    }

    #[test]
    fn ids_round_trip_as_plain_strings_and_refuse_anything_else() {
        let id = TokenId::parse(GOOD).unwrap();
        assert_eq!(id.to_string(), GOOD);
        assert_eq!(serde_json::to_string(&id).unwrap(), format!("\"{GOOD}\""));
        let back: TokenId = serde_json::from_str(&format!("\"{GOOD}\"")).unwrap();
        assert_eq!(back, id);
        assert!(serde_json::from_str::<AccountId>("\"a/b\"").is_err());
        assert_eq!(GOOD.parse::<AccountId>().unwrap().as_str(), GOOD);
        assert_eq!(String::from(id), GOOD);
    }
}
