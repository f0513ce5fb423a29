"""The seed walkthrough end to end: a workload's federated token reads a Key Vault secret
through the unmodified azure-keyvault-secrets SecretClient, allowed by RBAC or by an access
policy and refused otherwise; and the secrets plane's lifecycle through the same SDK.

Vault hosts (`{vault}.vault.wid.localhost`) do not resolve through glibc, so SDK clients run
in a private mount namespace whose /etc/hosts names them (wid's own CLI pins them itself)."""

import json
import os
import sqlite3
import subprocess
import sys
import textwrap

import pytest

from widtest import hosts_namespace, unique, wid_bin

WORKLOAD = textwrap.dedent(
    """
    # What the msal-go sample does, with azure-identity: read one secret as the workload.
    import os
    from azure.identity import WorkloadIdentityCredential
    from azure.keyvault.secrets import SecretClient

    client = SecretClient(vault_url=os.environ["KEYVAULT_URL"], credential=WorkloadIdentityCredential())
    secret = client.get_secret(os.environ["SECRET_NAME"])
    print(f"successfully got secret, secret={secret.value}")
    """
)


def in_vault_namespace(wid, tmp_path, vaults, argv, env=None):
    """Runs argv with /etc/hosts naming the vaults' hosts, in a mount namespace of its own."""
    try:
        prefix = hosts_namespace(tmp_path, vaults, wid.info["dnsSuffix"])
    except RuntimeError as e:
        pytest.fail(str(e))
    full_env = {**os.environ, "WID_DATA_DIR": str(wid.data_dir)}
    for k in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR"):
        full_env.pop(k, None)
    full_env.update(env or {})
    return subprocess.run([*prefix, *argv], capture_output=True, text=True, env=full_env, timeout=120)


SEED_001 = """
export RANDOM_ID="{suffix}"
export RESOURCE_GROUP="myResourceGroup$RANDOM_ID"
export LOCATION="eastus"
export CLUSTER_NAME="myAKSCluster$RANDOM_ID"
wid group create --name "${{RESOURCE_GROUP}}" --location "${{LOCATION}}"
wid aks create --resource-group "${{RESOURCE_GROUP}}" --name "${{CLUSTER_NAME}}" --enable-oidc-issuer --enable-workload-identity
export AKS_OIDC_ISSUER="$(wid aks show --name "${{CLUSTER_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --query "oidcIssuerProfile.issuerUrl" --output tsv)"
export SUBSCRIPTION="$(wid account show --query id --output tsv)"
export USER_ASSIGNED_IDENTITY_NAME="myIdentity$RANDOM_ID"
wid identity create --name "${{USER_ASSIGNED_IDENTITY_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --location "${{LOCATION}}" --subscription "${{SUBSCRIPTION}}"
export USER_ASSIGNED_CLIENT_ID="$(wid identity show --resource-group "${{RESOURCE_GROUP}}" --name "${{USER_ASSIGNED_IDENTITY_NAME}}" --query 'clientId' --output tsv)"
export SERVICE_ACCOUNT_NAME="workload-identity-sa"
export SERVICE_ACCOUNT_NAMESPACE="default"
export FEDERATED_IDENTITY_CREDENTIAL_NAME="myFedIdentity$RANDOM_ID"
wid identity federated-credential create --name ${{FEDERATED_IDENTITY_CREDENTIAL_NAME}} --identity-name "${{USER_ASSIGNED_IDENTITY_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --issuer "${{AKS_OIDC_ISSUER}}" --subject system:serviceaccount:"${{SERVICE_ACCOUNT_NAMESPACE}}":"${{SERVICE_ACCOUNT_NAME}}" --audience api://AzureADTokenExchange
export KEYVAULT_NAME="keyvault-wid-$RANDOM_ID"
wid keyvault create --name "${{KEYVAULT_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --location "${{LOCATION}}" --enable-purge-protection {mode}
export KEYVAULT_RESOURCE_ID=$(wid keyvault show --resource-group "${{RESOURCE_GROUP}}" --name "${{KEYVAULT_NAME}}" --query id --output tsv)
export CALLER_OBJECT_ID=$(wid ad signed-in-user show --query id -o tsv)
{grant_caller}
export KEYVAULT_SECRET_NAME="my-secret$RANDOM_ID"
wid keyvault secret set --vault-name "${{KEYVAULT_NAME}}" --name "${{KEYVAULT_SECRET_NAME}}" --value "Hello\\!"
export IDENTITY_PRINCIPAL_ID=$(wid identity show --name "${{USER_ASSIGNED_IDENTITY_NAME}}" --resource-group "${{RESOURCE_GROUP}}" --query principalId --output tsv)
{grant_identity}
export KEYVAULT_URL="$(wid keyvault show --resource-group "${{RESOURCE_GROUP}}" --name ${{KEYVAULT_NAME}} --query properties.vaultUri --output tsv)"
echo "{{\\"url\\": \\"$KEYVAULT_URL\\", \\"vault\\": \\"$KEYVAULT_NAME\\", \\"secret\\": \\"$KEYVAULT_SECRET_NAME\\", \\"rg\\": \\"$RESOURCE_GROUP\\", \\"cluster\\": \\"$CLUSTER_NAME\\", \\"client_id\\": \\"$USER_ASSIGNED_CLIENT_ID\\", \\"principal_id\\": \\"$IDENTITY_PRINCIPAL_ID\\", \\"vault_id\\": \\"$KEYVAULT_RESOURCE_ID\\"}}"
"""

