"""`wid webhook` against a stand-in Kubernetes API server (none can run here) that speaks the
real REST and watch formats for ServiceAccounts; and the mutated pod's token, minted as the
projected volume asks, exchanged at wid."""

import base64
import json
import os
import queue
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jsonpatch
import pytest
import requests

from widtest import free_port, unique, wid_bin


class FakeApiServer:
    """ServiceAccounts over /api/v1: GET one, LIST all, WATCH with streamed JSON lines."""

    def __init__(self):
        # Watches answered 410 before their stream starts, as for a resource version the
        # API server no longer has.
        self.gone_watches = 0
        self.accounts = {}
        self.objects = {}
        self.version = 100
        self.events = queue.Queue()
        self.requests = []
        self.lock = threading.Lock()
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, status, body):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                if self.handled_as_object():
                    return self.objects()
                fake.requests.append((self.path, self.headers.get("Authorization")))
                path, _, query = self.path.partition("?")
                if self.headers.get("Authorization") != "Bearer fake-token":
                    return self.send_json(401, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Unauthorized", "code": 401})
                if path == "/version":
                    return self.send_json(200, {"major": "1", "minor": "33", "gitVersion": "v1.33.1"})
                if path == "/api/v1/serviceaccounts" and "watch=true" in query:
                    if fake.gone_watches:
                        fake.gone_watches -= 1
                        return self.send_json(410, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Expired",
                                                    "message": "too old resource version", "code": 410})
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    deadline = time.time() + 20
                    while time.time() < deadline:
                        try:
                            event = fake.events.get(timeout=0.2)
                        except queue.Empty:
                            continue
                        if event is None:
                            break
                        line = (json.dumps(event) + "\n").encode()
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(line), line))
                        self.wfile.flush()
                    self.wfile.write(b"0\r\n\r\n")
                    return
                if path == "/api/v1/serviceaccounts":
                    with fake.lock:
                        items = list(fake.accounts.values())
                    return self.send_json(200, {"kind": "ServiceAccountList", "apiVersion": "v1", "metadata": {"resourceVersion": str(fake.version)}, "items": items})
                parts = path.strip("/").split("/")
                if len(parts) == 6 and parts[:3] == ["api", "v1", "namespaces"] and parts[4] == "serviceaccounts":
                    found = fake.accounts.get((parts[3], parts[5]))
                    if found:
                        return self.send_json(200, found)
                    return self.send_json(404, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "NotFound", "code": 404,
                                                "message": f'serviceaccounts "{parts[5]}" not found'})
                self.send_json(404, {"kind": "Status", "code": 404})

            def write_account(self, create):
                fake.requests.append((f"{self.command} {self.path}", self.headers.get("Authorization")))
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
                parts = self.path.strip("/").split("/")
                namespace = parts[3]
                name = body["metadata"]["name"] if create else parts[5]
                if not create and self.headers.get("Content-Type") != "application/merge-patch+json":
                    return self.send_json(415, {"kind": "Status", "code": 415})
                annotations = dict((fake.accounts.get((namespace, name)) or {}).get("metadata", {}).get("annotations", {}))
                annotations.update(body["metadata"].get("annotations", {}))
                fake.account(namespace, name, annotations, event="ADDED" if create else "MODIFIED")
                self.send_json(201 if create else 200, fake.accounts[(namespace, name)])

            def objects(self):
                """Secrets and webhook configurations, kept whole, with resource versions."""
                fake.requests.append((f"{self.command} {self.path}", self.headers.get("Authorization")))
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length)) if length else None
                path = self.path.split("?")[0]
                if self.command == "POST":
                    key = f"{path}/{body['metadata']['name']}"
                    if key in fake.objects:
                        return self.send_json(409, {"kind": "Status", "code": 409, "reason": "AlreadyExists"})
                elif path not in fake.objects:
                    return self.send_json(404, {"kind": "Status", "code": 404, "reason": "NotFound", "message": "not found"})
                else:
                    key = path
                if self.command == "GET":
                    return self.send_json(200, fake.objects[key])
                if self.command == "PUT" and body["metadata"].get("resourceVersion") != fake.objects[key]["metadata"]["resourceVersion"]:
                    return self.send_json(409, {"kind": "Status", "code": 409, "reason": "Conflict"})
                if self.command == "PATCH":
                    assert self.headers.get("Content-Type") == "application/json-patch+json"
                    body = jsonpatch.apply_patch(fake.objects[key], body)
                fake.version += 1
                body["metadata"]["resourceVersion"] = str(fake.version)
                fake.objects[key] = body
                self.send_json(201 if self.command == "POST" else 200, body)

            def handled_as_object(self):
                return "/secrets" in self.path or "/mutatingwebhookconfigurations/" in self.path

            def do_POST(self):
                if self.handled_as_object():
                    return self.objects()
                self.write_account(True)

            def do_PUT(self):
                self.objects()

            def do_PATCH(self):
                if self.handled_as_object():
                    return self.objects()
                self.write_account(False)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def account(self, namespace, name, annotations, event=None):
        self.version += 1
        sa = {"kind": "ServiceAccount", "apiVersion": "v1",
              "metadata": {"name": name, "namespace": namespace, "resourceVersion": str(self.version), "annotations": annotations}}
        with self.lock:
            self.accounts[(namespace, name)] = sa
        if event:
            self.events.put({"type": event, "object": sa})

    def gets_of(self, namespace, name):
        return [p for p, _ in self.requests if p.startswith(f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}")]


def self_signed(cert, key, name="localhost"):
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={name}", "-days", "1",
                    "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)


def start_webhook(tmp_path, api, args, env=None, tls_args=None, trust=None):
    """`wid webhook` on a loopback port with `args`, reading service accounts from `api`;
    returns the process, a session trusting its certificate, and its URL once it is ready.
    Its certificate is tmp_path's tls.crt, given with --tls-cert unless `tls_args` (and
    `trust`, the certificate they serve) say otherwise;
    its health and metrics listeners are off unless `args` name them."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: fake\n"
        f"clusters:\n- name: fake\n  cluster:\n    server: http://127.0.0.1:{api.port}\n"
        "contexts:\n- name: fake\n  context:\n    cluster: fake\n    user: me\n"
        "users:\n- name: me\n  user:\n    token: fake-token\n"
    )
    cert, key = tmp_path / "tls.crt", tmp_path / "tls.key"
    if not cert.exists():
        self_signed(cert, key)
    if tls_args is None:
        tls_args = ["--tls-cert", str(cert), "--tls-key", str(key)]
    listeners = [] if "--health-addr" in args else ["--health-addr", "0", "--metrics-addr", "0"]
    port = free_port()
    log = open(tmp_path / "webhook.log", "ab")
    proc = subprocess.Popen(
        [wid_bin(), "webhook", "--listen", f"127.0.0.1:{port}", *tls_args,
         "--kubeconfig", str(kubeconfig), "--proxy-image", "wid:test", *listeners, *args],
        stdout=log, stderr=log, env=env,
    )
    log.close()
    session = requests.Session()
    session.trust_env = False
    session.verify = str(trust or cert)
    url = f"https://localhost:{port}"
    deadline = time.time() + 30
    while True:
        try:
            if session.get(f"{url}/readyz", timeout=1).status_code == 200:
                return proc, session, url
        except requests.RequestException:
            if time.time() > deadline or proc.poll() is not None:
                raise RuntimeError((tmp_path / "webhook.log").read_text())
            time.sleep(0.1)


@pytest.fixture
def webhook(tmp_path, wid):
    """`wid webhook` on a loopback port, reading service accounts from a FakeApiServer."""
    api = FakeApiServer()
    api.account("default", "workload-identity-sa", {"azure.workload.identity/client-id": "c1"})
    proc, session, url = start_webhook(tmp_path, api, ["--tenant-id", wid.creds["tenantId"], "--authority-host", wid.url + "/"])
    yield api, session, url
    proc.terminate()
    assert proc.wait(timeout=20) == 0


def review(pod, namespace="default"):
    return {"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": unique("uid-"), "kind": {"group": "", "version": "v1", "kind": "Pod"},
                        "resource": {"group": "", "version": "v1", "resource": "pods"},
                        "namespace": namespace, "operation": "CREATE", "object": pod}}


def pod(sa="workload-identity-sa", annotations=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": unique("web-"), "labels": {"azure.workload.identity/use": "true"}, "annotations": annotations or {}},
            "spec": {"serviceAccountName": sa, "containers": [{"name": "app", "image": "app"}]}}


def mutated(session, url, p, namespace="default"):
    answer = session.post(f"{url}/mutate-v1-pod", json=review(p, namespace), timeout=10).json()
    response = answer["response"]
    assert response["allowed"] is True, response
    patch = json.loads(base64.b64decode(response["patch"]))
    return jsonpatch.apply_patch(p, patch)


def env_of(p):
    return {e["name"]: e["value"] for e in p["spec"]["containers"][0]["env"]}


def test_webhook_reads_service_accounts_from_the_watch(webhook, wid):
    api, session, url = webhook
    assert env_of(mutated(session, url, pod()))["AZURE_CLIENT_ID"] == "c1"
    # A service account annotated after start-up arrives through the watch, not by a GET.
    api.account("default", "late-sa", {"azure.workload.identity/client-id": "c2"}, event="ADDED")
    api.account("default", "workload-identity-sa", {"azure.workload.identity/client-id": "c3"}, event="MODIFIED")
    deadline = time.time() + 10
    while True:
        env = env_of(mutated(session, url, pod()))
        if env["AZURE_CLIENT_ID"] == "c3" or time.time() > deadline:
            break
        time.sleep(0.1)
    assert env["AZURE_CLIENT_ID"] == "c3"
    assert env_of(mutated(session, url, pod(sa="late-sa")))["AZURE_CLIENT_ID"] == "c2"
    assert api.gets_of("default", "late-sa") == [] and api.gets_of("default", "workload-identity-sa") == []
    assert env["AZURE_TENANT_ID"] == wid.creds["tenantId"] and env["AZURE_AUTHORITY_HOST"] == wid.url + "/"
    # The API server is 1.33: the proxy is a native sidecar.
    proxied = mutated(session, url, pod(annotations={"azure.workload.identity/inject-proxy-sidecar": "true"}))
    assert [(c["name"], c.get("restartPolicy")) for c in proxied["spec"]["initContainers"]] == [("azwi-proxy", "Always"), ("azwi-proxy-init", None)]
    # An unknown service account: one live GET, then a refusal naming it.
    answer = session.post(f"{url}/mutate-v1-pod", json=review(pod(sa="nobody")), timeout=10).json()["response"]
    assert answer["allowed"] is False and "nobody" in answer["status"]["message"]
    assert len(api.gets_of("default", "nobody")) == 1
    assert all(auth == "Bearer fake-token" for _, auth in api.requests)


def test_the_mutated_pods_token_is_accepted_by_the_exchange(webhook, wid):
    """The projected volume's audience and lifetime, minted by the cluster, exchange at wid."""
    api, session, url = webhook
    rg, cluster, identity = unique("rg"), unique("aks"), unique("id")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer", "--enable-workload-identity")
    issuer = wid.cli("aks", "show", "-g", rg, "-n", cluster, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
    client_id = wid.cli("identity", "create", "-g", rg, "-n", identity, "--query", "clientId", "-o", "tsv").stdout.strip()
    wid.cli("identity", "federated-credential", "create", "--name", "fic", "--identity-name", identity, "-g", rg,
            "--issuer", issuer, "--subject", "system:serviceaccount:default:webhook-sa")
    api.account("default", "webhook-sa", {"azure.workload.identity/client-id": client_id,
                                          "azure.workload.identity/service-account-token-expiration": "7200"}, event="ADDED")
    deadline = time.time() + 10
    while True:
        p = mutated(session, url, pod(sa="webhook-sa"))
        if env_of(p).get("AZURE_CLIENT_ID") == client_id or time.time() > deadline:
            break
        time.sleep(0.1)
    env = env_of(p)
    projection = p["spec"]["volumes"][0]["projected"]["sources"][0]["serviceAccountToken"]
    token = wid.cli("aks", "create-token", "-g", rg, "-n", cluster, "--namespace", "default", "--service-account", "webhook-sa",
                    "--audience", projection["audience"], "--duration", f"{projection['expirationSeconds']}s").stdout.strip()
    answer = wid.session().post(
        f"{env['AZURE_AUTHORITY_HOST'].rstrip('/')}/{env['AZURE_TENANT_ID']}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": env["AZURE_CLIENT_ID"], "scope": wid.scope,
              "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", "client_assertion": token},
        timeout=10,
    )
    assert answer.status_code == 200, answer.text


GOLDEN = os.path.join(os.path.dirname(__file__), "..", "..", "crates", "wid-webhook", "tests", "golden")


def test_manifests_render_and_validate_against_the_kubernetes_schemas(tmp_path):
    import kubernetes_validate
    import yaml

    ca_key, ca = tmp_path / "ca.key", tmp_path / "ca.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=wid-webhook-ca", "-days", "1",
                    "-keyout", str(ca_key), "-out", str(ca)], check=True, capture_output=True)
    out = subprocess.run([wid_bin(), "webhook", "manifests", "--tenant-id", "72f988bf-86f1-41af-91ab-2d7cd011db47",
                          "--authority-host", "https://wid.example:8443/", "--image", "ghcr.io/example/wid:1.0", "--ca-bundle", str(ca)],
                         check=True, capture_output=True, text=True).stdout
    docs = [d for d in yaml.safe_load_all(out) if d]
    kinds = sorted(d["kind"] for d in docs)
    assert kinds == sorted(["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Deployment",
                            "PodDisruptionBudget", "Service", "MutatingWebhookConfiguration"])
    for doc in docs:
        kubernetes_validate.validate(doc, "1.33.0", strict=True)
    by_kind = {d["kind"]: d for d in docs}
    hook = by_kind["MutatingWebhookConfiguration"]["webhooks"][0]
    assert hook["objectSelector"] == {"matchLabels": {"azure.workload.identity/use": "true"}}
    assert (hook["failurePolicy"], hook["reinvocationPolicy"]) == ("Fail", "IfNeeded")
    assert base64.b64decode(hook["clientConfig"]["caBundle"]) == ca.read_bytes()
    deployment = by_kind["Deployment"]["spec"]
    assert deployment["replicas"] == 2
    limits = deployment["template"]["spec"]["containers"][0]["resources"]["limits"]
    assert limits == {"cpu": "100m", "memory": "30Mi"}
    assert by_kind["ClusterRole"]["rules"] == [{"apiGroups": [""], "resources": ["serviceaccounts"], "verbs": ["get", "list", "watch"]}]


