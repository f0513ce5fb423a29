"""The activity logs as a user meets them: a pod's exchange refused for a subject that differs
is found with `wid monitor sign-ins --failed` and through Graph with `az rest`'s request
shape, fixed, and the next exchange succeeds; a vault's reads and refusals are found with
`wid monitor key-vault-events`. Records are written in batches, so reads poll briefly."""

import json
import time
import uuid

from test_exchange_clients import Workload
from test_graph import graph_resource
from widtest import unique


def exchange(wid, w: Workload, service_account: str, correlation: str):
    """A federated exchange as azure-identity's WorkloadIdentityCredential posts it."""
    assertion = wid.cli(
        "aks", "create-token", "-g", w.rg, "-n", w.cluster, "--namespace", w.namespace, "--service-account", service_account
    ).stdout.strip()
    return wid.session().post(
        f"{wid.url}/{wid.creds['tenantId']}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": w.client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": wid.scope,
        },
        headers={"client-request-id": correlation},
        timeout=10,
    ), assertion


def polled(read, want, what: str, seconds=10):
    deadline = time.time() + seconds
    while True:
        rows = read()
        if want(rows):
            return rows
        if time.time() > deadline:
            raise AssertionError(f"{what}: {json.dumps(rows, indent=1)[:2000]}")
        time.sleep(0.2)


def test_a_refused_exchange_is_explained_in_the_sign_in_log_and_fixed_from_there(wid):
    w = Workload(wid)
    refused_id = str(uuid.uuid4())
    refused, assertion = exchange(wid, w, "intruder", refused_id)
    assert refused.status_code == 401, refused.text
    assert refused.json()["error_codes"] == [700213]

    def failures():
        out = wid.cli("monitor", "sign-ins", "--failed", "--client-id", w.client_id, "-o", "json").stdout
        return json.loads(out)

    [row] = polled(failures, lambda rows: len(rows) == 1, "the refusal in the sign-in log")
    assert row["result"] == "failure" and row["errorCode"] == 700213
    assert row["kind"] == "managedIdentity"
    assert row["federatedCredential"] == "cluster"
    assert row["assertionSubject"] == f"system:serviceaccount:{w.namespace}:intruder"
    assert f"system:serviceaccount:{w.namespace}:{w.sa}" in row["explanation"]
    assert row["correlationId"] == refused_id

    # The whole record through Graph, as `az rest --url .../beta/auditLogs/signIns` asks.
    graph = wid.session().get(
        f"{wid.url}/beta/auditLogs/signIns",
        params={"$filter": f"correlationId eq '{refused_id}'"},
        headers={"Authorization": f"Bearer {wid.token(graph_resource(wid) + '.default')}"},
        timeout=10,
    )
    assert graph.status_code == 200, graph.text
    [record] = graph.json()["value"]
    assert record["appId"] == w.client_id and record["status"]["errorCode"] == 700213
    text = json.dumps(record)
    assert assertion not in text and assertion.split(".")[2] not in text

    # Fixed from what the log said: the credential now trusts the subject that was refused.
    wid.cli(
        "identity", "federated-credential", "update", "--name", row["federatedCredential"], "--identity-name", w.identity,
        "-g", w.rg, "--subject", row["assertionSubject"],
    )
    granted_id = str(uuid.uuid4())
    granted, _ = exchange(wid, w, "intruder", granted_id)
    assert granted.status_code == 200, granted.text

    def all_of_client():
        return json.loads(wid.cli("monitor", "sign-ins", "--client-id", w.client_id, "-o", "json").stdout)

    rows = polled(all_of_client, lambda rows: len(rows) == 2, "the refusal and the grant")
    assert [(r["result"], r["correlationId"]) for r in rows] == [("success", granted_id), ("failure", refused_id)]
    table = wid.cli("monitor", "sign-ins", "--failed", "--client-id", w.client_id, "-o", "table").stdout
    assert "700213" in table and "intruder" in table
    log = wid.read_log()
    assert granted.json()["access_token"] not in log and assertion.split(".")[2] not in log


def test_a_vaults_reads_and_refusals_are_its_audit_events(wid):
    rg, vault = unique("rg-audit-"), unique("kvaudit")[:24]
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization")
    scope = wid.cli("keyvault", "show", "-n", vault, "-g", rg, "--query", "id", "-o", "tsv").stdout.strip()
    refused = wid.cli("keyvault", "secret", "show", "--vault-name", vault, "-n", "db-password", check=False)
    assert refused.returncode != 0 and "Forbidden" in refused.stderr, refused.stderr
    wid.cli("role", "assignment", "create", "--assignee", wid.creds["objectId"], "--role", "Key Vault Secrets Officer", "--scope", scope)
    wid.cli("keyvault", "secret", "set", "--vault-name", vault, "-n", "db-password", "--value", "hunter2-not-logged")
    shown = json.loads(wid.cli("keyvault", "secret", "show", "--vault-name", vault, "-n", "db-password").stdout)
    assert shown["value"] == "hunter2-not-logged"

    def events():
        return json.loads(wid.cli("monitor", "key-vault-events", "-n", vault, "-g", rg, "-o", "json").stdout)

    seen = lambda rows: {(r["operationName"], r["httpStatusCode"]) for r in rows}  # noqa: E731
    wanted = {("SecretGet", 403), ("SecretSet", 200), ("SecretGet", 200)}
    rows = polled(events, lambda rows: wanted <= seen(rows), "the vault's events")
    gets = [r for r in rows if r["operationName"] == "SecretGet"]
    assert {r["httpStatusCode"] for r in gets} == {200, 403}, gets
    denied = next(r for r in gets if r["httpStatusCode"] == 403)
    assert denied["resultType"] != "Success" and denied["explanation"]
    assert denied["item"].endswith("/secrets/db-password")
    failed = json.loads(wid.cli("monitor", "key-vault-events", "-n", vault, "-g", rg, "--failed", "-o", "json").stdout)
    assert failed and all(r["httpStatusCode"] >= 400 for r in failed)
    assert "hunter2-not-logged" not in json.dumps(rows)
