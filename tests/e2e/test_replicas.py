"""Several `wid up` replicas on one PostgreSQL, behind a load balancer: a change made through
any replica takes effect on every other within the documented bound (2 s), replicas killed
with SIGKILL under write load lose no acknowledged write, and backups restore."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path
from urllib.parse import urlparse, urlunparse

import pytest
import requests

from widtest import MSI_API, WidServer, free_port, lost_writes, unique, write_load

BOUND = 2.0
AUDIENCE = "api://AzureADTokenExchange"
SHARED_FILES = ("kek", "ca.pem", "ca.key.sealed", "credentials.json")


class LoadBalancer:
    """A round-robin TCP balancer, as a cloud load balancer in front of replicas would be: it
    passes TLS through and skips backends that refuse connections."""

    def __init__(self, ports: list[int]):
        self.ports = ports
        self.port = free_port()
        self.listener = socket.create_server(("127.0.0.1", self.port))
        self.turn = 0
        self.cut_off = False
        self.open: set[socket.socket] = set()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        if self.cut_off:
            client.close()
            return
        for _ in range(len(self.ports)):
            self.turn += 1
            try:
                backend = socket.create_connection(("127.0.0.1", self.ports[self.turn % len(self.ports)]), timeout=2)
                break
            except OSError:
                continue
        else:
            client.close()
            return
        backend.settimeout(None)
        self.open.update((client, backend))

        def pipe(src, dst):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            finally:
                for s in (src, dst):
                    try:
                        s.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass

        threading.Thread(target=pipe, args=(backend, client), daemon=True).start()
        pipe(client, backend)

    def cut(self):
        """Drops every connection and refuses new ones, as a network partition would."""
        self.cut_off = True
        for s in list(self.open):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open.clear()

    def heal(self):
        self.cut_off = False

    def close(self):
        self.listener.close()


class Replicas:
    """Replicas sharing a database, a KEK, the CA and the admin, as a deployment's replicas
    share a database URL and mounted secrets."""

    def __init__(self, root: Path, database_url: str, count: int, extra_args=()):
        ports = [free_port() for _ in range(count)]
        self.lb = LoadBalancer(ports)
        self.public_url = f"https://localhost:{self.lb.port}"
        args = ["--database-url", database_url, "--public-url", self.public_url, "--log-format", "json", *extra_args]
        root.mkdir(parents=True)
        self.servers = [WidServer(root / f"replica{i}", port=port, extra_args=args) for i, port in enumerate(ports)]
        self.servers[0].start()
        for server in self.servers[1:]:
            server.data_dir.mkdir(mode=0o700)
            for name in SHARED_FILES:
                shutil.copy2(self.servers[0].data_dir / name, server.data_dir / name)
            server.start()

    def __getitem__(self, i) -> WidServer:
        return self.servers[i]

    def close(self):
        for server in self.servers:
            if server.proc is not None:
                server.kill9()
        self.lb.close()


def new_database(base: str) -> str:
    name = f"wid_e2e_{unique('')}"
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    return urlunparse(urlparse(base)._replace(path=f"/{name}"))


@pytest.fixture
def replicas(tmp_path, postgres_url):
    made = []

    def start(count=3, extra_args=()):
        r = Replicas(tmp_path / f"set{len(made)}", postgres_url, count, extra_args)
        made.append(r)
        return r

    yield start
    for r in made:
        r.close()


def exchange(server: WidServer, client_id: str, assertion: str, scope: str) -> requests.Response:
    tenant = server.creds["tenantId"]
    return server.session().post(
        f"{server.url}/{tenant}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            "scope": scope,
        },
        timeout=10,
    )


def until(condition, what: str, bound: float = BOUND) -> float:
    """Seconds until `condition()` holds; fails past the bound."""
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > bound:
            pytest.fail(f"{what} did not happen within {bound} s")
        time.sleep(0.05)
    return time.monotonic() - started


def once_propagated(server: WidServer, *args: str) -> None:
    """Runs a CLI command through the balancer until it succeeds: a role assignment just
    made through one replica reaches the others within the bound, as in Azure, where role
    assignments also take a moment to propagate."""
    until(lambda: server.cli(*args, check=False).returncode == 0, f"wid {' '.join(args)} succeeding")


def read_secret(server: WidServer, public_url: str, vault: str, name: str, token: str) -> requests.Response:
    """A Key Vault read sent to one replica: the vault is named by the Host header, as a
    client resolving `{vault}.vault.{suffix}` to that replica would send it."""
    port = urlparse(public_url).port
    return server.session().get(
        f"{server.url}/secrets/{name}?api-version=7.5",
        headers={"Host": f"{vault}.vault.wid.localhost:{port}", "Authorization": f"Bearer {token}"},
        timeout=10,
    )


def vault_call(server: WidServer, public_url: str, vault: str, method: str, path: str, token: str, body=None) -> requests.Response:
    """Any Key Vault request sent to one replica, named by its Host header as in read_secret."""
    port = urlparse(public_url).port
    return server.session().request(
        method,
        f"{server.url}{path}?api-version=7.6",
        json=body,
        headers={"Host": f"{vault}.vault.wid.localhost:{port}", "Authorization": f"Bearer {token}"},
        timeout=10,
    )


def test_changes_on_one_replica_take_effect_on_the_others_within_the_bound(replicas):
    r = replicas(3)
    a, b, c = r[0], r[1], r[2]
    rg, cluster, identity, vault = unique("rg"), unique("aks"), unique("id"), unique("kv")
    a.cli("group", "create", "-n", rg, "-l", "eastus")
    a.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer", "--enable-workload-identity")
    issuer = a.cli("aks", "show", "-n", cluster, "-g", rg, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
    assert issuer.startswith(r.public_url + "/")
    made = json.loads(a.cli("identity", "create", "-g", rg, "-n", identity).stdout)
    client_id, principal_id = made["clientId"], made["principalId"]
    assertion = a.cli("aks", "create-token", "-g", rg, "-n", cluster, "--service-account", "app").stdout.strip()
    scope = a.info["managementResource"] + ".default"

    # B looks the client up first, so what it caches is the identity without the credential.
    refused = exchange(b, client_id, assertion, scope)
    assert refused.status_code == 400 and "AADSTS70021" in refused.json()["error_description"]

    fic = f"{a.identity_path(rg, identity)}/federatedIdentityCredentials/cluster?api-version={MSI_API}"
    body = {"properties": {"issuer": issuer, "subject": "system:serviceaccount:default:app", "audiences": [AUDIENCE]}}
    assert a.arm("PUT", fic, body).status_code in (200, 201)
    created_after = until(lambda: exchange(b, client_id, assertion, scope).status_code == 200, "a credential created on A working on B")

    assert c.arm("DELETE", fic).status_code == 200
    deleted_after = until(lambda: exchange(b, client_id, assertion, scope).status_code == 400, "a credential deleted on C refused on B")
    body = exchange(b, client_id, assertion, scope).json()
    assert "AADSTS70021" in body["error_description"]

    # A role assignment removed on A stops secret reads on B.
    a.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization")
    vault_id = a.cli("keyvault", "show", "-n", vault, "-g", rg, "--query", "id", "-o", "tsv").stdout.strip()
    me = a.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    a.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Secrets Officer", "--scope", vault_id)
    once_propagated(a, "keyvault", "secret", "set", "--vault-name", vault, "--name", "db", "--value", "replicated-value")
    granted = json.loads(a.cli(
        "role", "assignment", "create", "--assignee-object-id", principal_id, "--assignee-principal-type", "ServicePrincipal",
        "--role", "Key Vault Secrets User", "--scope", vault_id,
    ).stdout)
    assert c.arm("PUT", fic, {"properties": {"issuer": issuer, "subject": "system:serviceaccount:default:app", "audiences": [AUDIENCE]}}).status_code in (200, 201)
    until(lambda: exchange(b, client_id, assertion, scope).status_code == 200, "the credential re-created on C working on B")
    port = urlparse(r.public_url).port
    kv_token = exchange(b, client_id, assertion, f"https://vault.wid.localhost:{port}/.default").json()["access_token"]
    until(lambda: read_secret(b, r.public_url, vault, "db", kv_token).status_code == 200, "the granted read on B")
    assert read_secret(b, r.public_url, vault, "db", kv_token).json()["value"] == "replicated-value"

    a.cli("role", "assignment", "delete", "--ids", granted["id"])
    revoked_after = until(lambda: read_secret(b, r.public_url, vault, "db", kv_token).status_code == 403, "a role assignment removed on A refused on B")

    # A key B has signed with (and so cached) and C then disables is refused on B.
    a.cli(
        "role", "assignment", "create", "--assignee-object-id", principal_id, "--assignee-principal-type", "ServicePrincipal",
        "--role", "Key Vault Crypto Officer", "--scope", vault_id,
    )
    until(
        lambda: vault_call(b, r.public_url, vault, "POST", "/keys/hot/create", kv_token, {"kty": "EC", "crv": "P-256"}).status_code == 200,
        "a key created through B once the grant reached it",
    )
    digest = {"alg": "ES256", "value": "A" * 43}
    signed = vault_call(b, r.public_url, vault, "POST", "/keys/hot//sign", kv_token, digest)
    assert signed.status_code == 200, signed.text
    disabled = vault_call(c, r.public_url, vault, "PATCH", "/keys/hot/", kv_token, {"attributes": {"enabled": False}})
    assert disabled.status_code == 200, disabled.text
    disabled_after = until(
        lambda: vault_call(b, r.public_url, vault, "POST", "/keys/hot//sign", kv_token, digest).status_code == 403,
        "a key disabled on C refused on B",
    )
    print(
        f"propagation: credential created {created_after:.2f} s, deleted {deleted_after:.2f} s, role assignment removed {revoked_after:.2f} s, "
        f"key disabled {disabled_after:.2f} s"
    )


def test_structured_logs_carry_request_ids_and_no_secret(replicas):
    r = replicas(2)
    a, b = r[0], r[1]
    rg, vault, value = unique("rg"), unique("kv"), f"value-{unique('')}"
    a.cli("group", "create", "-n", rg, "-l", "eastus")
    a.cli("keyvault", "create", "-n", vault, "-g", rg, "--enable-rbac-authorization")
    vault_id = a.cli("keyvault", "show", "-n", vault, "-g", rg, "--query", "id", "-o", "tsv").stdout.strip()
    me = a.cli("ad", "signed-in-user", "show", "--query", "id", "-o", "tsv").stdout.strip()
    a.cli("role", "assignment", "create", "--assignee", me, "--role", "Key Vault Secrets Officer", "--scope", vault_id)
    once_propagated(a, "keyvault", "secret", "set", "--vault-name", vault, "--name", "s", "--value", value)
    show = ("keyvault", "secret", "show", "--vault-name", vault, "--name", "s", "--query", "value", "-o", "tsv")
    until(lambda: a.cli(*show, check=False).stdout.strip() == value, "the secret read back through either replica")
    correlation = "0f0e0d0c-0b0a-4090-8070-605040302010"
    token = b.token()
    answered = b.session().get(
        f"{b.url}/subscriptions/{b.subscription}/resourcegroups/{rg}?api-version=2024-11-01",
        headers={"Authorization": f"Bearer {token}", "x-ms-correlation-request-id": correlation},
        timeout=10,
    )
    assert answered.headers["x-ms-correlation-request-id"] == correlation
    request_id = answered.headers["x-ms-request-id"]

    secrets = [value, a.creds["clientSecret"], token]
    # Logs are written by a thread of their own; a clean stop flushes them.
    for server in (a, b):
        assert server.stop() == 0
    served = []
    for server in (a, b):
        for line in (server.data_dir.parent / f"{server.data_dir.name}.log").read_text().splitlines():
            if not line.startswith("{"):
                continue
            event = json.loads(line)
            for secret in secrets:
                assert secret not in line, f"a secret in the log of {server.data_dir.name}: {line[:200]}"
            if event.get("target") == "wid::access":
                served.append(event)
                assert event["span"]["request_id"] and event["span"]["correlation_id"]
                assert {"method", "path", "status", "latency_us"} <= event["fields"].keys()
    assert any(e["span"]["request_id"] == request_id and e["span"]["correlation_id"] == correlation for e in served)
    assert {e["fields"]["path"] for e in served} >= {"/secrets/s"}


def consistency_check(postgres_url: str) -> None:
    """PostgreSQL's own verification of the heap and every index (pg_amcheck, as the
    cluster's superuser, whom the test cluster trusts on loopback)."""
    found = shutil.which("pg_amcheck") or max(map(str, Path("/usr/lib/postgresql").glob("*/bin/pg_amcheck")), default=None)
    assert found, "pg_amcheck is missing (Debian's postgresql package has it)"
    url = urlparse(postgres_url)
    superuser = subprocess.run(
        ["psql", postgres_url, "-Atc", "SELECT rolname FROM pg_roles WHERE rolsuper ORDER BY oid LIMIT 1"],
        check=True, capture_output=True, text=True,
    ).stdout.strip()
    as_superuser = urlunparse(url._replace(netloc=f"{superuser}@{url.hostname}:{url.port}"))
    subprocess.run(["psql", as_superuser, "-q", "-c", "CREATE EXTENSION IF NOT EXISTS amcheck"], check=True, capture_output=True)
    done = subprocess.run(
        [found, "--heapallindexed", "--parent-check", "-h", url.hostname, "-p", str(url.port), "-U", superuser, url.path.lstrip("/")],
        capture_output=True, text=True,
    )
    assert done.returncode == 0, f"pg_amcheck: {done.stdout}{done.stderr}"