def test_every_golden_patched_pod_is_a_valid_pod():
    import kubernetes_validate

    pods = [f for f in os.listdir(GOLDEN) if f.endswith(".pod.json")]
    assert len(pods) >= 12
    for name in pods:
        with open(os.path.join(GOLDEN, name)) as f:
            kubernetes_validate.validate(json.load(f), "1.33.0", strict=True)


def test_serviceaccount_create_federates_and_prints_or_applies(wid, tmp_path):
    api = FakeApiServer()
    rg, cluster, identity = unique("rg"), unique("aks"), unique("id")
    wid.cli("group", "create", "-n", rg, "-l", "eastus")
    wid.cli("aks", "create", "-g", rg, "-n", cluster, "--enable-oidc-issuer")
    client_id = wid.cli("identity", "create", "-g", rg, "-n", identity, "--query", "clientId", "-o", "tsv").stdout.strip()
    printed = wid.cli("serviceaccount", "create", "--name", "web", "--namespace", "apps", "--identity-name", identity, "-g", rg, "--cluster", cluster).stdout
    import yaml
    manifest = yaml.safe_load(printed)
    # As azwi makes it: labelled for the webhook, annotated with the client and tenant ids.
    annotations = {"azure.workload.identity/client-id": client_id, "azure.workload.identity/tenant-id": wid.creds["tenantId"]}
    assert manifest == {"apiVersion": "v1", "kind": "ServiceAccount",
                        "metadata": {"annotations": annotations, "labels": {"azure.workload.identity/use": "true"},
                                     "name": "web", "namespace": "apps"}}
    fic = json.loads(wid.cli("identity", "federated-credential", "show", "--name", "apps-web", "--identity-name", identity, "-g", rg).stdout)
    issuer = wid.cli("aks", "show", "-g", rg, "-n", cluster, "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv").stdout.strip()
    assert (fic["issuer"], fic["subject"], fic["audiences"]) == (issuer, "system:serviceaccount:apps:web", ["api://AzureADTokenExchange"])
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                                      "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{api.port}"}}],
                                      "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
                                      "users": [{"name": "me", "user": {"token": "fake-token"}}]}))
    for expected in ("created", "configured"):
        done = wid.cli("serviceaccount", "create", "--name", "web", "--namespace", "apps", "--identity-name", identity, "-g", rg,
                       "--cluster", cluster, "--kubeconfig", str(kubeconfig))
        assert f"serviceaccount/web {expected}" in done.stderr
    assert api.accounts[("apps", "web")]["metadata"]["annotations"] == annotations
    writes = [p for p, _ in api.requests if p.startswith(("POST", "PATCH"))]
    assert writes == ["POST /api/v1/namespaces/apps/serviceaccounts", "PATCH /api/v1/namespaces/apps/serviceaccounts/web"]


