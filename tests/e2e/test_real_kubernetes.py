"""wid's cluster side against a real Kubernetes API server: kube-apiserver 1.20.2 built from
Debian's source package by scripts/kube-apiserver (which scripts/test runs first), with Debian's
etcd, and the real kubectl. The API server's service-account issuer is the cluster's issuer
hosted by wid; its TokenRequest tokens are exchanged by azure-identity's
WorkloadIdentityCredential and read a Key Vault secret."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import yaml

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from test_keyvault import WORKLOAD, in_vault_namespace
from widtest import Az, free_port, unique, wid_bin

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "kube-apiserver"
GOLDEN = ROOT / "crates" / "wid-webhook" / "tests" / "golden"
AUDIENCE = "api://AzureADTokenExchange"


class KubeApiServer:
    """etcd and kube-apiserver started by scripts/kube-apiserver in a directory of their own,
    with a cluster-admin kubeconfig."""

    def __init__(self, directory: Path, issuer: str, signing_key: Path, public_keys: list[Path], extra: list[str]):
        self.dir, self.issuer, self.extra = directory, issuer, extra
        self.restart(signing_key, public_keys)

    def restart(self, signing_key: Path, public_keys: list[Path]):
        """(Re)starts the API server on the same etcd data, with these keys."""
        args = [str(SCRIPT), "start", str(self.dir), "--issuer", self.issuer, "--signing-key", str(signing_key)]
        for key in public_keys:
            args += ["--key-file", str(key)]
        args += ["--", *self.extra]
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

    def start(issuer: str, signing_key: Path, public_keys: list[Path], extra: list[str] = ()) -> KubeApiServer:
        server = KubeApiServer(tmp_path / f"kube{len(started)}", issuer, signing_key, public_keys, list(extra))
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


def token_request(kube: KubeApiServer, namespace: str, service_account: str, audience: str = AUDIENCE) -> str:
    """A TokenRequest (what the kubelet asks for a projected token volume), sent with
    `kubectl create --raw` so that Debian's kubectl 1.20, which has no `create token`, does."""
    request = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
               "spec": {"audiences": [audience], "expirationSeconds": 3600}}
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


def serving_certificate(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A CA and the webhook's serving certificate for its Service's name, which the API server
    checks when it calls a webhook through a Service (in Go, a subjectAltName)."""
    ca_key, ca, key, cert = (tmp_path / n for n in ("hook-ca.key", "hook-ca.crt", "hook.key", "hook.crt"))
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(ca_key), "-out", str(ca), "-days", "1",
        "-subj", "/CN=hook-ca", "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    csr = tmp_path / "hook.csr"
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out", str(csr), "-subj", "/CN=wid-webhook")
    ext = tmp_path / "hook.ext"
    ext.write_text("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:wid-webhook.wid-system.svc,DNS:localhost\n")
    run("x509", "-req", "-in", str(csr), "-CA", str(ca), "-CAkey", str(ca_key), "-CAcreateserial", "-days", "1",
        "-out", str(cert), "-extfile", str(ext))
    return ca, cert, key


def service_account_kubeconfig(api: KubeApiServer, namespace: str, name: str, path: Path) -> Path:
    """A kubeconfig that authenticates as a ServiceAccount with a TokenRequest token, as the
    webhook's pod would be authenticated in the cluster."""
    token = token_request(api, namespace, name, audience="https://kubernetes.default.svc")
    admin = yaml.safe_load(Path(api.kubeconfig).read_text())
    server = admin["clusters"][0]["cluster"]["server"]
    ca = (Path(api.kubeconfig).parent / admin["clusters"][0]["cluster"]["certificate-authority"]).resolve()
    path.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "sa",
        "clusters": [{"name": "c", "cluster": {"server": server, "certificate-authority": str(ca)}}],
        "users": [{"name": "sa", "user": {"token": token}}],
        "contexts": [{"name": "sa", "context": {"cluster": "c", "user": "sa"}}],
    }))
    return path


def non_loopback_address() -> str:
    """This machine's first global IPv4 address: the API server reaches a Service through its
    Endpoints, and Kubernetes refuses loopback addresses there."""
    listed = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"], capture_output=True, text=True).stdout
    addresses = [line.split()[3].split("/")[0] for line in listed.splitlines()]
    if not addresses:
        pytest.fail("this test needs a non-loopback IPv4 address (`ip -4 addr show scope global` listed none)")
    return addresses[0]


def pod(name: str, service_account: str, labelled: bool = True) -> str:
    labels = {"azure.workload.identity/use": "true"} if labelled else {}
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "namespace": "team-a", "labels": labels},
                       "spec": {"serviceAccountName": service_account,
                                "containers": [{"name": "app", "image": "registry.example/app:1"}]}})


