use super::*;
use crate::body::test_driver::{mutated_and_cut, split_at, Rng};
use proptest::prelude::*;

/// Chrome's boundary style.
const BOUNDARY: &str = "----WebKitFormBoundary7MA4YWxkTrZu0gW";

// ---- bodies ----

/// One part: its header lines and its body.
#[derive(Debug, Clone)]
struct Part {
    headers: Vec<String>,
    body: Vec<u8>,
}

fn field(name: &str, value: &str) -> Part {
    Part {
        headers: vec![format!("Content-Disposition: form-data; name=\"{name}\"")],
        body: value.as_bytes().to_vec(),
    }
}

fn file_part(name: &str, data: &[u8]) -> Part {
    Part {
        headers: vec![
            format!("Content-Disposition: form-data; name=\"{name}\"; filename=\"photo.jpg\""),
            "Content-Type: image/jpeg".into(),
        ],
        body: data.to_vec(),
    }
}

/// A form as a browser sends it: `preamble`, the parts, `--boundary--`, then `end`.
/// Returns the body and the offset of the last part's body.
fn render(preamble: &[u8], parts: &[Part], end: &[u8]) -> (Vec<u8>, usize) {
    let mut out = preamble.to_vec();
    let mut last_body_at = 0;
    for part in parts {
        out.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
        for header in &part.headers {
            out.extend_from_slice(header.as_bytes());
            out.extend_from_slice(b"\r\n");
        }
        out.extend_from_slice(b"\r\n");
        last_body_at = out.len();
        out.extend_from_slice(&part.body);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(format!("--{BOUNDARY}--").as_bytes());
    out.extend_from_slice(end);
    (out, last_body_at)
}

/// File data made to look like the delimiter in every way but the real one.
fn tricky_file_data() -> Vec<u8> {
    let mut data: Vec<u8> = (0..=255u8).collect();
    data.extend_from_slice(b"\r\n--");
    data.extend_from_slice(b"\r\n-\r\r\n\r\n--\r");
    data.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..BOUNDARY.len() - 1]).as_bytes());
    data.extend_from_slice(b"X\n");
    data.extend_from_slice(format!("--{BOUNDARY}\r\n").as_bytes());
    data.extend_from_slice(format!("\n--{BOUNDARY}--\r\n").as_bytes());
    data.extend_from_slice(format!("\r--{BOUNDARY}").as_bytes());
    // Ends with the first bytes of the delimiter, just before the real one.
    data.extend_from_slice(format!("\r\n--{}", &BOUNDARY[..6]).as_bytes());
    data
}

/// The fields of an S3 browser upload, in a browser's order.
fn s3_fields() -> Vec<(&'static str, &'static str)> {
    vec![
        ("Key", "user/${filename}"),
        ("acl", "public-read"),
        ("success_action_status", "201"),
        (
            "X-Amz-Credential",
            "AKIAIOSFODNN7EXAMPLE/20130806/us-east-1/s3/aws4_request",
        ),
        ("X-Amz-Algorithm", "AWS4-HMAC-SHA256"),
        ("X-Amz-Date", "20130806T000000Z"),
        (
            "Policy",
            "eyAiZXhwaXJhdGlvbiI6ICIyMDEzLTA4LTA3VDEyOjAwOjAwLjAwMFoiIH0=",
        ),
        (
            "X-Amz-Signature",
            "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
        ),
        ("empty", ""),
        ("multi-line", "line one\r\nline two\r\n-- not a boundary"),
        ("unicode", "h\u{e9}llo \u{1f600}"),
    ]
}

fn browser_form(file_data: &[u8]) -> (Vec<u8>, usize) {
    let mut parts: Vec<Part> = s3_fields().iter().map(|(n, v)| field(n, v)).collect();
    parts.push(file_part("file", file_data));
    render(b"", &parts, b"\r\n")
}

// ---- running ----

/// What happened when a body was fed in the given pieces.
#[derive(Debug)]
struct Run {
    /// Everything released by `feed`.
    before_finish: Vec<u8>,
    /// `finish`'s result, or the error `feed` returned.
    outcome: Result<Bytes, S3Error>,
    /// Whether the error (if any) came from `feed`.
    failed_in_feed: bool,
    prefix: Option<FormPrefix>,
    file_len: u64,
}

impl Run {
    fn released(&self) -> Vec<u8> {
        let mut all = self.before_finish.clone();
        if let Ok(tail) = &self.outcome {
            all.extend_from_slice(tail);
        }
        all
    }
}

fn run_limits(limits: MultipartLimits, pieces: &[&[u8]]) -> Run {
    let mut reader = MultipartReader::new(BOUNDARY, limits);
    let mut before_finish = Vec::new();
    for piece in pieces {
        match reader.feed(Bytes::copy_from_slice(piece)) {
            Ok(out) => before_finish.extend_from_slice(&out),
            Err(err) => {
                // Failure sticks.
                assert_eq!(reader.feed(Bytes::from_static(b"--")), Err(err.clone()));
                assert_eq!(reader.finish(), Err(err.clone()));
                return Run {
                    before_finish,
                    outcome: Err(err),
                    failed_in_feed: true,
                    prefix: reader.prefix().cloned(),
                    file_len: reader.file_len(),
                };
            }
        }
    }
    let prefix = reader.prefix().cloned();
    let file_len = reader.file_len();
    let outcome = reader.finish();
    if let Err(err) = &outcome {
        assert_eq!(reader.finish(), Err(err.clone()));
    }
    Run {
        before_finish,
        outcome,
        failed_in_feed: false,
        prefix,
        file_len,
    }
}

