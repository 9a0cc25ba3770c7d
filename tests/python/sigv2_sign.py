"""SigV2 signatures from botocore's own signers (HmacV1Auth, HmacV1QueryAuth), for the tests.

Nothing here is the proxy's code. Two uses:

  sign METHOD URL [--also NAME ...] [--presign EXPIRES] [--date HTTP-DATE] [--header NAME:VALUE ...]
      Signs one request and prints JSON: {"url", "headers", "string_to_sign"}. `--also` adds
      sub-resource names to botocore's QSAOfInterest, as a client that signs them does (MinIO's
      SigV2 verifier wants `retention` and `legal-hold` signed); without it the request is signed exactly as
      boto3 with signature_version='s3' signs it. `--presign` makes a presigned URL whose Expires
      is EXPIRES (seconds since the epoch); `--date` fixes the Date header signed (default: now).

  boto3 OPERATION PARAMS-JSON [--date HTTP-DATE]
      What boto3 itself sends for one operation (client with signature_version='s3', path-style
      addressing, endpoint http://s3.example.com), captured before it goes out: prints JSON
      {"method", "url", "headers", "string_to_sign"}. Unlike `sign`, this goes through botocore's
      whole request pipeline (its auth_path, the query it builds).

  model
      Prints JSON of what the installed botocore knows: "qsa_of_interest" (HmacV1Auth's list),
      "uri_literals" (every query name in the requestUri of an operation of the S3 model, with
      the operations using it) and "query_members" (every querystring member of an input shape).

Used by tests/sigv2_subresources.rs, and it produced the expected signatures pasted in
src/auth/sigv2/tests.rs (the command is written next to each).
"""

import argparse
import json
import sys

import botocore.loaders
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials


class Recording:
    """Keeps the string to sign botocore's signer was given."""

    string_to_sign = None

    def sign_string(self, string_to_sign):
        Recording.string_to_sign = string_to_sign
        return super().sign_string(string_to_sign)


def sign(args):
    extra = list(args.also or [])
    credentials = Credentials(args.access_key, args.secret_key)
    if args.presign is not None:
        expires = args.presign

        class Signer(Recording, HmacV1QueryAuth):
            QSAOfInterest = HmacV1QueryAuth.QSAOfInterest + extra

            def _get_date(self):
                return str(expires)

        signer = Signer(credentials)
    else:
        date = args.date

        class Signer(Recording, HmacV1Auth):
            QSAOfInterest = HmacV1Auth.QSAOfInterest + extra

            def _get_date(self):
                return date if date else super()._get_date()

        signer = Signer(credentials)
    request = AWSRequest(method=args.method, url=args.url)
    for header in args.header or []:
        name, value = header.split(":", 1)
        request.headers[name] = value
    signer.add_auth(request)
    json.dump({"url": request.url, "headers": dict(request.headers.items()),
               "string_to_sign": Recording.string_to_sign},
              sys.stdout)


def boto3_request(args):
    import boto3
    from botocore.awsrequest import AWSResponse
    from botocore.config import Config

    date = args.date
    captured = {}

    class Fixed(Recording, HmacV1Auth):
        def _get_date(self):
            return date if date else super()._get_date()

    # botocore picks its SigV2 signer by name; the fixed date is the only change.
    botocore.auth.AUTH_TYPE_MAPS["s3"] = Fixed
    client = boto3.client(
        "s3", endpoint_url="http://s3.example.com", region_name="us-east-1",
        aws_access_key_id=args.access_key, aws_secret_access_key=args.secret_key,
        config=Config(signature_version="s3", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}),
    )

    def capture(request, **_kwargs):
        captured.update(method=request.method, url=request.url,
                        headers={k: v.decode() if isinstance(v, bytes) else v
                                 for k, v in request.headers.items()})
        return AWSResponse(request.url, 200, {}, None)

    client.meta.events.register("before-send.s3", capture)
    try:
        getattr(client, args.operation)(**json.loads(args.params))
    except Exception:  # the fake empty answer may not parse; the request is what we want
        pass
    captured["string_to_sign"] = Recording.string_to_sign
    json.dump(captured, sys.stdout)


def model(_args):
    loader = botocore.loaders.Loader()
    s3 = loader.load_service_model("s3", "service-2")
    uri_literals, query_members = {}, {}
    for name, operation in s3["operations"].items():
        uri = operation["http"]["requestUri"]
        if "?" in uri:
            for pair in uri.split("?", 1)[1].split("&"):
                uri_literals.setdefault(pair.split("=", 1)[0], []).append(name)
        shape = s3["shapes"].get(operation.get("input", {}).get("shape", ""), {})
        for member in shape.get("members", {}).values():
            if member.get("location") == "querystring":
                query_members.setdefault(member["locationName"], []).append(name)
    json.dump({"qsa_of_interest": HmacV1Auth.QSAOfInterest, "uri_literals": uri_literals,
               "query_members": query_members}, sys.stdout)


def main():
    parser = argparse.ArgumentParser()
    commands = parser.add_subparsers(dest="command", required=True)
    one = commands.add_parser("sign")
    one.add_argument("method")
    one.add_argument("url")
    one.add_argument("--also", action="append")
    one.add_argument("--presign", type=int)
    one.add_argument("--date")
    one.add_argument("--header", action="append")
    one.add_argument("--access-key", default="AKIDV2TEST")
    one.add_argument("--secret-key", default="v2-test-secret")
    one.set_defaults(run=sign)
    client = commands.add_parser("boto3")
    client.add_argument("operation")
    client.add_argument("params")
    client.add_argument("--date")
    client.add_argument("--access-key", default="AKIDV2TEST")
    client.add_argument("--secret-key", default="v2-test-secret")
    client.set_defaults(run=boto3_request)
    commands.add_parser("model").set_defaults(run=model)
    args = parser.parse_args()
    args.run(args)


if __name__ == "__main__":
    main()