def test_replicas_killed_under_write_load_lose_no_acknowledged_write(replicas, postgres_url):
    r = replicas(3)
    for server in r.servers:
        server.token()
    acknowledged, kills = write_load(r.servers, seconds=16, kill_every=3, restart=lambda s: s.start())
    lost = lost_writes(r[0], acknowledged)
    print(f"replica crash test: {len(acknowledged)} acknowledged writes, {kills} SIGKILLs, {len(lost)} lost")
    assert kills >= 4 and len(acknowledged) > 100
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:5]}"
    for server in r.servers:
        server.stop()
    consistency_check(postgres_url)


def test_signing_keys_rotate_once_across_replicas_and_old_tokens_keep_working(replicas):
    r = replicas(2, extra_args=["--job-interval", "1s", "--signing-key-rotation", "6s", "--signing-key-activation", "3s"])
    a, b = r[0], r[1]
    tenant = a.creds["tenantId"]
    jwks = lambda s: {k["kid"] for k in s.session().get(f"{s.url}/{tenant}/discovery/v2.0/keys", timeout=10).json()["keys"]}
    kid_of = lambda jwt: json.loads(__import__("base64").urlsafe_b64decode(jwt.split(".")[0] + "==="))["kid"]
    first = jwks(a)
    old_token = a.token()
    assert kid_of(old_token) in first
    until(lambda: len(jwks(a)) > len(first), "a new key published", bound=15)
    new = jwks(a) - first
    assert len(new) == 1, "one replica rotated, not each"
    until(lambda: jwks(b) == jwks(a), "the new key published by every replica")
    assert kid_of(b.token()) in first, "a new key does not sign before its activation delay"
    until(lambda: kid_of(b.token()) in new and kid_of(a.token()) in new, "the new key signing on every replica", bound=10)
    for server in (a, b):
        assert server.arm("GET", f"/subscriptions/{server.subscription}/resourcegroups?api-version=2024-11-01", token=old_token).status_code == 200
    # The job survives its replica: whichever held the lease, B alone rotates next.
    published = jwks(b)
    a.kill9()
    until(lambda: len(jwks(b)) > len(published), "a rotation after a replica died", bound=20)


