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

use super::client::{ApiError, ApiErrorKind, ApiPath, Client};
use crate::id::IdError;
use crate::inventory::Owner;
use crate::secret::Secret;

/// Whether `id` is a Cloudflare id (32 lowercase hex characters), the only text that may
/// become a path segment or a file name (issue 12). [`crate::id::TokenId`] carries the
/// check in its type.
pub fn is_valid_id(id: &str) -> bool {
    crate::id::is_id(id)
}

/// `/user/tokens` or `/accounts/<id>/tokens`; an account id that is not a Cloudflare id is
/// refused.
pub fn tokens_path(owner: &Owner) -> Result<ApiPath, IdError> {
    ApiPath::tokens(owner)
}

/// `/user/tokens/<id>` or `/accounts/<account>/tokens/<id>`; ids are checked.
pub fn token_path(owner: &Owner, token_id: &str) -> Result<ApiPath, IdError> {
    tokens_path(owner)?.id(token_id)
}

/// The error of a request that was never sent because an id in its path is not one.
fn not_sent(method: &str, owner: &Owner, e: IdError) -> ApiError {
    let endpoint = match owner.account_id() {
        None => "/user/tokens".to_string(),
        Some(_) => "/accounts/…/tokens".to_string(),
    };
    ApiError {
        method: method.to_string(),
        endpoint,
        page: None,
        kind: ApiErrorKind::InvalidId(e.to_string()),
    }
}

fn malformed(method: &str, endpoint: &ApiPath, message: &str) -> ApiError {
    ApiError {
        method: method.to_string(),
        endpoint: endpoint.to_string(),
        page: None,
        kind: ApiErrorKind::Malformed(message.to_string()),
    }
}

fn object_result(method: &str, endpoint: &ApiPath, result: Value) -> Result<Value, ApiError> {
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
    let path = token_path(owner, token_id).map_err(|e| not_sent("GET", owner, e))?;
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
    let path = token_path(owner, token_id).map_err(|e| not_sent("PUT", owner, e))?;
    let env = client
        .send(Method::PUT, &path, &[], Some(body), None)
        .await?;
    object_result("PUT", &path, env.result)
}

/// `PUT .../tokens/{id}/value` with `{}`: a new secret; the old one stops working at once.
pub async fn roll(client: &Client, owner: &Owner, token_id: &str) -> Result<Secret, ApiError> {
    let path = token_path(owner, token_id)
        .map_err(|e| not_sent("PUT", owner, e))?
        .then("value");
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
    let path = tokens_path(owner).map_err(|e| not_sent("POST", owner, e))?;
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
    let path = token_path(owner, token_id).map_err(|e| not_sent("DELETE", owner, e))?;
    client
        .send(Method::DELETE, &path, &[], None, None)
        .await
        .map(|_| ())
}

/// Every token of `owner`, expired ones included.
pub async fn list(client: &Client, owner: &Owner) -> Result<Vec<Value>, ApiError> {
    let path = tokens_path(owner).map_err(|e| not_sent("GET", owner, e))?;
    client
        .list_all(&path, &[("include_expired", "true".to_string())])
        .await
}

/// `GET .../tokens/verify`: the id of the token the client authenticates with, when it is
/// one of `owner`'s tokens (Cloudflare answers 401 at the other owner's endpoint).
pub async fn verify(client: &Client, owner: &Owner) -> Result<Option<String>, ApiError> {
    let path = tokens_path(owner)
        .map_err(|e| not_sent("GET", owner, e))?
        .then("verify");
    let env = client.get(&path, &[]).await?;
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
        // A redirect is an answer, and not the API's: nothing was done at Cloudflare. An
        // invalid id was never sent.
        ApiErrorKind::Unsuccessful(_)
        | ApiErrorKind::Pagination(_)
        | ApiErrorKind::Redirect { .. }
        | ApiErrorKind::InvalidId(_) => false,
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
            "t1",
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

    const ACC: &str = "023e105f4ecef8ad9ca31a8372d0c353";
    const TOK: &str = "ed17574386854bf78a67040be0a770b0";

    #[test]
    fn paths_follow_the_owner() {
        let user = Owner::User { id: None };
        let account = Owner::Account {
            id: ACC.into(),
            name: None,
        };
        assert_eq!(
            token_path(&user, TOK).unwrap().to_string(),
            format!("/user/tokens/{TOK}")
        );
        assert_eq!(
            token_path(&account, TOK).unwrap().to_string(),
            format!("/accounts/{ACC}/tokens/{TOK}")
        );
    }

    #[test]
    fn an_id_that_is_not_one_never_becomes_a_path() {
        let user = Owner::User { id: None };
        for bad in [
            "/../../../../tmp/pwned",
            "a/b",
            "a%2Fb",
            "a\nb",
            "a\0b",
            "..",
            "t1",
        ] {
            assert!(token_path(&user, bad).is_err(), "{bad:?}");
            let hostile = Owner::Account {
                id: bad.into(),
                name: None,
            };
            assert!(tokens_path(&hostile).is_err(), "{bad:?}");
        }
    }

    /// A request with an id that is not one fails before anything is sent: the client
    /// points at a closed port, so a sent request would fail differently.
    #[tokio::test]
    async fn every_call_refuses_an_invalid_id_before_sending() {
        let client = Client::new(
            crate::cloudflare::ApiBase::parse("http://127.0.0.1:9/client/v4").unwrap(),
            &crate::cloudflare::Credential::Token(Secret::new("x")),
        )
        .unwrap();
        let user = Owner::User { id: None };
        let bad = "../accounts";
        let errors = [
            get(&client, &user, bad).await.unwrap_err(),
            update(&client, &user, bad, &json!({})).await.unwrap_err(),
            roll(&client, &user, bad).await.unwrap_err(),
            delete(&client, &user, bad).await.unwrap_err(),
        ];
        for e in errors {
            assert!(matches!(e.kind, ApiErrorKind::InvalidId(_)), "{e}");
            assert!(!answer_lost(&e));
        }
        let hostile = Owner::Account {
            id: "a/b".into(),
            name: None,
        };
        let e = list(&client, &hostile).await.unwrap_err();
        assert!(matches!(e.kind, ApiErrorKind::InvalidId(_)), "{e}");
        let e = create(&client, &hostile, &json!({})).await.unwrap_err();
        assert!(matches!(e.kind, ApiErrorKind::InvalidId(_)), "{e}");
        let e = verify(&client, &hostile).await.unwrap_err();
        assert!(matches!(e.kind, ApiErrorKind::InvalidId(_)), "{e}");
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
