//! Request paths (docs/architecture.md §9): identifiers from the API are data, not paths
//! (issue 12). An [`ApiPath`] holds fixed segments written in the code and ids checked as
//! Cloudflare ids; the client joins it to the base segment by segment.

use std::fmt;

use crate::id::{check, IdError};
use crate::scope::Owner;

/// A request path below the API base: fixed segments written in the code and Cloudflare
/// ids checked on the way in, so no id from the API, a snapshot or the command line can add,
/// drop or climb a segment (issue 12). [`Client`] joins it to the base segment by segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath(Vec<String>);

impl ApiPath {
    /// A path of fixed segments, e.g. `ApiPath::new(&["user", "tokens"])`.
    pub fn new(segments: &[&'static str]) -> ApiPath {
        ApiPath(segments.iter().map(|s| s.to_string()).collect())
    }

    /// This path with one more fixed segment.
    pub fn then(mut self, segment: &'static str) -> ApiPath {
        self.0.push(segment.to_string());
        self
    }

    /// This path with one more segment that is an id; anything but a Cloudflare id is
    /// refused.
    pub fn id(mut self, id: &str) -> Result<ApiPath, IdError> {
        check(id)?;
        self.0.push(id.to_string());
        Ok(self)
    }

    /// `/user/tokens` or `/accounts/<id>/tokens`.
    pub fn tokens(owner: &Owner) -> Result<ApiPath, IdError> {
        match owner.account_id() {
            None => Ok(ApiPath::new(&["user", "tokens"])),
            Some(a) => Ok(ApiPath::new(&["accounts"]).id(a)?.then("tokens")),
        }
    }

    /// `/user/tokens/permission_groups` or `/accounts/<id>/tokens/permission_groups`.
    pub fn catalogue(owner: &Owner) -> Result<ApiPath, IdError> {
        Ok(ApiPath::tokens(owner)?.then("permission_groups"))
    }

    /// The segments, each exactly as it goes into the URL before percent-encoding.
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for s in &self.0 {
            write!(f, "/{s}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";

    #[test]
    fn paths_are_fixed_segments_and_checked_ids() {
        let account = Owner::Account {
            id: ACC.into(),
            name: None,
        };
        assert_eq!(
            ApiPath::catalogue(&account).unwrap().to_string(),
            format!("/accounts/{ACC}/tokens/permission_groups")
        );
        assert_eq!(
            ApiPath::tokens(&Owner::User { id: None })
                .unwrap()
                .then("verify")
                .segments(),
            ["user", "tokens", "verify"]
        );
        for bad in ["..", "a/b", "%2e%2e", ""] {
            assert!(
                ApiPath::new(&["user", "tokens"]).id(bad).is_err(),
                "{bad:?}"
            );
        }
    }
}