def test_backup_restores_a_replicated_installation_into_sqlite(replicas, tmp_path):
    r = replicas(2)
    a = r[0]
    rg = unique("rg")
    a.cli("group", "create", "-n", rg, "-l", "eastus")
    client_id = json.loads(a.cli("identity", "create", "-g", rg, "-n", "kept").stdout)["clientId"]
    backup = tmp_path / "wid.backup"
    made = json.loads(a.cli("admin", "backup", "--file", str(backup), "--database-url", a.extra_args[1]).stdout)
    assert made["rows"] > 5 and backup.stat().st_mode & 0o777 == 0o600
    assert a.creds["clientSecret"] not in backup.read_text()

    restored_dir = tmp_path / "restored"
    restored_dir.mkdir(mode=0o700)
    shutil.copy2(a.data_dir / "kek", restored_dir / "kek")
    shutil.copy2(a.data_dir / "credentials.json", restored_dir / "credentials.json")
    done = json.loads(WidServer(restored_dir).cli("admin", "restore", "--file", str(backup)).stdout)
    assert done["rows"] == made["rows"]
    again = WidServer(restored_dir).cli("admin", "restore", "--file", str(backup), check=False)
    assert again.returncode != 0 and "not empty" in again.stderr
    single = WidServer(restored_dir).start()
    try:
        assert single.info["tenantId"] == a.info["tenantId"]
        assert single.cli("identity", "show", "-g", rg, "-n", "kept", "--query", "clientId", "-o", "tsv").stdout.strip() == client_id
    finally:
        single.stop()


