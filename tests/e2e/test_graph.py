"""wid's Microsoft Graph plane driven with plain `requests` and azure-identity tokens (the
Graph SDK pulls in a large generated client for the handful of calls here; requests shows the
wire shapes the tests assert on directly): applications, their service principals, secrets and
federated credentials, and the app-registration exchange with azure-identity's
WorkloadIdentityCredential. Requests go to wid's URL: Graph routes by path, so the graph host
needs no /etc/hosts entry here."""

import base64
import json
from urllib.parse import urlparse

import requests
from azure.identity import ClientSecretCredential, WorkloadIdentityCredential

from widtest import unique

AUDIENCE = "api://AzureADTokenExchange"


def claims_of(jwt: str) -> dict:
    part = jwt.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def graph_resource(wid) -> str:
    port = urlparse(wid.url).port
    return f"https://graph.{wid.info['dnsSuffix']}:{port}/"


class Graph:
    def __init__(self, wid, credential):
        self.wid, self.token = wid, credential.get_token(graph_resource(wid) + ".default").token

    def call(self, method, path, body=None):
        r = requests.request(method, self.wid.url + "/v1.0" + path, json=body, verify=str(self.wid.ca),
                             headers={"Authorization": f"Bearer {self.token}"}, timeout=30)
        return r.status_code, (r.json() if r.content else None)


def admin_credential(wid):
    c = wid.creds
    return ClientSecretCredential(c["tenantId"], c["clientId"], c["clientSecret"], authority=wid.url,
                                  disable_instance_discovery=True, connection_verify=str(wid.ca))


def test_app_registration_with_secret_and_federated_credential(wid, tmp_path, monkeypatch):
    g = Graph(wid, admin_credential(wid))
    tenant = wid.creds["tenantId"]
    name = unique("app")
    status, app = g.call("POST", "/applications", {"displayName": name})
    assert status == 201, app
    status, listed = g.call("GET", f"/applications?$filter=appId eq '{app['appId']}'")
    assert status == 200 and [a["id"] for a in listed["value"]] == [app["id"]]
    status, sp = g.call("POST", "/servicePrincipals", {"appId": app["appId"]})
    assert status == 201 and sp["servicePrincipalType"] == "Application", sp
    status, found = g.call("GET", f"/servicePrincipals?$filter=servicePrincipalNames/any(c:c eq '{app['appId']}')")
    assert status == 200 and [s["id"] for s in found["value"]] == [sp["id"]]
    status, objects = g.call("POST", "/directoryObjects/getByIds", {"ids": [sp["id"]], "types": ["servicePrincipal"]})
    assert status == 200 and objects["value"][0]["@odata.type"] == "#microsoft.graph.servicePrincipal"

    # A secret from addPassword signs the application in (az ad app credential reset).
    status, password = g.call("POST", f"/applications/{app['id']}/addPassword", {"passwordCredential": {"displayName": "e2e"}})
    assert status == 200 and password["secretText"], password
    arm = ClientSecretCredential(tenant, app["appId"], password["secretText"], authority=wid.url,
                                 disable_instance_discovery=True, connection_verify=str(wid.ca))
    token = arm.get_token(wid.info["managementResource"] + ".default").token
    assert claims_of(token)["oid"] == sp["id"]

    # A cluster's service-account token exchanged for the application.
    rg, cluster, sa = unique("rg"), unique("aks"), unique("sa")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer", "--enable-workload-identity")
    issuer = wid.cli("aks", "show", "-n", cluster, "-g", rg, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
    fic = {"name": "cluster-sa", "issuer": issuer, "subject": f"system:serviceaccount:default:{sa}", "audiences": [AUDIENCE]}
    status, created = g.call("POST", f"/applications/{app['id']}/federatedIdentityCredentials", fic)
    assert status == 201, created
    status, dup = g.call("POST", f"/applications/{app['id']}/federatedIdentityCredentials", {**fic, "name": "again"})
    assert status == 400 and dup["error"]["code"] == "Request_MultipleObjectsWithSameKeyValue", dup
    jwt = wid.cli("aks", "create-token", "-g", rg, "-n", cluster, "--namespace", "default", "--service-account", sa).stdout.strip()
    token_file = tmp_path / "token"
    token_file.write_text(jwt)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(wid.ca))
    workload = WorkloadIdentityCredential(tenant_id=tenant, client_id=app["appId"], token_file_path=str(token_file),
                                          authority=wid.url, disable_instance_discovery=True)
    claims = claims_of(workload.get_token(wid.info["managementResource"] + ".default").token)
    assert (claims["oid"], claims["appid"]) == (sp["id"], app["appId"])
    assert "xms_mirid" not in claims

    # The workload itself holds no directory role: it reads no other object.
    wg = Graph(wid, workload)
    status, denied = wg.call("GET", "/users")
    assert status == 403 and denied["error"]["code"] == "Authorization_RequestDenied", denied
    status, denied = wg.call("GET", f"/applications/{app['id']}")
    assert status == 403, denied
    status, me = wg.call("GET", f"/servicePrincipals/{sp['id']}")
    assert status == 200 and me["appId"] == app["appId"]
