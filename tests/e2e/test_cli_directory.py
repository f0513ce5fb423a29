"""`wid ad …`, `wid login -u`, `wid role assignment --assignee` and `wid serviceaccount create
--aad-application-name` against wid's Microsoft Graph, with az's flags and output shapes. The
CLI acts as the bootstrap admin unless a test logs in; tests that log in use a wid of their own,
since the login lives in the data directory."""

import base64
import hashlib
import json
import os
import stat

from widtest import unique

AUDIENCE = "api://AzureADTokenExchange"


def claims_of(jwt: str) -> dict:
    payload = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def cli_json(wid, *args: str):
    return json.loads(wid.cli(*args).stdout)


def admin_user(wid) -> dict:
    """The bootstrap admin user `wid up` writes next to credentials.json."""
    return json.loads((wid.data_dir / "admin-user.json").read_text())


def domain(wid) -> str:
    return admin_user(wid)["userPrincipalName"].split("@", 1)[1]


def password() -> str:
    return f"Wid-{unique('')[:10]}-pw1!"


def graph_resource(wid) -> str:
    """The Graph audience (`Cloud::graph_resource`); its host is on wid's listener."""
    return f"https://graph.{wid.info['dnsSuffix']}:{wid.port}/"


def secret_token(wid, client_id: str, secret: str, scope: str) -> dict:
    r = wid.session().post(
        f"{wid.url}/{wid.creds['tenantId']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": scope},
        timeout=10,
    )
    return {"status": r.status_code, **r.json()}


def make_user(wid) -> tuple[dict, str]:
    upn, pw = f"{unique('u')}@{domain(wid)}", password()
    user = cli_json(wid, "ad", "user", "create", "--display-name", "Test User", "--password", pw, "--user-principal-name", upn)
    return user, pw


def make_app(wid) -> tuple[dict, dict]:
    app = cli_json(wid, "ad", "app", "create", "--display-name", unique("app"))
    sp = cli_json(wid, "ad", "sp", "create", "--id", app["appId"])
    return app, sp


def test_user_create_list_show_update_delete(wid):
    upn, pw = f"{unique('alice')}@{domain(wid)}", password()
    user = cli_json(wid, "ad", "user", "create", "--display-name", "Alice", "--password", pw, "--user-principal-name", upn)
    assert user["userPrincipalName"] == upn and user["displayName"] == "Alice"
    assert "passwordProfile" not in user or not user["passwordProfile"].get("password"), "Graph never returns a password"

    listed = cli_json(wid, "ad", "user", "list", "--upn", upn)
    assert [u["id"] for u in listed] == [user["id"]]
    by_prefix = cli_json(wid, "ad", "user", "list", "--display-name", "Ali", "--query", "[].userPrincipalName")
    assert upn in by_prefix

    assert wid.cli("ad", "user", "show", "--id", upn, "--query", "id", "-o", "tsv").stdout.strip() == user["id"]
    assert cli_json(wid, "ad", "user", "show", "--id", user["id"])["userPrincipalName"] == upn

    assert wid.cli("ad", "user", "update", "--id", upn, "--display-name", "Alice B", "--account-enabled", "false").stdout == ""
    shown = cli_json(wid, "ad", "user", "show", "--id", upn)
    assert shown["displayName"] == "Alice B"

    wid.cli("ad", "user", "delete", "--id", user["id"])
    gone = wid.cli("ad", "user", "show", "--id", upn, check=False)
    assert gone.returncode != 0 and "Request_ResourceNotFound" in gone.stderr, gone.stderr
    assert cli_json(wid, "ad", "user", "list", "--upn", upn) == []


def test_user_create_with_a_weak_password_is_refused(wid):
    done = wid.cli("ad", "user", "create", "--display-name", "Weak", "--password", "abc", "--user-principal-name", f"{unique('w')}@{domain(wid)}", check=False)
    assert done.returncode != 0 and "password" in done.stderr.lower(), done.stderr


