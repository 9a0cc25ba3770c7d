"""Browser POST uploads (SigV4 forms) signed by boto3's generate_presigned_post, sent with requests.

Every form here is signed by boto3, never by the proxy's code. Each attack changes exactly one
thing of a valid form and checks the S3 error code *and* that nginx stored nothing.
"""

import os
import time
import uuid
import xml.etree.ElementTree as ET
from urllib.parse import parse_qs, urlsplit

import requests

from common import ENDPOINT, client, md5_hex, patterned, run, stored, stored_paths, verify

BUCKET = "bucket"


def error_code(response):
    return ET.fromstring(response.content).findtext("Code")


def error_message(response):
    return ET.fromstring(response.content).findtext("Message")


def assert_refused(response, status, code, message_part=None):
    assert response.status_code == status, (response.status_code, response.text)
    assert error_code(response) == code, response.text
    if message_part is not None:
        assert message_part in error_message(response), response.text
    # The proxy may answer a moment before nginx is done: look again after a short while.
    for _ in range(5):
        assert stored_paths() == [], f"stored after a refused form: {stored_paths()}"
        time.sleep(0.05)


def presigned_post(key="uploads/${filename}", fields=None, conditions=None, expires=300):
    return client().generate_presigned_post(
        BUCKET, key, Fields=fields or {}, Conditions=conditions or [], ExpiresIn=expires
    )


def multipart(fields, file=None, after=(), boundary=None):
    """A multipart/form-data body built by hand: fields in order, the file, then `after` parts."""
    boundary = boundary or "----form" + uuid.uuid4().hex
    out = b""
    for name, value in fields:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").encode()
        out += (value.encode() if isinstance(value, str) else value) + b"\r\n"
    if file is not None:
        filename, content_type, data = file
        out += (
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{filename}\"\r\n"
            f"Content-Type: {content_type}\r\n\r\n"
        ).encode()
        out += data + b"\r\n"
    for name, value in after:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n").encode()
        out += value.encode() + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, f"multipart/form-data; boundary={boundary}"


def post(post_data, file_bytes, filename="photo.txt", url=None):
    return requests.post(
        url or post_data["url"],
        data=post_data["fields"],
        files={"file": (filename, file_bytes, "text/plain")},
        verify=verify(),
        allow_redirects=False,
    )


def post_raw(body, content_type, url=None, chunked=False):
    data = body
    if chunked:
        def pieces():
            for i in range(0, len(body), 7000):
                yield body[i : i + 7000]
        data = pieces()
    return requests.post(
        url or f"{ENDPOINT}/{BUCKET}",
        data=data,
        headers={"Content-Type": content_type},
        verify=verify(),
        allow_redirects=False,
    )


def clean():
    root = os.environ["NGINX_ROOT"]
    for path in stored_paths():
        os.remove(os.path.join(root, path))


# ------------------------------------------------------------------------------------------
# Uploads that must work


def test_conditions_met_201_with_post_response():
    body = patterned(300_000)
    data = presigned_post(
        fields={"Content-Type": "text/plain", "x-amz-meta-owner": "alice",
                "success_action_status": "201"},
        conditions=[{"Content-Type": "text/plain"}, {"x-amz-meta-owner": "alice"},
                    {"success_action_status": "201"}, ["content-length-range", 1, 1_000_000]],
    )
    r = post(data, body, filename="report.txt")
    assert r.status_code == 201, (r.status_code, r.text)
    doc = ET.fromstring(r.content)
    assert doc.tag == "PostResponse", r.text
    assert doc.findtext("Bucket") == BUCKET
    assert doc.findtext("Key") == "uploads/report.txt"
    assert doc.findtext("ETag") == f'"{md5_hex(body)}"'
    assert doc.findtext("Location").endswith(f"/{BUCKET}/uploads/report.txt"), r.text
    assert r.headers["ETag"] == f'"{md5_hex(body)}"'
    assert stored(BUCKET, "uploads/report.txt") == body
    clean()


def test_default_answer_is_204():
    data = presigned_post(key="plain/fixed-name.bin")
    r = post(data, b"hello form")
    assert r.status_code == 204, (r.status_code, r.text)
    assert r.headers["ETag"] == f'"{md5_hex(b"hello form")}"'
    assert stored(BUCKET, "plain/fixed-name.bin") == b"hello form"
    clean()


