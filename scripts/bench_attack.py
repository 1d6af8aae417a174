"""The slow-reader and stalled-upload attacks of issue 15, against a running server.

    bench_attack.py BASE TOKEN DATASET_ID DRAFT_ID EMAIL PASSWORD SERVER_PID CONNECTIONS SECONDS

Opens CONNECTIONS connections (bounded to 1,200): half ask for the published dataset's
zip and never read (a 4 KiB receive buffer), half are API PUTs into the draft with
Content-Length: 1000000 that send 10 bytes and stop; all from 127.0.0.1. For SECONDS (bounded to 60) it probes
/healthz and a signed-in page (the depositor's dataset page, session cookie) one after
the other, and samples the server's RSS. Then every client closes and RSS is read again
after a few seconds. Prints latencies (p50/p99/max, and probes that failed or took over
10 s), what the attackers were answered, and RSS before/peak/after.
"""

import asyncio
import http.client
import re
import socket
import sys
import time
import urllib.parse

base, token, dataset, draft, email, password, pid = sys.argv[1:8]
connections = min(int(sys.argv[8]), 1200)
seconds = min(float(sys.argv[9]), 60.0)
host, port = urllib.parse.urlparse(base).hostname, urllib.parse.urlparse(base).port


def rss_mb():
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def sign_in():
    """A session cookie for the depositor, through the sign-in form."""
    cookies = {}

    def keep(r):
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                cookies[name] = rest.split(";")[0]

    conn = http.client.HTTPConnection(host, port, timeout=30)
    conn.request("GET", "/signin")
    r = conn.getresponse()
    html = r.read().decode()
    keep(r)
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"csrf_token": csrf, "email": email, "password": password})
    conn.request("POST", "/signin", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    r = conn.getresponse()
    r.read()
    keep(r)
    if r.status not in (302, 303):
        sys.exit(f"sign-in failed: {r.status}")
    return "; ".join(f"{k}={v}" for k, v in cookies.items())


async def probe(path, headers, timeout=10.0):
    """Seconds until the whole answer arrived; None if it failed or took over `timeout`."""
    t0 = time.monotonic()
    try:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(host, port), timeout)
        head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        writer.write(head.encode())
        data = await asyncio.wait_for(reader.read(), timeout - (time.monotonic() - t0))
        writer.close()
        if not data.startswith(b"HTTP/1.1 200"):
            return None
        return time.monotonic() - t0
    except (OSError, asyncio.TimeoutError):
        return None


async def attacker(kind, answers, stop):
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    try:
        await asyncio.get_running_loop().sock_connect(sock, (host, port))
        reader, writer = await asyncio.open_connection(sock=sock)
        if kind == "zip":
            writer.write(f"GET /datasets/{dataset}/versions/1/download?format=zip HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        else:
            writer.write(
                f"PUT /api/datasets/{draft}/files/stalled-{id(sock)}.bin HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Bearer {token}\r\nContent-Length: 1000000\r\n\r\n0123456789".encode())
        # Read only the status line (a reader that stops there), then nothing more.
        try:
            line = await asyncio.wait_for(reader.readline(), seconds + 5)
            status = line.split(b" ")[1].decode() if line else "closed"
        except asyncio.TimeoutError:
            status = "no answer"
        answers[(kind, status)] = answers.get((kind, status), 0) + 1
        await stop.wait()
        writer.close()
    except OSError as e:
        answers[(kind, type(e).__name__)] = answers.get((kind, type(e).__name__), 0) + 1
    finally:
        sock.close()


def summary(label, xs, failed):
    xs = sorted(xs)
    if not xs:
        print(f"{label:28} no answer at all ({failed} failed)")
        return
    pick = lambda p: xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))] * 1000
    print(f"{label:28} p50 {pick(50):7.1f} ms  p99 {pick(99):7.1f} ms  max {xs[-1] * 1000:7.1f} ms"
          f"  ({len(xs)} answered, {failed} failed or over 10 s)")


async def probes_for(duration, cookie, rss_peak):
    health, page, failed = [], [], {"health": 0, "page": 0}
    end = time.monotonic() + duration
    while time.monotonic() < end:
        t = await probe("/healthz", {})
        (health.append(t) if t is not None else failed.__setitem__("health", failed["health"] + 1))
        t = await probe(f"/datasets/{dataset}", {"Cookie": cookie})
        (page.append(t) if t is not None else failed.__setitem__("page", failed["page"] + 1))
        rss_peak[0] = max(rss_peak[0], rss_mb())
        await asyncio.sleep(0.05)
    return health, page, failed


async def main():
    cookie = sign_in()
    rss_before = rss_mb()
    peak = [rss_before]
    h0, p0, f0 = await probes_for(3, cookie, peak)
    print(f"-- quiet server ({len(h0)} probes each)")
    summary("/healthz", h0, f0["health"])
    summary("signed-in dataset page", p0, f0["page"])
    answers, stop = {}, asyncio.Event()
    t0 = time.monotonic()
    tasks = [asyncio.create_task(attacker("zip" if i % 2 == 0 else "put", answers, stop))
             for i in range(connections)]
    h1, p1, f1 = await probes_for(seconds, cookie, peak)
    stop.set()
    await asyncio.gather(*tasks)
    print(f"-- under attack: {connections} connections (half unread zips, half stalled PUTs) for {time.monotonic() - t0:.0f} s")
    summary("/healthz", h1, f1["health"])
    summary("signed-in dataset page", p1, f1["page"])
    print("attackers were answered:", ", ".join(f"{k} {s}: {n}" for (k, s), n in sorted(answers.items())))
    await asyncio.sleep(5)
    rss_after = rss_mb()
    print(f"server RSS: before {rss_before:.0f} MB, peak {peak[0]:.0f} MB, after the clients left {rss_after:.0f} MB"
          f" (after - before: {rss_after - rss_before:+.0f} MB; target within 50 MB)")
    print("targets: /healthz within 1 s and a signed-in page within 2 s throughout")


asyncio.run(main())
