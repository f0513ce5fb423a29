"""State survives restarts, and every write wid acknowledged survives `kill -9`."""

import sqlite3

import pytest

from widtest import MSI_API, RG_API, lost_writes, unique, write_load


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


def test_acknowledged_writes_survive_repeated_kill_9_on_sqlite(fresh_wid):
    wid = fresh_wid()
    acknowledged, kills = write_load([wid], seconds=12, kill_every=3, restart=lambda s: s.start())
    lost = lost_writes(wid, acknowledged)
    print(f"SQLite crash test: {len(acknowledged)} acknowledged writes, {kills} SIGKILLs, {len(lost)} lost")
    assert kills >= 3 and len(acknowledged) > 50
    assert lost == [], f"{len(lost)} of {len(acknowledged)} acknowledged writes lost: {lost[:5]}"
    wid.stop()
    with sqlite3.connect(wid.data_dir / "wid.db") as db:
        assert db.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []


def test_acknowledged_writes_survive_kill_9_on_postgres(fresh_wid, postgres_url):
    wid = fresh_wid(extra_args=["--database-url", postgres_url])
    acknowledged, kills = write_load([wid], seconds=6, kill_every=3, restart=lambda s: s.start())
    lost = lost_writes(wid, acknowledged)
    print(f"PostgreSQL crash test: {len(acknowledged)} acknowledged writes, {kills} SIGKILLs, {len(lost)} lost")
    assert kills >= 2 and len(acknowledged) > 20
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


def test_shutdown_drains_a_request_in_flight(fresh_wid):
    """SIGTERM while a request's body is still arriving: wid stops accepting, finishes that
    request, answers it, and only then exits 0."""
    import json
    import signal
    import socket
    import ssl
    import time

    wid = fresh_wid()
    token, rg = wid.token(), unique("rg-drain-")
    body = json.dumps({"location": "eastus"}).encode()
    head = (
        f"PUT /subscriptions/{wid.subscription}/resourcegroups/{rg}?api-version={RG_API} HTTP/1.1\r\n"
        f"Host: localhost:{wid.port}\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    tls = ssl.create_default_context(cafile=wid.ca)
    with socket.create_connection(("127.0.0.1", wid.port)) as raw, tls.wrap_socket(raw, server_hostname="localhost") as conn:
        conn.sendall(head + body[:5])
        time.sleep(0.3)
        wid.proc.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        assert wid.proc.poll() is None, "wid exited with a request in flight"
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", wid.port), timeout=1).close()
        conn.sendall(body[5:])
        answer = conn.recv(65536)
    assert answer.startswith(b"HTTP/1.1 201"), answer[:200]
    assert wid.proc.wait(timeout=30) == 0
    wid.proc = None
    wid.log.close()
    wid.start()
    assert wid.arm("GET", f"/subscriptions/{wid.subscription}/resourcegroups/{rg}?api-version={RG_API}").status_code == 200


def test_a_backup_is_private_even_where_an_earlier_attempt_left_a_readable_partial_file(fresh_wid, tmp_path):
    """Backups hold sealed keys and hashed secrets (issue 13, finding 5): 0600, also when a
    crashed backup left its `.partial` file readable by others."""
    wid = fresh_wid()
    wid.cli("group", "create", "-n", unique("rg-backup-"), "-l", "eastus")
    backup = tmp_path / "wid.backup"
    partial = tmp_path / "wid.partial"
    partial.write_text("left by a crash")
    partial.chmod(0o644)
    wid.cli("admin", "backup", "--file", str(backup))
    assert backup.stat().st_mode & 0o777 == 0o600
    assert not partial.exists()
