#!/usr/bin/env python3
"""What stuck clients cost the kernel, and what is left of it once the daemon cuts them off.

N clients register with a 4 KiB receive buffer and never read, while E broadcasts flow. The
machine's TCP memory (/proc/net/sockstat, "TCP: ... mem" in pages) is sampled: its peak over
the run's baseline, per client; then, clientWriteTimeoutMs after the stream, how many sockets
are orphans (closed by the daemon, kept by the kernel) and how much TCP memory is still held,
while the clients still read nothing. Loopback only; every socket is closed and the daemon
stopped (by its pid) at the end.

usage: bench/client_cost/stuck_kernel.py DAEMON [--clients 200] [--events 600000]
           [--timeout-ms 2000] [--send-buffer BYTES] [--wait 20]   (send buffer omitted: the daemon's default)
"""
import argparse
import os
import re
import socket
import threading
import time

from daemon_process import daemon_process, free_loopback_port

PAGE = os.sysconf("SC_PAGE_SIZE")


def sockstat():
    text = open("/proc/net/sockstat").read()
    tcp = re.search(r"TCP: inuse (\d+) orphan (\d+) tw (\d+) alloc (\d+) mem (\d+)", text)
    return {"inuse": int(tcp[1]), "orphan": int(tcp[2]), "mem_bytes": int(tcp[5]) * PAGE}


def stuck_count(admin_port):
    with socket.create_connection(("127.0.0.1", admin_port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        text = b""
        while chunk := s.recv(65536):
            text += chunk
    m = re.search(rb'eventserver_client_disconnects_total\{reason="stuck"\} (\d+)', text)
    return int(m[1]) if m else -1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("daemon")
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--events", type=int, default=600000)
    parser.add_argument("--timeout-ms", type=int, default=2000)
    parser.add_argument("--send-buffer", type=int, default=None)
    parser.add_argument("--wait", type=float, default=20, help="seconds to wait for the cut-offs")
    args = parser.parse_args()

    admin_port = free_loopback_port()
    config = {"eventListenerPort": 0, "clientListenerAddress": "127.0.0.1", "clientListenerPort": 0,
              "adminListenerAddress": "127.0.0.1", "adminListenerPort": admin_port, "dataDir": "",
              "clientWriteTimeoutMs": args.timeout_ms}
    if args.send_buffer is not None:
        config["clientSendBufferBytes"] = args.send_buffer
    clients = []
    with daemon_process(args.daemon, config) as daemon:
        ports = daemon.event_port, daemon.client_port
        time.sleep(0.2)
        base = sockstat()
        for user in range(1, args.clients + 1):
            c = socket.socket()
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            c.connect(("127.0.0.1", ports[1]))
            c.sendall(b"%d\r\n" % user)
            clients.append(c)
        time.sleep(0.5)
        source = socket.create_connection(("127.0.0.1", ports[0]))
        peak = dict(base)
        done = threading.Event()

        def feed():
            chunk = 20000
            for first in range(1, args.events + 1, chunk):
                last = min(first + chunk, args.events + 1)
                source.sendall(b"".join(b"%d|B\r\n" % seq for seq in range(first, last)))
            done.set()

        def sample():
            while not sampling_done.is_set():
                now = sockstat()
                if now["mem_bytes"] > peak["mem_bytes"]:
                    peak.update(now)
                time.sleep(0.05)

        sampling_done = threading.Event()
        threading.Thread(target=sample, daemon=True).start()
        started = time.monotonic()
        threading.Thread(target=feed, daemon=True).start()
        done.wait()
        fed = time.monotonic() - started
        print(f"clients {args.clients}, events {args.events} fed in {fed:.2f} s, send buffer "
              f"{'default' if args.send_buffer is None else args.send_buffer}")
        if args.timeout_ms:
            # Until every client is cut off, or `--wait` seconds.
            deadline = time.monotonic() + args.wait
            cut = 0
            while time.monotonic() < deadline and cut < args.clients:
                time.sleep(0.5)
                cut = stuck_count(admin_port)
            time.sleep(1)
        else:
            time.sleep(args.wait)
        sampling_done.set()
        after = sockstat()
        per_client = (peak["mem_bytes"] - base["mem_bytes"]) / args.clients
        print(f"TCP memory: baseline {base['mem_bytes'] / 2**20:.1f} MiB, peak {peak['mem_bytes'] / 2**20:.1f} MiB "
              f"(+{per_client / 1024:.0f} KiB a client)")
        if args.timeout_ms:
            print(f"{time.monotonic() - started:.1f} s after the stream began, the clients still not reading: "
                  f"{cut} cut off as stuck (clientWriteTimeoutMs {args.timeout_ms}), orphans {after['orphan']}, "
                  f"TCP memory {after['mem_bytes'] / 2**20:.1f} MiB (+{(after['mem_bytes'] - base['mem_bytes']) / 2**20:.1f} MiB "
                  f"over the baseline)")
            reset = eof = 0
            for c in clients:
                c.settimeout(5)
                try:
                    while c.recv(65536):
                        pass
                    eof += 1
                except ConnectionResetError:
                    reset += 1
                except socket.timeout:
                    pass
            print(f"the clients, reading now: {reset} see a reset, {eof} an ordinary end")
        source.close()
        for c in clients:
            c.close()


if __name__ == "__main__":
    main()