def env_of(stored: dict) -> dict:
    return {e["name"]: e.get("value") for e in stored["spec"]["containers"][0].get("env", [])}


def test_the_webhook_mutates_pods_the_real_api_server_stores(wid, kube, tmp_path):
    """`wid webhook manifests` applied with kubectl as they are (RBAC, the webhook's
    ServiceAccount, its Service, the MutatingWebhookConfiguration naming that Service), `wid
    webhook` authenticated as that ServiceAccount, and pods made with kubectl stored mutated
    as azure-workload-identity v1.6 mutates them."""
    rg, cluster, issuer = new_cluster(wid)
    exported = json.loads(wid.cli("aks", "oidc-issuer", "export-signing-key", "-g", rg, "-n", cluster,
                                  "--output-dir", str(tmp_path / "sa")).stdout)
    keys = (Path(exported["privateKeyFile"]), [Path(exported["publicKeyFile"])])
    # With no kube-proxy, the API server reaches Services through their Endpoints.
    api = kube(issuer, *keys, extra=["--enable-aggregator-routing=true"])
    ca, cert, key = serving_certificate(tmp_path)
    tenant = wid.creds["tenantId"]
    printed = wid.cli("webhook", "manifests", "--tenant-id", tenant, "--image", "wid:test", "--ca-bundle", str(ca),
                      "--authority-host", f"{wid.url}/").stdout
    docs = [d for d in yaml.safe_load_all(printed) if d]
    port, host = free_port(), non_loopback_address()
    applied = []
    for doc in docs:
        # Kubernetes 1.20 has no policy/v1; nothing runs the Deployment without a kubelet.
        if doc["kind"] in ("PodDisruptionBudget", "Deployment"):
            continue
        applied.append(doc["kind"])
        api.kubectl("apply", "-f", "-", stdin=json.dumps(doc))
    assert sorted(applied) == ["ClusterRole", "ClusterRoleBinding", "MutatingWebhookConfiguration", "Namespace",
                               "Service", "ServiceAccount"]
    service = next(d for d in docs if d["kind"] == "Service")
    assert next(d for d in docs if d["kind"] == "MutatingWebhookConfiguration")["webhooks"][0]["clientConfig"]["service"] == {
        "name": service["metadata"]["name"], "namespace": "wid-system", "path": "/mutate-v1-pod"}
    # What the endpoints controller would write for the Deployment's one ready pod: this host.
    api.kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": service["metadata"]["name"], "namespace": "wid-system"},
        "subsets": [{"addresses": [{"ip": host}], "ports": [{"name": "https", "port": port}]}]}))
    hook_config = service_account_kubeconfig(api, "wid-system", "wid-webhook", tmp_path / "webhook.kubeconfig")
    # The manifests' ClusterRole is all the webhook gets: reading service accounts, nothing else.
    can = lambda verb, what: api.kubectl("auth", "can-i", verb, what, "--as", "system:serviceaccount:wid-system:wid-webhook",
                                        check=False).stdout.strip()
    assert (can("watch", "serviceaccounts"), can("create", "pods"), can("get", "secrets")) == ("yes", "no", "no")

    api.kubectl("create", "namespace", "team-a")
    api.kubectl("create", "serviceaccount", "workload-identity-sa", "-n", "team-a")
    api.kubectl("annotate", "serviceaccount", "workload-identity-sa", "-n", "team-a",
                "azure.workload.identity/client-id=11111111-1111-1111-1111-111111111111")
    log = open(tmp_path / "webhook.log", "wb")
    # AKS identity bindings, configured as upstream's chart configures them.
    binding_env = {**os.environ, "AZURE_KUBERNETES_TOKEN_PROXY": "https://proxy.example:443",
                   "AZURE_KUBERNETES_SNI_NAME": "proxy.sni.example", "AZURE_KUBERNETES_CA_CONFIGMAP_NAME": "kube-root-ca.crt"}
    proc = subprocess.Popen([wid_bin(), "webhook", "--listen", f"{host}:{port}", "--health-addr", "0", "--metrics-addr", "0",
                             "--tls-cert", str(cert),
                             "--tls-key", str(key), "--kubeconfig", str(hook_config), "--tenant-id", tenant,
                             "--authority-host", f"{wid.url}/", "--proxy-image", "wid:test",
                             "--custom-token-endpoint-annotation-suffix", "identity-binding",
                             "--custom-token-endpoint-audience", "api://AKSIdentityBinding"],
                            stdout=log, stderr=log, env=binding_env)
    try:
        deadline = time.time() + 30
        while api.kubectl("create", "-f", "-", stdin=pod("probe", "workload-identity-sa"), check=False).returncode != 0:
            assert time.time() < deadline and proc.poll() is None, (tmp_path / "webhook.log").read_text()
            time.sleep(0.5)
        stored = json.loads(api.kubectl("get", "pod", "probe", "-n", "team-a", "-o", "json").stdout)
        # What azure-workload-identity v1.6 injects (the webhook's golden reference pod), with
        # this cluster's client id, tenant and authority.
        golden = json.loads((GOLDEN / "basic.pod.json").read_text())["spec"]
        values = {"AZURE_CLIENT_ID": "11111111-1111-1111-1111-111111111111", "AZURE_TENANT_ID": tenant,
                  "AZURE_AUTHORITY_HOST": f"{wid.url}/"}
        expected_env = [{"name": e["name"], "value": values.get(e["name"], e["value"])} for e in golden["containers"][0]["env"]]
        # The reserved volume is named after a hash of the pod's name, as v1.6 names it.
        volume_name = "azure-workload-identity-reserved-" + hashlib.sha256(b"probe").hexdigest()[:30]
        expected_mount = {**golden["containers"][0]["volumeMounts"][0], "name": volume_name}
        # The API server defaults a projected volume's mode (0644) when it stores the pod.
        expected_volume = {**golden["volumes"][0], "name": volume_name,
                           "projected": {**golden["volumes"][0]["projected"], "defaultMode": 420}}
        container = stored["spec"]["containers"][0]
        assert container["env"] == expected_env
        assert expected_mount in container["volumeMounts"]
        assert expected_volume in stored["spec"]["volumes"]
        # The API server's own ServiceAccount admission ran too (its projected API token).
        assert any(v["name"].startswith("kube-api-access-") for v in stored["spec"]["volumes"])

        # A pod that opts in to the identity binding: its token is for the binding's audience,
        # with the proxy's variables and the cluster's CA (kube-root-ca.crt) beside it.
        bound = json.loads(pod("bound", "workload-identity-sa"))
        bound["metadata"]["annotations"] = {"azure.workload.identity/use-identity-binding": "true"}
        api.kubectl("create", "-f", "-", stdin=json.dumps(bound))
        stored = json.loads(api.kubectl("get", "pod", "bound", "-n", "team-a", "-o", "json").stdout)
        env = env_of(stored)
        assert (env["AZURE_KUBERNETES_TOKEN_PROXY"], env["AZURE_KUBERNETES_SNI_NAME"], env["AZURE_KUBERNETES_CA_FILE"]) == (
            "https://proxy.example:443", "proxy.sni.example", "/var/run/secrets/azure/wi/ca-cert/ca.crt")
        assert "AZURE_KUBERNETES_CA_DATA" not in env
        reserved = next(v for v in stored["spec"]["volumes"] if v["name"].startswith("azure-workload-identity-reserved-"))
        sources = reserved["projected"]["sources"]
        assert sources[0]["serviceAccountToken"]["audience"] == "api://AKSIdentityBinding"
        assert sources[1] == {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca-cert/ca.crt"}],
                                            "optional": False}}

        api.kubectl("create", "-f", "-", stdin=pod("plain", "workload-identity-sa", labelled=False))
        plain = json.loads(api.kubectl("get", "pod", "plain", "-n", "team-a", "-o", "json").stdout)
        assert "AZURE_CLIENT_ID" not in env_of(plain)
        assert not any(v["name"].startswith("azure-workload-identity-reserved-") for v in plain["spec"]["volumes"])

        # The API server restarts: the webhook's watch ends with it, and its cache must watch
        # again (listing again when its resource version is gone) to see the annotation changed next.
        api.restart(*keys)
        api.kubectl("annotate", "--overwrite", "serviceaccount", "workload-identity-sa", "-n", "team-a",
                    "azure.workload.identity/client-id=22222222-2222-2222-2222-222222222222")
        deadline, seen, n = time.time() + 30, None, 0
        while seen != "22222222-2222-2222-2222-222222222222" and time.time() < deadline:
            n += 1
            api.kubectl("create", "-f", "-", stdin=pod(f"after{n}", "workload-identity-sa"))
            seen = env_of(json.loads(api.kubectl("get", "pod", f"after{n}", "-n", "team-a", "-o", "json").stdout))["AZURE_CLIENT_ID"]
            time.sleep(0.2)
        assert seen == "22222222-2222-2222-2222-222222222222", (tmp_path / "webhook.log").read_text()[-3000:]
        # The restarted API server's watch cache starts after the webhook's resource version:
        # it refuses the resumed watch with 410, and the webhook lists again.
        assert "resource version expired (410); listing again" in (tmp_path / "webhook.log").read_text()
    finally:
        proc.terminate()
        proc.wait(timeout=20)
        log.close()
