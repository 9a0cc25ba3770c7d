//! s3-auth-proxy: AWS Signature Version 4 (and 2) authentication in front of a storage backend
//! that has none.
//!
//! The modules follow a request's path: [`request`] (what the request is, read once) →
//! [`auth`] (who signed and what the signature covers; then the `allow` scopes) → [`body`]
//! (which verifier the body needs, and the sans-I/O verifiers) → [`backend`] (what the backend
//! kind accepts, the head it receives, how its answers become S3's). [`post`] is the browser
//! form's counterpart of `auth` and `body`. Those are pure and I/O-free; [`proxy`] is the thin
//! Pingora shell that calls them, [`server`] starts it, [`ops`] keeps it observable, and
//! [`signer`] makes presigned URLs and upload forms for the CLI.
// No unsafe code, but for `body::md5`: the FFI calls to AWS-LC's MD5 (why: that module's doc).
#![deny(unsafe_code)]
#![warn(missing_docs)]

pub mod admission;
pub mod auth;
pub mod backend;
pub mod body;
pub mod config;
pub mod cors;
pub mod credentials;
pub mod error;
#[doc(hidden)]
pub mod fuzz;
pub mod ops;
pub mod post;
pub mod proxy;
pub mod request;
pub mod server;
pub mod signer;
pub mod store;
