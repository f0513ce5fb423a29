"""The real Azure CLI (PyPI's azure-cli) registered with wid the documented way, and the
tokens wid issues for Microsoft's first-party resources to unmodified azure-identity."""

import json
import subprocess
import sys

from azure.identity import ClientSecretCredential

from test_exchange_clients import PYTHON_WORKLOAD, Workload, claims_of
from widtest import az_cli, az_env, unique, wid_bin


def az(env: dict, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([az_cli(), *args], capture_output=True, text=True, env=env, timeout=180)
    if check and done.returncode != 0:
        raise AssertionError(f"az {' '.join(args)} failed ({done.returncode}):\nstdout: {done.stdout}\nstderr: {done.stderr}")
    return done


def az_json(env: dict, *args: str):
    return json.loads(az(env, *args, "-o", "json").stdout)


def register_az(wid, env: dict, *args: str) -> subprocess.CompletedProcess:
    """`wid cloud register-az`, in an environment without the CA settings a user has yet to make."""
    return subprocess.run(
        [wid_bin(), "cloud", "register-az", "--az", az_cli(), *args],
        capture_output=True, text=True, env={**env, "WID_DATA_DIR": str(wid.data_dir)}, timeout=300,
    )


def check_logged_in(wid, env: dict) -> None:
    account = az_json(env, "account", "show")
    assert account["environmentName"] == "wid"
    assert (account["id"], account["tenantId"]) == (wid.subscription, wid.creds["tenantId"])
    assert account["user"] == {"name": wid.creds["clientId"], "type": "servicePrincipal"}
    assert account["isDefault"] is True


def test_register_az_fills_every_endpoint_and_logs_in(wid, tmp_path):
    bare = az_env(tmp_path / "az")
    done = register_az(wid, bare)
    assert done.returncode == 0, done.stderr
    assert f"Registered wid ({wid.url}/) as the cloud 'wid'" in done.stdout
    assert f"export REQUESTS_CA_BUNDLE={wid.ca}" in done.stdout, "it says what az needs to trust wid"
    assert wid.creds["clientSecret"] not in done.stdout + done.stderr

    env = az_env(tmp_path / "az", wid.ca)
    shown = az_json(env, "cloud", "show")
    endpoints, suffixes = shown["endpoints"], shown["suffixes"]
    assert (shown["name"], shown["isActive"]) == ("wid", True)
    assert endpoints["activeDirectory"] == wid.url
    assert endpoints["activeDirectoryResourceId"] == endpoints["management"] == wid.info["managementResource"]
    assert endpoints["resourceManager"] == f"{wid.url}/"
    assert suffixes["keyvaultDns"] == f".vault.wid.localhost:{wid.port}"
    assert endpoints["microsoftGraphResourceId"] == f"https://graph.wid.localhost:{wid.port}/"
    # wid's own view is az's, plus the resource vaults challenge with.
    ours = json.loads(wid.cli("cloud", "show").stdout)
    assert ours["suffixes"].pop("keyvaultResource") == f"https://vault.wid.localhost:{wid.port}"
    assert ours == shown
    assert az_json(env, "config", "get", "core.instance_discovery")["value"] == "false"

    check_logged_in(wid, env)
    rg = unique("rg-az-")
    made = az_json(env, "group", "create", "-n", rg, "-l", "eastus")
    assert (made["name"], made["location"], made["properties"]["provisioningState"]) == (rg, "eastus", "Succeeded")
    shown = az_json(env, "group", "show", "-n", rg)
    assert shown["id"] == f"/subscriptions/{wid.subscription}/resourceGroups/{rg}"
    assert json.loads(wid.cli("group", "show", "-n", rg).stdout)["id"] == shown["id"], "the group is wid's"
    # az reaches a vault on wid's port, not on 443.
    debug = az(env, "keyvault", "secret", "show", "--vault-name", "kvnowhere", "-n", "s", "--debug", check=False)
    assert f"https://kvnowhere.vault.wid.localhost:{wid.port}/secrets/s" in debug.stderr

    again = register_az(wid, env)
    assert again.returncode == 0, again.stderr
    assert "Updated wid" in again.stdout and "REQUESTS_CA_BUNDLE" not in again.stdout
    check_logged_in(wid, env)

    refused = register_az(wid, env, "-n", "AzureCloud")
    assert refused.returncode != 0 and "one of az's own clouds" in refused.stderr
    assert az_json(env, "cloud", "show", "-n", "AzureCloud")["endpoints"]["resourceManager"] == "https://management.azure.com/"


def test_printed_commands_work_as_printed(wid, tmp_path):
    env = az_env(tmp_path / "az")
    printed = register_az(wid, env, "--print")
    assert printed.returncode == 0, printed.stderr
    assert wid.creds["clientSecret"] not in printed.stdout, "the secret goes on stdin, not in a command line"
    assert "--password=@-" in printed.stdout
    # The same commands `wid up` prints as next steps.
    log = (wid.data_dir.parent / f"{wid.data_dir.name}.log").read_text(errors="replace")
    for line in printed.stdout.splitlines():
        assert f"  {line}\n" in log, line
    done = subprocess.run(["bash", "-euo", "pipefail", "-c", printed.stdout], capture_output=True, text=True, env={**env, "PATH": f"{az_cli().rsplit('/', 1)[0]}:{env['PATH']}"}, timeout=300)
    assert done.returncode == 0, done.stderr
    check_logged_in(wid, az_env(tmp_path / "az", wid.ca))


def test_azure_identity_gets_first_party_tokens(wid, tmp_path):
    # A workload's federated assertion, exchanged by WorkloadIdentityCredential for Storage.
    w = Workload(wid)
    script = tmp_path / "workload.py"
    script.write_text(PYTHON_WORKLOAD)
    done = w.run(sys.executable, str(script), "https://storage.azure.com/.default")
    assert done.returncode == 0, done.stderr
    storage = json.loads(done.stdout)["token"]
    w.check_token(storage, "https://storage.azure.com")
    assert claims_of(storage)["aud"] == "https://storage.azure.com"

    # The admin's secret, through ClientSecretCredential, which is MSAL underneath: MSAL
    # would ask login.microsoftonline.com to vouch for wid's authority unless told not to.
    c = wid.creds
    credential = ClientSecretCredential(
        c["tenantId"], c["clientId"], c["clientSecret"], authority=wid.url, disable_instance_discovery=True, connection_verify=wid.ca
    )
    for scope, aud in [
        ("https://storage.azure.com/.default", "https://storage.azure.com"),
        ("https://vault.azure.net/.default", "https://vault.azure.net"),
        ("https://management.azure.com//.default", "https://management.azure.com/"),
        ("6dae42f8-4368-4678-94ff-3960e28e3630/.default", "6dae42f8-4368-4678-94ff-3960e28e3630"),
    ]:
        claims = claims_of(credential.get_token(scope).token)
        assert (claims["aud"], claims["appid"], claims["ver"]) == (aud, c["clientId"], "1.0"), scope

    # Neither opens wid's own management plane.
    r = wid.arm("GET", f"/subscriptions/{wid.subscription}/resourcegroups?api-version=2024-11-01", token=storage)
    assert (r.status_code, r.json()["error"]["code"]) == (401, "InvalidAuthenticationTokenAudience")
