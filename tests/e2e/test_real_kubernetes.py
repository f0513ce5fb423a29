"""wid's cluster side against a real Kubernetes API server: kube-apiserver 1.20.2 built from
Debian's source package by scripts/kube-apiserver (which scripts/test runs first), with Debian's
etcd, and the real kubectl. The API server's service-account issuer is the cluster's issuer
hosted by wid; its TokenRequest tokens are exchanged by azure-identity's
WorkloadIdentityCredential and read a Key Vault secret."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from test_keyvault import WORKLOAD, in_vault_namespace
from widtest import Az, unique

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kube-apiserver"
AUDIENCE = "api://AzureADTokenExchange"


class KubeApiServer:
    """etcd and kube-apiserver started by scripts/kube-apiserver in a directory of their own,
    with a cluster-admin kubeconfig."""

    def __init__(self, directory: Path, issuer: str, signing_key: Path, public_keys: list[Path]):
        self.dir, self.issuer = directory, issuer
        self.restart(signing_key, public_keys)

    def restart(self, signing_key: Path, public_keys: list[Path]):
        """(Re)starts the API server on the same etcd data, with these keys."""
        args = [str(SCRIPT), "start", str(self.dir), "--issuer", self.issuer, "--signing-key", str(signing_key)]
        for key in public_keys:
            args += ["--key-file", str(key)]
        done = subprocess.run(args, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"scripts/kube-apiserver start failed:\n{done.stderr}"
        self.kubeconfig = done.stdout.strip().splitlines()[-1]

    def kubectl(self, *args: str, stdin: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run(["kubectl", "--kubeconfig", self.kubeconfig, *args], input=stdin,
                              capture_output=True, text=True, timeout=120)
        if check:
            assert done.returncode == 0, f"kubectl {' '.join(args)} failed:\n{done.stderr}"
        return done

    def stop(self):
        subprocess.run([str(SCRIPT), "stop", str(self.dir)], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def kube_binary():
    """The API server scripts/kube-apiserver builds; scripts/test builds it before the tests."""
    done = subprocess.run([str(SCRIPT), "path"], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"no kube-apiserver: {done.stderr.strip()} (scripts/test builds it; or run scripts/kube-apiserver build)")
    if shutil.which("kubectl") is None:
        pytest.fail("no kubectl on PATH (scripts/test installs Debian's kubectl when it is missing)")
    return done.stdout.strip()


@pytest.fixture
def kube(kube_binary, tmp_path):
    started = []

    def start(issuer: str, signing_key: Path, public_keys: list[Path]) -> KubeApiServer:
        server = KubeApiServer(tmp_path / f"kube{len(started)}", issuer, signing_key, public_keys)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


def new_cluster(wid) -> tuple[str, str, str]:
    rg, cluster = unique("rg-kube-"), unique("aks")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer", "--enable-workload-identity")
    issuer = wid.cli("aks", "show", "-g", rg, "-n", cluster, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
    return rg, cluster, issuer


def identity_with_a_secret(wid, rg: str, issuer: str, subject: str) -> dict:
    """A managed identity federated with `subject` of `issuer`, allowed to read one secret."""
    identity, vault = unique("id"), unique("kv")
    made = json.loads(wid.cli("identity", "create", "-g", rg, "-n", identity).stdout)
    wid.cli("identity", "federated-credential", "create", "--name", "kube", "--identity-name", identity, "-g", rg,
            "--issuer", issuer, "--subject", subject, "--audience", AUDIENCE)
    wid.cli("keyvault", "create", "-n", vault, "-g", rg)
    wid.cli("keyvault", "secret", "set", "--vault-name", vault, "-n", "db", "--value", "from-the-real-api-server")
    wid.cli("keyvault", "set-policy", "-n", vault, "--secret-permissions", "get", "--spn", made["clientId"])
    url = wid.cli("keyvault", "show", "-n", vault, "-g", rg, "--query", "properties.vaultUri", "-o", "tsv").stdout.strip()
    return {"client_id": made["clientId"], "vault": vault, "url": url}


def read_secret_with(wid, tmp_path: Path, token: str, who: dict) -> subprocess.CompletedProcess:
    """The workload of the seeds (WorkloadIdentityCredential + SecretClient), given the token
    as the webhook's projected volume would give it."""
    token_file = tmp_path / "token"
    token_file.write_text(token)
    program = tmp_path / "workload.py"
    program.write_text(WORKLOAD)
    env = {
        "AZURE_CLIENT_ID": who["client_id"],
        "AZURE_TENANT_ID": wid.creds["tenantId"],
        "AZURE_AUTHORITY_HOST": f"{wid.url}/",
        "AZURE_FEDERATED_TOKEN_FILE": str(token_file),
        "REQUESTS_CA_BUNDLE": wid.ca,
        "SSL_CERT_FILE": wid.ca,
        "KEYVAULT_URL": who["url"],
        "SECRET_NAME": "db",
    }
    return in_vault_namespace(wid, tmp_path, [who["vault"]], [sys.executable, str(program)], env=env)