fn run(pieces: &[&[u8]]) -> Run {
    run_limits(MultipartLimits::default(), pieces)
}

/// Accepted: the file released whole, never its last byte before `finish`.
fn assert_released(run: &Run, file: &[u8], context: &str) {
    assert!(run.outcome.is_ok(), "{context}: refused: {:?}", run.outcome);
    assert_eq!(
        run.before_finish.len(),
        file.len().saturating_sub(1),
        "{context}: all but exactly the last byte before finish"
    );
    assert!(run.released() == file, "{context}: released bytes differ");
    assert_eq!(run.file_len, file.len() as u64, "{context}: file_len");
}

/// Refused with `code`, whole, byte by byte and cut in two at every offset; what was
/// released is a prefix of `file` without its last byte. Returns the error of the whole body.
fn assert_refused_with(
    limits: MultipartLimits,
    body: &[u8],
    file: &[u8],
    code: S3ErrorCode,
) -> S3Error {
    let whole = run_limits(limits, &[body]);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let mut runs = vec![run_limits(limits, &bytes)];
    for cut in 0..=body.len() {
        runs.push(run_limits(limits, &split_at(body, &[cut])));
    }
    for (index, run) in runs.iter().enumerate() {
        assert_eq!(run.outcome, whole.outcome, "run {index}");
    }
    for run in runs.iter().chain([&whole]) {
        let err = run.outcome.as_ref().expect_err("must be refused");
        assert_eq!(err.code, code, "{err}");
        assert!(run.before_finish.len() < file.len().max(1), "{err}");
        assert_eq!(run.before_finish, file[..run.before_finish.len()]);
    }
    whole.outcome.expect_err("refused")
}

fn assert_refused(body: &[u8], file: &[u8], code: S3ErrorCode) -> S3Error {
    assert_refused_with(MultipartLimits::default(), body, file, code)
}

// ---- a browser's form ----

#[test]
fn browser_form_gives_fields_file_and_lengths() {
    let data = tricky_file_data();
    let (body, data_at) = browser_form(&data);
    let run = run(&[&body]);
    assert_released(&run, &data, "browser form");
    let prefix = run.prefix.expect("prefix");
    let expected: Vec<FormField> = s3_fields()
        .iter()
        .map(|(name, value)| FormField {
            name: name.to_string(),
            value: value.to_string(),
        })
        .collect();
    assert_eq!(prefix.fields, expected);
    assert_eq!(prefix.field("key"), Some("user/${filename}"));
    assert_eq!(
        prefix.file,
        FilePart {
            filename: Some("photo.jpg".into()),
            content_type: Some("image/jpeg".into()),
        }
    );
    assert_eq!(prefix.bytes_before_file, data_at as u64);
    let reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
    assert_eq!(
        body.len() as u64 - prefix.bytes_before_file - reader.closing_len(),
        data.len() as u64
    );
}

#[test]
fn curl_style_form_without_final_crlf_and_with_preamble_and_padding() {
    let data = b"hello";
    let mut parts = vec![field("key", "a"), file_part("file", data)];
    parts[1]
        .headers
        .push("Content-Transfer-Encoding: binary".into());
    let (body, data_at) = render(b"a preamble\r\n", &parts, b"");
    let run = run(&[&body]);
    assert_released(&run, data, "no final CRLF");
    assert_eq!(
        run.prefix.expect("prefix").bytes_before_file,
        data_at as u64
    );
    // Transport padding after a boundary.
    let padded = String::from_utf8(body).expect("ascii").replacen(
        &format!("--{BOUNDARY}\r\n"),
        &format!("--{BOUNDARY} \t \r\n"),
        2,
    );
    assert_released(&run_one(padded.as_bytes()), data, "padding");
}

fn run_one(body: &[u8]) -> Run {
    run(&[body])
}

#[test]
fn preamble_that_looks_like_a_boundary() {
    let preamble = format!("--{BOUNDARY}x\r\n--{}\r\n", &BOUNDARY[..9]);
    let (body, _) = render(preamble.as_bytes(), &[file_part("file", b"x")], b"\r\n");
    // `--boundaryx` at the very start is not a delimiter and is refused as one.
    let err = assert_refused(&body, b"x", S3ErrorCode::MalformedPOSTRequest);
    assert!(err.message.contains("'x'"), "{err}");
    let preamble = format!("x--{BOUNDARY}\r\n--{}\r\n", &BOUNDARY[..9]);
    let (body, _) = render(preamble.as_bytes(), &[file_part("file", b"x")], b"\r\n");
    assert_released(&run_one(&body), b"x", "preamble");
}

#[test]
fn file_part_name_is_case_insensitive_and_field_names_are_kept() {
    for name in ["file", "File", "FILE"] {
        let (body, _) = render(b"", &[field("Key", "k"), file_part(name, b"abc")], b"\r\n");
        let run = run_one(&body);
        assert_released(&run, b"abc", name);
        let prefix = run.prefix.expect("prefix");
        assert_eq!(
            prefix.fields,
            vec![FormField {
                name: "Key".into(),
                value: "k".into()
            }]
        );
        assert_eq!(prefix.field("KEY"), Some("k"));
    }
}