def test_the_replicas_deployment_example_validates_against_the_kubernetes_schemas():
    import string

    import kubernetes_validate
    import yaml

    from widtest import REPO

    text = string.Template((REPO / "deploy" / "replicas.yaml").read_text()).substitute(
        NAMESPACE="wid", IMAGE="ghcr.io/example/wid:1.0", PUBLIC_URL="https://wid.example.com", DNS_SUFFIX="wid.example.com",
    )
    docs = [d for d in yaml.safe_load_all(text) if d]
    assert sorted(d["kind"] for d in docs) == ["Deployment", "Namespace", "PodDisruptionBudget", "Service"]
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)
    deployment = next(d for d in docs if d["kind"] == "Deployment")["spec"]
    assert deployment["replicas"] >= 2
    wid = deployment["template"]["spec"]["containers"][0]
    assert "--database-url" not in " ".join(wid["args"]), "the database URL holds a password: it comes from a Secret"
    assert wid["env"][0]["valueFrom"]["secretKeyRef"]["name"] == "wid-database"
    assert {wid["readinessProbe"]["httpGet"]["path"], wid["livenessProbe"]["httpGet"]["path"]} == {"/readyz", "/healthz"}


def test_readiness_follows_the_database_and_access_fails_closed_without_it(tmp_path, postgres_url):
    pg = urlparse(postgres_url)
    relay = LoadBalancer([pg.port])
    through_relay = urlunparse(pg._replace(netloc=f"{pg.username}@127.0.0.1:{relay.port}"))
    wid = WidServer(tmp_path / "data", extra_args=["--database-url", through_relay])
    tmp_path.joinpath("data").mkdir()
    wid.start()
    try:
        session = wid.session()
        ready = lambda: session.get(f"{wid.url}/readyz", timeout=10).status_code
        rg, cluster = unique("rg"), unique("aks")
        wid.cli("group", "create", "-n", rg, "-l", "eastus")
        wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer")
        issuer = wid.cli("aks", "show", "-n", cluster, "-g", rg, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
        client_id = json.loads(wid.cli("identity", "create", "-g", rg, "-n", "app-id").stdout)["clientId"]
        wid.cli("identity", "federated-credential", "create", "--name", "fic", "--identity-name", "app-id", "-g", rg,
                "--issuer", issuer, "--subject", "system:serviceaccount:default:app")
        assertion = wid.cli("aks", "create-token", "-g", rg, "-n", cluster, "--service-account", "app").stdout.strip()
        scope = wid.info["managementResource"] + ".default"
        assert ready() == 200 and exchange(wid, client_id, assertion, scope).status_code == 200
        relay.cut()
        until(lambda: ready() == 503, "/readyz failing without the database", bound=10)
        time.sleep(0.6)
        # An exchange needs nothing but caches, yet what was cached is dropped while the
        # database cannot say what changed: it fails rather than serve possibly revoked access.
        assert exchange(wid, client_id, assertion, scope).status_code != 200
        relay.heal()
        until(lambda: ready() == 200, "/readyz recovering with the database", bound=15)
        until(lambda: exchange(wid, client_id, assertion, scope).status_code == 200, "exchanging again", bound=10)
    finally:
        wid.kill9()
        relay.close()
