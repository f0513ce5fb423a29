"""A script that starts wid and waits for its port before the next command (`wid up & until
the port answers; wid group create ...`) finds the server at once: `server.json` is written
before the listener answers TLS."""

import os
import socket
import ssl
import subprocess
import time

from widtest import free_port, unique, wid_bin


def tls_answers(port: int) -> bool:
    """Whether a TLS handshake on the port completes, as `curl -k` waiting for it would see."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as raw:
            with context.wrap_socket(raw, server_hostname="localhost"):
                return True
    except OSError:
        return False


def test_a_command_issued_the_moment_the_port_answers_finds_the_server(tmp_path):
    data_dir, port = tmp_path / "data", free_port()
    env = {**os.environ, "WID_DATA_DIR": str(data_dir)}
    with open(tmp_path / "wid.log", "wb") as log:
        server = subprocess.Popen([wid_bin(), "up", "--listen", f"127.0.0.1:{port}"], stdout=log, stderr=log, env=env)
        try:
            deadline = time.time() + 60
            while not tls_answers(port):
                assert server.poll() is None, (tmp_path / "wid.log").read_text()
                assert time.time() < deadline, "wid up never answered TLS"
            assert (data_dir / "server.json").exists(), "TLS answered before server.json was written"
            rg = unique("rg-startup-")
            done = subprocess.run([wid_bin(), "group", "create", "-n", rg, "-l", "eastus"], capture_output=True, text=True, env=env, timeout=60)
            assert done.returncode == 0, done.stderr
            assert f'"name": "{rg}"' in done.stdout
        finally:
            server.terminate()
            assert server.wait(timeout=30) == 0