#[test]
fn header_syntax_tokens_escapes_and_case() {
    let parts = vec![
        Part {
            headers: vec!["content-disposition:FORM-DATA;NAME=token-name".into()],
            body: b"v1".to_vec(),
        },
        Part {
            headers: vec![
                "X-Ignored: whatever".into(),
                "Content-Disposition: form-data ; name=\"q\\\"uo\\\\ted\" ; filename=\"a b.txt\""
                    .into(),
            ],
            body: b"v2".to_vec(),
        },
        Part {
            headers: vec![
                "CONTENT-TYPE:  text/plain; charset=utf-8 ".into(),
                "Content-Disposition: form-data; filename*=UTF-8''x; name=\"File\"; filename=\"\u{e9}t\u{e9}.txt\"".into(),
            ],
            body: b"data".to_vec(),
        },
    ];
    let (body, _) = render(b"", &parts, b"\r\n");
    let run = run_one(&body);
    assert_released(&run, b"data", "header syntax");
    let prefix = run.prefix.expect("prefix");
    assert_eq!(prefix.field("token-name"), Some("v1"));
    // A field with a filename before the file is a text field.
    assert_eq!(prefix.field("q\"uo\\ted"), Some("v2"));
    assert_eq!(prefix.file.filename.as_deref(), Some("\u{e9}t\u{e9}.txt"));
    assert_eq!(
        prefix.file.content_type.as_deref(),
        Some("text/plain; charset=utf-8")
    );
    // No Content-Type, no filename.
    let parts = vec![field("file", "x")];
    let run = run_one(&render(b"", &parts, b"").0);
    assert_eq!(
        run.prefix.expect("prefix").file,
        FilePart {
            filename: None,
            content_type: None
        }
    );
}

// ---- splits ----

#[test]
fn browser_form_split_at_every_offset() {
    let data = tricky_file_data();
    let (body, _) = browser_form(&data);
    let reference = run_one(&body);
    for cut in 0..=body.len() {
        let run = run(&split_at(&body, &[cut]));
        assert_released(&run, &data, &format!("cut {cut}"));
        assert_eq!(run.prefix, reference.prefix, "cut {cut}");
    }
}

#[test]
fn small_form_split_at_every_pair_of_offsets() {
    let data = b"\r\n--\r-\r\n--x";
    let (body, _) = render(
        b"",
        &[field("key", "\r\n-"), file_part("file", data)],
        b"\r\n",
    );
    let reference = run_one(&body);
    for first in 0..=body.len() {
        for second in first..=body.len() {
            let run = run(&split_at(&body, &[first, second]));
            assert_released(&run, data, &format!("cuts {first},{second}"));
            assert_eq!(run.prefix, reference.prefix, "cuts {first},{second}");
        }
    }
}

#[test]
fn browser_form_byte_by_byte_and_with_empty_feeds() {
    let data = tricky_file_data();
    let (body, _) = browser_form(&data);
    let reference = run_one(&body);
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    let run1 = run(&bytes);
    assert_released(&run1, &data, "byte by byte");
    assert_eq!(run1.prefix, reference.prefix);
    let mut pieces: Vec<&[u8]> = Vec::new();
    for piece in body.chunks(7) {
        pieces.extend([&b""[..], piece, &b""[..]]);
    }
    let run2 = run(&pieces);
    assert_released(&run2, &data, "empty feeds");
    assert_eq!(run2.prefix, reference.prefix);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]
    #[test]
    fn browser_form_random_splits(cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..40)) {
        let data = tricky_file_data();
        let (body, _) = browser_form(&data);
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        cuts.sort_unstable();
        let run = run(&split_at(&body, &cuts));
        prop_assert!(run.outcome.is_ok());
        prop_assert_eq!(run.before_finish.len(), data.len() - 1);
        prop_assert_eq!(run.released(), data);
        prop_assert_eq!(run.prefix, run_one(&body).prefix);
    }

    /// File data and a field value made of the delimiter's own bytes, any split.
    #[test]
    fn lookalike_data_any_split(
        pieces in proptest::collection::vec(0usize..7, 0..120),
        value in proptest::collection::vec(0usize..7, 0..40),
        cuts in proptest::collection::vec(any::<prop::sample::Index>(), 0..12),
    ) {
        // The boundary but its last character, and a delimiter cut short: no sequence of
        // atoms makes the real delimiter (no atom starts with the boundary's last 'W').
        let atoms: [&[u8]; 7] = [
            b"\r",
            b"\n",
            b"-",
            &BOUNDARY.as_bytes()[..BOUNDARY.len() - 1],
            b"\r\n--",
            b"\r\n------WebKitFormBoundary7MA4",
            b"--",
        ];
        let data: Vec<u8> = pieces.iter().flat_map(|&i| atoms[i].iter().copied()).collect();
        let value: Vec<u8> = value.iter().flat_map(|&i| atoms[i].iter().copied()).collect();
        let value = String::from_utf8(value).expect("ascii");
        let (body, data_at) =
            render(b"", &[field("v", &value), file_part("file", &data)], b"\r\n");
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c.index(body.len() + 1)).collect();
        cuts.sort_unstable();
        let run = run(&split_at(&body, &cuts));
        prop_assert!(run.outcome.is_ok(), "{:?}", run.outcome);
        prop_assert_eq!(run.before_finish.len(), data.len().saturating_sub(1));
        prop_assert_eq!(run.released(), data);
        let prefix = run.prefix.expect("prefix");
        prop_assert_eq!(prefix.field("v"), Some(value.as_str()));
        prop_assert_eq!(prefix.bytes_before_file, data_at as u64);
    }
}

