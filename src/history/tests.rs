//! Unit tests of history: drift, lifecycle, records and the store.
