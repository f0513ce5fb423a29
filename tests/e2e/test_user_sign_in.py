"""Users signing in to wid: msal's password grant and refresh-token redemption, the real az
CLI's `az login -u -p` and `az login --use-device-code` (the verification page driven by
headless Chromium), and the refusals: wrong password, lockout, a replayed refresh token, a
disabled user, one user's tokens used as another's."""

import base64
import hashlib
import json
import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import msal
import pytest
import requests

from widtest import WidServer, az_cli, az_env, wid_bin

AZ_CLIENT = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"


@pytest.fixture(scope="module")
def wid443(tmp_path_factory):
    """A wid on HTTPS's own port. MSAL's user-realm discovery (before every password grant)
    drops the authority's port (`https://{hostname}/common/userrealm/...`), so `az login -u`
    reaches only an authority on 443, as Entra's is; a wid elsewhere needs a proxy on 443."""
    server = WidServer(tmp_path_factory.mktemp("wid-443") / "data", port=443)
    try:
        server.start()
    except RuntimeError as e:
        pytest.fail(f"wid could not listen on 443 (taken, or not root?): {e}")
    yield server
    assert server.stop() == 0


def admin_user(wid) -> dict:
    path = wid.data_dir / "admin-user.json"
    assert path.stat().st_mode & 0o777 == 0o600, "the admin's password file is private"
    return wid.admin_user


