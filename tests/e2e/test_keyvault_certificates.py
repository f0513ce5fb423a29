"""Key Vault certificates through the unmodified azure-keyvault-certificates SDK: creation
with the SDK's poller, import of PFX and PEM made by `cryptography`, properties, policy,
soft delete, and the private key read back through the backing secret, which is where the
Secrets Store CSI driver reads it. Also: no private key reaches wid's files or logs."""

import json
import sqlite3
import sys
import textwrap

from test_keyvault import in_vault_namespace
from widtest import unique

PROGRAM = textwrap.dedent(
    """
    import base64, json, os, datetime
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.identity import ClientSecretCredential
    from azure.keyvault.certificates import (CertificateClient, CertificatePolicy, CertificateContentType,
        KeyType, KeyCurveName, WellKnownIssuerNames)
    from azure.keyvault.secrets import SecretClient
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec, rsa
    from cryptography.hazmat.primitives.serialization import pkcs12
    from cryptography.x509.oid import NameOID

    cred = ClientSecretCredential(os.environ["TENANT"], os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"],
        authority=os.environ["AUTHORITY"], disable_instance_discovery=True)
    certs = CertificateClient(os.environ["URL"], cred)
    secrets = SecretClient(os.environ["URL"], cred)
    out = {}
    val = lambda e: getattr(e, "value", e)
    pub = lambda k: k.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    # Default policy, through the poller.
    made = certs.begin_create_certificate("default", CertificatePolicy.get_default()).result()
    out["default"] = {"name": made.name, "subject": made.policy.subject, "issuer": made.policy.issuer_name,
        "kty": val(made.policy.key_type), "size": made.policy.key_size, "ct": val(made.policy.content_type),
        "x5t_ok": base64.urlsafe_b64encode(x509.load_der_x509_certificate(bytes(made.cer)).fingerprint(hashes.SHA1())).rstrip(b"=").decode() == base64.urlsafe_b64encode(made.properties.x509_thumbprint).rstrip(b"=").decode(),
        "sid": made.secret_id, "kid": made.key_id}
    pfx = base64.b64decode(secrets.get_secret("default").value)
    key, cert, _ = pkcs12.load_key_and_certificates(pfx, None)
    out["default_pfx_matches"] = pub(key) == cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo) and cert.public_bytes(serialization.Encoding.DER) == bytes(made.cer)
    # The backing key: the certificate's public key, managed, at the certificate's version.
    from azure.keyvault.keys import KeyClient
    backing = KeyClient(os.environ["URL"], cred).get_key("default")
    n = int.from_bytes(backing.key.n, "big")
    out["backing_key"] = [backing.properties.managed, backing.id == made.key_id,
        n == cert.public_key().public_numbers().n, backing.key.d is None]

    # EC P-384 with SANs as PEM.
    policy = CertificatePolicy(issuer_name=WellKnownIssuerNames.self, subject="CN=web.example, O=Contoso",
        san_dns_names=["web.example", "www.web.example"], key_type=KeyType.ec, key_curve_name=KeyCurveName.p_384,
        content_type=CertificateContentType.pem, validity_in_months=3)
    ec_cert = certs.begin_create_certificate("ec-pem", policy, tags={"env": "test"}).result()
    parsed = x509.load_der_x509_certificate(bytes(ec_cert.cer))
    out["ec"] = {"curve": parsed.public_key().curve.name, "sans": parsed.extensions.get_extension_for_class(x509.SubjectAlternativeName).value.get_values_for_type(x509.DNSName),
        "tags": ec_cert.properties.tags, "days": (parsed.not_valid_after_utc - parsed.not_valid_before_utc).days}
    pem = secrets.get_secret("ec-pem")
    key = serialization.load_pem_private_key(pem.value.encode(), None)
    out["ec_pem"] = {"ct": pem.properties.content_type, "matches": pub(key) == parsed.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo),
        "cert_in_pem": x509.load_pem_x509_certificate(pem.value.encode()) == parsed}
    open(os.environ["PEM_OUT"], "w").write(pem.value)

    # RSA 3072, a second version, get by version, versions, update, policy.
    rsa_policy = CertificatePolicy(issuer_name="Self", subject="CN=rsa", key_type=KeyType.rsa, key_size=3072)
    first = certs.begin_create_certificate("rsa", rsa_policy).result()
    second = certs.begin_create_certificate("rsa", rsa_policy).result()
    out["rsa_bits"] = x509.load_der_x509_certificate(bytes(second.cer)).public_key().key_size
    out["by_version"] = certs.get_certificate_version("rsa", first.properties.version).properties.version == first.properties.version
    out["versions"] = sorted(p.version for p in certs.list_properties_of_certificate_versions("rsa")) == sorted([first.properties.version, second.properties.version])
    out["latest_is_second"] = certs.get_certificate("rsa").properties.version == second.properties.version
    updated = certs.update_certificate_properties("rsa", tags={"a": "b"}, enabled=False)
    out["updated"] = [updated.properties.tags, updated.properties.enabled]
    new_policy = certs.update_certificate_policy("rsa", CertificatePolicy(validity_in_months=6))
    out["policy"] = [new_policy.validity_in_months, new_policy.key_size, certs.get_certificate_policy("rsa").validity_in_months]
    op = certs.get_certificate_operation("rsa")
    out["operation"] = [op.status, op.issuer_name]
    try:
        certs.begin_create_certificate("bad", CertificatePolicy(issuer_name="Self", subject="CN=x", key_type=KeyType.rsa, key_size=1024)).result()
    except HttpResponseError as e:
        out["bad"] = [e.status_code, e.error.code]
    try:
        certs.get_certificate("missing")
    except ResourceNotFoundError as e:
        out["missing"] = e.error.code

    # Paging: 30 certificates, pages of 25.
    small = CertificatePolicy(issuer_name="Self", subject="CN=many", key_type=KeyType.ec)
    for i in range(27):
        certs.begin_create_certificate(f"many-{i:02d}", small).result()
    out["listed"] = sum(1 for p in certs.list_properties_of_certificates() if p.name.startswith("many-"))

    # Import a PFX with a password (PBES2/AES and legacy 3DES) and a PEM, made by cryptography.
    now = datetime.datetime.now(datetime.timezone.utc)
    def selfsigned(k, cn):
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])
        return (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(k.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now).not_valid_after(now + datetime.timedelta(days=30))
            .sign(k, hashes.SHA256()))
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rc = selfsigned(rk, "imported-pfx")
    aes = pkcs12.serialize_key_and_certificates(b"pfx", rk, rc, None, serialization.BestAvailableEncryption(b"s3cret"))
    legacy = pkcs12.serialize_key_and_certificates(b"pfx", rk, rc, None,
        serialization.PrivateFormat.PKCS12.encryption_builder().key_cert_algorithm(pkcs12.PBES.PBESv1SHA1And3KeyTripleDESCBC).hmac_hash(hashes.SHA1()).build(b"s3cret"))
    imported = certs.import_certificate("imported-pfx", aes, password="s3cret")
    out["imported_pfx"] = [bytes(imported.cer) == rc.public_bytes(serialization.Encoding.DER), imported.policy.subject, val(imported.policy.content_type)]
    out["imported_legacy"] = bytes(certs.import_certificate("imported-3des", legacy, password="s3cret").cer) == rc.public_bytes(serialization.Encoding.DER)
    try:
        certs.import_certificate("wrong-password", aes, password="nope")
    except HttpResponseError as e:
        out["wrong_password"] = [e.status_code, e.error.code]
    ek = ec.generate_private_key(ec.SECP256R1())
    ecert = selfsigned(ek, "imported-pem")
    pem_bytes = ek.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL, serialization.NoEncryption()) + ecert.public_bytes(serialization.Encoding.PEM)
    imp = certs.import_certificate("imported-pem", pem_bytes, policy=CertificatePolicy(content_type=CertificateContentType.pem))
    back = secrets.get_secret("imported-pem").value
    out["imported_pem"] = [bytes(imp.cer) == ecert.public_bytes(serialization.Encoding.DER),
        pub(serialization.load_pem_private_key(back.encode(), None)) == pub(ek)]
    managed = secrets.get_secret("imported-pem").properties
    out["managed"] = [managed.managed, managed.key_id == imp.key_id]
    try:
        secrets.set_secret("imported-pem", "overwritten")
    except HttpResponseError as e:
        out["managed_set"] = [e.status_code, e.error.code]

    # Backup, delete, purge, restore: every version with its private key comes back.
    blob = certs.backup_certificate("imported-pem")
    certs.begin_delete_certificate("imported-pem").result()
    certs.purge_deleted_certificate("imported-pem")
    restored = certs.restore_certificate_backup(blob)
    out["restored"] = [restored.name, bytes(restored.cer) == bytes(imp.cer), restored.properties.version == imp.properties.version,
        secrets.get_secret("imported-pem").value == back, restored.policy.content_type == CertificateContentType.pem]
    try:
        certs.restore_certificate_backup(blob)
    except HttpResponseError as e:
        out["restore_over_live"] = [e.status_code, e.error.code]
    try:
        certs.restore_certificate_backup(blob[:-8] + bytes(8))
    except HttpResponseError as e:
        out["restore_tampered"] = [e.status_code, e.error.code]
    other = ec.generate_private_key(ec.SECP256R1())
    crossed = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()) + ecert.public_bytes(serialization.Encoding.PEM)
    try:
        certs.import_certificate("crossed", crossed)
    except HttpResponseError as e:
        out["crossed"] = [e.status_code, e.error.code]

    # Delete, recover, purge: the backing secret follows.
    deleted = certs.begin_delete_certificate("ec-pem").result()
    out["deleted"] = deleted.recovery_id.endswith("/deletedcertificates/ec-pem")
    out["deleted_listed"] = "ec-pem" in [d.name for d in certs.list_deleted_certificates()]
    try:
        secrets.get_secret("ec-pem")
    except ResourceNotFoundError:
        out["secret_gone"] = True
    certs.begin_recover_deleted_certificate("ec-pem").result()
    out["recovered"] = [certs.get_certificate("ec-pem").name, secrets.get_secret("ec-pem").value == pem.value]
    certs.begin_delete_certificate("ec-pem").result()
    certs.purge_deleted_certificate("ec-pem")
    try:
        certs.get_deleted_certificate("ec-pem")
    except ResourceNotFoundError:
        out["purged"] = True
    try:
        certs.get_contacts()
    except HttpResponseError as e:
        out["contacts"] = [e.status_code, e.error.code]
    print(json.dumps(out))
    """
)


