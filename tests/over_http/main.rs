//! The integration tests that need the built-in HTTP transport (the `http`
//! feature, `required-features` in Cargo.toml): real requests to the
//! loopback test homeserver, under faults and concurrency; the `#[ignore]`d
//! runs against Synapse (`scripts/test-synapse.sh`) and nginx
//! (`scripts/test-nginx.sh`).

mod cli;
mod concurrency_stress;
mod fault_matrix;
mod synapse_e2e;
mod sync_http;
