//! Calls on single API tokens (docs/architecture.md §9): read one, update one (`PUT` is a *full
//! replacement*), roll its secret, create, delete, list an owner's tokens and verify the
//! calling token. Built on [`Client::send`].
//!
//! Nothing here retries and nothing here decides what a failed write means: that is the
//! remediation protocol's job (`src/remediate/`), because a write whose answer was lost may
//! or may not have happened at Cloudflare. New secrets leave this module only inside a
//! [`Secret`], and the token objects it returns never carry a `value`.

use reqwest::Method;
use serde_json::{json, Value};

use super::client::{ApiError, ApiErrorKind, Client};
use crate::inventory::Owner;
use crate::secret::Secret;

/// Whether `id` can be put in a URL path as one segment: Cloudflare ids are hex, and a
/// user-supplied id with `/`, `?` or `..` must never reach another endpoint.
pub fn is_valid_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 64
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// `/user/tokens` or `/accounts/<id>/tokens`.
pub fn tokens_path(owner: &Owner) -> String {
    format!("/{}/tokens", owner.path())
}

/// `/user/tokens/<id>` or `/accounts/<account>/tokens/<id>`.
pub fn token_path(owner: &Owner, token_id: &str) -> String {
    format!("{}/{token_id}", tokens_path(owner))
}

fn malformed(method: &str, endpoint: &str, message: &str) -> ApiError {
    ApiError {
        method: method.to_string(),
        endpoint: endpoint.to_string(),
        page: None,
        kind: ApiErrorKind::Malformed(message.to_string()),
    }
}

fn object_result(method: &str, endpoint: &str, result: Value) -> Result<Value, ApiError> {
    if result.is_object() {
        Ok(result)
    } else {
        Err(malformed(
            method,
            endpoint,
            "`result` is not a token object",
        ))
    }
}

/// `GET .../tokens/{id}`: the token as Cloudflare holds it now.
pub async fn get(client: &Client, owner: &Owner, token_id: &str) -> Result<Value, ApiError> {
    let path = token_path(owner, token_id);
    let env = client.send(Method::GET, &path, &[], None, None).await?;
    object_result("GET", &path, env.result)
}

/// `PUT .../tokens/{id}` with `body`: replaces the whole token; returns the new object.
pub async fn update(
    client: &Client,
    owner: &Owner,
    token_id: &str,
    body: &Value,
) -> Result<Value, ApiError> {
    let path = token_path(owner, token_id);
    let env = client
        .send(Method::PUT, &path, &[], Some(body), None)
        .await?;
    object_result("PUT", &path, env.result)
}

/// `PUT .../tokens/{id}/value` with `{}`: a new secret; the old one stops working at once.
pub async fn roll(client: &Client, owner: &Owner, token_id: &str) -> Result<Secret, ApiError> {
    let path = format!("{}/value", token_path(owner, token_id));
    let env = client
        .send(Method::PUT, &path, &[], Some(&json!({})), None)
        .await?;
    match env.result {
        Value::String(s) if !s.trim().is_empty() => Ok(Secret::new(s)),
        _ => Err(malformed(
            "PUT",
            &path,
            "`result` is not the new token value",
        )),
    }
}

/// A token just created: its object (without `value`) and its secret.
#[derive(Debug)]
pub struct Created {
    pub token: Value,
    pub secret: Secret,
}

impl Created {
    pub fn id(&self) -> &str {
        self.token.get("id").and_then(Value::as_str).unwrap_or("")
    }
}

/// `POST .../tokens`: creates a token; `result.value` is its secret, shown only this once.
pub async fn create(client: &Client, owner: &Owner, body: &Value) -> Result<Created, ApiError> {
    let path = tokens_path(owner);
    let env = client
        .send(Method::POST, &path, &[], Some(body), None)
        .await?;
    let Value::Object(mut token) = env.result else {
        return Err(malformed("POST", &path, "`result` is not a token object"));
    };
    let secret = match token.remove("value") {
        Some(Value::String(s)) if !s.trim().is_empty() => Secret::new(s),
        _ => return Err(malformed("POST", &path, "the created token has no `value`")),
    };
    let created = Created {
        token: Value::Object(token),
        secret,
    };
    if created.id().is_empty() {
        return Err(malformed("POST", &path, "the created token has no `id`"));
    }
    Ok(created)
}