def test_user_login_keeps_a_refresh_token_and_redeems_it(fresh_wid):
    wid = fresh_wid()
    user, pw = make_user(wid)
    # Owner for the new user, so that ARM answers it too.
    wid.cli("role", "assignment", "create", "--assignee", user["userPrincipalName"], "--role", "Owner", "--scope", f"/subscriptions/{wid.subscription}")

    logged = cli_json(wid, "login", "-u", user["userPrincipalName"], "-p", pw)
    assert logged[0]["user"] == {"name": user["userPrincipalName"], "type": "user"}
    account = cli_json(wid, "account", "show")
    assert account["user"] == {"name": user["userPrincipalName"], "type": "user"}
    assert wid.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip() == user["id"]

    store_path = wid.data_dir / "cli-tokens.json"
    assert stat.S_IMODE(os.stat(store_path).st_mode) == 0o600
    store_text = store_path.read_text()
    assert pw not in store_text, "the password is never stored"
    store = json.loads(store_text)
    first_refresh = store["refreshToken"]

    token = cli_json(wid, "account", "get-access-token")
    claims = claims_of(token["accessToken"])
    assert claims["oid"] == user["id"] and claims["aud"].rstrip("/") == wid.info["managementResource"].rstrip("/")
    graph = cli_json(wid, "account", "get-access-token", "--resource", graph_resource(wid))
    assert claims_of(graph["accessToken"])["aud"].rstrip("/") == graph_resource(wid).rstrip("/")

    # Expire every cached access token: the next command redeems the refresh token, which rotates.
    store = json.loads(store_path.read_text())
    for cached in store["accessTokens"].values():
        cached["expiresOn"] = 0
    store_path.write_text(json.dumps(store))
    os.chmod(store_path, 0o600)
    again = cli_json(wid, "account", "get-access-token")
    assert again["accessToken"] != token["accessToken"]
    assert claims_of(again["accessToken"])["oid"] == user["id"]
    rotated = json.loads(store_path.read_text())["refreshToken"]
    assert rotated != first_refresh
    assert cli_json(wid, "group", "list") is not None

    wid.cli("logout")
    assert not store_path.exists()
    assert cli_json(wid, "account", "show")["user"]["type"] == "servicePrincipal"


def test_user_login_with_a_wrong_password_fails_and_keeps_nothing(fresh_wid):
    wid = fresh_wid()
    user, _ = make_user(wid)
    done = wid.cli("login", "-u", user["userPrincipalName"], "-p", "Wrong-password-1!", check=False)
    assert done.returncode != 0 and "AADSTS50126" in done.stderr, done.stderr
    assert not (wid.data_dir / "cli-tokens.json").exists()
    assert cli_json(wid, "account", "show")["user"]["type"] == "servicePrincipal"


