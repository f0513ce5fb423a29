"""The azwi-style commands: `wid jwks` writes what `azwi jwks` writes."""

import base64
import hashlib
import json
import os
import subprocess

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from widtest import wid_bin


def kid(public_key) -> str:
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.urlsafe_b64encode(hashlib.sha256(der).digest()).rstrip(b"=").decode()


def test_jwks_from_public_and_private_keys(tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    pub = tmp_path / "sa.pub"
    pub.write_bytes(rsa_key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo))
    private = tmp_path / "ec.key"
    private.write_bytes(ec_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    out = tmp_path / "jwks.json"
    subprocess.run([wid_bin(), "jwks", "--public-keys", str(pub), str(private), "--output-file", str(out)], check=True)
    assert oct(os.stat(out).st_mode & 0o777) == "0o600"
    text = out.read_text()
    assert text.startswith('{\n  "keys": [\n    {\n      "use": "sig",\n      "kty": "RSA",')
    keys = json.loads(text)["keys"]
    assert [k["kty"] for k in keys] == ["RSA", "EC"]
    assert keys[0]["kid"] == kid(rsa_key.public_key()) and keys[0]["alg"] == "RS256" and keys[0]["e"] == "AQAB"
    assert keys[1]["kid"] == kid(ec_key.public_key()) and keys[1]["alg"] == "ES256" and keys[1]["crv"] == "P-256"
    printed = subprocess.run([wid_bin(), "jwks", "--public-keys", str(pub)], check=True, capture_output=True, text=True).stdout
    assert json.loads(printed)["keys"][0] == keys[0]
    bad = subprocess.run([wid_bin(), "jwks", "--public-keys", str(tmp_path / "missing.pem")], capture_output=True, text=True)
    assert bad.returncode != 0 and "missing.pem" in bad.stderr