RBAC = dict(
    mode="--enable-rbac-authorization",
    grant_caller='wid role assignment create --assignee "${CALLER_OBJECT_ID}" --role "Key Vault Secrets Officer" --scope "${KEYVAULT_RESOURCE_ID}"',
    grant_identity='wid role assignment create --assignee-object-id "${IDENTITY_PRINCIPAL_ID}" --role "Key Vault Secrets User" --scope "${KEYVAULT_RESOURCE_ID}" --assignee-principal-type ServicePrincipal',
)
POLICY = dict(
    mode="",
    grant_caller="",
    grant_identity='wid keyvault set-policy --name "${KEYVAULT_NAME}" --secret-permissions get --spn "${USER_ASSIGNED_CLIENT_ID}"',
)


def seed(wid, **kind):
    out = wid.bash(SEED_001.format(suffix=unique("")[:6], **kind)).stdout
    return json.loads(out.strip().splitlines()[-1])


def run_workload(wid, tmp_path, s):
    program = tmp_path / "workload.py"
    program.write_text(WORKLOAD)
    argv = [wid_bin(), "run", "--cluster", s["cluster"], "-g", s["rg"], "--namespace", "default",
            "--service-account", "workload-identity-sa", "--client-id", s["client_id"], "--", sys.executable, str(program)]
    return in_vault_namespace(wid, tmp_path, [s["vault"]], argv, env={"KEYVAULT_URL": s["url"], "SECRET_NAME": s["secret"]})


def test_seed_walkthrough_with_rbac(wid, tmp_path):
    s = seed(wid, **RBAC)
    assert s["url"] == f"https://{s['vault'].lower()}.vault.{wid.info['dnsSuffix']}:{wid.port}/"
    done = run_workload(wid, tmp_path, s)
    assert done.returncode == 0, done.stderr
    assert "successfully got secret, secret=Hello\\!" in done.stdout
    # Without the role assignment the same program is refused by RBAC.
    assignment = wid.cli("role", "assignment", "list", "--assignee", s["principal_id"], "--scope", s["vault_id"], "--query", "[0].id", "-o", "tsv").stdout.strip()
    wid.cli("role", "assignment", "delete", "--ids", assignment)
    done = run_workload(wid, tmp_path, s)
    assert done.returncode != 0
    assert "ForbiddenByRbac" in done.stderr and "getSecret/action" in done.stderr, done.stderr


def test_seed_walkthrough_with_access_policy(wid, tmp_path):
    s = seed(wid, **POLICY)
    done = run_workload(wid, tmp_path, s)
    assert done.returncode == 0, done.stderr
    assert "successfully got secret" in done.stdout
    wid.cli("keyvault", "delete-policy", "--name", s["vault"], "--spn", s["client_id"])
    done = run_workload(wid, tmp_path, s)
    assert done.returncode != 0
    assert "ForbiddenByPolicy" in done.stderr and "secrets get permission" in done.stderr, done.stderr