def test_redirect_gets_303_with_bucket_key_and_etag():
    target = "http://127.0.0.1:9/done?from=form"
    data = presigned_post(
        fields={"success_action_redirect": target},
        conditions=[{"success_action_redirect": target}],
    )
    r = post(data, b"redirected", filename="r.txt")
    assert r.status_code == 303, (r.status_code, r.text)
    location = r.headers["Location"]
    assert location.startswith("http://127.0.0.1:9/done?from=form&"), location
    query = parse_qs(urlsplit(location).query)
    assert query["bucket"] == [BUCKET], query
    assert query["key"] == ["uploads/r.txt"], query
    assert query["etag"] == [f'"{md5_hex(b"redirected")}"'], query
    assert stored(BUCKET, "uploads/r.txt") == b"redirected"
    clean()


def test_empty_and_large_files():
    data = presigned_post(key="sizes/empty")
    r = post(data, b"")
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored(BUCKET, "sizes/empty") == b""
    big = patterned(8 * 1024 * 1024 + 3)
    data = presigned_post(key="sizes/big")
    r = post(data, big)
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored(BUCKET, "sizes/big") == big
    clean()


def test_file_data_that_looks_like_a_boundary():
    data = presigned_post(key="tricky/boundary.bin")
    body = b"\r\n--\r\n--abc\r\n" * 1000 + b"\r\n-"
    r = post(data, body)
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored(BUCKET, "tricky/boundary.bin") == body
    clean()


def test_form_sent_chunked_without_content_length():
    data = presigned_post(key="chunked/file.bin")
    content = patterned(100_000)
    body, ctype = multipart(list(data["fields"].items()), ("f.bin", "application/octet-stream", content))
    r = post_raw(body, ctype, url=data["url"], chunked=True)
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored(BUCKET, "chunked/file.bin") == content
    clean()


def test_field_names_are_case_insensitive():
    data = presigned_post(key="case/file.txt")
    fields = [(name.upper() if name != "key" else "Key", value) for name, value in data["fields"].items()]
    body, ctype = multipart(fields, ("f.txt", "text/plain", b"case"))
    r = post_raw(body, ctype, url=data["url"])
    assert r.status_code == 204, (r.status_code, r.text)
    assert stored(BUCKET, "case/file.txt") == b"case"
    clean()


# ------------------------------------------------------------------------------------------
# Attacks: one tampered thing each, refused, nothing stored


def test_expired_policy():
    data = presigned_post(expires=1)
    time.sleep(2.2)
    assert_refused(post(data, b"late"), 403, "AccessDenied", "Policy expired")


def test_signature_over_another_policy():
    data = presigned_post(key="a/${filename}")
    other = presigned_post(key="b/${filename}")
    data["fields"]["policy"] = other["fields"]["policy"]
    assert_refused(post(data, b"swapped"), 403, "SignatureDoesNotMatch")


def test_flipped_signature():
    data = presigned_post()
    sig = data["fields"]["x-amz-signature"]
    data["fields"]["x-amz-signature"] = ("0" if sig[0] != "0" else "1") + sig[1:]
    assert_refused(post(data, b"bad sig"), 403, "SignatureDoesNotMatch")


def test_bucket_condition():
    data = presigned_post()
    assert_refused(post(data, b"elsewhere", url=f"{ENDPOINT}/other-bucket"), 403, "AccessDenied",
                   "Invalid according to Policy")


def test_key_prefix_condition():
    data = presigned_post()
    data["fields"]["key"] = "elsewhere/${filename}"
    assert_refused(post(data, b"wrong key"), 403, "AccessDenied", "Invalid according to Policy")


def test_content_type_condition():
    data = presigned_post(fields={"Content-Type": "image/png"},
                          conditions=[["starts-with", "$Content-Type", "image/"]])
    data["fields"]["Content-Type"] = "text/html"
    assert_refused(post(data, b"<script>"), 403, "AccessDenied", "Invalid according to Policy")


def test_meta_field_condition():
    data = presigned_post(fields={"x-amz-meta-owner": "alice"},
                          conditions=[{"x-amz-meta-owner": "alice"}])
    data["fields"]["x-amz-meta-owner"] = "mallory"
    assert_refused(post(data, b"meta"), 403, "AccessDenied", "Invalid according to Policy")


def test_field_without_a_condition():
    data = presigned_post()
    data["fields"]["x-amz-meta-sneaky"] = "1"
    assert_refused(post(data, b"extra"), 403, "AccessDenied", "Extra input fields")


def test_file_larger_than_the_range():
    data = presigned_post(conditions=[["content-length-range", 0, 1000]])
    assert_refused(post(data, patterned(1001)), 400, "EntityTooLarge")


def test_file_larger_than_the_range_found_while_streaming():
    data = presigned_post(key="stream/too-big", conditions=[["content-length-range", 0, 50_000]])
    body, ctype = multipart(list(data["fields"].items()), ("f", "text/plain", patterned(200_000)))
    assert_refused(post_raw(body, ctype, url=data["url"], chunked=True), 400, "EntityTooLarge")


