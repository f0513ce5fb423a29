"""A `wid up` under a low file descriptor limit (`ulimit -n 256`) keeps answering health
checks and new clients while one client holds many more idle connections than it has
descriptors for: idle TLS connections that never send a request, and idle HTTP/2 ones."""

import resource
import socket
import ssl
import time

# Connections the client holds, against 256 descriptors for the whole server.
HELD = 600
# The server keeps this many descriptors out of its connection cap (wid-server's FD_RESERVE).
RESERVE = 128
NOFILE = 256
# What a health check on a fresh connection may take on a loaded machine.
PROMPT = 5

# An HTTP/2 client's first bytes: the connection preface and an empty SETTINGS frame.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + b"\x00\x00\x00\x04\x00\x00\x00\x00\x00"


def is_open(conn: ssl.SSLSocket) -> bool:
    conn.setblocking(False)
    try:
        while True:
            if not conn.recv(65536):
                return False
    except (ssl.SSLWantReadError, BlockingIOError):
        return True
    except OSError:
        return False


def healthy(wid) -> float:
    started = time.monotonic()
    r = wid.session().get(f"{wid.url}/healthz", timeout=PROMPT)
    assert r.status_code == 200, r.text
    return time.monotonic() - started


def test_a_server_under_a_low_descriptor_limit_keeps_answering_while_a_client_holds_idle_connections(fresh_wid):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 2 * HELD:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4 * HELD), hard))
    # Timeouts far longer than the test: only the connection cap can make room.
    wid = fresh_wid(nofile=NOFILE, extra_args=["--first-request-timeout", "10m", "--idle-timeout", "10m"])
    # The log is written out by a thread of its own, up to 20 ms after the line: wait for it.
    deadline = time.monotonic() + 5
    while "lowers the connection cap" not in wid.read_log():
        assert time.monotonic() < deadline, wid.read_log()
        time.sleep(0.05)
    tls = ssl.create_default_context(cafile=wid.ca)
    tls.set_alpn_protocols(["h2", "http/1.1"])
    held, slowest = [], 0.0
    for i in range(HELD):
        conn = tls.wrap_socket(socket.create_connection(("127.0.0.1", wid.port), timeout=PROMPT), server_hostname="localhost")
        if i % 2:
            assert conn.selected_alpn_protocol() == "h2"
            conn.sendall(H2_PREFACE)
        held.append(conn)
        if i % 25 == 0:
            slowest = max(slowest, healthy(wid))
    for _ in range(20):
        slowest = max(slowest, healthy(wid))
    still_open = sum(is_open(c) for c in held)
    print(f"{HELD} idle connections under RLIMIT_NOFILE={NOFILE}: {still_open} still open; slowest health check {slowest:.3f} s")
    assert still_open <= NOFILE - RESERVE
    assert all(is_open(c) for c in held[-20:]), "the newest idle connections are kept, the oldest closed"
    for c in held:
        c.close()
    assert wid.stop() == 0
