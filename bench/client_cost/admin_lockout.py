#!/usr/bin/env python3
"""Can connections without the admin token keep the operator out?

The daemon's admin port on loopback with adminTokenFile. HOSTILE connections (half silent, half
sending a request with a wrong token every 3 s, reconnecting when closed), then the operator's
requests with the right token, one every 2.5 s for 25 s: how many succeed. Loopback only; the
daemon is stopped by its pid at the end.

usage: bench/client_cost/admin_lockout.py DAEMON [--hostile 32] [--seconds 25]
"""
import argparse
import os
import secrets
import socket
import tempfile
import threading
import time

from daemon_process import daemon_process, free_loopback_port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("daemon")
    parser.add_argument("--hostile", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=25)
    args = parser.parse_args()

    work = tempfile.mkdtemp(prefix="admin-lockout-")
    token = secrets.token_urlsafe(32)
    token_path = os.path.join(work, "admin.token")
    with open(token_path, "w") as f:
        f.write(token + "\n")
    os.chmod(token_path, 0o600)
    admin_port = free_loopback_port()
    config = {"eventListenerPort": 0, "clientListenerAddress": "127.0.0.1", "clientListenerPort": 0,
              "adminListenerAddress": "127.0.0.1", "adminListenerPort": admin_port, "adminTokenFile": token_path,
              "dataDir": ""}
    stop = threading.Event()
    with daemon_process(args.daemon, config):
        def silent():
            while not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", admin_port))
                    s.settimeout(1)
                    while not stop.is_set():
                        try:
                            if not s.recv(4096):
                                break
                        except socket.timeout:
                            continue
                    s.close()
                except OSError:
                    time.sleep(0.1)

        def guessing():
            request = b"GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer wrong\r\n\r\n"
            while not stop.is_set():
                try:
                    s = socket.create_connection(("127.0.0.1", admin_port))
                    s.settimeout(3)
                    while not stop.is_set():
                        s.sendall(request)
                        try:
                            if not s.recv(65536):
                                break
                        except socket.timeout:
                            pass
                        stop.wait(3)
                    s.close()
                except OSError:
                    time.sleep(0.1)

        for i in range(args.hostile):
            threading.Thread(target=silent if i % 2 == 0 else guessing, daemon=True).start()
        time.sleep(1)
        ok = tried = 0
        end = time.monotonic() + args.seconds
        while time.monotonic() < end:
            tried += 1
            try:
                s = socket.create_connection(("127.0.0.1", admin_port), timeout=5)
                s.sendall(("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: Bearer %s\r\n\r\n"
                           % token).encode())
                answer = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    answer += chunk
                s.close()
                ok += answer.startswith(b"HTTP/1.1 200")
            except OSError:
                pass
            time.sleep(args.seconds / 10)
        print(f"{args.hostile} hostile connections (half silent, half guessing every 3 s): "
              f"the operator's requests succeeded {ok} of {tried} over {args.seconds:.0f} s")
        stop.set()


if __name__ == "__main__":
    main()
