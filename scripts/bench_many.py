#!/usr/bin/env python3
"""Benchmark (b) of scripts/bench: a dataset of many files, phase by phase.

    bench_many.py BASE DEPOSITOR_TOKEN CURATOR_TOKEN FILES PER_FOLDER PUTS WORKDIR EMAIL PASSWORD

Creates a dataset by one zip upload (FILES tiny files, PER_FOLDER per folder), times
PUTS single-file API uploads into an empty draft and into the big one (the per-file
cost must not grow with the file count), waits for validation, times listing pages
(folders, pages, a filter), submits, approves and waits for the publication job
(printing its progress), downloads the version as a zip (checking every file is in
it) and prints the dataset id last (the shell runs the fixity audit on it).
"""
import http.client
import json
import os
import re
import sys
import time
import urllib.parse
import zipfile

base, token, curator, files, per_folder, puts, work = sys.argv[1:8]
# The depositor's e-mail and password: the draft's page is seen signed in.
email, password = sys.argv[8:10]
files, per_folder, puts = int(files), int(per_folder), int(puts)
host = urllib.parse.urlparse(base).netloc
conn = http.client.HTTPConnection(host, timeout=600)


def request(method, path, body=None, who=token, headers=None, ok=(200, 201, 202)):
    h = {"Authorization": "Bearer " + who}
    h.update(headers or {})
    conn.request(method, path, body=body, headers=h)
    r = conn.getresponse()
    data = r.read()
    if r.status not in ok:
        sys.exit(f"{method} {path}: {r.status} {data[:300]!r}")
    return r.status, data


def api(method, path, payload=None, who=token):
    body = None if payload is None else json.dumps(payload)
    _, data = request(method, path, body, who, {"Content-Type": "application/json"})
    return json.loads(data) if data else None


cookies = {}