def test_app_sp_and_credential_reset(wid):
    name = unique("app")
    app = cli_json(wid, "ad", "app", "create", "--display-name", name, "--identifier-uris", f"api://{name}", "--sign-in-audience", "AzureADMyOrg")
    assert app["displayName"] == name and app["identifierUris"] == [f"api://{name}"]
    assert app["signInAudience"] == "AzureADMyOrg"
    # az patches an application of the same display name instead of making a second.
    again = cli_json(wid, "ad", "app", "create", "--display-name", name)
    assert again["id"] == app["id"]
    assert [a["id"] for a in cli_json(wid, "ad", "app", "list", "--app-id", app["appId"])] == [app["id"]]
    assert app["id"] in cli_json(wid, "ad", "app", "list", "--display-name", name, "--query", "[].id")
    assert cli_json(wid, "ad", "app", "show", "--id", app["appId"])["id"] == app["id"]
    assert cli_json(wid, "ad", "app", "show", "--id", f"api://{name}")["id"] == app["id"]
    assert cli_json(wid, "ad", "app", "show", "--id", app["id"])["appId"] == app["appId"]
    wid.cli("ad", "app", "update", "--id", app["appId"], "--display-name", f"{name}-renamed")
    assert cli_json(wid, "ad", "app", "show", "--id", app["appId"])["displayName"] == f"{name}-renamed"

    sp = cli_json(wid, "ad", "sp", "create", "--id", app["appId"])
    assert sp["appId"] == app["appId"] and app["appId"] in sp["servicePrincipalNames"]
    assert cli_json(wid, "ad", "sp", "show", "--id", app["appId"])["id"] == sp["id"]
    assert cli_json(wid, "ad", "sp", "show", "--id", sp["id"])["appId"] == app["appId"]
    assert [s["id"] for s in cli_json(wid, "ad", "sp", "list", "--spn", app["appId"])] == [sp["id"]]

    reset = cli_json(wid, "ad", "app", "credential", "reset", "--id", app["appId"], "--display-name", "ci")
    assert set(reset) == {"appId", "password", "tenant"}
    assert reset["appId"] == app["appId"] and reset["tenant"] == wid.creds["tenantId"] and reset["password"]
    first = secret_token(wid, app["appId"], reset["password"], wid.scope)
    assert first["status"] == 200, first
    assert claims_of(first["access_token"])["oid"] == sp["id"]

    appended = cli_json(wid, "ad", "app", "credential", "reset", "--id", app["appId"], "--append")
    assert secret_token(wid, app["appId"], reset["password"], wid.scope)["status"] == 200, "--append keeps the old secret"
    replaced = cli_json(wid, "ad", "app", "credential", "reset", "--id", app["appId"])
    assert secret_token(wid, app["appId"], replaced["password"], wid.scope)["status"] == 200
    for old in (reset["password"], appended["password"]):
        refused = secret_token(wid, app["appId"], old, wid.scope)
        assert refused["status"] == 401 and 7000215 in refused["error_codes"], refused
    assert len(cli_json(wid, "ad", "app", "credential", "list", "--id", app["appId"])) == 1

    wid.cli("ad", "sp", "delete", "--id", app["appId"])
    assert cli_json(wid, "ad", "sp", "list", "--spn", app["appId"]) == []
    wid.cli("ad", "app", "delete", "--id", app["appId"])
    missing = wid.cli("ad", "app", "show", "--id", app["appId"], check=False)
    assert missing.returncode != 0


def test_app_federated_credential_crud(wid, tmp_path):
    app, _ = make_app(wid)
    issuer = f"https://issuer.example/{unique('')}/"
    fic_file = tmp_path / "fic.json"
    fic_file.write_text(json.dumps({"name": "fic-ci", "issuer": issuer, "subject": "system:serviceaccount:apps:web", "description": "ci", "audiences": [AUDIENCE]}))

    created = cli_json(wid, "ad", "app", "federated-credential", "create", "--id", app["appId"], "--parameters", f"@{fic_file}")
    assert (created["name"], created["issuer"], created["subject"], created["audiences"]) == ("fic-ci", issuer, "system:serviceaccount:apps:web", [AUDIENCE])
    inline = cli_json(wid, "ad", "app", "federated-credential", "create", "--id", app["id"], "--parameters",
                      json.dumps({"name": "second", "issuer": issuer, "subject": "system:serviceaccount:apps:other", "audiences": [AUDIENCE]}))
    listed = cli_json(wid, "ad", "app", "federated-credential", "list", "--id", app["appId"])
    assert sorted(f["name"] for f in listed) == ["fic-ci", "second"]

    shown = cli_json(wid, "ad", "app", "federated-credential", "show", "--id", app["appId"], "--federated-credential-id", "fic-ci")
    assert shown["id"] == created["id"]
    assert cli_json(wid, "ad", "app", "federated-credential", "show", "--id", app["appId"], "--federated-credential-id", created["id"])["name"] == "fic-ci"

    wid.cli("ad", "app", "federated-credential", "update", "--id", app["appId"], "--federated-credential-id", created["id"],
            "--parameters", json.dumps({"subject": "system:serviceaccount:apps:web2"}))
    assert cli_json(wid, "ad", "app", "federated-credential", "show", "--id", app["appId"], "--federated-credential-id", "fic-ci")["subject"] == "system:serviceaccount:apps:web2"

    duplicate = wid.cli("ad", "app", "federated-credential", "create", "--id", app["appId"], "--parameters",
                        json.dumps({"name": "third", "issuer": issuer, "subject": "system:serviceaccount:apps:other", "audiences": [AUDIENCE]}), check=False)
    assert duplicate.returncode != 0, "issuer and subject are unique per application"

    wid.cli("ad", "app", "federated-credential", "delete", "--id", app["appId"], "--federated-credential-id", inline["id"])
    assert [f["name"] for f in cli_json(wid, "ad", "app", "federated-credential", "list", "--id", app["appId"])] == ["fic-ci"]