def claims(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def error_code(response: requests.Response) -> int:
    return response.json()["error_codes"][0]


def public_app(wid, tenant: str = "organizations") -> msal.PublicClientApplication:
    session = wid.session()
    return msal.PublicClientApplication(AZ_CLIENT, authority=f"{wid.url}/{tenant}", http_client=session, instance_discovery=False)


def password_grant(wid, username: str, password: str, scope: str | None = None) -> requests.Response:
    return wid.session().post(
        f"{wid.url}/organizations/oauth2/v2.0/token",
        data={"grant_type": "password", "client_id": AZ_CLIENT, "username": username, "password": password, "scope": f"{scope or wid.scope} offline_access openid profile"},
        timeout=30,
    )


def refresh(wid, token: str, scope: str | None = None, tenant: str | None = None, **extra) -> requests.Response:
    return wid.session().post(
        f"{wid.url}/{tenant or wid.info['tenantId']}/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "client_id": AZ_CLIENT, "refresh_token": token, "scope": f"{scope or wid.scope} offline_access openid profile", **extra},
        timeout=30,
    )


def test_msal_password_grant_and_refresh(wid443):
    wid = wid443
    user = admin_user(wid)
    app = public_app(wid)
    result = app.acquire_token_by_username_password(user["userPrincipalName"], user["password"], scopes=[wid.scope])
    assert "access_token" in result, result
    at = claims(result["access_token"])
    assert (at["idtyp"], at["oid"], at["upn"], at["appid"], at["appidacr"], at["amr"]) == ("user", user["objectId"], user["userPrincipalName"], AZ_CLIENT, "0", ["pwd"])
    assert at["scp"] == "user_impersonation"
    assert at["tid"] == wid.info["tenantId"]
    # msal built its account from the id token and client_info.
    accounts = app.get_accounts(username=user["userPrincipalName"])
    assert len(accounts) == 1
    assert accounts[0]["home_account_id"] == f"{user['objectId']}.{wid.info['tenantId']}"

    # The admin user is Owner: ARM answers with the user's token.
    r = wid.arm("GET", f"/subscriptions/{wid.subscription}/resourcegroups?api-version=2021-04-01", token=result["access_token"])
    assert r.status_code == 200, r.text
    r = wid.arm("GET", "/subscriptions?api-version=2022-12-01", token=result["access_token"])
    assert [s["subscriptionId"] for s in r.json()["value"]] == [wid.subscription]

    # msal redeems its refresh token at the tenant's own authority, for another resource.
    tenant_app = public_app(wid, wid.info["tenantId"])
    tenant_app.token_cache = app.token_cache
    account = tenant_app.get_accounts()[0]
    port = "" if wid.port == 443 else f":{wid.port}"
    vault_scope = f"https://vault.{wid.info['dnsSuffix']}{port}/.default"
    silent = tenant_app.acquire_token_silent([vault_scope], account=account, force_refresh=True)
    assert silent and "access_token" in silent, silent
    assert claims(silent["access_token"])["aud"].startswith(f"https://vault.{wid.info['dnsSuffix']}")
    again = tenant_app.acquire_token_silent([wid.scope], account=account, force_refresh=True)
    assert again and "access_token" in again, again
    assert claims(again["access_token"])["oid"] == user["objectId"]


def test_raw_refresh_rotates_and_replay_revokes_the_family(wid):
    user = admin_user(wid)
    first = password_grant(wid, user["userPrincipalName"], user["password"])
    assert first.status_code == 200, first.text
    body = first.json()
    for field in ["token_type", "scope", "expires_in", "ext_expires_in", "access_token", "refresh_token", "id_token", "client_info"]:
        assert field in body, field
    rt1 = body["refresh_token"]
    second = refresh(wid, rt1, tenant="organizations")
    assert second.status_code == 200, second.text
    rt2 = second.json()["refresh_token"]
    assert rt2 != rt1
    # rt1 again: a replay; the family is revoked, so rt2 fails too.
    replay = refresh(wid, rt1)
    assert (replay.status_code, replay.json()["error"], error_code(replay)) == (400, "invalid_grant", 70000)
    after = refresh(wid, rt2)
    assert (after.status_code, error_code(after)) == (400, 50173), after.text
    garbage = refresh(wid, "not-a-refresh-token")
    assert (garbage.status_code, error_code(garbage)) == (400, 9002313)


def test_wrong_password_unknown_user_and_lockout(fresh_wid):
    wid = fresh_wid()
    user = admin_user(wid)
    upn = user["userPrincipalName"]
    unknown = password_grant(wid, f"nobody@{wid.info['dnsSuffix']}", "Whatever-1")
    assert (unknown.status_code, unknown.json()["error"], error_code(unknown)) == (400, "invalid_grant", 50034)
    assert "nobody" not in unknown.json()["error_description"]
    for attempt in range(10):
        wrong = password_grant(wid, upn, f"Wrong-password-{attempt}")
        assert (wrong.status_code, error_code(wrong)) == (400, 50126), (attempt, wrong.text)
    locked = password_grant(wid, upn, user["password"])
    assert (locked.status_code, error_code(locked)) == (400, 50053), "the right password is refused while locked"


def test_a_token_names_only_its_own_user(wid):
    """No field of a request changes whose token it is: a refresh token presented with
    another `username`, another client id, or at another tenant alias stays the admin's."""
    user = admin_user(wid)
    rt = password_grant(wid, user["userPrincipalName"], user["password"]).json()["refresh_token"]
    other = refresh(wid, rt, username=f"someone@{wid.info['dnsSuffix']}", password="x")
    assert other.status_code == 200, other.text
    assert claims(other.json()["access_token"])["oid"] == user["objectId"]
    rt = other.json()["refresh_token"]
    # Another public client (Azure PowerShell's id) may not redeem az's refresh token.
    r = wid.session().post(
        f"{wid.url}/{wid.info['tenantId']}/oauth2/v2.0/token",
        data={"grant_type": "refresh_token", "client_id": "1950a258-227b-4e31-a9cf-717495945fc2", "refresh_token": rt, "scope": wid.scope},
        timeout=30,
    )
    assert (r.status_code, error_code(r)) == (400, 70000), r.text
    # An unknown client id is not a public client wid signs users in to.
    r = wid.session().post(
        f"{wid.url}/organizations/oauth2/v2.0/token",
        data={"grant_type": "password", "client_id": "00000000-0000-0000-0000-000000000001", "username": user["userPrincipalName"], "password": user["password"], "scope": wid.scope},
        timeout=30,
    )
    assert (r.status_code, error_code(r)) == (400, 700016), r.text
    # Client credentials still refuse the aliases, as Entra does.
    c = wid.creds
    r = wid.session().post(
        f"{wid.url}/organizations/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": c["clientId"], "client_secret": c["clientSecret"], "scope": wid.scope},
        timeout=30,
    )
    assert (r.status_code, error_code(r)) == (400, 90002), r.text