def served_certificate(port, ca_pem, hostname):
    """The webhook's certificate, verified against the CA for the Service's DNS name."""
    import ssl
    context = ssl.create_default_context(cadata=ca_pem)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=hostname) as tls:
            return tls.getpeercert(binary_form=True)


def test_self_managed_certificate_is_published_and_renewed(wid, tmp_path):
    api = FakeApiServer()
    api.account("default", "workload-identity-sa", {"azure.workload.identity/client-id": "c1"})
    config_path = "/apis/admissionregistration.k8s.io/v1/mutatingwebhookconfigurations/wid-webhook"
    api.objects[config_path] = {"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
                                "metadata": {"name": "wid-webhook", "resourceVersion": "1"},
                                "webhooks": [{"name": "mutation.azure-workload-identity.io", "clientConfig": {"service": {"name": "wid-webhook", "namespace": "wid-system"}}}]}
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(json.dumps({"apiVersion": "v1", "kind": "Config", "current-context": "fake",
                                      "clusters": [{"name": "fake", "cluster": {"server": f"http://127.0.0.1:{api.port}"}}],
                                      "contexts": [{"name": "fake", "context": {"cluster": "fake", "user": "me"}}],
                                      "users": [{"name": "me", "user": {"token": "fake-token"}}]}))
    port = free_port()
    proc = subprocess.Popen([wid_bin(), "webhook", "--listen", f"127.0.0.1:{port}", "--kubeconfig", str(kubeconfig),
                             "--tenant-id", wid.creds["tenantId"], "--cert-lifetime", "6s",
                             "--health-addr", "0", "--metrics-addr", "0"],
                            stdout=subprocess.DEVNULL, stderr=open(tmp_path / "webhook.log", "wb"))
    try:
        secret_path = "/api/v1/namespaces/wid-system/secrets/wid-webhook-cert"
        deadline = time.time() + 20

        def published():
            return "caBundle" in api.objects[config_path]["webhooks"][0]["clientConfig"]

        while not published() and time.time() < deadline:
            time.sleep(0.1)
        assert published(), (tmp_path / "webhook.log").read_text()
        secret = api.objects[secret_path]
        assert secret["type"] == "kubernetes.io/tls"
        ca = base64.b64decode(secret["data"]["ca.crt"]).decode()
        bundle = api.objects[config_path]["webhooks"][0]["clientConfig"]["caBundle"]
        assert base64.b64decode(bundle).decode() == ca
        hostname = "wid-webhook.wid-system.svc"
        first = None
        while first is None and time.time() < deadline:
            try:
                first = served_certificate(port, ca, hostname)
            except OSError:
                time.sleep(0.1)
        assert first is not None, (tmp_path / "webhook.log").read_text()
        # A fifth of 6 s left: renewed, from the same CA, and served without a restart.
        deadline = time.time() + 15
        renewed = first
        while renewed == first and time.time() < deadline:
            time.sleep(0.5)
            renewed = served_certificate(port, ca, hostname)
        assert renewed != first
        assert base64.b64decode(api.objects[secret_path]["data"]["ca.crt"]).decode() == ca
        assert base64.b64decode(api.objects[config_path]["webhooks"][0]["clientConfig"]["caBundle"]).decode() == ca
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0


