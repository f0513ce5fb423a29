import os
import subprocess
import uuid
from urllib.parse import urlparse, urlunparse

import pytest

from widtest import WidServer


@pytest.fixture(scope="session")
def wid(tmp_path_factory):
    """A wid shared by the tests that only add resources of their own."""
    server = WidServer(tmp_path_factory.mktemp("wid-shared") / "data").start()
    yield server
    assert server.stop() == 0, "wid up must exit cleanly on SIGTERM"


@pytest.fixture
def fresh_wid(tmp_path):
    """A wid of the test's own, for restarts and crashes."""
    servers = []

    def start(**kwargs):
        server = WidServer(tmp_path / f"data{len(servers)}", **kwargs)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        if server.proc is not None:
            server.kill9()


@pytest.fixture
def postgres_url():
    """A fresh database on the PostgreSQL that scripts/test started."""
    base = os.environ.get("WID_TEST_POSTGRES_URL")
    if not base:
        pytest.fail("WID_TEST_POSTGRES_URL is not set: run the suite with scripts/test, which starts PostgreSQL")
    name = f"wid_e2e_{uuid.uuid4().hex[:12]}"
    subprocess.run(["psql", base, "-q", "-c", f"CREATE DATABASE {name}"], check=True, capture_output=True)
    parsed = urlparse(base)
    yield urlunparse(parsed._replace(path=f"/{name}"))