// ---- hold-back ----

#[test]
fn only_the_last_byte_waits_for_finish() {
    let data = b"0123456789";
    let (body, _) = render(b"", &[file_part("file", data)], b"\r\n");
    let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
    let mut released = Vec::new();
    for piece in body.chunks(3) {
        released.extend_from_slice(&reader.feed(Bytes::copy_from_slice(piece)).expect("ok"));
    }
    assert_eq!(released, b"012345678");
    assert_eq!(reader.file_len(), 10);
    assert_eq!(reader.finish().expect("complete"), &b"9"[..]);
    assert_eq!(reader.finish(), Ok(Bytes::new()));
    assert!(reader.feed(Bytes::from_static(b"x")).is_err());
}

#[test]
fn first_release_is_a_slice_of_the_input() {
    let data = vec![7u8; 1000];
    let (body, data_at) = render(b"", &[file_part("file", &data)], b"\r\n");
    let body = Bytes::from(body);
    let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
    let out = reader.feed(body.clone()).expect("ok");
    assert_eq!(out.len(), 999);
    assert_eq!(out.as_ptr(), body[data_at..].as_ptr());
}

#[test]
fn empty_file_releases_nothing() {
    let (body, _) = render(b"", &[field("key", "k"), file_part("file", b"")], b"\r\n");
    for cut in 0..=body.len() {
        let run = run(&split_at(&body, &[cut]));
        assert_released(&run, b"", &format!("cut {cut}"));
        assert_eq!(run.outcome, Ok(Bytes::new()));
    }
}

#[test]
fn one_byte_file_is_released_only_by_finish() {
    for data in [&b"\r"[..], b"-", b"x"] {
        let (body, _) = render(b"", &[file_part("file", data)], b"\r\n");
        for cut in 0..=body.len() {
            let run = run(&split_at(&body, &[cut]));
            assert_released(&run, data, &format!("cut {cut}"));
            assert_eq!(run.outcome.as_deref(), Ok(data));
        }
    }
}

// ---- the Content-Type ----

#[test]
fn boundary_from_content_type_forms() {
    for (content_type, boundary) in [
        (
            "multipart/form-data; boundary=----WebKitFormBoundaryX",
            "----WebKitFormBoundaryX",
        ),
        ("Multipart/Form-Data;BOUNDARY=abc", "abc"),
        (
            "multipart/form-data; charset=utf-8; boundary=\"a b'()+_,-./:=?\"",
            "a b'()+_,-./:=?",
        ),
        ("  multipart/form-data ; boundary=\"x\"  ", "x"),
        (
            "multipart/form-data; boundary=----=_Part_0_12",
            "----=_Part_0_12",
        ),
        (
            &format!("multipart/form-data; boundary={}", "b".repeat(70)),
            &"b".repeat(70),
        ),
    ] {
        assert_eq!(
            boundary_from_content_type(content_type).as_deref(),
            Ok(boundary)
        );
    }
}

#[test]
fn boundary_from_content_type_refusals() {
    for content_type in [
        "multipart/form-data",
        "multipart/form-data; charset=utf-8",
        "multipart/mixed; boundary=abc",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=\"\"",
        "multipart/form-data; boundary=\"abc",
        "multipart/form-data; boundary=\"abc \"",
        "multipart/form-data; boundary=a\"b\"",
        "multipart/form-data; boundary=ab;c",
        "multipart/form-data; boundary=a;boundary=b",
        "multipart/form-data; boundary=a{b}",
        "multipart/form-data; boundary = abc",
        &format!("multipart/form-data; boundary={}", "b".repeat(71)),
    ] {
        let err = boundary_from_content_type(content_type).expect_err(content_type);
        assert_eq!(
            err.code,
            S3ErrorCode::MalformedPOSTRequest,
            "{content_type}"
        );
    }
}

#[test]
fn invalid_boundary_gives_a_failed_reader() {
    let mut reader = MultipartReader::new("", MultipartLimits::default());
    let err = reader.feed(Bytes::new()).expect_err("no boundary");
    assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
    assert_eq!(reader.finish(), Err(err));
}

// ---- refusals, one thing at a time ----

// ---- parts after the file: read, bounded, dropped ----

/// AWS's example upload form as Chromium sends it: the named submit button after the file.
fn form_with_submit_button_after_the_file(data: &[u8]) -> (Vec<u8>, usize) {
    let parts = [
        field("key", "user/user1/${filename}"),
        field("policy", "eyJ9"),
        file_part("file", data),
        field("submit", "Upload to Amazon S3"),
    ];
    let (body, _) = render(b"", &parts, b"\r\n");
    // The file's data starts after the file part's headers (the only part with a type).
    let headers_end = b"Content-Type: image/jpeg\r\n\r\n";
    let at = body
        .windows(headers_end.len())
        .position(|w| w == headers_end)
        .expect("file part headers")
        + headers_end.len();
    (body, at)
}