def token_request(kube: KubeApiServer, namespace: str, service_account: str) -> str:
    """A TokenRequest (what the kubelet asks for a projected token volume), sent with
    `kubectl create --raw` so that Debian's kubectl 1.20, which has no `create token`, does."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"audiences": [AUDIENCE], "expirationSeconds": 3600}}
    answer = kube.kubectl("create", "--raw", f"/api/v1/namespaces/{namespace}/serviceaccounts/{service_account}/token",
                          "-f", "-", stdin=json.dumps(request))
    return json.loads(answer.stdout)["status"]["token"]


def test_a_tokenrequest_token_signed_with_the_exported_key_reads_a_secret(wid, kube, tmp_path):
    rg, cluster, issuer = new_cluster(wid)
    exported = json.loads(wid.cli("aks", "oidc-issuer", "export-signing-key", "-g", rg, "-n", cluster,
                                  "--output-dir", str(tmp_path / "sa")).stdout)
    api = kube(issuer, Path(exported["privateKeyFile"]), [Path(exported["publicKeyFile"])])

    # The API server names wid's issuer and publishes the same key wid publishes.
    discovery = json.loads(api.kubectl("get", "--raw", "/.well-known/openid-configuration").stdout)
    assert discovery["issuer"] == issuer.rstrip("/") or discovery["issuer"] == issuer
    api_kids = {k["kid"] for k in json.loads(api.kubectl("get", "--raw", "/openid/v1/jwks").stdout)["keys"]}
    wid_kids = {k["kid"] for k in wid.session().get(f"{issuer}openid/v1/jwks", timeout=10).json()["keys"]}
    assert exported["kid"] in api_kids and api_kids <= wid_kids

    api.kubectl("create", "namespace", "team-a")
    api.kubectl("create", "serviceaccount", "workload-identity-sa", "-n", "team-a")
    who = identity_with_a_secret(wid, rg, issuer, "system:serviceaccount:team-a:workload-identity-sa")
    done = read_secret_with(wid, tmp_path, token_request(api, "team-a", "workload-identity-sa"), who)
    assert done.returncode == 0, done.stderr
    assert "secret=from-the-real-api-server" in done.stdout

    # Another service account's token is refused by the exchange, with the subject named.
    api.kubectl("create", "serviceaccount", "other", "-n", "team-a")
    refused = read_secret_with(wid, tmp_path, token_request(api, "team-a", "other"), who)
    assert refused.returncode != 0 and "AADSTS700213" in refused.stderr, refused.stderr


def test_the_api_server_keeps_its_own_key_and_wid_publishes_the_public_half(wid, kube, tmp_path):
    rg, cluster, issuer = new_cluster(wid)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private, public = tmp_path / "own.key", tmp_path / "own.pub"
    private.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    private.chmod(0o600)
    public.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                     serialization.PublicFormat.SubjectPublicKeyInfo))
    wid.cli("aks", "oidc-issuer", "add-key", "-g", rg, "-n", cluster, "--public-key-file", str(public))
    api = kube(issuer, private, [public])
    api_kids = {k["kid"] for k in json.loads(api.kubectl("get", "--raw", "/openid/v1/jwks").stdout)["keys"]}
    wid_kids = {k["kid"] for k in wid.session().get(f"{issuer}openid/v1/jwks", timeout=10).json()["keys"]}
    assert api_kids and api_kids <= wid_kids

    api.kubectl("create", "serviceaccount", "own-key-sa")
    who = identity_with_a_secret(wid, rg, issuer, "system:serviceaccount:default:own-key-sa")
    done = read_secret_with(wid, tmp_path, token_request(api, "default", "own-key-sa"), who)
    assert done.returncode == 0, done.stderr
    assert "secret=from-the-real-api-server" in done.stdout


def test_wid_serviceaccount_create_applies_the_annotated_service_account(wid, kube, tmp_path):
    rg, cluster, issuer = new_cluster(wid)
    exported = json.loads(wid.cli("aks", "oidc-issuer", "export-signing-key", "-g", rg, "-n", cluster,
                                  "--output-dir", str(tmp_path / "sa")).stdout)
    api = kube(issuer, Path(exported["privateKeyFile"]), [Path(exported["publicKeyFile"])])
    identity = unique("id")
    made = json.loads(wid.cli("identity", "create", "-g", rg, "-n", identity).stdout)
    wid.cli("serviceaccount", "create", "--name", "applied-sa", "--namespace", "default", "--identity-name", identity,
            "-g", rg, "--service-account-issuer-url", issuer, "--kubeconfig", api.kubeconfig)
    stored = json.loads(api.kubectl("get", "serviceaccount", "applied-sa", "-o", "json").stdout)
    annotations = stored["metadata"]["annotations"]
    assert annotations["azure.workload.identity/client-id"] == made["clientId"]
    assert annotations["azure.workload.identity/tenant-id"] == wid.creds["tenantId"]
    assert stored["metadata"]["labels"]["azure.workload.identity/use"] == "true"


def test_get_credentials_of_the_attached_api_server_is_a_kubeconfig_kubectl_uses(wid, kube, tmp_path):
    rg, cluster, issuer = new_cluster(wid)
    exported = json.loads(wid.cli("aks", "oidc-issuer", "export-signing-key", "-g", rg, "-n", cluster,
                                  "--output-dir", str(tmp_path / "sa")).stdout)
    api = kube(issuer, Path(exported["privateKeyFile"]), [Path(exported["publicKeyFile"])])
    api.kubectl("create", "namespace", "attached")
    # The script's kubeconfig names its CA and client files relative to itself: attaching
    # inlines them, so the kubeconfig works wherever it is written.
    wid.cli("aks", "update", "-g", rg, "-n", cluster, "--attach-kubeconfig", api.kubeconfig)
    from_wid = tmp_path / "from-wid" / "config"
    wid.cli("aks", "get-credentials", "-g", rg, "-n", cluster, "-f", str(from_wid))
    az = Az(wid, tmp_path)
    from_az = tmp_path / "from-az" / "config"
    az.run(f"az aks get-credentials -g {rg} -n {cluster} -f {from_az} -o none")
    for written in (from_wid, from_az):
        done = subprocess.run(["kubectl", "--kubeconfig", str(written), "get", "namespace", "attached", "-o", "name"],
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.strip() == "namespace/attached", (written, done.stderr)


def test_signing_keys_rotate_end_to_end(wid, kube, tmp_path):
    """Rotate in wid, restart the API server with the new key (verifying with both), and old
    tokens keep working until their key is removed, then fail with AADSTS7000272."""
    rg, cluster, issuer = new_cluster(wid)
    old = json.loads(wid.cli("aks", "oidc-issuer", "export-signing-key", "-g", rg, "-n", cluster,
                             "--output-dir", str(tmp_path / "old")).stdout)
    api = kube(issuer, Path(old["privateKeyFile"]), [Path(old["publicKeyFile"])])
    api.kubectl("create", "serviceaccount", "rotating-sa")
    who = identity_with_a_secret(wid, rg, issuer, "system:serviceaccount:default:rotating-sa")
    old_token = token_request(api, "default", "rotating-sa")

    wid.cli("aks", "oidc-issuer", "rotate-signing-keys", "-g", rg, "-n", cluster)
    new = json.loads(wid.cli("aks", "oidc-issuer", "export-signing-key", "-g", rg, "-n", cluster,
                             "--output-dir", str(tmp_path / "new")).stdout)
    assert new["kid"] != old["kid"]
    api.restart(Path(new["privateKeyFile"]), [Path(new["publicKeyFile"]), Path(old["publicKeyFile"])])
    new_token = token_request(api, "default", "rotating-sa")
    api_kids = {k["kid"] for k in json.loads(api.kubectl("get", "--raw", "/openid/v1/jwks").stdout)["keys"]}
    assert api_kids == {old["kid"], new["kid"]}

    for token in (old_token, new_token):
        done = read_secret_with(wid, tmp_path, token, who)
        assert done.returncode == 0 and "secret=from-the-real-api-server" in done.stdout, done.stderr

    wid.cli("aks", "oidc-issuer", "remove-key", "-g", rg, "-n", cluster, "--kid", old["kid"])
    refused = read_secret_with(wid, tmp_path, old_token, who)
    assert refused.returncode != 0 and "AADSTS7000272" in refused.stderr, refused.stderr
    done = read_secret_with(wid, tmp_path, new_token, who)
    assert done.returncode == 0 and "secret=from-the-real-api-server" in done.stdout, done.stderr
