"""Keys and certificates through the real Azure CLI (azure-cli from PyPI, unmodified), signed in
as the bootstrap service principal by `wid cloud register-az`, on an RBAC vault (az's default)
where it holds Key Vault Administrator; and the same scripts with `az` replaced by `wid`."""

import base64
import hashlib
import json

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID
import datetime
import os
import subprocess
from pathlib import Path

import pytest

from widtest import Az, unique, wid_bin


class WidCli:
    """Runs the same scripts as `Az.run` with `az` meaning this wid's CLI, which reaches vault
    hosts without /etc/hosts."""

    def __init__(self, wid, tmp_path: Path):
        self.wid, self.tmp = wid, tmp_path
        bin_dir = tmp_path / "wid-as-az"
        bin_dir.mkdir()
        (bin_dir / "az").symlink_to(wid_bin())
        self.env = {**os.environ, "WID_DATA_DIR": str(wid.data_dir), "PATH": f"{bin_dir}:{os.environ['PATH']}"}

    def run(self, script: str, vaults=()) -> dict:
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"script failed ({done.returncode}):\n{script}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        return {name: value for name, sep, value in (line.partition("=") for line in done.stdout.splitlines()) if sep and name.isupper()}


@pytest.fixture(params=["az", "wid"])
def cli(request, wid, tmp_path):
    return Az(wid, tmp_path) if request.param == "az" else WidCli(wid, tmp_path)


def vault_for(cli) -> str:
    vault = unique("kvobj")
    rg = unique("rg-kvobj-")
    # An RBAC vault (az's default, asked for explicitly of wid) where the signed-in principal
    # gives itself the data plane.
    cli.run(f"""
az group create -n {rg} -l eastus -o none
ID=$(az keyvault create -n {vault} -g {rg} --enable-rbac-authorization true --query id -o tsv)
az role assignment create --assignee {cli.wid.creds["clientId"]} --role "Key Vault Administrator" --scope "$ID" -o none
""")
    return vault


def test_keys_with_az(cli, tmp_path):
    vault = vault_for(cli)
    digest = base64.b64encode(hashlib.sha256(b"signed by the vault").digest()).decode()
    out = cli.run(
        f"""
echo "CREATED=$(az keyvault key create --vault-name {vault} -n k1 --kty RSA --size 2048 --ops sign verify encrypt decrypt -o json | tr -d '\\n')"
echo "SHOWN=$(az keyvault key show --vault-name {vault} -n k1 -o json | tr -d '\\n')"
echo "LISTED=$(az keyvault key list --vault-name {vault} --query '[].name' -o tsv | tr '\\n' ' ')"
SIG=$(az keyvault key sign --vault-name {vault} -n k1 -a RS256 --digest {digest} --query signature -o tsv)
echo "SIG=$SIG"
echo "VALID=$(az keyvault key verify --vault-name {vault} -n k1 -a RS256 --digest {digest} --signature "$SIG" --query isValid -o tsv)"
CT=$(az keyvault key encrypt --vault-name {vault} -n k1 -a RSA-OAEP-256 --value "a plain secret" --data-type plaintext --query result -o tsv)
echo "PLAIN=$(az keyvault key decrypt --vault-name {vault} -n k1 -a RSA-OAEP-256 --value "$CT" --data-type plaintext --query result -o tsv)"
echo "DELETED=$(az keyvault key delete --vault-name {vault} -n k1 --query recoveryId -o tsv)"
echo "GONE=$(az keyvault key list --vault-name {vault} --query 'length(@)' -o tsv)"
echo "RECOVERED=$(az keyvault key recover --vault-name {vault} -n k1 --query key.kid -o tsv)"
az keyvault key delete --vault-name {vault} -n k1 -o none
az keyvault key purge --vault-name {vault} -n k1
echo "DELETED_LEFT=$(az keyvault key list-deleted --vault-name {vault} --query 'length(@)' -o tsv)"
""",
        vaults=[vault],
    )
    created, shown = json.loads(out["CREATED"]), json.loads(out["SHOWN"])
    assert created["key"]["kty"] == "RSA" and created["attributes"]["enabled"] is True
    assert sorted(created["key"]["keyOps"]) == ["decrypt", "encrypt", "sign", "verify"]
    assert shown["key"]["kid"] == created["key"]["kid"]
    assert out["LISTED"].split() == ["k1"]
    # The signature verifies locally with the public key az printed.
    n = int.from_bytes(base64.b64decode(shown["key"]["n"]), "big")
    e = int.from_bytes(base64.b64decode(shown["key"]["e"]), "big")
    public = rsa.RSAPublicNumbers(e, n).public_key()
    public.verify(base64.b64decode(out["SIG"]), b"signed by the vault", padding.PKCS1v15(), hashes.SHA256())
    assert out["VALID"] == "true"
    # az prints the plaintext bytes with Python's repr (its transformer returns bytes as they
    # are); wid prints the text.
    assert out["PLAIN"] == ("b'a plain secret'" if isinstance(cli, Az) else "a plain secret")
    assert out["DELETED"].endswith("/deletedkeys/k1") and out["GONE"] == "0"
    assert out["RECOVERED"].startswith(created["key"]["kid"].rsplit("/", 1)[0])
    assert out["DELETED_LEFT"] == "0"