#[test]
fn a_submit_button_after_the_file_is_read_and_ignored_at_every_split() {
    let data = tricky_file_data();
    let (body, data_at) = form_with_submit_button_after_the_file(&data);
    let whole = run_one(&body);
    assert_released(&whole, &data, "whole");
    let prefix = whole.prefix.clone().expect("prefix");
    let names: Vec<&str> = prefix.fields.iter().map(|f| f.name.as_str()).collect();
    assert_eq!(
        names,
        ["key", "policy"],
        "the button is no field of the prefix"
    );
    assert_eq!(prefix.bytes_before_file, data_at as u64);
    for cut in 0..=body.len() {
        let run = run(&split_at(&body, &[cut]));
        assert_released(&run, &data, &format!("cut {cut}"));
        assert_eq!(run.prefix, whole.prefix, "cut {cut}");
    }
    let bytes: Vec<&[u8]> = body.chunks(1).collect();
    assert_released(&run(&bytes), &data, "byte by byte");
}

#[test]
fn the_last_file_byte_waits_for_the_close_after_the_parts_that_follow() {
    let data = b"0123456789";
    let (body, _) = form_with_submit_button_after_the_file(data);
    let close = format!("--{BOUNDARY}--");
    let close_at = body
        .windows(close.len())
        .position(|w| w == close.as_bytes())
        .expect("close");
    let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
    let released = reader
        .feed(Bytes::copy_from_slice(&body[..close_at]))
        .expect("everything up to the close");
    assert_eq!(&released[..], &data[..9], "all but the last byte");
    assert_eq!(reader.file_len(), 10);
    let released = reader
        .feed(Bytes::copy_from_slice(&body[close_at..]))
        .expect("the close");
    assert!(released.is_empty());
    assert_eq!(&reader.finish().expect("complete")[..], b"9");
}

#[test]
fn parts_after_the_file_may_be_anything_a_browser_sends() {
    let data = b"file data";
    let binary = Part {
        headers: vec![
            "Content-Disposition: form-data; name=\"other\"; filename=\"b.bin\"".into(),
            "Content-Type: application/octet-stream".into(),
        ],
        body: vec![0xff, 0xfe, 0x00, b'\r', b'\n', b'-', b'-'],
    };
    let parts = [
        field("key", "k"),
        file_part("file", data),
        field("submit", ""),
        binary,
        field("x-amz-meta-late", "never a header"),
    ];
    for end in [&b""[..], b"\r\n"] {
        let (body, _) = render(b"", &parts, end);
        let run = run_one(&body);
        assert_released(&run, data, "three parts after the file");
        assert_eq!(run.prefix.expect("prefix").fields.len(), 1);
    }
}

#[test]
fn a_second_file_part_after_the_file_is_refused() {
    let data = b"first";
    let parts = [
        field("key", "k"),
        file_part("file", data),
        file_part("FILE", b"second"),
    ];
    let (body, _) = render(b"", &parts, b"\r\n");
    let err = assert_refused(&body, data, S3ErrorCode::InvalidArgument);
    assert_eq!(
        err.message,
        "POST requires exactly one file upload per request."
    );
    assert!(run_one(&body).failed_in_feed);
}

#[test]
fn parts_after_the_file_count_against_max_parts() {
    let limits = MultipartLimits {
        max_parts: 3,
        ..MultipartLimits::default()
    };
    let data = b"d";
    let at_limit = [
        field("a", "1"),
        field("b", "2"),
        file_part("file", data),
        field("submit", "go"),
    ];
    let (body, _) = render(b"", &at_limit, b"");
    assert_released(&run_limits(limits, &[&body]), data, "three fields");
    let over = [
        field("a", "1"),
        field("b", "2"),
        file_part("file", data),
        field("submit", "go"),
        field("another", "x"),
    ];
    let (body, _) = render(b"", &over, b"");
    let err = assert_refused_with(
        limits,
        &body,
        data,
        S3ErrorCode::MaxPostPreDataLengthExceeded,
    );
    assert!(err.message.contains("limits.post_max_parts"), "{err}");
    assert!(err.message.contains("after the file"), "{err}");
    assert!(run_limits(limits, &[&body]).failed_in_feed);
}

