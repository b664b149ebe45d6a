#!/usr/bin/env python3
"""Catch-up speed of a client far behind (used by bench/catchup/run.sh).

usage: catchup.py EVENT_PORT CLIENT_PORT ADMIN_PORT EVENTS RUNS [USERS]
Feeds EVENTS events (the harness's default mix over USERS users, default 1000; with MIX=stable
5000 follows, then 0.01% broadcasts, ~21% private messages, ~79% status updates; the last one a
broadcast) to a running daemon while no client is connected, waits until the daemon reports them
applied (`durable?`), then RUNS times: connects user 1 with `1|0` (resume after 0) and times,
from connect, the `resumed|` line, the final broadcast's line and the lines between. Prints one
line per run:
  run resumed=complete lines=.. first_ms=.. done_ms=.. rate_meps=.. live_ms=..
rate_meps = EVENTS / done_ms (millions of events of history scanned per second). FEED=0 in the
environment skips the feeding (the daemon already holds the stream). live_ms (only
with CONNZ=1 in the environment) is when /connz first shows the connection in mode "live",
polled every 5 ms: a poll costs the daemon's one thread a little, so those runs are apart.
"""
import json, os, random, socket, sys, threading, time, urllib.request

event_port, client_port, admin_port, events, runs = (int(a) for a in sys.argv[1:6])
users = int(sys.argv[6]) if len(sys.argv) > 6 else 1000
user = 1
connz = os.environ.get("CONNZ") == "1"
mix = os.environ.get("MIX", "default")
follows = 5000  # MIX=stable: the follows that make the graph, fewer than the daemon's ring of 8192 changes


def feed():
    rng = random.Random(666)
    lines = []
    for seq in range(1, events):
        draw = rng.random()
        a, b = rng.randint(1, users), rng.randint(1, users)
        if mix == "stable":  # the graph first, then no follow changes: 0.01% B, 25% P, 75% S
            draw = 0.1 if seq <= follows else (draw if draw < 0.0001 else 0.3001 + draw * 0.6999)
        if draw < 0.0001:
            lines.append(f"{seq}|B")
        elif draw < 0.1501:
            lines.append(f"{seq}|F|{a}|{b}")
        elif draw < 0.3001:
            lines.append(f"{seq}|U|{a}|{b}")
        elif draw < 0.4501:
            lines.append(f"{seq}|P|{a}|{b}")
        else:
            lines.append(f"{seq}|S|{a}")
    lines.append(f"{events}|B")
    s = socket.create_connection(("127.0.0.1", event_port))
    s.sendall(b"durable?\r\n" + ("\r\n".join(lines) + "\r\n").encode())
    buf = b""
    while True:  # durable|<epoch>|<seq> lines until seq reaches EVENTS
        chunk = s.recv(4096)
        if not chunk:
            sys.exit("catchup.py: the daemon closed the source connection")
        buf += chunk
        *done, buf = buf.split(b"\r\n")
        if any(int(l.split(b"|")[2]) >= events for l in done if l.startswith(b"durable|")):
            break
    s.close()


def poll_connz(start, stop, out):
    url = f"http://127.0.0.1:{admin_port}/connz?user={user}"
    while not stop.is_set():
        try:
            body = json.loads(urllib.request.urlopen(url, timeout=5).read())
            if any(c.get("mode") == "live" for c in body["connections"]):
                out.append(time.monotonic() - start)
                return
        except OSError:
            pass
        time.sleep(0.005)


def catch_up():
    final = f"{events}|B\r\n".encode()
    start = time.monotonic()
    c = socket.create_connection(("127.0.0.1", client_port), timeout=30)
    c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    live, stop = [], threading.Event()
    poller = threading.Thread(target=poll_connz, args=(start, stop, live), daemon=True) if connz else None
    c.sendall(f"{user}|0\r\n".encode())
    if poller:
        poller.start()
    buf, first, lines, status = b"", None, 0, "none"
    while True:
        chunk = c.recv(1 << 20)
        if not chunk:
            sys.exit("catchup.py: the daemon closed the client connection")
        buf += chunk
        *done, buf = buf.split(b"\r\n")
        for line in done:
            if line.startswith(b"resumed|"):
                first = time.monotonic() - start
                status = line.split(b"|")[3].decode()
                if status != "complete":  # the history does not reach back: live from here, no final line
                    print(f"run resumed={status} ({line.decode()}) first_ms={first * 1000:.1f}", flush=True)
                    stop.set()
                    c.close()
                    return
            else:
                lines += 1
        if done and done[-1] + b"\r\n" == final:
            break
    elapsed = time.monotonic() - start
    if poller:
        poller.join(timeout=5)
    stop.set()
    c.close()
    live_ms = f"{live[0] * 1000:.1f}" if live else "na"
    print(f"run resumed={status} lines={lines} first_ms={first * 1000:.1f} done_ms={elapsed * 1000:.1f} "
          f"rate_meps={events / elapsed / 1e6:.2f} live_ms={live_ms}", flush=True)


if os.environ.get("FEED", "1") == "1":
    t = time.monotonic()
    feed()
    print(f"fed {events} events in {time.monotonic() - t:.1f} s", flush=True)
for _ in range(runs):
    catch_up()
    time.sleep(0.2)
