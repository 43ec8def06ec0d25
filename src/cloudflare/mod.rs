//! The Cloudflare API: credentials, the HTTP client (envelope, pagination, errors) and
//! collection of the token inventory (docs/architecture.md §9).

pub mod client;
pub mod collect;
pub mod pacer;
pub mod path;
pub mod tokens;

pub use client::{ApiBase, ApiError, ApiPath, Client, ClientOptions, ConnectionError, Credential};
pub use collect::{collect, list_accounts, AccountListing, CollectObserver, Unobserved};
pub use pacer::{Budget, BudgetError, BUDGET_REQUESTS, BUDGET_SECONDS};