#[test]
fn a_value_after_the_file_is_bounded_by_max_field_size() {
    let limits = MultipartLimits {
        max_field_size: 16,
        ..MultipartLimits::default()
    };
    let data = b"d";
    let with_value = |value: &str| {
        render(
            b"",
            &[
                field("key", "k"),
                file_part("file", data),
                field("late", value),
            ],
            b"\r\n",
        )
        .0
    };
    let body = with_value(&"v".repeat(16));
    assert_released(&run_limits(limits, &[&body]), data, "at the limit");
    let body = with_value(&"v".repeat(17));
    let err = assert_refused_with(
        limits,
        &body,
        data,
        S3ErrorCode::MaxPostPreDataLengthExceeded,
    );
    assert!(err.message.contains("late"), "{err}");
    assert!(err.message.contains("limits.post_max_field_size"), "{err}");
    // Refused by the feed that passes the limit, not at the end of the form.
    let mut reader = MultipartReader::new(BOUNDARY, limits);
    let late_value_end = body.len() - b"\r\n--".len() - BOUNDARY.len() - b"--\r\n".len();
    let err = reader
        .feed(Bytes::copy_from_slice(&body[..late_value_end]))
        .expect_err("17 bytes of the late value");
    assert_eq!(err.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
}

#[test]
fn bytes_after_the_file_count_against_max_prefix_size() {
    let data = b"some file data";
    let (body, data_at) = form_with_submit_button_after_the_file(data);
    // From the CR that ends the file's delimiter line to the end of the form.
    let file_delimiter_end = data_at + data.len() + b"\r\n--".len() + BOUNDARY.len();
    let after_file = body.len() - file_delimiter_end;
    let exact = MultipartLimits {
        max_prefix_size: data_at + after_file,
        ..MultipartLimits::default()
    };
    assert_released(&run_limits(exact, &[&body]), data, "at the cap");
    let limits = MultipartLimits {
        max_prefix_size: data_at + after_file - 1,
        ..MultipartLimits::default()
    };
    let err = assert_refused_with(
        limits,
        &body,
        data,
        S3ErrorCode::MaxPostPreDataLengthExceeded,
    );
    assert!(err.message.contains("limits.post_max_prefix"), "{err}");
    assert!(err.message.contains("after the upload file"), "{err}");
    // A form without parts after the file is not charged for its close.
    let (plain, plain_data_at) =
        render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
    let tight = MultipartLimits {
        max_prefix_size: plain_data_at,
        ..MultipartLimits::default()
    };
    assert_released(
        &run_limits(tight, &[&plain]),
        data,
        "no part after the file",
    );
}

#[test]
fn a_form_cut_in_a_part_after_the_file_releases_never_the_last_byte() {
    let data = b"file data";
    let (body, _) = form_with_submit_button_after_the_file(data);
    let submit_at = body
        .windows(b"Upload to".len())
        .position(|w| w == b"Upload to")
        .expect("button value");
    for cut in [submit_at - 3, submit_at + 4, body.len() - 6] {
        let run = run_one(&body[..cut]);
        let err = run.outcome.as_ref().expect_err("cut off");
        assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest, "{err}");
        assert!(!run.failed_in_feed, "refused by finish, at {cut}");
        assert_eq!(run.before_finish, &data[..data.len() - 1], "cut {cut}");
    }
}

#[test]
fn form_without_file_is_invalid_argument() {
    let (body, _) = render(b"", &[field("key", "k"), field("files", "f")], b"\r\n");
    let err = assert_refused(&body, b"", S3ErrorCode::InvalidArgument);
    assert_eq!(
        err.message,
        "POST requires exactly one file upload per request."
    );
    let (body, _) = render(b"", &[], b"\r\n");
    assert_refused(&body, b"", S3ErrorCode::InvalidArgument);
    assert!(run_one(&body).failed_in_feed);
}

#[test]
fn huge_field_is_refused_naming_field_and_limit() {
    let limits = MultipartLimits {
        max_field_size: 16,
        ..MultipartLimits::default()
    };
    let ok = render(
        b"",
        &[field("policy", &"p".repeat(16)), file_part("file", b"d")],
        b"",
    );
    assert_released(&run_limits(limits, &[&ok.0]), b"d", "at the limit");
    let (body, _) = render(
        b"",
        &[field("policy", &"p".repeat(17)), file_part("file", b"d")],
        b"",
    );
    let err = assert_refused_with(
        limits,
        &body,
        b"d",
        S3ErrorCode::MaxPostPreDataLengthExceeded,
    );
    assert!(err.message.contains("policy"), "{err}");
    assert!(err.message.contains("16 bytes"), "{err}");
    assert!(err.message.contains("limits.post_max_field_size"), "{err}");
}

#[test]
fn too_many_parts_is_refused_naming_the_limit() {
    let limits = MultipartLimits {
        max_parts: 2,
        ..MultipartLimits::default()
    };
    let two = [field("a", "1"), field("b", "2"), file_part("file", b"d")];
    assert_released(
        &run_limits(limits, &[&render(b"", &two, b"").0]),
        b"d",
        "two",
    );
    let three = [
        field("a", "1"),
        field("b", "2"),
        field("c", "3"),
        file_part("file", b"d"),
    ];
    let (body, _) = render(b"", &three, b"");
    let err = assert_refused_with(
        limits,
        &body,
        b"d",
        S3ErrorCode::MaxPostPreDataLengthExceeded,
    );
    assert!(err.message.contains("limits.post_max_parts"), "{err}");
}

#[test]
fn prefix_larger_than_its_cap_is_refused() {
    let data = b"data";
    let (body, data_at) = browser_form(data);
    let exact = MultipartLimits {
        max_prefix_size: data_at,
        ..MultipartLimits::default()
    };
    assert_released(&run_limits(exact, &[&body]), data, "at the cap");
    let limits = MultipartLimits {
        max_prefix_size: data_at - 1,
        ..MultipartLimits::default()
    };
    let err = assert_refused_with(
        limits,
        &body,
        data,
        S3ErrorCode::MaxPostPreDataLengthExceeded,
    );
    assert!(err.message.contains("limits.post_max_prefix"), "{err}");
    // A preamble counts too, and is never buffered.
    let limits = MultipartLimits {
        max_prefix_size: 100,
        ..MultipartLimits::default()
    };
    let mut reader = MultipartReader::new(BOUNDARY, limits);
    let err = reader
        .feed(Bytes::from(vec![b'x'; 101]))
        .expect_err("preamble");
    assert_eq!(err.code, S3ErrorCode::MaxPostPreDataLengthExceeded);
}

