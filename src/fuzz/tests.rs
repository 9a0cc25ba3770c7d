//! Every committed seed (`fuzz/seeds/<target>/`, written by `fuzz/make-seeds.py`) through its
//! entry point: the seeds stay valid inputs and the invariants hold on them, without cargo-fuzz.

use std::path::Path;

use super::auth::Outcome;
use super::{auth, documents, fuzz_trailer, request, Head};

/// A fuzz entry point.
type EntryPoint = fn(&[u8]);

/// The targets with committed seeds, by their cargo-fuzz name.
const TARGETS: &[(&str, EntryPoint)] = &[
    ("sigv4_header", auth::sigv4_header),
    ("sigv4_presigned", auth::sigv4_presigned),
    ("sigv2", auth::sigv2),
    ("request_target", request::request_target),
    ("post_policy", documents::post_policy),
    ("chunked_trailer", fuzz_trailer),
    ("delete_list", documents::delete_list),
    ("complete_multipart", documents::complete_multipart),
    ("folder_index", documents::folder_index),
];

#[test]
fn every_seed_runs_through_its_target() {
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for (target, run) in TARGETS {
        let mut count = 0;
        for entry in std::fs::read_dir(seeds.join(target)).expect("the target's seeds") {
            let path = entry.expect("a seed").path();
            run(&std::fs::read(&path).expect("a readable seed"));
            count += 1;
        }
        assert!(count > 0, "{target} has no seeds");
    }
}

#[test]
fn a_head_reads_its_clock_request_line_and_valid_headers() {
    let head = Head::read(b"@1369353600\r\nPUT /b/k?x=1 HTTP/1.1\r\nHost: h\nbad line\nx-a:  v \n")
        .expect("a head");
    assert_eq!(head.method, http::Method::PUT);
    assert_eq!(head.target, b"/b/k?x=1");
    assert_eq!(head.host(), "h");
    assert_eq!(head.headers.get("x-a").unwrap(), "v");
    assert_eq!(head.headers.len(), 2);
    assert!(Head::read(b"").is_none() || Head::read(b"").unwrap().target.is_empty());
}

fn outcome(target: &str, seed: &str) -> Outcome {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/seeds")
        .join(target)
        .join(seed);
    let data = std::fs::read(&path).expect("the seed");
    auth::verify_and_resign(&Head::read(&data).expect("a head"))
}

#[test]
fn the_documentation_examples_verify_and_with_a_wrong_signature_verify_once_signed_again() {
    // The harness must reach the checks after the signature: the pages' own signatures verify,
    // and a zeroed one verifies once the harness signs the head again.
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds");
    for target in ["sigv4_header", "sigv4_presigned", "sigv2"] {
        for entry in std::fs::read_dir(seeds.join(target)).expect("seeds") {
            let name = entry.expect("a seed").file_name();
            let name = name.to_str().expect("an ASCII name");
            if name.starts_with("aws-c-auth") {
                continue; // signed for service "service": refused by the scope check
            }
            let got = outcome(target, name);
            let want = if name.ends_with("wrong-sig") {
                vec![Outcome::AcceptedOnceSignedAgain]
            } else if target == "sigv2" {
                // Some pages renamed the host without signing again.
                vec![Outcome::Accepted, Outcome::AcceptedOnceSignedAgain]
            } else {
                vec![Outcome::Accepted]
            };
            assert!(want.contains(&got), "{target}/{name}: {got:?}");
        }
    }
}

#[test]
fn a_credential_that_spells_signature_is_not_where_the_harness_signs_again() {
    // Found by sigv4_header's long run (2026-12-06, after 6 million executions): a Credential
    // value holding `Signature=` had the harness rewrite that text instead of the Signature
    // component, so the head it "signed again" was malformed and the invariant broke.
    let got = outcome(
        "sigv4_header",
        "regression-signature-in-credential-wrong-sig",
    );
    assert_eq!(got, Outcome::AcceptedOnceSignedAgain);
}

#[test]
fn the_documentation_forms_verify_and_their_policies_are_evaluated() {
    // The SigV4 page's form with its own signature, the same form signed by the harness, and the
    // 2007 SigV2 form: each reaches the policy's conditions and passes them.
    let seeds = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/seeds/post_policy");
    for name in [
        "sigv4-doc-example",
        "sigv4-harness-signed",
        "sigv2-doc-example",
    ] {
        let data = std::fs::read(seeds.join(name)).expect("the seed");
        assert!(documents::form_verifies(&data), "{name}");
    }
}

#[test]
fn noise_never_panics() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    for len in 0..400 {
        let data: Vec<u8> = (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b"GET /b/k?x=%41 HTTP\nHost:s3.amazonaws.com\n@:=&<>\"{}[]0123456789abcdef\r"
                    [(state % 62) as usize]
            })
            .collect();
        for (_, run) in TARGETS {
            run(&data);
        }
    }
}
