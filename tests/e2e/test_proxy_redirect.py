"""The real redirect (seed 003's migration path): in a network namespace of its own, where
169.254.169.254 sits on a dummy interface (or, on kernels without the dummy driver, on the
namespace's loopback) so no packet can leave, `wid proxy-init` installs
the NAT rules, `wid proxy` runs as uid 1501, and the unmodified ManagedIdentityCredential,
run as another user and pointed at nothing but the real IMDS address, gets its token."""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from test_exchange_clients import claims_of
from widtest import wid_bin

PROXY_UID = 1501
CLIENT_UID = 65534


def sh(*argv, check=True, **kwargs):
    return subprocess.run(list(argv), check=check, capture_output=True, text=True, timeout=60, **kwargs)


@pytest.fixture
def namespace():
    if os.geteuid() != 0 or not shutil.which("iptables"):
        pytest.fail("this test needs root and iptables (scripts/test installs it; CI runs as root)")
    ns = f"wid-{uuid.uuid4().hex[:8]}"
    sh("ip", "netns", "add", ns)
    try:
        sh("ip", "-n", ns, "link", "set", "lo", "up")
        # The namespace has no interface with a way out either way.
        device = "imds0"
        if sh("ip", "-n", ns, "link", "add", device, "type", "dummy", check=False).returncode != 0:
            device = "lo"
        sh("ip", "-n", ns, "addr", "add", "169.254.169.254/32", "dev", device)
        sh("ip", "-n", ns, "link", "set", device, "up")
        assert "default" not in sh("ip", "-n", ns, "route").stdout
        yield ns
    finally:
        sh("ip", "netns", "delete", ns, check=False)


def test_redirected_imds_requests_reach_the_proxy(namespace, tmp_path):
    ns = namespace
    # Readable by the proxy's and the client's users (pytest's own directories are not).
    shared = Path(tempfile.mkdtemp(prefix="wid-redirect-"))
    os.chmod(shared, 0o755)
    data = tmp_path / "data"
    inside = ["ip", "netns", "exec", ns]
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AZURE_", "REQUESTS_CA", "SSL_CERT"))}
    env["WID_DATA_DIR"] = str(data)
    processes = []
    try:
        server = subprocess.Popen(inside + [wid_bin(), "up", "--data-dir", str(data), "--listen", "127.0.0.1:8443"],
                                  env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(server)
        deadline = time.time() + 60
        while sh(*inside, wid_bin(), "account", "show", check=False, env=env).returncode != 0:
            assert time.time() < deadline and server.poll() is None, "wid up did not start in the namespace"
            time.sleep(0.2)

        def wid(*args):
            return sh(*inside, wid_bin(), *args, env=env).stdout.strip()

        wid("group", "create", "-n", "rg", "-l", "eastus")
        wid("aks", "create", "-g", "rg", "-n", "aks", "--enable-oidc-issuer")
        issuer = wid("aks", "show", "-g", "rg", "-n", "aks", "--query", "oidcIssuerProfile.issuerUrl", "-o", "tsv")
        client_id = wid("identity", "create", "-g", "rg", "-n", "legacy-app", "--query", "clientId", "-o", "tsv")
        wid("identity", "federated-credential", "create", "--name", "pod", "--identity-name", "legacy-app", "-g", "rg",
            "--issuer", issuer, "--subject", "system:serviceaccount:default:legacy")
        token_file = shared / "token"
        token_file.write_text(wid("aks", "create-token", "-g", "rg", "-n", "aks", "--service-account", "legacy"))
        os.chmod(token_file, 0o644)
        ca = shared / "ca.pem"
        shutil.copy(data / "ca.pem", ca)
        os.chmod(ca, 0o644)
        tenant = json.loads((data / "server.json").read_text())["tenantId"]
        scope = json.loads((data / "server.json").read_text())["managementResource"] + ".default"

        # The init container's job, twice: the second run changes nothing.
        sh(*inside, wid_bin(), "proxy-init", "--proxy-port", "8000", "--proxy-uid", str(PROXY_UID))
        rules = sh(*inside, "iptables", "-t", "nat", "-S").stdout
        sh(*inside, wid_bin(), "proxy-init", "--proxy-port", "8000", "--proxy-uid", str(PROXY_UID))
        assert sh(*inside, "iptables", "-t", "nat", "-S").stdout == rules
        assert "--uid-owner 1501 -j ACCEPT" in rules and "REDIRECT --to-ports 8000" in rules

        proxy_env = dict(env, AZURE_CLIENT_ID=client_id, AZURE_TENANT_ID=tenant, AZURE_AUTHORITY_HOST="https://localhost:8443/",
                         AZURE_FEDERATED_TOKEN_FILE=str(token_file), WID_PROXY_CA_FILE=str(ca))
        proxy = subprocess.Popen(inside + ["setpriv", f"--reuid={PROXY_UID}", f"--regid={PROXY_UID}", "--clear-groups",
                                           wid_bin(), "proxy", "--proxy-port", "8000"],
                                 env=proxy_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        processes.append(proxy)
        deadline = time.time() + 20
        while sh(*inside, wid_bin(), "proxy", "--proxy-port", "8000", "--probe", check=False, env=env).returncode != 0:
            assert time.time() < deadline and proxy.poll() is None, "wid proxy did not start"
        client = (
            "import sys\n"
            "from azure.identity import ManagedIdentityCredential\n"
            f"print(ManagedIdentityCredential(client_id={client_id!r}).get_token({scope!r}).token)\n"
        )
        client_env = {k: v for k, v in env.items() if k not in ("WID_DATA_DIR",)}
        client_env["HOME"] = "/tmp"
        done = sh(*inside, "setpriv", f"--reuid={CLIENT_UID}", f"--regid={CLIENT_UID}", "--clear-groups",
                  sys.executable, "-c", client, env=client_env, check=False)
        assert done.returncode == 0, done.stderr
        claims = claims_of(done.stdout.strip().splitlines()[-1])
        assert claims["appid"] == client_id
    finally:
        for p in processes:
            p.terminate()
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(shared, ignore_errors=True)