def test_the_cloud_named_by_azure_environment_gives_the_authority_host(wid, tmp_path):
    """As upstream's chart: AZURE_ENVIRONMENT names the cloud whose Active Directory endpoint
    workloads get as AZURE_AUTHORITY_HOST, and a name no cloud has stops the webhook."""
    api = FakeApiServer()
    api.account("default", "workload-identity-sa", {"azure.workload.identity/client-id": "c1"})
    env = {k: v for k, v in os.environ.items() if k not in ("AZURE_AUTHORITY_HOST", "AZURE_ENVIRONMENT", "KUBECONFIG")}
    env["AZURE_TENANT_ID"] = wid.creds["tenantId"]
    for cloud, host in [("AzureUSGovernmentCloud", "https://login.microsoftonline.us/"),
                        ("azurechinacloud", "https://login.chinacloudapi.cn/"),
                        (None, "https://login.microsoftonline.com/")]:
        run_env = env if cloud is None else {**env, "AZURE_ENVIRONMENT": cloud}
        proc, session, url = start_webhook(tmp_path, api, [], env=run_env)
        try:
            assert env_of(mutated(session, url, pod()))["AZURE_AUTHORITY_HOST"] == host, cloud
        finally:
            proc.terminate()
            proc.wait(timeout=20)
    refused = subprocess.run([wid_bin(), "webhook", "--listen", f"127.0.0.1:{free_port()}", "--kubeconfig", str(tmp_path / "kubeconfig")],
                             env={**env, "AZURE_ENVIRONMENT": "Mars"}, capture_output=True, text=True, timeout=30)
    assert refused.returncode != 0
    assert 'failed to get AAD endpoint: autorest/azure: There is no cloud environment matching the name "MARS"' in refused.stderr