def test_file_smaller_than_the_range():
    data = presigned_post(conditions=[["content-length-range", 100, 1000]])
    assert_refused(post(data, patterned(99)), 400, "EntityTooSmall")


def test_file_smaller_than_the_range_found_at_the_end():
    data = presigned_post(key="stream/too-small", conditions=[["content-length-range", 100, 1000]])
    body, ctype = multipart(list(data["fields"].items()), ("f", "text/plain", patterned(99)))
    assert_refused(post_raw(body, ctype, url=data["url"], chunked=True), 400, "EntityTooSmall")


def test_fields_after_the_file_are_ignored():
    # S3 ignores the fields after the file (a browser's named submit button): they never
    # become metadata, and need no policy condition; limits still bound them.
    data = presigned_post(key="after/${filename}")
    after = [("submit", "Upload to Amazon S3"), ("x-amz-meta-late", "never a header")]
    for chunked, name in ((False, "plain.txt"), (True, "chunked.txt")):
        body, ctype = multipart(list(data["fields"].items()), (name, "text/plain", patterned(5000)),
                                after=after)
        r = post_raw(body, ctype, url=data["url"], chunked=chunked)
        assert r.status_code == 204, (r.status_code, r.text)
        assert stored(BUCKET, f"after/{name}") == patterned(5000)
    clean()
    body, ctype = multipart(list(data["fields"].items()), ("f", "text/plain", patterned(5000)),
                            after=[("x-ignore-late", "x" * 70_000)])
    assert_refused(post_raw(body, ctype, url=data["url"]), 400, "MaxPostPreDataLengthExceededError")


def test_no_file_part():
    data = presigned_post(key="nofile/x")
    body, ctype = multipart(list(data["fields"].items()))
    assert_refused(post_raw(body, ctype, url=data["url"]), 400, "InvalidArgument")


def test_huge_field():
    data = presigned_post(key="huge/x")
    fields = list(data["fields"].items()) + [("x-ignore-padding", "x" * 70_000)]
    body, ctype = multipart(fields, ("f", "text/plain", b"data"))
    assert_refused(post_raw(body, ctype, url=data["url"]), 400, "MaxPostPreDataLengthExceededError")


def test_malformed_multipart():
    data = presigned_post(key="malformed/x")
    body, ctype = multipart(list(data["fields"].items()), ("f", "text/plain", b"data"))
    # Wrong boundary in the header: the body's delimiters are never found.
    assert_refused(post_raw(body, "multipart/form-data; boundary=nope", url=data["url"]), 400,
                   "MalformedPOSTRequest")
    # No boundary at all.
    assert_refused(post_raw(body, "multipart/form-data", url=data["url"]), 400, "MalformedPOSTRequest")
    # Cut off before the closing delimiter.
    cut = body[: len(body) - len(b"--\r\n") - 30]
    r = post_raw(cut, ctype, url=data["url"])
    assert error_code(r) in ("MalformedPOSTRequest", "IncompleteBody"), r.text
    assert_refused(r, 400, error_code(r))


def test_missing_policy():
    data = presigned_post()
    del data["fields"]["policy"]
    assert_refused(post(data, b"anon"), 403, "AccessDenied")


def test_unknown_access_key():
    data = client(access_key="AKIAUNKNOWNKEY000000", secret_key="x" * 40).generate_presigned_post(
        BUCKET, "k/${filename}", ExpiresIn=300)
    r = post(data, b"who")
    assert r.status_code == 403, (r.status_code, r.text)
    assert error_code(r) in ("InvalidAccessKeyId", "AccessDenied"), r.text
    assert stored_paths() == []


run([
    test_conditions_met_201_with_post_response,
    test_default_answer_is_204,
    test_redirect_gets_303_with_bucket_key_and_etag,
    test_empty_and_large_files,
    test_file_data_that_looks_like_a_boundary,
    test_form_sent_chunked_without_content_length,
    test_field_names_are_case_insensitive,
    test_expired_policy,
    test_signature_over_another_policy,
    test_flipped_signature,
    test_bucket_condition,
    test_key_prefix_condition,
    test_content_type_condition,
    test_meta_field_condition,
    test_field_without_a_condition,
    test_file_larger_than_the_range,
    test_file_larger_than_the_range_found_while_streaming,
    test_file_smaller_than_the_range,
    test_file_smaller_than_the_range_found_at_the_end,
    test_fields_after_the_file_are_ignored,
    test_no_file_part,
    test_huge_field,
    test_malformed_multipart,
    test_missing_policy,
    test_unknown_access_key,
])