/// `DELETE .../tokens/{id}`.
pub async fn delete(client: &Client, owner: &Owner, token_id: &str) -> Result<(), ApiError> {
    let path = token_path(owner, token_id);
    client
        .send(Method::DELETE, &path, &[], None, None)
        .await
        .map(|_| ())
}

/// Every token of `owner`, expired ones included.
pub async fn list(client: &Client, owner: &Owner) -> Result<Vec<Value>, ApiError> {
    client
        .list_all(
            &tokens_path(owner),
            &[("include_expired", "true".to_string())],
        )
        .await
}

/// `GET .../tokens/verify`: the id of the token the client authenticates with, when it is
/// one of `owner`'s tokens (Cloudflare answers 401 at the other owner's endpoint).
pub async fn verify(client: &Client, owner: &Owner) -> Result<Option<String>, ApiError> {
    let env = client
        .get(&format!("{}/verify", tokens_path(owner)), &[])
        .await?;
    Ok(env
        .result
        .get("id")
        .and_then(Value::as_str)
        .map(str::to_string))
}

/// Whether the answer to a write was lost, so the write may or may not have happened:
/// no answer at all (timeout, reset), a 5xx (Cloudflare's edge answers 502/504 while the
/// origin may have acted), or a body that is not the documented envelope. A 4xx or a
/// `success: false` envelope is Cloudflare refusing: nothing happened.
pub fn answer_lost(e: &ApiError) -> bool {
    match &e.kind {
        ApiErrorKind::Transport(_) | ApiErrorKind::Malformed(_) => true,
        ApiErrorKind::Status { status, .. } => *status >= 500 || *status == 408,
        ApiErrorKind::Unsuccessful(_) | ApiErrorKind::Pagination(_) => false,
    }
}

/// Whether Cloudflare said the token does not exist.
pub fn is_not_found(e: &ApiError) -> bool {
    matches!(e.kind, ApiErrorKind::Status { status: 404, .. })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn err(kind: ApiErrorKind) -> ApiError {
        ApiError {
            method: "PUT".into(),
            endpoint: "/user/tokens/x/value".into(),
            page: None,
            kind,
        }
    }

    #[test]
    fn ids_that_could_escape_their_path_segment_are_invalid() {
        assert!(is_valid_id("ed17574386854bf78a67040be0a770b0"));
        for bad in [
            "",
            "../accounts",
            "a/b",
            "a?b",
            "a#b",
            "a b",
            &"x".repeat(65),
        ] {
            assert!(!is_valid_id(bad), "{bad:?}");
        }
    }

    #[test]
    fn paths_follow_the_owner() {
        let user = Owner::User { id: None };
        let account = Owner::Account {
            id: "acc".into(),
            name: None,
        };
        assert_eq!(token_path(&user, "t"), "/user/tokens/t");
        assert_eq!(token_path(&account, "t"), "/accounts/acc/tokens/t");
    }

    #[test]
    fn lost_answers_are_told_from_refusals() {
        assert!(answer_lost(&err(ApiErrorKind::Transport("reset".into()))));
        assert!(answer_lost(&err(ApiErrorKind::Malformed("cut".into()))));
        for status in [500, 502, 504, 408] {
            assert!(answer_lost(&err(ApiErrorKind::Status {
                status,
                errors: vec![]
            })));
        }
        for status in [400, 401, 403, 404, 429] {
            assert!(!answer_lost(&err(ApiErrorKind::Status {
                status,
                errors: vec![]
            })));
        }
        assert!(!answer_lost(&err(ApiErrorKind::Unsuccessful(vec![]))));
        assert!(is_not_found(&err(ApiErrorKind::Status {
            status: 404,
            errors: vec![]
        })));
    }
}