ADMIN_SDK = textwrap.dedent(
    """
    # The admin, through the unmodified SDK: lifecycle, errors and paging.
    import json, os, sys
    from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError, ClientAuthenticationError
    from azure.identity import ClientSecretCredential
    from azure.keyvault.secrets import SecretClient

    cred = ClientSecretCredential(os.environ["TENANT"], os.environ["CLIENT_ID"], os.environ["CLIENT_SECRET"], authority=os.environ["AUTHORITY"], disable_instance_discovery=True)
    protected = SecretClient(os.environ["PROTECTED_URL"], cred)
    plain = SecretClient(os.environ["PLAIN_URL"], cred)
    out = {}

    # Soft delete, name reuse refused, recover, delete again, purge.
    plain.set_secret("lifecycle", "v1")
    deleted = plain.begin_delete_secret("lifecycle").result()
    out["recovery_id"] = deleted.recovery_id
    out["deleted_listed"] = [d.name for d in plain.list_deleted_secrets()]
    try:
        plain.set_secret("lifecycle", "v2")
    except ResourceExistsError as e:
        out["reuse"] = e.error.code if e.error else str(e)
        out["reuse_message"] = str(e)
    plain.begin_recover_deleted_secret("lifecycle").result()
    out["recovered"] = plain.get_secret("lifecycle").value
    plain.begin_delete_secret("lifecycle").result()
    plain.purge_deleted_secret("lifecycle")
    try:
        plain.get_deleted_secret("lifecycle")
    except ResourceNotFoundError:
        out["purged"] = True

    # Purge protection refuses purging.
    protected.set_secret("kept", "v")
    protected.begin_delete_secret("kept").result()
    try:
        protected.purge_deleted_secret("kept")
    except HttpResponseError as e:
        out["protected_purge"] = e.status_code

    # Paging: 60 secrets, 30 versions of one.
    for i in range(60):
        plain.set_secret(f"many-{i:02d}", str(i))
    for i in range(30):
        plain.set_secret("versioned", f"v{i}")
    out["secret_count"] = sum(1 for p in plain.list_properties_of_secrets() if p.name.startswith("many-"))
    out["version_count"] = sum(1 for _ in plain.list_properties_of_secret_versions("versioned"))
    out["latest"] = plain.get_secret("versioned").value

    # Disabled secrets cannot be read; backup and restore round-trip.
    plain.set_secret("off", "x", enabled=False)
    try:
        plain.get_secret("off")
    except HttpResponseError as e:
        out["disabled"] = e.status_code
    blob = plain.backup_secret("versioned")
    plain.begin_delete_secret("versioned").result()
    plain.purge_deleted_secret("versioned")
    restored = plain.restore_secret_backup(blob)
    out["restored"] = restored.name
    out["restored_value"] = plain.get_secret("versioned").value
    print(json.dumps(out))
    """
)


