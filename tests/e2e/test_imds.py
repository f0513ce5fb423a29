"""IMDS for apps that still ask the instance metadata service: the unmodified
ManagedIdentityCredential (and DefaultAzureCredential) under `wid run --imds`, the seed's
secret read through it, and `wid proxy`'s answers when things go wrong."""

import json
import os
import subprocess
import sys
import textwrap
import time

import requests

from test_exchange_clients import Workload, claims_of
from test_keyvault import RBAC, in_vault_namespace, seed
from widtest import free_port, wid_bin

PROGRAM = textwrap.dedent(
    """
    import json, os, sys
    from azure.identity import DefaultAzureCredential, ManagedIdentityCredential
    from azure.keyvault.secrets import SecretClient

    scope = sys.argv[1]
    out = {
        "managed": ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"]).get_token(scope).token,
        "default": DefaultAzureCredential().get_token(scope).token,
    }
    if os.environ.get("KEYVAULT_URL"):
        client = SecretClient(vault_url=os.environ["KEYVAULT_URL"], credential=ManagedIdentityCredential(client_id=os.environ["AZURE_CLIENT_ID"]))
        out["secret"] = client.get_secret(os.environ["SECRET_NAME"]).value
    print(json.dumps(out))
    """
)


def test_managed_identity_credential_reads_the_seed_secret_under_wid_run_imds(wid, tmp_path):
    s = seed(wid, **RBAC)
    program = tmp_path / "imds_app.py"
    program.write_text(PROGRAM)
    argv = [wid_bin(), "run", "--imds", "--cluster", s["cluster"], "-g", s["rg"], "--namespace", "default",
            "--service-account", "workload-identity-sa", "--client-id", s["client_id"], "--",
            sys.executable, str(program), f"https://vault.{wid.info['dnsSuffix']}:{wid.port}/.default"]
    done = in_vault_namespace(wid, tmp_path, [s["vault"]], argv, env={"KEYVAULT_URL": s["url"], "SECRET_NAME": s["secret"]})
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout.strip().splitlines()[-1])
    assert out["secret"] == "Hello\\!"
    for name in ("managed", "default"):
        claims = claims_of(out[name])
        assert claims["appid"] == s["client_id"] and claims["oid"] == s["principal_id"], name


def test_proxy_answers_errors_as_imds_does_and_keeps_serving(wid, tmp_path):
    w = Workload(wid)
    token_file = tmp_path / "token"
    token_file.write_text(wid.cli("aks", "create-token", "-g", w.rg, "-n", w.cluster, "--namespace", w.namespace,
                                  "--service-account", w.sa).stdout.strip())
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("AZURE_")}
    env.update({"AZURE_CLIENT_ID": w.client_id, "AZURE_TENANT_ID": wid.creds["tenantId"], "AZURE_AUTHORITY_HOST": wid.url + "/",
                "AZURE_FEDERATED_TOKEN_FILE": str(token_file), "WID_PROXY_CA_FILE": wid.ca})
    proc = subprocess.Popen([wid_bin(), "proxy", "--proxy-port", str(port)], env=env, stderr=subprocess.DEVNULL)
    base = f"http://127.0.0.1:{port}"
    s = requests.Session()
    s.trust_env = False
    try:
        deadline = time.time() + 20
        while True:
            try:
                if s.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                if time.time() > deadline:
                    raise
                time.sleep(0.1)
        assert subprocess.run([wid_bin(), "proxy", "--proxy-port", str(port), "--probe"], env=env).returncode == 0
        token_url = f"{base}/metadata/identity/oauth2/token"
        resource = wid.info["managementResource"]

        def get(params, headers={"Metadata": "true"}):
            r = s.get(token_url, params=params, headers=headers, timeout=10)
            return r.status_code, r.json()

        ok = get({"api-version": "2018-02-01", "resource": resource})
        assert ok[0] == 200 and claims_of(ok[1]["access_token"])["appid"] == w.client_id
        assert all(isinstance(ok[1][k], str) for k in ("expires_in", "expires_on", "not_before"))
        started = time.time()
        assert get({"resource": resource}, headers={})[1]["error"] == "bad_request_102"
        assert time.time() - started < 1, "the SDK's header-less probe needs a fast answer"
        assert get({"api-version": "2018-02-01"}) == (400, {"error": "invalid_request", "error_description": "The resource parameter is required."})
        status, body = get({"resource": resource, "client_id": "00000000-0000-4000-8000-000000000009"})
        assert status == 400 and "AADSTS700016" in body["error_description"]
        # The same resource again comes from the cache even without the token file…
        token_file.unlink()
        assert get({"resource": resource})[0] == 200
        # …while a new resource needs an exchange, and there is no token to present.
        status, body = get({"resource": f"https://vault.{wid.info['dnsSuffix']}:{wid.port}"})
        assert status == 400 and "token file" in body["error_description"]
        assert s.get(f"{base}/readyz", timeout=2).status_code == 200
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0
    # The identity plane down: a 500 the SDKs retry, not a hang.
    down = dict(env, AZURE_AUTHORITY_HOST="https://127.0.0.1:1/")
    token_file.write_text("x")
    port = free_port()
    proc = subprocess.Popen([wid_bin(), "proxy", "--proxy-port", str(port)], env=down, stderr=subprocess.DEVNULL)
    try:
        deadline = time.time() + 20
        while subprocess.run([wid_bin(), "proxy", "--proxy-port", str(port), "--probe"], env=down).returncode != 0 and time.time() < deadline:
            pass
        r = s.get(f"http://127.0.0.1:{port}/metadata/identity/oauth2/token", params={"resource": resource}, headers={"Metadata": "true"}, timeout=20)
        assert (r.status_code, r.json()["error"]) == (500, "server_error")
    finally:
        proc.terminate()
        proc.wait(timeout=20)