def page(path):
    """GET a page as the signed-in depositor; returns the body."""
    conn.request("GET", path, headers={"Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    r = conn.getresponse()
    data = r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";")[0]
    if r.status != 200:
        sys.exit(f"GET {path}: {r.status} {data[:300]!r}")
    return data


def sign_in():
    html = page("/signin").decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    form = urllib.parse.urlencode({"csrf_token": csrf, "email": email, "password": password})
    conn.request("POST", "/signin", body=form, headers={
        "Content-Type": "application/x-www-form-urlencoded",
        "Cookie": "; ".join(f"{k}={v}" for k, v in cookies.items())})
    r = conn.getresponse()
    r.read()
    for k, v in r.getheaders():
        if k.lower() == "set-cookie":
            name, _, rest = v.partition("=")
            cookies[name] = rest.split(";")[0]
    if r.status not in (302, 303):
        sys.exit(f"sign-in failed: {r.status}")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def phase(label, seconds, extra=""):
    print(f"{label:34} {seconds:8.2f} s  {extra}", flush=True)


METADATA = {
    "titles": [{"title": "Many files"}], "creators": [{"name": "Bench"}],
    "descriptions": [{"description": "x", "descriptionType": "Abstract"}],
    "types": {"resourceTypeGeneral": "Dataset"}, "rightsList": [{"rightsIdentifier": "CC0-1.0"}],
}


def content(i):
    return f"file {i}\n".encode()


def path_of(i):
    return f"data/f{i // per_folder:05d}/file{i:06d}.txt"


# 1. One zip upload, unpacked into the draft.
zip_path = os.path.join(work, "many.zip")
t = time.perf_counter()
with zipfile.ZipFile(zip_path, "w", zipfile.ZIP_STORED) as z:
    for i in range(files):
        z.writestr(path_of(i), content(i))
phase("zip built (client side)", time.perf_counter() - t, f"{os.path.getsize(zip_path)} bytes")
big = api("POST", "/api/datasets", METADATA)["id"]
t = time.perf_counter()
with open(zip_path, "rb") as f:
    status, data = request("PUT", f"/api/datasets/{big}/files/many.zip?unpack=true", f.read())
unpacked = len(json.loads(data)["files"])
phase("zip upload + unpack", time.perf_counter() - t, f"{unpacked} files, {files / (time.perf_counter() - t):.0f} files/s")
if unpacked != files:
    sys.exit(f"the zip held {files} files, the draft got {unpacked}")
os.remove(zip_path)


# 2. Single PUTs, alternating between an empty draft and the big one (so a busy
# machine slows both alike): the per-file cost must not grow with the file count.
small = api("POST", "/api/datasets", METADATA)["id"]
if puts:
    empty, full = [], []
    for i in range(puts):
        for dataset, times in ((small, empty), (big, full)):
            t = time.perf_counter()
            request("PUT", f"/api/datasets/{dataset}/files/put/p{i:06d}.txt", content(i))
            times.append((time.perf_counter() - t) * 1000)
    print(f"{'API PUT into an empty draft':34} p50 {pct(empty, 50):7.2f} ms  p99 {pct(empty, 99):7.2f} ms  ({puts} PUTs each, one kept-alive connection)")
    print(f"{'API PUT into the ' + str(files) + '-file draft':34} p50 {pct(full, 50):7.2f} ms  p99 {pct(full, 99):7.2f} ms")
    print(f"{'ratio per-file cost full/empty':34} {pct(full, 50) / pct(empty, 50):8.2f}    (p50s; linear ingest: ~1; {files} PUTs at this rate: {sum(full) / puts * files / 1000:.0f} s)")
total = files + puts

# 3. Validation of the whole draft.
t = time.perf_counter()
while True:
    report = api("GET", f"/api/datasets/{big}/validation")
    if not report.get("checking"):
        break
    time.sleep(0.2)
phase("validation (after the last upload)", time.perf_counter() - t, f"{report['summary']['files']} files in the report")

# 4. Listing pages: folders, pages, a filter; the page's own server time is in its
# Server-Timing header when there is one, else the round trip is taken.
folders = files // per_folder
paths = ["", "?folder=data"]
for k in (0, folders // 2, max(folders - 1, 0)):
    paths += [f"?folder=data/f{k:05d}", f"?folder=data/f{k:05d}&page=2"]
paths += ["?folder=data&page=5", "?q=file000123", "?q=.txt&page=3", "?folder=data&q=f00001/"]
sign_in()
times = []
for rounds in range(5):
    for p in paths:
        t = time.perf_counter()
        page(f"/datasets/{big}{p}")
        if rounds:
            times.append((time.perf_counter() - t) * 1000)
print(f"{'listing pages (draft)':34} p50 {pct(times, 50):7.2f} ms  p99 {pct(times, 99):7.2f} ms  ({len(times)} requests over {len(paths)} pages; target < 50 ms)", flush=True)

# 5. Submit, approve, wait for the publication job (its progress as it goes).
t = time.perf_counter()
api("POST", f"/api/datasets/{big}/submit")
api("POST", f"/api/datasets/{big}/review", {"decision": "accept"}, who=curator)
last = None
while True:
    view = api("GET", f"/api/datasets/{big}?files=false", who=curator)
    if view["state"] == "published":
        break
    progress = view.get("publishing")
    shown = json.dumps(progress, sort_keys=True)
    if shown != last:
        print(f"  {time.perf_counter() - t:7.2f} s publishing: {shown}", flush=True)
        last = shown
    if progress and progress.get("state") == "failed":
        sys.exit("the publication job failed")
    time.sleep(0.25)
phase("publish (submit, approve, job)", time.perf_counter() - t, "(target < 60 s)")
times = []
for rounds in range(5):
    for p in paths:
        t = time.perf_counter()
        page(f"/datasets/{big}{p}")
        if rounds:
            times.append((time.perf_counter() - t) * 1000)
print(f"{'listing pages (published)':34} p50 {pct(times, 50):7.2f} ms  p99 {pct(times, 99):7.2f} ms  (target < 50 ms)")

# 6. The whole version as one streamed zip.
out = os.path.join(work, "download.zip")
t = time.perf_counter()
conn.request("GET", f"/datasets/{big}/versions/1/download?format=zip")
r = conn.getresponse()
if r.status != 200:
    sys.exit(f"zip download: {r.status}")
size = 0
with open(out, "wb") as f:
    while True:
        chunk = r.read(1 << 20)
        if not chunk:
            break
        size += len(chunk)
        f.write(chunk)
took = time.perf_counter() - t
with zipfile.ZipFile(out) as z:
    names = [n for n in z.namelist() if not n.endswith("/")]
    if len([n for n in names if n.endswith(".txt")]) < total:
        sys.exit(f"the zip holds {len(names)} entries, expected {total} files")
    probe = z.read(next(n for n in names if n.endswith(path_of(files - 1))))
    if probe != content(files - 1):
        sys.exit("a file in the zip has the wrong bytes")
os.remove(out)
phase("zip download", took, f"{size} bytes, {len(names)} entries, {size / 1e6 / took:.0f} MB/s")
print(big)