def test_secret_lifecycle_paging_and_errors_through_the_sdk(wid, tmp_path):
    rg = unique("kvrg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    protected, plain = unique("kvp"), unique("kvq")
    wid.cli("keyvault", "create", "-n", protected, "-g", rg, "--enable-rbac-authorization", "--enable-purge-protection")
    wid.cli("keyvault", "create", "-n", plain, "-g", rg, "--enable-rbac-authorization", "--retention-days", "7")
    me = wid.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    wid.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Administrator", "-g", rg)
    program = tmp_path / "admin_sdk.py"
    program.write_text(ADMIN_SDK)
    c = wid.creds
    url = lambda v: wid.cli("keyvault", "show", "-n", v, "--query", "properties.vaultUri", "-o", "tsv").stdout.strip()  # noqa: E731
    env = {"TENANT": c["tenantId"], "CLIENT_ID": c["clientId"], "CLIENT_SECRET": c["clientSecret"], "AUTHORITY": wid.url,
           "PROTECTED_URL": url(protected), "PLAIN_URL": url(plain), "REQUESTS_CA_BUNDLE": wid.ca, "SSL_CERT_FILE": wid.ca}
    done = in_vault_namespace(wid, tmp_path, [protected, plain], [sys.executable, str(program)], env=env)
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["recovery_id"].endswith("/deletedsecrets/lifecycle")
    assert "lifecycle" in out["deleted_listed"]
    assert "ObjectIsDeletedButRecoverable" in out["reuse_message"]
    assert out["recovered"] == "v1" and out["purged"] is True
    assert out["protected_purge"] == 403
    assert (out["secret_count"], out["version_count"], out["latest"]) == (60, 30, "v29")
    assert out["disabled"] == 403
    assert (out["restored"], out["restored_value"]) == ("versioned", "v29")


def test_tokens_for_another_audience_or_issuer_are_refused(wid, tmp_path):
    rg = unique("kvrg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    vault = unique("kva")
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization")
    url = wid.cli("keyvault", "show", "-n", vault, "--query", "properties.vaultUri", "-o", "tsv").stdout.strip()
    management_token = wid.token()
    # A token signed by someone else entirely: a cluster's service-account token.
    cluster = unique("aks")
    wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer")
    audience = f"https://vault.{wid.info['dnsSuffix']}:{wid.port}"
    foreign_token = wid.cli("aks", "create-token", "-g", rg, "-n", cluster, "--service-account", "sa", "--audience", audience).stdout.strip()
    probe = textwrap.dedent(
        f"""
        import requests, sys
        s = requests.Session(); s.trust_env = False; s.verify = {wid.ca!r}
        bare = s.get("{url}secrets/x/?api-version=7.5")
        wrong = s.get("{url}secrets/x/?api-version=7.5", headers={{"Authorization": "Bearer {management_token}"}})
        foreign = s.get("{url}secrets/x/?api-version=7.5", headers={{"Authorization": "Bearer {foreign_token}"}})
        print(bare.status_code, bare.headers.get("WWW-Authenticate"), foreign.status_code, wrong.status_code, wrong.json()["error"]["code"])
        """
    )
    program = tmp_path / "probe.py"
    program.write_text(probe)
    done = in_vault_namespace(wid, tmp_path, [vault], [sys.executable, str(program)])
    assert done.returncode == 0, done.stderr
    bare_status, *challenge_and_rest = done.stdout.split()
    assert bare_status == "401"
    challenge = " ".join(challenge_and_rest[:-3])
    assert challenge == f'Bearer authorization="{wid.url}/{wid.creds["tenantId"]}", resource="https://vault.{wid.info["dnsSuffix"]}:{wid.port}"'
    assert challenge_and_rest[-3:] == ["401", "401", "Unauthorized"]


def test_the_database_holds_no_secret_value_in_plaintext(wid):
    rg = unique("kvrg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    vault = unique("kvs")
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization")
    me = wid.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    wid.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Secrets Officer", "-g", rg)
    marker = "plaintext-marker-" + unique("")
    wid.cli("keyvault", "secret", "set", "--vault-name", vault, "--name", "marked", "--value", marker)
    assert wid.cli("keyvault", "secret", "show", "--vault-name", vault, "--name", "marked", "--query", "value", "-o", "tsv").stdout.strip() == marker
    # Make sure the write reached the files (WAL included) and search every byte of them.
    sqlite3.connect(wid.data_dir / "wid.db").execute("PRAGMA wal_checkpoint(PASSIVE)").close()
    found = [p.name for p in wid.data_dir.iterdir() if p.is_file() and marker.encode() in p.read_bytes()]
    assert found == []


OBJECTS_WORKLOAD = textwrap.dedent(
    """
    # Seeds 003/004: a pod reads a secret, a key and a certificate with its federated identity,
    # and tries what its grant does not cover.
    import hashlib, json, os
    from azure.core.exceptions import HttpResponseError
    from azure.identity import WorkloadIdentityCredential
    from azure.keyvault.certificates import CertificateClient
    from azure.keyvault.keys import KeyClient
    from azure.keyvault.keys.crypto import CryptographyClient, SignatureAlgorithm
    from azure.keyvault.secrets import SecretClient
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, utils
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

    url, cred = os.environ["KEYVAULT_URL"], WorkloadIdentityCredential()
    keys = KeyClient(url, cred)
    out = {}

    def attempt(name, call):
        try:
            out[name] = call()
        except HttpResponseError as e:
            out[name] = {"status": e.status_code, "message": str(e)}

    def sign():
        key = keys.get_key(os.environ["KEY_NAME"])
        digest = hashlib.sha256(b"seed 004").digest()
        signed = CryptographyClient(key, cred).sign(SignatureAlgorithm.rs256, digest)
        public = RSAPublicNumbers(int.from_bytes(key.key.e, "big"), int.from_bytes(key.key.n, "big")).public_key()
        public.verify(signed.signature, digest, padding.PKCS1v15(), utils.Prehashed(hashes.SHA256()))
        return "verified"

    attempt("secret", lambda: SecretClient(url, cred).get_secret(os.environ["SECRET_NAME"]).value)
    attempt("key", lambda: keys.get_key(os.environ["KEY_NAME"]).key_type)
    attempt("certificate", lambda: CertificateClient(url, cred).get_certificate(os.environ["CERT_NAME"]).properties.x509_thumbprint.hex())
    attempt("list_keys", lambda: sorted(k.name for k in keys.list_properties_of_keys()))
    attempt("sign", sign)
    print(json.dumps(out))
    """
)

# What the vault's owner adds before the workload runs: a key and a self-signed certificate.
OBJECTS = (
    'wid keyvault key create --vault-name "$KEYVAULT_NAME" -n seed-key --kty RSA --size 2048 -o none\n'
    'wid keyvault certificate create --vault-name "$KEYVAULT_NAME" -n seed-cert -o none -p '
    '\'{"issuerParameters": {"name": "Self"}, "keyProperties": {"exportable": true, "keyType": "RSA", "keySize": 2048, "reuseKey": false}, '
    '"secretProperties": {"contentType": "application/x-pkcs12"}, "x509CertificateProperties": {"subject": "CN=seed-004", "validityInMonths": 12}}\'\n'
)


def run_objects_workload(wid, tmp_path, s):
    program = tmp_path / "objects.py"
    program.write_text(OBJECTS_WORKLOAD)
    argv = [wid_bin(), "run", "--cluster", s["cluster"], "-g", s["rg"], "--namespace", "default",
            "--service-account", "workload-identity-sa", "--client-id", s["client_id"], "--", sys.executable, str(program)]
    env = {"KEYVAULT_URL": s["url"], "SECRET_NAME": s["secret"], "KEY_NAME": "seed-key", "CERT_NAME": "seed-cert"}
    done = in_vault_namespace(wid, tmp_path, [s["vault"]], argv, env=env)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def refused(answer, code, permission):
    return isinstance(answer, dict) and answer["status"] == 403 and code in answer["message"] and permission in answer["message"]


def test_seed_004_get_on_secrets_keys_and_certificates_by_access_policy(wid, tmp_path):
    """Seed 004's three `set-policy ... get` lines: the identity reads all three kinds and is refused
    what `get` does not grant (listing, signing) by the policy, with Key Vault's words."""
    s = seed(wid, mode="", grant_caller="", grant_identity=OBJECTS + (
        'wid keyvault set-policy -g $RESOURCE_GROUP -n $KEYVAULT_NAME --key-permissions get --spn $USER_ASSIGNED_CLIENT_ID\n'
        'wid keyvault set-policy -g $RESOURCE_GROUP -n $KEYVAULT_NAME --secret-permissions get --spn $USER_ASSIGNED_CLIENT_ID\n'
        'wid keyvault set-policy -g $RESOURCE_GROUP -n $KEYVAULT_NAME --certificate-permissions get --spn $USER_ASSIGNED_CLIENT_ID'
    ))
    out = run_objects_workload(wid, tmp_path, s)
    thumbprint = wid.cli("keyvault", "certificate", "show", "--vault-name", s["vault"], "-n", "seed-cert", "--query", "x509ThumbprintHex", "-o", "tsv").stdout.strip()
    assert out["secret"] == "Hello\\!", out
    assert out["key"] == "RSA", out
    assert out["certificate"].upper() == thumbprint.upper() and thumbprint, out
    assert refused(out["list_keys"], "ForbiddenByPolicy", "keys list permission"), out
    assert refused(out["sign"], "ForbiddenByPolicy", "keys sign permission"), out


def test_seed_004_rbac_variant_with_key_vault_crypto_user(wid, tmp_path):
    """The RBAC vault's equivalent: Key Vault Crypto User signs with the key (verified locally) and
    lists keys, but reads neither the secret nor the certificate."""
    s = seed(wid, mode="--enable-rbac-authorization",
             grant_caller='wid role assignment create --assignee "${CALLER_OBJECT_ID}" --role "Key Vault Administrator" --scope "${KEYVAULT_RESOURCE_ID}"',
             grant_identity=OBJECTS + 'wid role assignment create --assignee-object-id "${IDENTITY_PRINCIPAL_ID}" --role "Key Vault Crypto User" --scope "${KEYVAULT_RESOURCE_ID}" --assignee-principal-type ServicePrincipal')
    out = run_objects_workload(wid, tmp_path, s)
    assert out["key"] == "RSA" and out["sign"] == "verified", out
    assert "seed-key" in out["list_keys"], out
    assert refused(out["secret"], "ForbiddenByRbac", "secrets/getSecret/action"), out
    assert refused(out["certificate"], "ForbiddenByRbac", "certificates/read"), out
