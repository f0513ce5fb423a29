"""State survives restarts, and every write wid acknowledged survives `kill -9`."""

import threading
import time

import pytest
import requests

from widtest import MSI_API, RG_API, unique


def test_state_survives_a_clean_restart(fresh_wid):
    wid = fresh_wid()
    before = (wid.info["tenantId"], wid.info["subscriptionId"], wid.creds, open(wid.ca).read())
    rg = unique("rg-keep-")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    created = wid.arm("PUT", f"{wid.identity_path(rg, 'kept')}?api-version={MSI_API}", {"location": "eastus"}).json()
    assert wid.stop() == 0
    wid.start()
    after = (wid.info["tenantId"], wid.info["subscriptionId"], wid.creds, open(wid.ca).read())
    assert after == before
    again = wid.arm("GET", f"{wid.identity_path(rg, 'kept')}?api-version={MSI_API}").json()
    assert again["properties"] == created["properties"]


def crash_under_load(wid, restart):
    """Writers PUT identities and credentials until the server is SIGKILLed mid-load; returns
    what was acknowledged and what is present after the restart."""
    rg = unique("rg-crash-")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    token = wid.token()
    acknowledged = []
    lock = threading.Lock()
    stop = threading.Event()

    def writer(w):
        session = wid.session()
        n = 0
        while not stop.is_set():
            name = f"w{w}-id{n}"
            path = wid.identity_path(rg, name)
            try:
                r = wid.arm("PUT", f"{path}?api-version={MSI_API}", {"location": "eastus"}, token=token, session=session)
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged.append(("identity", path, r.json()["properties"]["clientId"]))
                r = wid.arm(
                    "PUT",
                    f"{path}/federatedIdentityCredentials/fic?api-version={MSI_API}",
                    {"properties": {"issuer": "https://issuer.example/c/", "subject": f"system:serviceaccount:ns:{name}", "audiences": ["api://AzureADTokenExchange"]}},
                    token=token,
                    session=session,
                )
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged.append(("credential", f"{path}/federatedIdentityCredentials/fic", f"system:serviceaccount:ns:{name}"))
            except requests.RequestException:
                return
            n += 1

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    time.sleep(2.0)
    wid.kill9()
    stop.set()
    for t in threads:
        t.join(timeout=30)
    restart()
    print(f"crash test: {len(acknowledged)} acknowledged writes before SIGKILL")
    token = wid.token()
    lost = []
    for kind, path, expected in acknowledged:
        r = wid.arm("GET", f"{path}?api-version={MSI_API}", token=token)
        got = r.json().get("properties", {}) if r.status_code == 200 else {}
        if got.get("clientId" if kind == "identity" else "subject") != expected:
            lost.append((kind, path, r.status_code))
    return acknowledged, lost


def test_acknowledged_writes_survive_kill_9_on_sqlite(fresh_wid):
    wid = fresh_wid()
    acknowledged, lost = crash_under_load(wid, wid.start)
    assert len(acknowledged) > 20, f"the load produced only {len(acknowledged)} writes"
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:5]}"


def test_acknowledged_writes_survive_kill_9_on_postgres(fresh_wid, postgres_url):
    wid = fresh_wid(extra_args=["--database-url", postgres_url])
    assert wid.info["subscriptionId"]
    acknowledged, lost = crash_under_load(wid, wid.start)
    assert len(acknowledged) > 20, f"the load produced only {len(acknowledged)} writes"
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:5]}"


def test_postgres_backend_serves_the_seed_flow(fresh_wid, postgres_url):
    wid = fresh_wid(extra_args=["--database-url", postgres_url])
    assert "postgres://" in wid.read_log()
    rg = unique("rg-pg-")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("identity", "create", "-n", "pg-identity", "-g", rg)
    client_id = wid.cli("identity", "show", "-n", "pg-identity", "-g", rg, "--query", "clientId", "-o", "tsv").stdout.strip()
    wid.stop()
    wid.start()
    assert wid.cli("identity", "show", "-n", "pg-identity", "-g", rg, "--query", "clientId", "-o", "tsv").stdout.strip() == client_id
    r = wid.arm("GET", f"/subscriptions/{wid.subscription}/resourcegroups/{rg}?api-version={RG_API}")
    assert r.status_code == 200


@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_stops_cleanly_on_signals(fresh_wid, sig):
    import signal

    wid = fresh_wid()
    assert wid.stop(getattr(signal, sig)) == 0