def test_a_watch_refused_with_410_makes_the_cache_list_again(webhook, wid):
    """A watch the API server refuses with 410 (its resource version compacted away) must
    make the cache list again: what changed meanwhile came with no event."""
    api, session, url = webhook
    assert env_of(mutated(session, url, pod()))["AZURE_CLIENT_ID"] == "c1"
    api.gone_watches = 1
    api.account("default", "workload-identity-sa", {"azure.workload.identity/client-id": "c-after-410"})
    api.events.put(None)  # ends the current watch; the next one is refused with 410
    deadline = time.time() + 15
    while env_of(mutated(session, url, pod()))["AZURE_CLIENT_ID"] != "c-after-410":
        assert time.time() < deadline, "the cache never listed again after the 410"
        time.sleep(0.2)
    assert api.gone_watches == 0


def test_upstream_serving_flags(wid, tmp_path):
    """Upstream's chart values carry over: --disable-cert-rotation serves tls.crt/tls.key of
    --webhook-cert-dir (and the renewed pair once the files change), --tls-min-version sets the
    floor, --health-addr serves the probes and --metrics-addr azwi_mutation_request."""
    import ssl
    api = FakeApiServer()
    api.account("team-a", "workload-identity-sa", {"azure.workload.identity/client-id": "c1"})
    certs = tmp_path / "certs"
    certs.mkdir()
    self_signed(certs / "tls.crt", certs / "tls.key", name="first")
    health, metrics = free_port(), free_port()
    proc, session, url = start_webhook(
        tmp_path, api,
        ["--tenant-id", wid.creds["tenantId"], "--tls-min-version", "1.3",
         "--health-addr", f"127.0.0.1:{health}", "--metrics-addr", f"127.0.0.1:{metrics}", "--metrics-backend", "prometheus"],
        tls_args=["--disable-cert-rotation", "--webhook-cert-dir", str(certs)], trust=certs / "tls.crt")
    try:
        plain = requests.Session()
        plain.trust_env = False
        assert plain.get(f"http://127.0.0.1:{health}/healthz", timeout=5).text == "ok"
        assert plain.get(f"http://127.0.0.1:{health}/readyz", timeout=5).status_code == 200
        for _ in range(2):
            mutated(session, url, pod(), namespace="team-a")
        # A review that is not JSON is refused, and counted too (under no namespace).
        refused = session.post(f"{url}/mutate-v1-pod", data=b"not json", timeout=10)
        assert refused.status_code == 200 and refused.json()["response"]["allowed"] is False
        exported = plain.get(f"http://127.0.0.1:{metrics}/metrics", timeout=5).text
        assert 'azwi_mutation_request_count{namespace="",service_name="webhook"} 1' in exported, exported
        assert 'azwi_mutation_request_count{namespace="team-a",service_name="webhook"} 2' in exported, exported
        assert 'azwi_mutation_request_bucket{namespace="team-a",service_name="webhook",le="+Inf"} 2' in exported

        port = int(url.rsplit(":", 1)[1])
        def handshake(maximum):
            """The protocol and certificate (DER) served to a client that offers up to `maximum`."""
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
            context.maximum_version = maximum
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    return tls.version(), tls.getpeercert(binary_form=True)
        assert handshake(ssl.TLSVersion.TLSv1_3)[0] == "TLSv1.3"
        with pytest.raises(ssl.SSLError):
            handshake(ssl.TLSVersion.TLSv1_2)

        # cert-manager renews the Secret, the kubelet rewrites the mounted files.
        self_signed(tmp_path / "next.crt", tmp_path / "next.key", name="second")
        (tmp_path / "next.key").replace(certs / "tls.key")
        (tmp_path / "next.crt").replace(certs / "tls.crt")
        renewed = ssl.PEM_cert_to_DER_cert((certs / "tls.crt").read_text())
        deadline = time.time() + 30
        while handshake(ssl.TLSVersion.TLSv1_3)[1] != renewed:
            assert time.time() < deadline, "the renewed files were never served"
            time.sleep(0.5)
    finally:
        proc.terminate()
        assert proc.wait(timeout=20) == 0

    base = [wid_bin(), "webhook", "--listen", f"127.0.0.1:{free_port()}", "--tenant-id", "t",
            "--kubeconfig", str(tmp_path / "kubeconfig"), "--disable-cert-rotation"]
    dir_flags = ["--webhook-cert-dir", str(certs)]
    for flags, words in [([*dir_flags, "--tls-min-version", "1.1"], "1.2 and 1.3 only"),
                         ([*dir_flags, "--tls-min-version", "1.4"], "invalid TLS version. Must be one of: 1.0, 1.1, 1.2, 1.3"),
                         ([*dir_flags, "--metrics-backend", "statsd"], "unsupported metrics backend: statsd"),
                         ([*dir_flags, "--health-addr", "9440"], "invalid --health-addr"),
                         (["--webhook-cert-dir", str(tmp_path / "none")], "none/tls.crt")]:
        refused = subprocess.run(base + flags, capture_output=True, text=True, timeout=30)
        assert refused.returncode != 0 and words in refused.stderr, (flags, refused.stderr)