#[test]
fn header_line_longer_than_its_limit_is_refused() {
    let line = |len: usize| {
        let head = "Content-Disposition: form-data; name=\"file\"; filename=\"";
        format!("{head}{}\"", "n".repeat(len - head.len() - 1))
    };
    let part = |len| Part {
        headers: vec![line(len)],
        body: b"d".to_vec(),
    };
    let ok = render(b"", &[part(MAX_PART_HEADER_LINE_LEN)], b"");
    assert_released(&run_one(&ok.0), b"d", "at the limit");
    let (body, _) = render(b"", &[part(MAX_PART_HEADER_LINE_LEN + 1)], b"");
    let err = assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
    assert!(err.message.contains("8192"), "{err}");
}

#[test]
fn part_without_name_is_refused() {
    for headers in [
        vec!["Content-Disposition: form-data; filename=\"a.txt\""],
        vec!["Content-Disposition: form-data"],
        vec!["Content-Type: text/plain"],
        vec![],
        vec!["Content-Disposition: attachment; name=\"file\""],
        vec!["Content-Disposition: form-data; name=\"file\"; name=\"key\""],
        vec![
            "Content-Disposition: form-data; name=\"file\"",
            "Content-Disposition: form-data; name=\"key\"",
        ],
        vec![
            "Content-Disposition: form-data; name=\"file",
            "Content-Type: a",
        ],
        vec!["Content-Disposition: form-data; name=file x"],
        vec!["Content-Disposition : form-data; name=\"file\""],
        vec!["Content-Disposition: form-data; name=\"file\"", " folded"],
        vec!["Content-Disposition form-data; name=\"file\""],
    ] {
        let part = Part {
            headers: headers.iter().map(|h| h.to_string()).collect(),
            body: b"d".to_vec(),
        };
        let (body, _) = render(b"", &[part], b"");
        assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
    }
}

#[test]
fn truncated_form_is_refused_at_finish() {
    let data = b"0123456789";
    let (body, _) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
    // Cut anywhere before the close delimiter's second dash is complete.
    for len in 0..body.len() - 2 {
        let run = run(&[&body[..len]]);
        let err = run.outcome.expect_err("truncated");
        assert_eq!(
            err.code,
            S3ErrorCode::MalformedPOSTRequest,
            "len {len}: {err}"
        );
        assert!(!run.failed_in_feed, "len {len}");
        assert!(run.before_finish.len() < data.len(), "len {len}");
        assert_eq!(run.before_finish, data[..run.before_finish.len()]);
    }
    // With or without the final CRLF; a lone CR is not it.
    assert_released(&run_one(&body[..body.len() - 2]), data, "no CRLF");
    assert_released(&run_one(&body), data, "CRLF");
    let run = run_one(&body[..body.len() - 1]);
    assert_eq!(
        run.outcome.expect_err("CR").code,
        S3ErrorCode::MalformedPOSTRequest
    );
    assert_eq!(run.before_finish, &data[..9]);
}

#[test]
fn bytes_after_the_close_are_refused() {
    let data = b"0123456789";
    for end in [
        &b"\r\nx"[..],
        b"x",
        b"\r\n\r\n",
        b"\n",
        b"\rx",
        b" \r\n",
        b"--",
    ] {
        let (body, _) = render(b"", &[file_part("file", data)], end);
        let err = assert_refused(&body, data, S3ErrorCode::MalformedPOSTRequest);
        assert!(run_one(&body).failed_in_feed, "{end:?}: {err}");
    }
}

#[test]
fn delimiter_followed_by_other_bytes_is_refused() {
    let data = b"0123456789";
    for tail in ["-x", "x\r\n", "\rx", " x"] {
        let (body, _) = render(b"", &[field("key", "k"), file_part("file", data)], b"");
        let body = String::from_utf8(body).expect("ascii").replacen(
            &format!("--{BOUNDARY}\r\n"),
            &format!("--{BOUNDARY}{tail}"),
            2,
        );
        assert_refused(body.as_bytes(), data, S3ErrorCode::MalformedPOSTRequest);
    }
}

#[test]
fn bare_lf_and_bare_cr_are_refused() {
    let data = b"0123456789";
    let (body, data_at) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
    let text = String::from_utf8(body).expect("ascii");
    // Every CRLF outside the data, in turn, made a bare LF or a bare CR.
    // (Not the CRLF that starts a delimiter: without it the delimiter is data, below.)
    let delimiter = format!("\r\n--{BOUNDARY}");
    let crlf_at: Vec<usize> = text
        .match_indices("\r\n")
        .map(|(at, _)| at)
        .filter(|&at| !text[at..].starts_with(&delimiter))
        .collect();
    for &at in &crlf_at[..crlf_at.len() - 1] {
        for replacement in ["\n", "\r", "\r\r\n"] {
            let mut tampered = text.clone();
            tampered.replace_range(at..at + 2, replacement);
            let whole = run_one(tampered.as_bytes());
            let err = whole
                .outcome
                .as_ref()
                .expect_err(&format!("CRLF at {at} as {replacement:?}"));
            assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest, "{at}: {err}");
            assert!(whole.before_finish.len() < data.len());
            assert_eq!(whole.before_finish, data[..whole.before_finish.len()]);
        }
    }
    // A bare LF before a boundary is data, not a delimiter: the form then has no file,
    // or no end.
    let no_file = text.replacen(&delimiter, &format!("\n--{BOUNDARY}"), 1);
    assert_refused(no_file.as_bytes(), b"", S3ErrorCode::InvalidArgument);
    let at = text.rfind(&delimiter).expect("close");
    let mut no_close = text.clone();
    no_close.replace_range(at..at + 2, "\n");
    // Everything after the file's headers is now file data; its last byte stays held.
    let rest_is_data = &no_close.as_bytes()[data_at..];
    let err = assert_refused(
        no_close.as_bytes(),
        rest_is_data,
        S3ErrorCode::MalformedPOSTRequest,
    );
    assert!(err.message.contains("before the closing boundary"), "{err}");
    // All LF, as a hand-written form might be.
    let lf_only = text.replace("\r\n", "\n");
    assert_refused(lf_only.as_bytes(), b"", S3ErrorCode::MalformedPOSTRequest);
}