def test_user_realm_and_alias_discovery(wid):
    s = wid.session()
    domain = wid.info["dnsSuffix"]
    realm = s.get(f"{wid.url}/common/userrealm/admin@{domain}?api-version=1.0", timeout=10).json()
    assert (realm["account_type"], realm["domain_name"], realm["ver"]) == ("Managed", domain, "1.0")
    assert s.get(f"{wid.url}/common/userrealm/someone@example.com?api-version=1.0", timeout=10).json()["account_type"] == "Unknown"
    for alias in ["organizations", "common"]:
        doc = s.get(f"{wid.url}/{alias}/v2.0/.well-known/openid-configuration", timeout=10).json()
        assert doc["issuer"] == f"{wid.url}/{wid.info['tenantId']}/v2.0"
        for endpoint in ["authorization_endpoint", "token_endpoint", "device_authorization_endpoint"]:
            assert doc[endpoint].startswith(wid.url), endpoint


class Az:
    """The real az in a config directory of its own, with wid registered as its cloud."""

    def __init__(self, wid, tmp_path: Path):
        self.wid = wid
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "az").symlink_to(az_cli())
        home = tmp_path / "home"
        home.mkdir()
        self.env = {**az_env(tmp_path / "azure", wid.ca), "HOME": str(home), "PATH": f"{bin_dir}:{os.environ['PATH']}", "SSL_CERT_FILE": wid.ca, "WID_DATA_DIR": str(wid.data_dir)}
        done = subprocess.run([wid_bin(), "cloud", "register-az"], env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"wid cloud register-az failed:\n{done.stdout}\n{done.stderr}"
        self("logout")

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        done = subprocess.run([az_cli(), *args], env=self.env, capture_output=True, text=True, timeout=300)
        if check:
            assert done.returncode == 0, f"az {' '.join(args)} failed ({done.returncode}):\n{done.stdout}\n{done.stderr}"
        return done

    def json(self, *args: str):
        return json.loads(self(*args, "-o", "json").stdout)


def test_az_login_with_password(wid443, tmp_path):
    wid = wid443
    user = admin_user(wid)
    az = Az(wid, tmp_path)
    login = az.json("login", "-u", user["userPrincipalName"], "-p", user["password"])
    assert [s["id"] for s in login] == [wid.subscription]
    account = az.json("account", "show")
    assert (account["user"]["name"], account["user"]["type"], account["tenantId"]) == (user["userPrincipalName"], "user", wid.info["tenantId"])
    az("group", "create", "--name", "user-rg", "--location", "eastus", "-o", "none")
    assert "user-rg" in [g["name"] for g in az.json("group", "list")]
    arm = az.json("account", "get-access-token")
    assert claims(arm["accessToken"])["oid"] == user["objectId"]
    # Key Vault's resource: a new token, redeemed with the refresh token az holds.
    port = "" if wid.port == 443 else f":{wid.port}"
    kv = az.json("account", "get-access-token", "--resource", f"https://vault.{wid.info['dnsSuffix']}{port}")
    kv_claims = claims(kv["accessToken"])
    assert (kv_claims["oid"], kv_claims["idtyp"]) == (user["objectId"], "user")
    assert kv_claims["aud"].startswith(f"https://vault.{wid.info['dnsSuffix']}")
    wrong = az("login", "-u", user["userPrincipalName"], "-p", "Not-the-password-1", check=False)
    assert wrong.returncode != 0 and "AADSTS50126" in wrong.stderr, wrong.stderr


def chromium() -> str:
    for name in ["chromium", "chromium-browser"]:
        path = shutil.which(name)
        if path:
            return path
    pytest.fail("chromium is not installed: scripts/test installs it (apt-get install chromium)")


def spki_pin(cert_pem: str) -> str:
    """The base64 SHA-256 of the certificate's SubjectPublicKeyInfo, as Chromium's
    --ignore-certificate-errors-spki-list takes it: trust exactly wid's key, nothing else."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    spki = cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_az_login_with_device_code_through_the_verification_page(wid, tmp_path):
    from playwright.sync_api import sync_playwright

    user = admin_user(wid)
    az = Az(wid, tmp_path)
    proc = subprocess.Popen([az_cli(), "login", "--use-device-code", "-o", "json"], env=az.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line, deadline = "", time.time() + 120
        while time.time() < deadline:
            line = proc.stderr.readline()
            if "enter the code" in line or not line:
                break
        match = re.search(r"open the page (\S+) and enter the code (\S+)", line)
        assert match, f"az printed no device code: {line!r}"
        page_url, code = match.group(1), match.group(2)
        assert page_url == f"{wid.url}/devicelogin"
        pin = spki_pin(ssl.get_server_certificate(("localhost", wid.port)))
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=chromium(), args=[f"--ignore-certificate-errors-spki-list={pin}", "--no-sandbox"])
            page = browser.new_page()
            page.goto(page_url)
            page.get_by_label("Code").fill(code)
            page.get_by_role("button", name="Next").click()
            page.get_by_label("User name (UPN)").fill(user["userPrincipalName"])
            page.get_by_label("Password").fill("Not-the-password-1")
            page.get_by_role("button", name="Sign in").click()
            assert "incorrect" in page.content()
            page.get_by_label("Password").fill(user["password"])
            page.get_by_role("button", name="Sign in").click()
            assert user["userPrincipalName"] in page.content()
            page.get_by_role("button", name="Continue").click()
            assert "signed in" in page.content()
            cookie = [c for c in page.context.cookies() if c["name"] == "__Host-wid-dl"][0]
            assert (cookie["secure"], cookie["httpOnly"], cookie["sameSite"]) == (True, True, "Strict")
            browser.close()
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        assert [s["id"] for s in json.loads(out)] == [wid.subscription]
    finally:
        if proc.poll() is None:
            proc.kill()
    assert az.json("account", "show")["user"]["name"] == user["userPrincipalName"]
    assert az.json("group", "list") is not None


def test_device_code_polls_as_entra(wid):
    s = wid.session()
    tenant = wid.info["tenantId"]
    start = s.post(f"{wid.url}/organizations/oauth2/v2.0/devicecode", data={"client_id": AZ_CLIENT, "scope": f"{wid.scope} offline_access openid profile"}, timeout=10)
    assert start.status_code == 200, start.text
    flow = start.json()
    assert set(flow) == {"user_code", "device_code", "verification_uri", "expires_in", "interval", "message"}
    assert flow["user_code"] in flow["message"] and flow["verification_uri"] in flow["message"]
    poll = lambda code: s.post(f"{wid.url}/{tenant}/oauth2/v2.0/token", data={"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "client_id": AZ_CLIENT, "device_code": code}, timeout=10)  # noqa: E731
    pending = poll(flow["device_code"])
    assert (pending.status_code, pending.json()["error"], error_code(pending)) == (400, "authorization_pending", 70016)
    bad = poll("not-a-device-code")
    assert (bad.json()["error"], error_code(bad)) == ("bad_verification_code", 70018)
    # A form posted without the page's cookie and token is refused.
    forged = s.post(f"{wid.url}/devicelogin", data={"step": "code", "user_code": flow["user_code"]}, timeout=10)
    assert forged.status_code == 403


def test_az_user_reads_and_writes_key_vault_secrets(wid443, tmp_path):
    """The vault plane takes the user's token: RBAC on the user's object id, as for apps."""
    from widtest import hosts_namespace, unique

    wid = wid443
    user = admin_user(wid)
    az = Az(wid, tmp_path)
    az("login", "-u", user["userPrincipalName"], "-p", user["password"], "-o", "none")
    vault = unique("kvu")
    az("group", "create", "--name", "kv-user-rg", "--location", "eastus", "-o", "none")
    vault_id = az("keyvault", "create", "--name", vault, "--resource-group", "kv-user-rg", "--location", "eastus", "--enable-rbac-authorization", "true", "--query", "id", "-o", "tsv").stdout.strip()
    prefix = hosts_namespace(tmp_path, [vault], wid.info["dnsSuffix"])
    run = lambda *args: subprocess.run([*prefix, az_cli(), *args], env=az.env, capture_output=True, text=True, timeout=300)  # noqa: E731
    denied = run("keyvault", "secret", "set", "--vault-name", vault, "--name", "s1", "--value", "v1")
    assert denied.returncode != 0 and "Forbidden" in denied.stderr, "Owner holds no data actions"
    az("role", "assignment", "create", "--assignee-object-id", user["objectId"], "--assignee-principal-type", "User", "--role", "Key Vault Secrets Officer", "--scope", vault_id, "-o", "none")
    done = run("keyvault", "secret", "set", "--vault-name", vault, "--name", "s1", "--value", "v1", "-o", "none")
    assert done.returncode == 0, done.stderr
    shown = run("keyvault", "secret", "show", "--vault-name", vault, "--name", "s1", "--query", "value", "-o", "tsv")
    assert shown.stdout.strip() == "v1", shown.stderr
