//! Authentication: who signed a request, and what their signature covers. Pure and I/O-free.
//!
//! `sigv4` verifies AWS Signature Version 4 (Authorization header, presigned query, and the
//! chunk and trailer signatures of aws-chunked bodies); `sigv2` the older Signature Version 2
//! (header, presigned query, POST form signature).

pub mod sigv2;
pub mod sigv4;