def test_certificates_through_the_sdk(wid, tmp_path):
    rg = unique("kvrg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    vault = unique("kvc")
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization", "--retention-days", "7")
    me = wid.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    wid.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Administrator", "-g", rg)
    program = tmp_path / "certs_sdk.py"
    program.write_text(PROGRAM)
    c = wid.creds
    url = wid.cli("keyvault", "show", "-n", vault, "--query", "properties.vaultUri", "-o", "tsv").stdout.strip()
    pem_out = tmp_path / "ec.pem"
    env = {"TENANT": c["tenantId"], "CLIENT_ID": c["clientId"], "CLIENT_SECRET": c["clientSecret"], "AUTHORITY": wid.url,
           "URL": url, "PEM_OUT": str(pem_out), "REQUESTS_CA_BUNDLE": wid.ca, "SSL_CERT_FILE": wid.ca}
    done = in_vault_namespace(wid, tmp_path, [vault], [sys.executable, str(program)], env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    d = out["default"]
    assert (d["name"], d["subject"], d["issuer"], d["kty"], d["size"]) == ("default", "CN=DefaultPolicy", "Self", "RSA", 2048)
    assert d["ct"] == "application/x-pkcs12" and d["x5t_ok"]
    assert "/secrets/default/" in d["sid"] and "/keys/default/" in d["kid"]
    assert out["default_pfx_matches"] is True
    assert out["ec"] == {"curve": "secp384r1", "sans": ["web.example", "www.web.example"], "tags": {"env": "test"}, "days": out["ec"]["days"]}
    assert 89 <= out["ec"]["days"] <= 92
    assert out["ec_pem"] == {"ct": "application/x-pem-file", "matches": True, "cert_in_pem": True}
    assert out["rsa_bits"] == 3072
    assert out["by_version"] and out["versions"] and out["latest_is_second"]
    assert out["updated"] == [{"a": "b"}, False]
    assert out["policy"] == [6, 3072, 6]
    assert out["operation"] == ["completed", "Self"]
    assert out["bad"] == [400, "BadParameter"]
    assert out["missing"] == "CertificateNotFound"
    assert out["listed"] == 27
    assert out["imported_pfx"] == [True, "CN=imported-pfx", "application/x-pkcs12"]
    assert out["imported_legacy"] is True
    assert out["wrong_password"] == [400, "BadParameter"]
    assert out["imported_pem"] == [True, True]
    assert out["crossed"] == [400, "BadParameter"]
    assert out["managed"] == [True, True]
    assert out["backing_key"] == [True, True, True, True], out["backing_key"]
    assert out["managed_set"] == [403, "Forbidden"]
    assert out["restored"] == ["imported-pem", True, True, True, True]
    assert out["restore_over_live"] == [409, "Conflict"]
    assert out["restore_tampered"] == [400, "BadParameter"]
    assert out["deleted"] and out["deleted_listed"] and out["secret_gone"]
    assert out["recovered"] == ["ec-pem", True]
    assert out["purged"] is True
    assert out["contacts"] == [501, "NotSupported"]

    # At rest: the private key of a certificate is in no file of wid's and in no log line.
    from cryptography.hazmat.primitives import serialization

    key = serialization.load_pem_private_key(pem_out.read_bytes(), None)
    pkcs8 = key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    pem_body = "".join(pem_out.read_text().split("-----")[2].split())
    scalar = key.private_numbers().private_value.to_bytes(48, "big")
    sqlite3.connect(wid.data_dir / "wid.db").execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    files = [p for p in wid.data_dir.iterdir() if p.is_file()] + [wid.data_dir.parent / f"{wid.data_dir.name}.log"]
    for needle in (pkcs8, pem_body[:64].encode(), scalar):
        assert [p.name for p in files if needle in p.read_bytes()] == []