def test_serviceaccount_create_for_an_application_and_its_token_exchange(wid):
    rg, cluster, app_name = unique("rg"), unique("aks"), unique("app")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer", "--enable-workload-identity")
    issuer = wid.cli("aks", "show", "-n", cluster, "-g", rg, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()

    done = wid.cli("serviceaccount", "create", "--service-account-name", "web", "--service-account-namespace", "apps",
                   "--aad-application-name", app_name, "--cluster", cluster, "-g", rg)
    apps = cli_json(wid, "ad", "app", "list", "--display-name", app_name)
    assert len(apps) == 1
    app = apps[0]
    manifest = done.stdout
    assert "kind: ServiceAccount" in manifest
    assert f'azure.workload.identity/client-id: "{app["appId"]}"' in manifest
    assert 'name: "web"' in manifest and 'namespace: "apps"' in manifest
    sp = cli_json(wid, "ad", "sp", "show", "--id", app["appId"])

    fics = cli_json(wid, "ad", "app", "federated-credential", "list", "--id", app["appId"])
    expected_name = hashlib.sha256(f"apps-web-{issuer}".encode()).hexdigest()
    assert [(f["name"], f["issuer"], f["subject"], f["audiences"]) for f in fics] == [(expected_name, issuer, "system:serviceaccount:apps:web", [AUDIENCE])]

    # Again: the application, its service principal and the credential are reused.
    wid.cli("serviceaccount", "create", "--name", "web", "--namespace", "apps", "--aad-application-name", app_name, "--cluster", cluster, "-g", rg)
    assert len(cli_json(wid, "ad", "app", "list", "--display-name", app_name)) == 1
    assert len(cli_json(wid, "ad", "app", "federated-credential", "list", "--id", app["appId"])) == 1

    # Only the federated-identity phase, for a second service account: nothing printed.
    only = wid.cli("serviceaccount", "create", "--name", "batch", "--namespace", "apps", "--aad-application-name", app_name,
                   "--cluster", cluster, "-g", rg, "--phase", "fi")
    assert only.stdout == ""
    assert len(cli_json(wid, "ad", "app", "federated-credential", "list", "--id", app["appId"])) == 2
    skipped = wid.cli("serviceaccount", "create", "--name", "web", "--namespace", "apps", "--aad-application-name", app_name,
                      "--cluster", cluster, "-g", rg, "--skip-phases", "service-account,federated-identity")
    assert skipped.stdout == ""

    # The workload exchanges its service-account token for the application.
    jwt = wid.cli("aks", "create-token", "-g", rg, "-n", cluster, "--namespace", "apps", "--service-account", "web").stdout.strip()
    r = wid.session().post(
        f"{wid.url}/{wid.creds['tenantId']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": app["appId"], "scope": wid.scope,
              "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": jwt},
        timeout=10,
    )
    assert r.status_code == 200, r.text
    claims = claims_of(r.json()["access_token"])
    assert claims["appid"] == app["appId"] and claims["oid"] == sp["id"]
    wrong_sa = wid.cli("aks", "create-token", "-g", rg, "-n", cluster, "--namespace", "apps", "--service-account", "other").stdout.strip()
    refused = wid.session().post(
        f"{wid.url}/{wid.creds['tenantId']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": app["appId"], "scope": wid.scope,
              "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": wrong_sa},
        timeout=10,
    )
    assert (refused.status_code, refused.json()["error"], refused.json()["error_codes"]) == (401, "invalid_client", [700213]), refused.text


def test_serviceaccount_create_needs_a_principal(wid):
    done = wid.cli("serviceaccount", "create", "--name", "web", "--service-account-issuer-url", "https://i/", check=False)
    assert done.returncode != 0 and "--aad-application-name" in done.stderr
    done = wid.cli("serviceaccount", "create", "--name", "web", "--identity-name", "x", "-g", "rg", "--phase", "app", check=False)
    assert done.returncode != 0 and "aad-application" in done.stderr


