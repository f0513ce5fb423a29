"""Starting, stopping and talking to a real `wid up` for the end-to-end tests."""

from __future__ import annotations

import fcntl
import json
import os
import random
import resource
import threading
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[2]
MSI_API = "2024-11-30"
RG_API = "2024-11-01"


def wid_bin() -> str:
    path = os.environ.get("WID_BIN") or str(REPO / "target" / "debug" / "wid")
    if not Path(path).exists():
        raise RuntimeError(f"wid binary not found at {path}: run `cargo build -p wid-cli` or set WID_BIN")
    return path


AZ_VENV = Path(os.environ.get("WID_AZ_VENV") or Path.home() / ".cache" / "wid" / "az-venv")


def az_cli() -> str:
    """The real Azure CLI (PyPI's azure-cli), in a virtualenv cached outside the checkout
    (~/.cache/wid/az-venv, or $WID_AZ_VENV), rebuilt when requirements-az.txt changes."""
    import hashlib

    reqs = REPO / "tests" / "e2e" / "requirements-az.txt"
    want = hashlib.sha256(reqs.read_bytes()).hexdigest()
    az, stamp = AZ_VENV / "bin" / "az", AZ_VENV / "wid-requirements.sha256"
    current = lambda: az.exists() and stamp.exists() and stamp.read_text() == want  # noqa: E731
    if current():
        return str(az)
    AZ_VENV.parent.mkdir(parents=True, exist_ok=True)
    # One installer at a time: parallel runs share the cache.
    with open(AZ_VENV.parent / "az-venv.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not current():
            subprocess.run([sys.executable, "-m", "venv", "--clear", str(AZ_VENV)], check=True, timeout=300)
            subprocess.run([str(AZ_VENV / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", "-r", str(reqs)], check=True, timeout=1800)
            stamp.write_text(want)
    return str(az)


def az_env(config_dir: Path, ca_bundle: str | None = None) -> dict:
    """An environment for `az` with its own configuration directory (nothing of the user's
    ~/.azure), no telemetry, and wid's CA when given."""
    env = {k: v for k, v in os.environ.items() if k not in ("REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "CURL_CA_BUNDLE")}
    env.update({"AZURE_CONFIG_DIR": str(config_dir), "AZURE_CORE_COLLECT_TELEMETRY": "false", "AZURE_CORE_NO_COLOR": "true"})
    if ca_bundle:
        env["REQUESTS_CA_BUNDLE"] = ca_bundle
    return env


def hosts_namespace(tmp_path: Path, vaults: list[str], dns_suffix: str) -> list[str]:
    """An argv prefix that runs a command in a mount namespace of its own whose /etc/hosts
    names Graph's host and the vaults' hosts: `{vault}.vault.wid.localhost` does not resolve through glibc, and
    SDK clients (unlike wid's own CLI) need it to. Needs root, as CI has."""
    if os.geteuid() != 0:
        raise RuntimeError("these tests need root for `unshare --mount` (CI runs as root); or add the host lines `wid hosts` prints to /etc/hosts")
    hosts = tmp_path / f"hosts-{unique('')}"
    with open("/etc/hosts") as f:
        base = f.read()
    lines = [f"graph.{dns_suffix}"] + [f"{v.lower()}.vault.{dns_suffix}" for v in vaults]
    hosts.write_text(base + "".join(f"\n127.0.0.1 {name}" for name in lines) + "\n")
    return ["unshare", "--mount", "sh", "-c", 'mount --bind "$1" /etc/hosts && shift && exec "$@"', "sh", str(hosts)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def unique(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:8]}"


@dataclass
class WidServer:
    """One `wid up` process on a loopback port, with its data directory."""

    data_dir: Path
    port: int = field(default_factory=free_port)
    extra_args: list[str] = field(default_factory=list)
    # RLIMIT_NOFILE of the process, as `ulimit -n N` before `wid up` would set it.
    nofile: int | None = None
    proc: subprocess.Popen | None = None

    def start(self) -> "WidServer":
        info = self.data_dir / "server.json"
        if info.exists():
            info.unlink()
        self.log = open(self.data_dir.parent / f"{self.data_dir.name}.log", "ab")
        self.proc = subprocess.Popen(
            [wid_bin(), "up", "--data-dir", str(self.data_dir), "--listen", f"127.0.0.1:{self.port}", *self.extra_args],
            stdout=self.log,
            stderr=self.log,
            preexec_fn=None if self.nofile is None else lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (self.nofile, self.nofile)),
        )
        deadline = time.time() + 60
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"wid up exited with {self.proc.returncode}: {self.read_log()}")
            if info.exists():
                try:
                    if self.session().get(f"{self.url}/healthz", timeout=2).status_code == 200:
                        return self
                except requests.RequestException:
                    pass
            time.sleep(0.1)
        raise RuntimeError(f"wid up did not become ready: {self.read_log()}")

    def read_log(self) -> str:
        return (self.data_dir.parent / f"{self.data_dir.name}.log").read_text(errors="replace")[-4000:]

    def stop(self, sig: int = signal.SIGTERM) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(sig)
        code = self.proc.wait(timeout=30)
        self.proc = None
        self.log.close()
        return code

    def kill9(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def info(self) -> dict:
        return json.loads((self.data_dir / "server.json").read_text())

    @property
    def creds(self) -> dict:
        return json.loads((self.data_dir / "credentials.json").read_text())

    @property
    def admin_user(self) -> dict:
        """The bootstrap admin user's `userPrincipalName`, `password` and `objectId`."""
        return json.loads((self.data_dir / "admin-user.json").read_text())

    @property
    def url(self) -> str:
        return f"https://localhost:{self.port}"

    @property
    def ca(self) -> str:
        return str(self.data_dir / "ca.pem")

    @property
    def scope(self) -> str:
        return self.info["managementResource"] + ".default"

    @property
    def subscription(self) -> str:
        return self.info["subscriptionId"]

    def session(self) -> requests.Session:
        s = requests.Session()
        # Environment CA settings (REQUESTS_CA_BUNDLE) would override `verify`; loopback
        # needs no proxies either.
        s.trust_env = False
        s.verify = self.ca
        return s

    def credential(self):
        """The bootstrap admin as an azure-identity credential. MSAL would ask
        login.microsoftonline.com to validate the authority; wid is not there. The CA must be
        trusted through REQUESTS_CA_BUNDLE/SSL_CERT_FILE by the caller."""
        from azure.identity import ClientSecretCredential

        c = self.creds
        return ClientSecretCredential(c["tenantId"], c["clientId"], c["clientSecret"], authority=self.url, disable_instance_discovery=True)

    def mgmt_client(self, client_class, *args, **kwargs):
        """A management SDK client with its default settings (api-version included), pointed at wid."""
        return client_class(self.credential(), *args, base_url=self.url, credential_scopes=[self.scope], **kwargs)

    def token(self, scope: str | None = None) -> str:
        c = self.creds
        r = self.session().post(
            f"{self.url}/{c['tenantId']}/oauth2/v2.0/token",
            data={"grant_type": "client_credentials", "client_id": c["clientId"], "client_secret": c["clientSecret"], "scope": scope or self.scope},
            timeout=10,
        )
        r.raise_for_status()
        return r.json()["access_token"]

    def arm(self, method: str, path: str, body=None, token: str | None = None, session=None) -> requests.Response:
        headers = {"Authorization": f"Bearer {token or self.token()}"}
        return (session or self.session()).request(method, f"{self.url}{path}", json=body, headers=headers, timeout=30)

    def cli(self, *args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
        full_env = {**os.environ, "WID_DATA_DIR": str(self.data_dir), **(env or {})}
        done = subprocess.run([wid_bin(), *args], capture_output=True, text=True, env=full_env, timeout=60)
        if check and done.returncode != 0:
            raise AssertionError(f"wid {' '.join(args)} failed ({done.returncode}): {done.stderr}")
        return done

    def bash(self, script: str, check: bool = True) -> subprocess.CompletedProcess:
        """Runs a shell script with `az` meaning this wid, as a user pastes the seed commands."""
        env = {**os.environ, "WID_DATA_DIR": str(self.data_dir), "PATH": f"{Path(wid_bin()).parent}:{os.environ['PATH']}"}
        done = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, env=env, timeout=120)
        if check and done.returncode != 0:
            raise AssertionError(f"script failed ({done.returncode}):\n{script}\nstdout: {done.stdout}\nstderr: {done.stderr}")
        return done

    def identity_path(self, rg: str, name: str) -> str:
        return f"/subscriptions/{self.subscription}/resourceGroups/{rg}/providers/Microsoft.ManagedIdentity/userAssignedIdentities/{name}"


class Az:
    """The real az, registered with one wid by `wid cloud register-az` (which logs in as the
    bootstrap service principal), in a config dir of its own; `login_user` then signs in as a
    user, as the seeds' readers do."""

    def __init__(self, wid, tmp_path: Path):
        self.wid = wid
        self.tmp = tmp_path
        self.home = tmp_path / "home"
        self.home.mkdir()
        bin_dir = tmp_path / "bin"
        bin_dir.mkdir()
        (bin_dir / "az").symlink_to(az_cli())
        (bin_dir / "wid").symlink_to(wid_bin())
        self.env = {
            **az_env(tmp_path / "azure", wid.ca),
            "HOME": str(self.home),
            "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "SSL_CERT_FILE": wid.ca,
            "WID_DATA_DIR": str(wid.data_dir),
        }
        done = subprocess.run([wid_bin(), "cloud", "register-az"], env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"wid cloud register-az failed:\n{done.stdout}\n{done.stderr}"

    def login_user(self, upn: str, password: str) -> "Az":
        """`az login -u UPN -p PASSWORD`: the resource-owner-password grant, then az's own
        tenant and subscription discovery with the refresh token."""
        done = subprocess.run([az_cli(), "login", "-u", upn, "-p", password, "-o", "none"], env=self.env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, f"az login -u failed:\n{done.stdout}\n{done.stderr}"
        return self

    def run(self, script: str, vaults=(), check=True) -> dict:
        """Runs the script; returns what it printed as `NAME=value` lines."""
        # Graph's host and the vaults' resolve only in a namespace of their own.
        prefix = hosts_namespace(self.tmp, list(vaults), self.wid.info["dnsSuffix"])
        done = subprocess.run([*prefix, "bash", "-euo", "pipefail", "-c", script], cwd=self.tmp, env=self.env, capture_output=True, text=True, timeout=900)
        if check:
            assert done.returncode == 0, f"script failed ({done.returncode}):\n{script}\nstdout: {done.stdout}\nstderr: {done.stderr}"
        out = {}
        for line in done.stdout.splitlines():
            name, sep, value = line.partition("=")
            if sep and name.isupper():
                out[name] = value
        out["_done"] = done
        return out


def write_load(servers: list[WidServer], seconds: float, kill_every: float | None, restart) -> tuple[list, int]:
    """Writers PUT identities and credentials on replicas in turn while one replica at a time
    is SIGKILLed and restarted; returns what was acknowledged and how many kills there were."""
    rg = unique("rg-crash-")
    servers[0].cli("group", "create", "-n", rg, "-l", "eastus")
    token = servers[0].token()
    # Read once: a replica being restarted has no server.json for a moment.
    identities = servers[0].identity_path(rg, "")
    acknowledged, lock, stop = [], threading.Lock(), threading.Event()

    def writer(w):
        sessions = [s.session() for s in servers]
        n = 0
        while not stop.is_set():
            i = (w + n) % len(servers)
            server, session = servers[i], sessions[i]
            name = f"w{w}-id{n}"
            path = identities + name
            n += 1
            try:
                r = server.arm("PUT", f"{path}?api-version={MSI_API}", {"location": "eastus"}, token=token, session=session)
                if r.status_code not in (200, 201):
                    continue
                with lock:
                    acknowledged.append(("identity", path, r.json()["properties"]["clientId"]))
                subject = f"system:serviceaccount:ns:{name}"
                r = server.arm(
                    "PUT", f"{path}/federatedIdentityCredentials/fic?api-version={MSI_API}",
                    {"properties": {"issuer": "https://issuer.example/c/", "subject": subject, "audiences": ["api://AzureADTokenExchange"]}},
                    token=token, session=session,
                )
                if r.status_code in (200, 201):
                    with lock:
                        acknowledged.append(("credential", f"{path}/federatedIdentityCredentials/fic", subject))
            except requests.RequestException:
                sessions[i] = server.session()
                time.sleep(0.05)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(6)]
    for t in threads:
        t.start()
    kills = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(kill_every or seconds)
        if kill_every:
            victim = random.choice(servers)
            victim.kill9()
            kills += 1
            restart(victim)
    stop.set()
    for t in threads:
        t.join(timeout=60)
    return acknowledged, kills


def lost_writes(server: WidServer, acknowledged: list) -> list:
    token = server.token()
    lost = []
    for kind, path, expected in acknowledged:
        r = server.arm("GET", f"{path}?api-version={MSI_API}", token=token)
        got = r.json().get("properties", {}) if r.status_code == 200 else {}
        if got.get("clientId" if kind == "identity" else "subject") != expected:
            lost.append((kind, path, r.status_code))
    return lost
