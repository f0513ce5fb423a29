"""Key Vault keys through the unmodified azure-keyvault-keys SDK: the key life cycle with
KeyClient, and CryptographyClient on the service for every algorithm wid offers. Signatures
are checked and ciphertexts made locally with `cryptography`, so wid's answers are judged by
an independent implementation. The SDK does public-key operations (encrypt, verify, wrap)
itself when it can read the key; a principal that may use the key but not read it forces
them onto the service, and wid's request counters show they arrived there."""

import base64
import json
import re
import sqlite3
import sys
import textwrap

from test_cli_directory import cli_json, make_app
from test_keyvault import in_vault_namespace
from test_mgmt_resources import js_sdk
from widtest import unique

PROGRAM = textwrap.dedent(
    """
    import hashlib, json, os
    from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
    from azure.identity import ClientSecretCredential
    from azure.keyvault.keys import (JsonWebKey, KeyClient, KeyCurveName, KeyRotationLifetimeAction, KeyRotationPolicy,
        KeyRotationPolicyAction)
    from azure.keyvault.keys.crypto import CryptographyClient, EncryptionAlgorithm, KeyWrapAlgorithm, SignatureAlgorithm
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa, utils

    def credential(client_id, secret):
        return ClientSecretCredential(os.environ["TENANT"], client_id, secret, authority=os.environ["AUTHORITY"],
            disable_instance_discovery=True)
    admin = credential(os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"])
    user = credential(os.environ["USER_ID"], os.environ["USER_SECRET"])
    keys = KeyClient(os.environ["URL"], admin)
    out = {}
    val = lambda e: getattr(e, "value", e)
    num = lambda b: int.from_bytes(bytes(b), "big")
    CURVES = {"P-256": ec.SECP256R1(), "P-384": ec.SECP384R1(), "P-521": ec.SECP521R1()}

    def public(jwk):
        if val(jwk.kty) == "RSA":
            return rsa.RSAPublicNumbers(num(jwk.e), num(jwk.n)).public_key()
        return ec.EllipticCurvePublicNumbers(num(jwk.x), num(jwk.y), CURVES[val(jwk.crv)]).public_key()

    # Generation: the key sizes and curves Key Vault offers.
    made = {}
    for bits in (2048, 3072, 4096):
        k = keys.create_rsa_key(f"rsa-{bits}", size=bits)
        made[f"rsa-{bits}"] = k
        out[f"rsa-{bits}"] = [val(k.key_type), public(k.key).key_size, k.key.d is None]
    for curve in (KeyCurveName.p_256, KeyCurveName.p_384, KeyCurveName.p_521):
        k = keys.create_ec_key(f"ec-{val(curve)}", curve=curve)
        made[f"ec-{val(curve)}"] = k
        out[f"ec-{val(curve)}"] = [val(k.key_type), public(k.key).curve.name, k.key.d is None]

    # Latest and by version, versions, update.
    first = made["rsa-2048"]
    second = keys.create_rsa_key("rsa-2048", size=2048, tags={"v": "2"})
    out["latest"] = keys.get_key("rsa-2048").properties.version == second.properties.version
    out["by_version"] = keys.get_key("rsa-2048", first.properties.version).key.n == first.key.n
    out["versions"] = sorted(p.version for p in keys.list_properties_of_key_versions("rsa-2048")) == sorted(
        [first.properties.version, second.properties.version])
    updated = keys.update_key_properties("rsa-2048", first.properties.version, tags={"a": "b"}, key_operations=["sign", "verify"])
    out["updated"] = [updated.properties.tags, sorted(updated.key_operations), updated.properties.version == first.properties.version]
    try:
        keys.get_key("missing")
    except ResourceNotFoundError as e:
        out["missing"] = e.error.code
    try:
        keys.create_rsa_key("small", size=1024)
    except HttpResponseError as e:
        out["small"] = [e.status_code, e.error.code]

    # Paging: 27 keys and 27 versions of one key, past a page of 25.
    for i in range(27):
        keys.create_ec_key(f"page-{i:02d}")
        keys.create_ec_key("many-versions")
    out["listed"] = sum(1 for p in keys.list_properties_of_keys() if p.name.startswith("page-"))
    out["listed_versions"] = len({p.version for p in keys.list_properties_of_key_versions("many-versions")})

    # Sign on the service (the SDK never holds a private key); verify with cryptography.
    SIGN = [("rsa-3072", SignatureAlgorithm.rs256, hashes.SHA256()), ("rsa-3072", SignatureAlgorithm.rs384, hashes.SHA384()),
        ("rsa-3072", SignatureAlgorithm.rs512, hashes.SHA512()), ("rsa-4096", SignatureAlgorithm.ps256, hashes.SHA256()),
        ("rsa-4096", SignatureAlgorithm.ps384, hashes.SHA384()), ("rsa-4096", SignatureAlgorithm.ps512, hashes.SHA512()),
        ("ec-P-256", SignatureAlgorithm.es256, hashes.SHA256()), ("ec-P-384", SignatureAlgorithm.es384, hashes.SHA384()),
        ("ec-P-521", SignatureAlgorithm.es512, hashes.SHA512())]
    signed = {}
    for name, alg, h in SIGN:
        digest = hashlib.new(h.name, b"signed by wid").digest()
        sig = CryptographyClient(made[name], admin).sign(alg, digest).signature
        key = public(made[name].key)
        try:
            if val(alg).startswith("RS"):
                key.verify(sig, digest, padding.PKCS1v15(), utils.Prehashed(h))
            elif val(alg).startswith("PS"):
                key.verify(sig, digest, padding.PSS(padding.MGF1(h), h.digest_size), utils.Prehashed(h))
            else:
                half = len(sig) // 2
                key.verify(utils.encode_dss_signature(num(sig[:half]), num(sig[half:])), digest, ec.ECDSA(utils.Prehashed(h)))
            signed[val(alg)] = "valid"
        except InvalidSignature:
            signed[val(alg)] = "invalid"
    out["signed"] = signed

    # Decrypt and unwrap on the service what cryptography encrypted with the public key.
    OAEP = {"RSA-OAEP": padding.OAEP(padding.MGF1(hashes.SHA1()), hashes.SHA1(), None),
        "RSA-OAEP-256": padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None), "RSA1_5": padding.PKCS1v15()}
    rsa_key = made["rsa-3072"]
    crypto = CryptographyClient(rsa_key, admin)
    opened = {}
    for alg in (EncryptionAlgorithm.rsa_oaep, EncryptionAlgorithm.rsa_oaep_256, EncryptionAlgorithm.rsa1_5):
        plain = b"plaintext for " + val(alg).encode()
        opened["decrypt " + val(alg)] = crypto.decrypt(alg, public(rsa_key.key).encrypt(plain, OAEP[val(alg)])).plaintext == plain
    for alg in (KeyWrapAlgorithm.rsa_oaep, KeyWrapAlgorithm.rsa_oaep_256, KeyWrapAlgorithm.rsa1_5):
        cek = os.urandom(32)
        opened["unwrap " + val(alg)] = crypto.unwrap_key(alg, public(rsa_key.key).encrypt(cek, OAEP[val(alg)])).key == cek
    out["opened"] = opened

    # A principal that may use the keys but not read them: every operation goes to the
    # service, on a versioned id and on the unversioned one (the SDK's empty version segment).
    try:
        keys_as_user = KeyClient(os.environ["URL"], user)
        keys_as_user.get_key("rsa-2048")
    except HttpResponseError as e:
        out["user_get"] = e.status_code
    service = {}
    for label, kid in (("versioned", made["rsa-4096"].id), ("unversioned", made["rsa-4096"].id.rsplit("/", 1)[0])):
        remote = CryptographyClient(kid, user)
        for alg in (EncryptionAlgorithm.rsa_oaep, EncryptionAlgorithm.rsa_oaep_256, EncryptionAlgorithm.rsa1_5):
            sealed = remote.encrypt(alg, b"round trip")
            service[f"{label} encrypt {val(alg)}"] = remote.decrypt(alg, sealed.ciphertext).plaintext == b"round trip"
        for alg in (KeyWrapAlgorithm.rsa_oaep, KeyWrapAlgorithm.rsa_oaep_256, KeyWrapAlgorithm.rsa1_5):
            cek = os.urandom(32)
            service[f"{label} wrap {val(alg)}"] = remote.unwrap_key(alg, remote.wrap_key(alg, cek).encrypted_key).key == cek
        digest = hashlib.sha256(b"verified by wid").digest()
        sig = remote.sign(SignatureAlgorithm.ps256, digest).signature
        service[f"{label} verify"] = [remote.verify(SignatureAlgorithm.ps256, digest, sig).is_valid,
            remote.verify(SignatureAlgorithm.ps256, digest, bytes([sig[0] ^ 1]) + sig[1:]).is_valid]
    ec_remote = CryptographyClient(made["ec-P-384"].id, user)
    digest = hashlib.sha384(b"ec on the service").digest()
    sig = ec_remote.sign(SignatureAlgorithm.es384, digest).signature
    service["ec verify"] = [ec_remote.verify(SignatureAlgorithm.es384, digest, sig).is_valid,
        ec_remote.verify(SignatureAlgorithm.es384, hashlib.sha384(b"other").digest(), sig).is_valid]
    out["service"] = service

    # Import keys made by cryptography, RSA and EC with their private halves; the service signs with them.
    def b(n, size=None):
        return n.to_bytes(size or (n.bit_length() + 7) // 8, "big")
    rk = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    rn = rk.private_numbers()
    rsa_jwk = JsonWebKey(kty="RSA", n=b(rn.public_numbers.n), e=b(rn.public_numbers.e), d=b(rn.d), p=b(rn.p), q=b(rn.q),
        dp=b(rn.dmp1), dq=b(rn.dmq1), qi=b(rn.iqmp))
    ek = ec.generate_private_key(ec.SECP384R1())
    en = ek.private_numbers()
    ec_jwk = JsonWebKey(kty="EC", crv="P-384", x=b(en.public_numbers.x, 48), y=b(en.public_numbers.y, 48), d=b(en.private_value, 48))
    imported_rsa = keys.import_key("imported-rsa", rsa_jwk, tags={"from": "cryptography"})
    imported_ec = keys.import_key("imported-ec", ec_jwk)
    digest = hashlib.sha256(b"imported").digest()
    sig = CryptographyClient(imported_rsa, admin).sign(SignatureAlgorithm.ps256, digest).signature
    rk.public_key().verify(sig, digest, padding.PSS(padding.MGF1(hashes.SHA256()), 32), utils.Prehashed(hashes.SHA256()))
    digest = hashlib.sha384(b"imported").digest()
    sig = CryptographyClient(imported_ec, admin).sign(SignatureAlgorithm.es384, digest).signature
    ek.public_key().verify(utils.encode_dss_signature(num(sig[:48]), num(sig[48:])), digest, ec.ECDSA(utils.Prehashed(hashes.SHA384())))
    out["imported"] = [imported_rsa.key.n == rsa_jwk.n, imported_rsa.key.d is None, imported_rsa.properties.tags,
        imported_ec.key.x == ec_jwk.x, imported_ec.key.d is None]
    out["imported_secrets"] = [b(rn.d).hex(), b(en.private_value, 48).hex()]

    # What the service refuses: a disabled key (which can still be read), an operation the key does not
    # allow, an algorithm of another key type, a digest of the wrong length. HSM kinds are kept in software.
    def refused(call):
        try:
            call()
        except HttpResponseError as e:
            return [e.status_code, e.error.code]
    keys.update_key_properties("rsa-3072", enabled=False)
    out["disabled"] = [refused(lambda: crypto.decrypt(EncryptionAlgorithm.rsa_oaep, public(rsa_key.key).encrypt(b"x", OAEP["RSA-OAEP"]))),
        keys.get_key("rsa-3072").properties.enabled]
    keys.update_key_properties("rsa-3072", enabled=True)
    restricted = keys.create_rsa_key("sign-only", size=2048, key_operations=["sign"])
    out["not_allowed"] = refused(lambda: CryptographyClient(restricted, admin).decrypt(EncryptionAlgorithm.rsa_oaep,
        public(restricted.key).encrypt(b"x", OAEP["RSA-OAEP"])))
    out["hsm"] = val(keys.create_rsa_key("hsm", size=2048, hardware_protected=True).key_type)
    out["rsa_on_ec"] = refused(lambda: CryptographyClient(made["ec-P-384"], admin).sign(SignatureAlgorithm.rs256, bytes(32)))
    out["bad_digest"] = refused(lambda: CryptographyClient(made["ec-P-384"], admin).sign(SignatureAlgorithm.es384, bytes(32)))
    from_client = keys.get_cryptography_client("ec-P-384")
    out["from_client"] = from_client.sign(SignatureAlgorithm.es384, bytes(48)).key_id.startswith(made["ec-P-384"].id.rsplit("/", 1)[0])

    # Rotation and its policy.
    rotated = keys.rotate_key("ec-P-256")
    out["rotated"] = [rotated.properties.version != made["ec-P-256"].properties.version,
        len(list(keys.list_properties_of_key_versions("ec-P-256"))), val(rotated.key.crv)]
    policy = keys.update_key_rotation_policy("ec-P-256", KeyRotationPolicy(expires_in="P90D", lifetime_actions=[
        KeyRotationLifetimeAction(KeyRotationPolicyAction.rotate, time_after_create="P30D")]))
    back = keys.get_key_rotation_policy("ec-P-256")
    out["policy"] = [policy.expires_in, back.expires_in, [(val(a.action), a.time_after_create) for a in back.lifetime_actions]]

    # Backup, purge, restore: the same key, private half included, comes back.
    blob = keys.backup_key("ec-P-521")
    keys.begin_delete_key("ec-P-521").result()
    keys.purge_deleted_key("ec-P-521")
    restored = keys.restore_key_backup(blob)
    digest = hashlib.sha512(b"after restore").digest()
    sig = CryptographyClient(restored, admin).sign(SignatureAlgorithm.es512, digest).signature
    out["restored"] = [restored.id == made["ec-P-521"].id, restored.key.x == made["ec-P-521"].key.x,
        CryptographyClient(made["ec-P-521"], admin).verify(SignatureAlgorithm.es512, digest, sig).is_valid]
    try:
        keys.restore_key_backup(blob)
    except HttpResponseError as e:
        out["restore_over_live"] = [e.status_code, e.error.code]

    # Soft delete through the poller, recover, delete again, purge.
    deleted = keys.begin_delete_key("rsa-2048").result()
    out["deleted"] = [deleted.recovery_id.endswith("/deletedkeys/rsa-2048"), "rsa-2048" in [d.name for d in keys.list_deleted_keys()]]
    try:
        keys.get_key("rsa-2048")
    except ResourceNotFoundError:
        out["gone"] = True
    out["recovered"] = keys.begin_recover_deleted_key("rsa-2048").result().properties.version == second.properties.version
    keys.begin_delete_key("rsa-2048").result()
    keys.purge_deleted_key("rsa-2048")
    try:
        keys.get_deleted_key("rsa-2048")
    except ResourceNotFoundError:
        out["purged"] = True
    print(json.dumps(out))
    """
)

