//! Cloudflare's response envelope: `{success, errors, messages, result, result_info?}`,
//! with failures shaped as the spec's `iam_api-response-common-failure` (result null and
//! at least one `{code, message}` error, codes ≥ 1000).

use serde_json::{json, Value};

/// A response the API layer decided on, before faults and transport.
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Value,
    /// Extra headers (`Ratelimit`, `Retry-After`, ...).
    pub headers: Vec<(&'static str, String)>,
}

/// A success envelope.
pub(crate) fn ok(result: Value) -> Reply {
    Reply {
        status: 200,
        body: json!({ "success": true, "errors": [], "messages": [], "result": result }),
        headers: Vec::new(),
    }
}

/// A success envelope of a paginated list.
pub(crate) fn ok_page(items: Vec<Value>, page: u64, per_page: u64, total_count: u64) -> Reply {
    let count = items.len();
    Reply {
        status: 200,
        body: json!({
            "success": true,
            "errors": [],
            "messages": [],
            "result": items,
            "result_info": {
                "count": count,
                "page": page,
                "per_page": per_page,
                "total_count": total_count,
            },
        }),
        headers: Vec::new(),
    }
}

/// A failure envelope.
pub(crate) fn fail(status: u16, code: u32, message: &str) -> Reply {
    Reply {
        status,
        body: json!({
            "success": false,
            "errors": [{ "code": code, "message": message }],
            "messages": [],
            "result": null,
        }),
        headers: Vec::new(),
    }
}

/// 403 for a scope the caller may not touch.
pub(crate) fn forbidden() -> Reply {
    fail(403, 9109, "Unauthorized to access requested resource")
}

/// 400 for a request body that is not what the operation takes.
pub(crate) fn bad_body(message: &str) -> Reply {
    fail(400, 6007, &format!("Malformed request body: {message}"))
}

/// 400 for a well-formed body whose content is invalid.
pub(crate) fn invalid(message: &str) -> Reply {
    fail(400, 1001, &format!("Invalid request: {message}"))
}

/// 422 for bad query parameters.
pub(crate) fn bad_query(message: &str) -> Reply {
    fail(422, 6008, &format!("Invalid request parameters: {message}"))
}