def pfx(tmp_path, password: bytes):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "imported-by-az")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    path = tmp_path / "imported.pfx"
    path.write_bytes(pkcs12.serialize_key_and_certificates(b"imported", key, cert, None,
                                                           serialization.BestAvailableEncryption(password)))
    return path, cert


def test_certificates_with_az(cli, tmp_path):
    vault = vault_for(cli)
    path, imported = pfx(tmp_path, b"pfx-pass")
    out = cli.run(
        f"""
az keyvault certificate get-default-policy > policy.json
echo "CREATED=$(az keyvault certificate create --vault-name {vault} -n c1 -p @policy.json --query status -o tsv)"
echo "SHOWN=$(az keyvault certificate show --vault-name {vault} -n c1 -o json | tr -d '\\n')"
az keyvault certificate download --vault-name {vault} -n c1 -f c1.pem
az keyvault certificate download --vault-name {vault} -n c1 -f c1.der -e DER
echo "IMPORTED=$(az keyvault certificate import --vault-name {vault} -n c2 -f {path} --password pfx-pass --query x509ThumbprintHex -o tsv)"
echo "LISTED=$(az keyvault certificate list --vault-name {vault} --query '[].name' -o tsv | sort | tr '\\n' ' ')"
echo "DELETED=$(az keyvault certificate delete --vault-name {vault} -n c2 --query recoveryId -o tsv)"
echo "LEFT=$(az keyvault certificate list --vault-name {vault} --query '[].name' -o tsv | tr '\\n' ' ')"
""",
        vaults=[vault],
    )
    assert out["CREATED"] == "completed", out
    shown = json.loads(out["SHOWN"])
    pem = x509.load_pem_x509_certificate((tmp_path / "c1.pem").read_bytes())
    der = x509.load_der_x509_certificate((tmp_path / "c1.der").read_bytes())
    assert pem == der
    assert pem.subject.rfc4514_string() == "CN=CLIGetDefaultPolicy"
    assert shown["x509ThumbprintHex"] == pem.fingerprint(hashes.SHA1()).hex().upper()
    assert shown["policy"]["keyProperties"]["keySize"] == 2048
    assert shown["policy"]["x509CertificateProperties"]["subject"] == "CN=CLIGetDefaultPolicy"
    assert out["IMPORTED"] == imported.fingerprint(hashes.SHA1()).hex().upper()
    assert out["LISTED"].split() == ["c1", "c2"]
    assert out["DELETED"].endswith("/deletedcertificates/c2")
    assert out["LEFT"].split() == ["c1"]