USE_ONLY = ["encrypt", "decrypt", "wrapKey", "unwrapKey", "sign", "verify"]


def served(wid) -> dict:
    """Key Vault requests wid answered so far, by route template and status."""
    text = wid.session().get(f"{wid.url}/metrics", timeout=10).text
    pattern = r'wid_http_requests_total\{plane="keyvault",route="([^"]+)",status="(\d+)"\} (\d+)'
    return {(route, int(status)): int(n) for route, status, n in re.findall(pattern, text)}


def test_keys_through_the_sdk(wid, tmp_path):
    rg = unique("kvrg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    vault = unique("kvk")[:24]
    # Access policies, so one principal can hold the key operations without `get`.
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization", "false", "--retention-days", "7")
    app, _ = make_app(wid)
    secret = cli_json(wid, "ad", "app", "credential", "reset", "--id", app["appId"])["password"]
    wid.cli("keyvault", "set-policy", "-n", vault, "-g", rg, "--spn", app["appId"], "--key-permissions", *USE_ONLY)
    program = tmp_path / "keys_sdk.py"
    program.write_text(PROGRAM)
    c = wid.creds
    url = wid.cli("keyvault", "show", "-n", vault, "--query", "properties.vaultUri", "-o", "tsv").stdout.strip()
    env = {"TENANT": c["tenantId"], "CLIENT_ID": c["clientId"], "CLIENT_SECRET": c["clientSecret"], "AUTHORITY": wid.url,
           "USER_ID": app["appId"], "USER_SECRET": secret, "URL": url, "REQUESTS_CA_BUNDLE": wid.ca, "SSL_CERT_FILE": wid.ca}
    before = served(wid)
    done = in_vault_namespace(wid, tmp_path, [vault], [sys.executable, str(program)], env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    after = served(wid)

    for bits in (2048, 3072, 4096):
        assert out[f"rsa-{bits}"] == ["RSA", bits, True]
    for crv, name in (("P-256", "secp256r1"), ("P-384", "secp384r1"), ("P-521", "secp521r1")):
        assert out[f"ec-{crv}"] == ["EC", name, True]
    assert out["latest"] and out["by_version"] and out["versions"]
    assert out["updated"] == [{"a": "b"}, ["sign", "verify"], True]
    assert out["missing"] == "KeyNotFound"
    assert out["small"] == [400, "BadParameter"]
    assert out["listed"] == 27 and out["listed_versions"] == 27
    assert out["signed"] == {alg: "valid" for alg in ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512")}
    assert out["opened"] == {f"{op} {alg}": True for op in ("decrypt", "unwrap") for alg in ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5")}
    assert out["user_get"] == 403
    expected = {}
    for label in ("versioned", "unversioned"):
        for op in ("encrypt", "wrap"):
            for alg in ("RSA-OAEP", "RSA-OAEP-256", "RSA1_5"):
                expected[f"{label} {op} {alg}"] = True
        expected[f"{label} verify"] = [True, False]
    expected["ec verify"] = [True, False]
    assert out["service"] == expected
    assert out["disabled"] == [[403, "Forbidden"], False]
    assert out["not_allowed"] == [403, "Forbidden"]
    assert out["hsm"] == "RSA-HSM"
    assert out["rsa_on_ec"] == [400, "BadParameter"] and out["bad_digest"] == [400, "BadParameter"]
    assert out["from_client"] is True
    assert out["rotated"] == [True, 2, "P-256"]
    assert out["policy"] == ["P90D", "P90D", [["Rotate", "P30D"]]]
    assert out["restored"] == [True, True, True]
    assert out["restore_over_live"] == [409, "Conflict"]
    assert out["deleted"] == [True, True] and out["gone"] and out["recovered"] and out["purged"]

    assert out["imported"] == [True, True, {"from": "cryptography"}, True, True]
    # At rest and in the log: the imported private keys are in no file of wid's.
    sqlite3.connect(wid.data_dir / "wid.db").execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    files = [p for p in wid.data_dir.iterdir() if p.is_file()] + [wid.data_dir.parent / f"{wid.data_dir.name}.log"]
    for hexed in out["imported_secrets"]:
        raw = bytes.fromhex(hexed)
        for needle in (raw, base64.urlsafe_b64encode(raw).rstrip(b"=")[:40], hexed.encode()):
            assert [p.name for p in files if needle in p.read_bytes()] == []

    grew = {k: n - before.get(k, 0) for k, n in after.items() if n != before.get(k, 0)}
    # The listings above took more than one page each: the SDK followed nextLink.
    assert grew[("/keys", 200)] >= 2 and grew[("/keys/{name}/versions", 200)] >= 2, grew
    # The public-key operations reached wid, on the versioned and the unversioned route.
    for op, versioned, unversioned in (("encrypt", 3, 3), ("wrapkey", 3, 3), ("verify", 4, 2)):
        counted = lambda suffix: sum(n for (route, status), n in grew.items() if status == 200 and route.endswith(suffix))
        assert (counted(f"/{{version}}/{op}"), counted(f"//{op}")) == (versioned, unversioned), (op, grew)


def test_keys_through_the_javascript_sdk(wid, tmp_path):
    js = js_sdk()
    rg = unique("kvrg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    vault = unique("kvj")[:24]
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization")
    me = wid.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    wid.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Crypto Officer", "-g", rg)
    url = wid.cli("keyvault", "show", "-n", vault, "--query", "properties.vaultUri", "-o", "tsv").stdout.strip()
    c = wid.creds
    env = {"NODE_EXTRA_CA_CERTS": wid.ca, "WID_URL": wid.url, "WID_TENANT": c["tenantId"], "WID_CLIENT_ID": c["clientId"],
           "WID_CLIENT_SECRET": c["clientSecret"], "WID_VAULT_URL": url}
    done = in_vault_namespace(wid, tmp_path, [vault], ["node", str(js / "keyvault_keys.mjs")], env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out == {"kty": "EC", "crv": "P-256", "alg": "ES256", "length": 64, "local": True, "sdk": True, "sdkOther": False}
