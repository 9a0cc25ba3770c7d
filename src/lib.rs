//! s3-auth-proxy: AWS Signature Version 4 authentication in front of a storage backend that has
//! none. The verification core (`sigv4`, `sigv2`, `body`, `post`) is pure and I/O-free; `proxy` is the thin
//! Pingora shell around it.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod auth;
pub mod body;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod error;
pub mod form_upload;
pub mod ops;
pub mod post;
pub mod proxy;
pub mod server;
pub mod signer;
pub mod target;
