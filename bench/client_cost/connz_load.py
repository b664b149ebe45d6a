#!/usr/bin/env python3
"""What scraping /connz costs the event stream.

CONNECTIONS idle clients registered; SCRAPERS admin clients fetching /connz?limit=100000 in a
loop; then one client is sent EVENTS private messages and the time from the first byte sent to
the last line received is taken (median of ROUNDS), with and without the scrapers. Loopback
only; the daemon is stopped by its pid at the end.

usage: bench/client_cost/connz_load.py DAEMON [--connections 5000] [--scrapers 8]
           [--events 200000] [--rounds 3]
"""
import argparse
import re
import resource
import socket
import statistics
import threading
import time

from daemon_process import daemon_process, free_loopback_port


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("daemon")
    parser.add_argument("--connections", type=int, default=5000)
    parser.add_argument("--scrapers", type=int, default=8)
    parser.add_argument("--events", type=int, default=200000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))

    admin_port = free_loopback_port()
    config = {"eventListenerPort": 0, "clientListenerAddress": "127.0.0.1", "clientListenerPort": 0,
              "adminListenerAddress": "127.0.0.1", "adminListenerPort": admin_port, "dataDir": "",
              "maxClients": args.connections + 100}
    stop = threading.Event()
    idle = []
    with daemon_process(args.daemon, config) as daemon:
        ports = daemon.event_port, daemon.client_port
        for user in range(2, args.connections + 2):
            c = socket.create_connection(("127.0.0.1", ports[1]))
            c.sendall(b"%d\r\n" % user)
            idle.append(c)
        reader = socket.create_connection(("127.0.0.1", ports[1]))
        reader.sendall(b"1\r\n")
        time.sleep(1)
        source = socket.create_connection(("127.0.0.1", ports[0]))
        scrapes = [0]

        def scrape():
            request = b"GET /connz?limit=100000 HTTP/1.1\r\nHost: x\r\n\r\n"
            s = socket.create_connection(("127.0.0.1", admin_port))
            while not stop.is_set():
                s.sendall(request)
                head = b""
                while b"\r\n\r\n" not in head:
                    head += s.recv(65536)
                length = int(re.search(rb"Content-Length: (\d+)", head, re.I)[1])
                body = len(head) - head.index(b"\r\n\r\n") - 4
                while body < length:
                    body += len(s.recv(1 << 20))
                scrapes[0] += 1

        next_seq = [1]

        def one_round():
            first = next_seq[0]
            last = first + args.events - 1
            next_seq[0] = last + 1
            payload = b"".join(b"%d|P|7|1\r\n" % seq for seq in range(first, last + 1))
            want = payload.count(b"\n")
            started = time.monotonic()
            threading.Thread(target=source.sendall, args=(payload,), daemon=True).start()
            got = 0
            while got < want:
                got += reader.recv(1 << 20).count(b"\n")
            return time.monotonic() - started

        quiet = [one_round() for _ in range(args.rounds)]
        for _ in range(args.scrapers):
            threading.Thread(target=scrape, daemon=True).start()
        time.sleep(1)
        before = scrapes[0]
        started = time.monotonic()
        loaded = [one_round() for _ in range(args.rounds)]
        rate = (scrapes[0] - before) / (time.monotonic() - started)
        print(f"{args.connections + 1} connections, {args.events} events to one client: "
              f"median {statistics.median(quiet):.3f} s without scrapers {[round(x, 3) for x in quiet]}, "
              f"{statistics.median(loaded):.3f} s with {args.scrapers} scraping /connz?limit=100000 "
              f"{[round(x, 3) for x in loaded]} ({rate:.1f} scrapes/s)")
        stop.set()
        for c in idle:
            c.close()


if __name__ == "__main__":
    main()
