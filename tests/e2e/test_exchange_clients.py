"""Unmodified clients exchanging a cluster's service-account token at wid: azure-identity's
WorkloadIdentityCredential, MSAL's ConfidentialClientApplication and the Rust azure_identity
crate, each run under `wid run` exactly as they would run in a labelled pod."""

import base64
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicNumbers

from widtest import unique, wid_bin

HERE = Path(__file__).resolve().parent
AUDIENCE = "api://AzureADTokenExchange"


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def claims_of(jwt: str) -> dict:
    return json.loads(b64url_decode(jwt.split(".")[1]))


class Workload:
    """A group, a cluster with an issuer, an identity federated with one service account."""

    def __init__(self, wid, fic_issuer=None):
        self.wid = wid
        self.rg, self.cluster, self.identity = unique("rg"), unique("aks"), unique("id")
        self.namespace, self.sa = "default", unique("sa")
        wid.cli("group", "create", "-n", self.rg, "-l", "eastus")
        wid.cli("aks", "create", "-g", self.rg, "-n", self.cluster, "--enable-oidc-issuer", "--enable-workload-identity")
        self.issuer = wid.cli("aks", "show", "-n", self.cluster, "-g", self.rg, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
        made = json.loads(wid.cli("identity", "create", "-g", self.rg, "-n", self.identity).stdout)
        self.client_id, self.principal_id, self.identity_id = made["clientId"], made["principalId"], made["id"]
        wid.cli(
            "identity", "federated-credential", "create", "--name", "cluster", "--identity-name", self.identity,
            "-g", self.rg, "--issuer", fic_issuer or self.issuer, "--subject", f"system:serviceaccount:{self.namespace}:{self.sa}",
        )

    def run(self, *command: str, timeout=60, env=None) -> subprocess.CompletedProcess:
        """`command` under `wid run`, with nothing of the test's own CA settings leaking in."""
        base = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR", "CURL_CA_BUNDLE")}
        full_env = {**base, "WID_DATA_DIR": str(self.wid.data_dir), **(env or {})}
        return subprocess.run(
            [wid_bin(), "run", "--cluster", self.cluster, "-g", self.rg, "--namespace", self.namespace,
             "--service-account", self.sa, "--client-id", self.client_id, "--", *command],
            capture_output=True, text=True, env=full_env, timeout=timeout,
        )

    def check_token(self, token: str, resource: str) -> None:
        claims = claims_of(token)
        tenant = self.wid.creds["tenantId"]
        assert claims["aud"] == resource.rstrip("/") or claims["aud"] == resource
        assert claims["iss"] == f"{self.wid.url}/{tenant}/"
        assert claims["tid"] == tenant
        assert claims["appid"] == self.client_id
        assert claims["oid"] == claims["sub"] == self.principal_id
        assert (claims["idtyp"], claims["ver"], claims["appidacr"]) == ("app", "1.0", "2")
        assert claims["xms_mirid"] == self.identity_id.replace("/resourceGroups/", "/resourcegroups/")
        assert claims["nbf"] <= time.time() + 5 < claims["exp"]


def management_resource(wid) -> str:
    return wid.info["managementResource"]


def test_hosted_issuer_documents_are_kube_apiservers(wid):
    w = Workload(wid)
    s = wid.session()
    assert w.issuer.startswith(f"{wid.url}/{wid.creds['tenantId']}/") and w.issuer.endswith("/")
    discovery = s.get(w.issuer + ".well-known/openid-configuration", timeout=10).json()
    assert set(discovery) == {"issuer", "jwks_uri", "response_types_supported", "subject_types_supported", "id_token_signing_alg_values_supported"}
    assert discovery["issuer"] == w.issuer
    assert discovery["jwks_uri"] == w.issuer + "openid/v1/jwks"
    assert discovery["id_token_signing_alg_values_supported"] == ["RS256"]
    jwks = s.get(discovery["jwks_uri"], timeout=10).json()
    [key] = jwks["keys"]
    assert (key["use"], key["kty"], key["alg"], key["e"]) == ("sig", "RSA", "RS256", "AQAB")
    # kid = base64url(SHA-256(SubjectPublicKeyInfo DER)), as kube-apiserver and azwi derive it.
    public = RSAPublicNumbers(int.from_bytes(b64url_decode(key["e"]), "big"), int.from_bytes(b64url_decode(key["n"]), "big")).public_key()
    spki = public.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key["kid"] == base64.urlsafe_b64encode(hashlib.sha256(spki).digest()).rstrip(b"=").decode()


def test_create_token_has_the_projected_token_shape(wid):
    w = Workload(wid)
    jwt = wid.cli("aks", "create-token", "-g", w.rg, "-n", w.cluster, "--namespace", "apps", "--service-account", "web", "--pod", "web-0").stdout.strip()
    header = json.loads(b64url_decode(jwt.split(".")[0]))
    claims = claims_of(jwt)
    assert header["alg"] == "RS256" and header["kid"]
    assert claims["iss"] == w.issuer
    assert claims["sub"] == "system:serviceaccount:apps:web"
    assert claims["aud"] == [AUDIENCE]
    assert claims["exp"] - claims["iat"] == 3600 and claims["nbf"] == claims["iat"]
    assert claims["kubernetes.io"]["namespace"] == "apps"
    assert claims["kubernetes.io"]["serviceaccount"]["name"] == "web"
    assert claims["kubernetes.io"]["pod"]["name"] == "web-0"


PYTHON_WORKLOAD = """
import json, os, stat, sys
from azure.identity import WorkloadIdentityCredential
path = os.environ["AZURE_FEDERATED_TOKEN_FILE"]
token = WorkloadIdentityCredential().get_token(sys.argv[1])
print(json.dumps({
    "token": token.token,
    "env": {k: os.environ.get(k) for k in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_AUTHORITY_HOST", "REQUESTS_CA_BUNDLE")},
    "mode": stat.S_IMODE(os.stat(path).st_mode),
}))
"""


def test_azure_identity_workload_identity_credential_under_wid_run(wid, tmp_path):
    w = Workload(wid)
    script = tmp_path / "workload.py"
    script.write_text(PYTHON_WORKLOAD)
    resource = management_resource(wid)
    done = w.run(sys.executable, str(script), resource + ".default")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["env"] == {
        "AZURE_CLIENT_ID": w.client_id,
        "AZURE_TENANT_ID": wid.creds["tenantId"],
        "AZURE_AUTHORITY_HOST": wid.url + "/",
        "REQUESTS_CA_BUNDLE": str(wid.data_dir / "ca.pem"),
    }
    assert out["mode"] == 0o600
    w.check_token(out["token"], resource)


MSAL_WORKLOAD = """
import os, sys
import msal

def read_token():
    with open(os.environ["AZURE_FEDERATED_TOKEN_FILE"]) as f:
        return f.read()

# As azure-workload-identity's msal-python example builds it. instance_discovery=False stops
# MSAL from asking login.microsoftonline.com whether this authority host is known, which it
# does for every host that is not Microsoft's (wid answers that question at
# /common/discovery/instance, but MSAL Python always asks the Microsoft host).
app = msal.ConfidentialClientApplication(
    os.environ["AZURE_CLIENT_ID"],
    client_credential={"client_assertion": read_token},
    authority=os.environ["AZURE_AUTHORITY_HOST"] + os.environ["AZURE_TENANT_ID"],
    instance_discovery=False,
)
result = app.acquire_token_for_client(scopes=[sys.argv[1]])
if "access_token" not in result:
    sys.exit(f"no token: {result}")
print(result["access_token"])
"""


def test_msal_confidential_client_with_assertion_callback_under_wid_run(wid, tmp_path):
    w = Workload(wid)
    script = tmp_path / "msal_workload.py"
    script.write_text(MSAL_WORKLOAD)
    resource = management_resource(wid)
    done = w.run(sys.executable, str(script), resource + ".default")
    assert done.returncode == 0, done.stderr
    w.check_token(done.stdout.strip(), resource)


def test_msal_instance_discovery_answer(wid):
    tenant = wid.creds["tenantId"]
    s = wid.session()
    answer = s.get(f"{wid.url}/common/discovery/instance", params={"api-version": "1.1", "authorization_endpoint": f"{wid.url}/{tenant}/oauth2/v2.0/authorize"}, timeout=10)
    assert answer.status_code == 200
    endpoint = answer.json()["tenant_discovery_endpoint"]
    assert endpoint == f"{wid.url}/{tenant}/v2.0/.well-known/openid-configuration"
    discovery = s.get(endpoint, timeout=10).json()
    assert discovery["token_endpoint"] == f"{wid.url}/{tenant}/oauth2/v2.0/token"
    unknown = s.get(f"{wid.url}/common/discovery/instance", params={"api-version": "1.1", "authorization_endpoint": "https://elsewhere.example/t/oauth2/v2.0/authorize"}, timeout=10)
    assert (unknown.status_code, unknown.json()["error"]) == (400, "invalid_instance")


def rust_client() -> str:
    path = Path(wid_bin()).parent / "e2e-azure-identity"
    assert path.exists(), f"{path} missing: build it with `cargo build -p e2e-azure-identity`"
    return str(path)


def test_rust_azure_identity_workload_identity_credential_under_wid_run(wid):
    w = Workload(wid)
    resource = management_resource(wid)
    done = w.run(rust_client(), resource + ".default")
    assert done.returncode == 0, done.stderr
    w.check_token(done.stdout.strip(), resource)


def test_missing_trailing_slash_is_explained_through_the_sdk(wid, tmp_path):
    # The credential names the cluster's issuer without its trailing slash.
    w = Workload(wid, fic_issuer="https://placeholder.example/issuer/")
    w.wid.cli(
        "identity", "federated-credential", "update", "--name", "cluster", "--identity-name", w.identity,
        "-g", w.rg, "--issuer", w.issuer.rstrip("/"), "--subject", f"system:serviceaccount:{w.namespace}:{w.sa}",
    )
    script = tmp_path / "workload.py"
    script.write_text(PYTHON_WORKLOAD)
    done = w.run(sys.executable, str(script), management_resource(wid) + ".default")
    assert done.returncode != 0
    assert "AADSTS700211" in done.stderr and "slash" in done.stderr, done.stderr


def test_wid_run_exits_with_the_childs_status_and_forwards_signals(wid, tmp_path):
    w = Workload(wid)
    assert w.run(sys.executable, "-c", "import sys; sys.exit(7)").returncode == 7
    marker = tmp_path / "got-term"
    child = (
        "import signal, sys, time\n"
        f"signal.signal(signal.SIGTERM, lambda *_: (open({str(marker)!r}, 'w').close(), sys.exit(3)))\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    env = {**os.environ, "WID_DATA_DIR": str(wid.data_dir)}
    proc = subprocess.Popen(
        [wid_bin(), "run", "--cluster", w.cluster, "-g", w.rg, "--service-account", w.sa, "--client-id", w.client_id, "--", sys.executable, "-c", child],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout.readline().strip() == "ready"
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=20) == 3
    assert marker.exists()


def test_login_with_a_federated_token(wid):
    w = Workload(wid)
    jwt = wid.cli("aks", "create-token", "-g", w.rg, "-n", w.cluster, "--namespace", w.namespace, "--service-account", w.sa).stdout.strip()
    try:
        wid.cli("login", "--service-principal", "-u", w.client_id, "--tenant", wid.creds["tenantId"], "--federated-token", jwt)
        user = json.loads(wid.cli("account", "show", "--query", "user").stdout)
        assert user == {"name": w.client_id, "type": "servicePrincipal"}
        # The identity holds no role yet: the management plane refuses it.
        refused = wid.cli("group", "show", "-n", w.rg, check=False)
        assert refused.returncode != 0 and "AuthorizationFailed" in refused.stderr
        wid.cli("logout")
        wid.cli("role", "assignment", "create", "--assignee", w.client_id, "--role", "Reader", "-g", w.rg)
        wid.cli("login", "--service-principal", "-u", w.client_id, "--tenant", wid.creds["tenantId"], "--federated-token", jwt)
        assert json.loads(wid.cli("group", "show", "-n", w.rg).stdout)["name"] == w.rg
        head, body, sig = jwt.split(".")
        forged = f"{head}.{body}.{sig[:10]}{'A' if sig[10] != 'A' else 'B'}{sig[11:]}"
        bad = wid.cli("login", "--service-principal", "-u", w.client_id, "--tenant", wid.creds["tenantId"], "--federated-token", forged, check=False)
        assert bad.returncode != 0 and "AADSTS700027" in bad.stderr
    finally:
        wid.cli("logout")
    assert json.loads(wid.cli("account", "show", "--query", "user.name").stdout) == wid.creds["clientId"]


def test_an_issuer_on_loopback_is_fetched_only_when_the_operator_allows_it(fresh_wid):
    """Issue 13, finding 4, through `wid up`: a credential naming an issuer on this machine
    (here another wid's cluster issuer, on loopback) makes the exchange fail with Entra's code
    and nothing else; wid's log says why. With `--issuer-allow-address 127.0.0.0/8` the same
    exchange succeeds."""
    home = fresh_wid()
    rg, cluster, sa = unique("rg"), unique("aks"), unique("sa")
    home.cli("group", "create", "-n", rg, "-l", "eastus")
    home.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer")
    issuer = home.cli("aks", "show", "-g", rg, "-n", cluster, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
    assertion = home.cli("aks", "create-token", "-g", rg, "-n", cluster, "--service-account", sa).stdout.strip()

    def exchange_at(wid):
        wid.cli("group", "create", "-n", rg, "-l", "eastus")
        client_id = wid.cli("identity", "create", "-g", rg, "-n", "app", "--query", "clientId", "-o", "tsv").stdout.strip()
        wid.cli("identity", "federated-credential", "create", "--name", "home", "--identity-name", "app", "-g", rg,
                "--issuer", issuer, "--subject", f"system:serviceaccount:default:{sa}")
        return wid.session().post(
            f"{wid.url}/{wid.creds['tenantId']}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": client_id,
                "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": assertion,
                "scope": wid.scope,
            },
            timeout=30,
        )

    by_default = fresh_wid(extra_args=["--issuer-ca-file", home.ca])
    answer = exchange_at(by_default)
    refused = answer.json()
    assert (answer.status_code, refused.get("error"), refused.get("error_codes")) == (400, "invalid_request", [90061]), refused
    assert refused["error_description"].startswith("AADSTS90061: Request to External OIDC endpoint failed.\r\n"), refused
    assert str(home.port) not in refused["error_description"]
    # The log is written behind the request: wait for the refusal's line.
    deadline = time.time() + 10
    while "resolves only to addresses" not in (log := by_default.read_log()) and time.time() < deadline:
        time.sleep(0.1)
    assert issuer in log and "resolves only to addresses" in log and "127.0.0.1" in log, log
    assert assertion not in log and assertion.split(".")[1] not in log

    allowing = fresh_wid(extra_args=["--issuer-ca-file", home.ca, "--issuer-allow-address", "127.0.0.0/8"])
    answer = exchange_at(allowing)
    assert answer.status_code == 200, answer.text