#[test]
fn non_utf8_field_value_and_header_are_refused() {
    let mut part = field("acl", "");
    part.body = vec![b'a', 0xff, b'b'];
    let (body, _) = render(b"", &[part, file_part("file", b"d")], b"");
    let err = assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
    assert!(err.message.contains("acl"), "{err}");
    let (mut body, _) = render(b"", &[file_part("file", b"d")], b"");
    let at = body
        .windows(5)
        .position(|w| w == b"photo")
        .expect("filename");
    body[at] = 0xc3;
    assert_refused(&body, b"d", S3ErrorCode::MalformedPOSTRequest);
}

// ---- failure, reset ----

#[test]
fn failure_sticks_and_reset_starts_over() {
    let data = b"0123456789";
    let (body, _) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
    let mut reader = MultipartReader::new(BOUNDARY, MultipartLimits::default());
    // A first attempt broken off half way (a retried upstream connection).
    reader
        .feed(Bytes::copy_from_slice(&body[..body.len() - 20]))
        .expect("ok");
    reader.reset();
    assert_eq!(reader.prefix(), None);
    assert_eq!(reader.file_len(), 0);
    let mut released = reader
        .feed(Bytes::copy_from_slice(&body))
        .expect("ok")
        .to_vec();
    released.extend_from_slice(&reader.finish().expect("complete"));
    assert_eq!(released, data);
    // A failed one.
    reader.reset();
    let mut bad = body.clone();
    bad.extend_from_slice(b"x");
    let err = reader
        .feed(Bytes::from(bad))
        .expect_err("garbage after close");
    assert_eq!(reader.feed(Bytes::new()), Err(err.clone()));
    assert_eq!(reader.finish(), Err(err));
    reader.reset();
    assert_eq!(
        reader.feed(Bytes::copy_from_slice(&body)).expect("ok"),
        &data[..9]
    );
    assert_eq!(reader.finish().expect("complete"), &data[9..]);
}

// ---- never panics ----

#[test]
fn thousands_of_mutated_forms_never_panic_nor_release_the_last_byte_early() {
    let seed = browser_form(b"\r\n--ab\r\n-x").0;
    let limits = MultipartLimits {
        max_field_size: 80,
        max_prefix_size: 1200,
        max_parts: 12,
    };
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    for round in 0..3000 {
        let (body, cuts) = mutated_and_cut(&seed, &mut rng, b"\r\n-\"; =:");
        let run = run_limits(limits, &split_at(&body, &cuts));
        assert!(
            run.before_finish.len() as u64 <= run.file_len.saturating_sub(1),
            "round {round}"
        );
        if run.outcome.is_ok() {
            assert_eq!(run.released().len() as u64, run.file_len, "round {round}");
        }
    }
}

#[test]
fn the_forms_length_bounds_its_files_length_whatever_follows_the_file() {
    let data = b"0123456789";
    let prefix_of = |limits: MultipartLimits, body: &[u8], data_at: usize| {
        let mut reader = MultipartReader::new(BOUNDARY, limits);
        reader
            .feed(Bytes::copy_from_slice(&body[..data_at]))
            .expect("up to the file");
        reader
    };
    // The file last, with the final CRLF: at most the file and the 2 bytes of that CRLF.
    let (body, data_at) = render(b"", &[field("key", "k"), file_part("file", data)], b"\r\n");
    let reader = prefix_of(MultipartLimits::default(), &body, data_at);
    let (at_least, at_most) = reader
        .file_len_bounds(body.len() as u64)
        .expect("after the file's headers")
        .expect("long enough");
    assert_eq!(at_most, 12);
    assert_eq!(at_least, 0, "a 1 MiB budget for parts after the file");
    // A submit button after the file, with the budget for it exactly used up: at least the file.
    let (body, data_at) = form_with_submit_button_after_the_file(data);
    let after_file = body.len() - (data_at + data.len() + 4 + BOUNDARY.len());
    let tight = MultipartLimits {
        max_prefix_size: data_at + after_file,
        ..MultipartLimits::default()
    };
    let reader = prefix_of(tight, &body, data_at);
    let (at_least, at_most) = reader
        .file_len_bounds(body.len() as u64)
        .expect("after the file's headers")
        .expect("long enough");
    assert_eq!(at_least, 10);
    assert!(at_most > 10);
    // Too short for what was read and the shortest end; nothing known before the file.
    let short = (data_at + 4 + BOUNDARY.len() + 1) as u64;
    let err = reader
        .file_len_bounds(short)
        .expect("known")
        .expect_err("short");
    assert_eq!(err.code, S3ErrorCode::MalformedPOSTRequest);
    assert_eq!(
        reader.file_len_bounds(short + 1).expect("known"),
        Ok((0, 0))
    );
    let fresh = MultipartReader::new(BOUNDARY, MultipartLimits::default());
    assert!(fresh.file_len_bounds(1000).is_none());
}