def test_role_assignment_by_upn_app_id_and_object_id(wid):
    rg = unique("rg")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    user, _ = make_user(wid)
    app, sp = make_app(wid)

    by_upn = cli_json(wid, "role", "assignment", "create", "--assignee", user["userPrincipalName"], "--role", "Reader", "-g", rg)
    assert (by_upn["principalId"], by_upn["principalType"], by_upn["roleDefinitionName"]) == (user["id"], "User", "Reader")
    by_app_id = cli_json(wid, "role", "assignment", "create", "--assignee", app["appId"], "--role", "Reader", "-g", rg)
    assert (by_app_id["principalId"], by_app_id["principalType"]) == (sp["id"], "ServicePrincipal")
    by_oid = cli_json(wid, "role", "assignment", "create", "--assignee", user["id"], "--role", "Contributor", "-g", rg)
    assert (by_oid["principalId"], by_oid["principalType"]) == (user["id"], "User")

    listed = cli_json(wid, "role", "assignment", "list", "-g", rg)
    names = {(a["principalId"], a["roleDefinitionName"]): a.get("principalName") for a in listed}
    assert names[(user["id"], "Reader")] == user["userPrincipalName"]
    assert names[(user["id"], "Contributor")] == user["userPrincipalName"]
    assert names[(sp["id"], "Reader")] == app["appId"]
    mine = cli_json(wid, "role", "assignment", "list", "-g", rg, "--assignee", user["userPrincipalName"], "--query", "[].roleDefinitionName")
    assert sorted(mine) == ["Contributor", "Reader"]

    unknown = wid.cli("role", "assignment", "create", "--assignee", f"nobody@{domain(wid)}", "--role", "Reader", "-g", rg, check=False)
    assert unknown.returncode != 0 and "Cannot find user or service principal" in unknown.stderr


def test_keyvault_set_policy_by_upn_and_spn(wid):
    rg, vault = unique("rg"), unique("kv")[:24]
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization", "false")
    user, _ = make_user(wid)
    app, sp = make_app(wid)
    wid.cli("keyvault", "set-policy", "-n", vault, "-g", rg, "--upn", user["userPrincipalName"], "--secret-permissions", "get", "list")
    wid.cli("keyvault", "set-policy", "-n", vault, "-g", rg, "--spn", app["appId"], "--secret-permissions", "get")
    policies = cli_json(wid, "keyvault", "show", "-n", vault, "-g", rg, "--query", "properties.accessPolicies")
    by_object = {p["objectId"]: p["permissions"]["secrets"] for p in policies}
    assert sorted(by_object[user["id"]]) == ["get", "list"]
    assert by_object[sp["id"]] == ["get"]
    admin_sp = cli_json(wid, "ad", "signed-in-user", "show")
    assert admin_sp["id"] in by_object, "keyvault create gives its creator an access policy"


def test_directory_role_assignment_lets_an_application_read_the_directory(wid):
    app, sp = make_app(wid)
    secret = cli_json(wid, "ad", "app", "credential", "reset", "--id", app["appId"])["password"]
    graph_scope = graph_resource(wid) + ".default"

    def read_users():
        token = secret_token(wid, app["appId"], secret, graph_scope)
        assert token["status"] == 200, token
        # The listener serves Graph paths on any host name, so no resolver set-up is needed.
        return wid.session().get(f"{wid.url}/v1.0/users", headers={"Authorization": f"Bearer {token['access_token']}"}, timeout=10)

    denied = read_users()
    assert denied.status_code == 403 and denied.json()["error"]["code"] == "Authorization_RequestDenied", denied.text

    granted = cli_json(wid, "ad", "role", "assignment", "create", "--role", "Directory Readers", "--assignee", app["appId"])
    assert granted["principalId"] == sp["id"]
    assert granted["roleDefinitionId"] == "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"
    assert granted["directoryScopeId"] == "/"
    listed = cli_json(wid, "ad", "role", "assignment", "list", "--assignee", app["appId"])
    assert [a["id"] for a in listed] == [granted["id"]]

    answer = read_users()
    assert answer.status_code == 200, answer.text
    assert any(u["userPrincipalName"] == admin_user(wid)["userPrincipalName"] for u in answer.json()["value"])
