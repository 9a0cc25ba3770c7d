"""Credential rotation the way the kubelet updates a mounted Secret, for scripts/test-deploy.sh.

    python secret_rotation.py SECRET_DIR http://127.0.0.1:PORT BUCKET

SECRET_DIR is the host side of the directory mounted at the proxy's /run/secrets/s3-auth-proxy.
The kubelet's atomic writer keeps the files in a timestamped folder, points `..data` at it and
makes each key a symlink `KEY -> ..data/KEY`; an update writes a new folder and renames a fresh
`..data` symlink over the old one. This script does the same twice, with the proxy running:
  v2: the layout above, adding a key (AKIAROTATEDEXAMPLEV2) and dropping the read-only key;
  v3: only `..data` moves (what every later update does): the v2 key goes, a v3 key comes.
After each swap the new key must work and the dropped one be refused (InvalidAccessKeyId)
within 10 s (auth.secrets_poll_interval is 2 s). Exit 0 only if both swaps were picked up.
"""

import os
import sys
import time

from botocore.exceptions import ClientError

from s3_roundtrip import KEY_ID, RO_KEY_ID, RO_SECRET, SECRET, client

V2 = ("AKIAROTATEDEXAMPLEV2", "rotated/EXAMPLE/secret/key/v2/0123456789")
V3 = ("AKIAROTATEDEXAMPLEV3", "rotated/EXAMPLE/secret/key/v3/0123456789")


def credentials_toml(*pairs):
    return "".join(
        f'[[credentials]]\naccess_key = "{k}"\nsecret_key = "{s}"\n\n' for k, s in pairs
    )


def write_version(secret_dir, name, content):
    """kubelet-style: new folder, then rename a new ..data symlink over the old one."""
    folder = os.path.join(secret_dir, name)
    os.mkdir(folder, 0o755)
    with open(os.path.join(folder, "secrets.toml"), "w") as f:
        f.write(content)
    tmp = os.path.join(secret_dir, "..data_tmp")
    os.symlink(name, tmp)
    os.rename(tmp, os.path.join(secret_dir, "..data"))
    key = os.path.join(secret_dir, "secrets.toml")
    if not os.path.islink(key):  # first time: the plain file becomes the kubelet's symlink
        os.symlink("..data/secrets.toml", key + ".tmp")
        os.rename(key + ".tmp", key)


def outcome(endpoint, bucket, key_id, secret):
    try:
        client(endpoint, key_id, secret).put_object(
            Bucket=bucket, Key=f"deploy-test/rotation-{key_id}", Body=b"rotation"
        )
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]
    except Exception as e:  # noqa: BLE001 - report whatever happened
        return repr(e)


def check(endpoint, bucket, cases, label):
    """cases: [(key_id, secret, wanted outcome)]"""
    deadline = time.time() + 10.0
    start = time.time()
    while True:
        got = [outcome(endpoint, bucket, k, s) for k, s, _ in cases]
        want = [w for _, _, w in cases]
        if got == want:
            print(f"  {label}: picked up after {time.time() - start:.1f}s: " + ", ".join(
                f"{k} {g}" for (k, _, _), g in zip(cases, got)))
            return True
        if time.time() > deadline:
            print(f"  {label}: NOT picked up in 10s: got {got}, wanted {want}")
            return False
        time.sleep(0.5)


def main():
    secret_dir, endpoint, bucket = sys.argv[1:4]
    ok = check(endpoint, bucket, [(KEY_ID, SECRET, "ok"), (RO_KEY_ID, RO_SECRET, "AccessDenied")],
               "before rotation")
    write_version(secret_dir, "..2026_01_01_00_00_00.000000002", credentials_toml((KEY_ID, SECRET), V2))
    ok &= check(endpoint, bucket, [(*V2, "ok"), (RO_KEY_ID, RO_SECRET, "InvalidAccessKeyId")],
                "v2 (..data symlink layout)")
    write_version(secret_dir, "..2026_01_01_00_00_00.000000003", credentials_toml((KEY_ID, SECRET), V3))
    ok &= check(endpoint, bucket, [(*V3, "ok"), (*V2, "InvalidAccessKeyId")],
                "v3 (..data swap only)")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
