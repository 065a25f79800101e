"""The benchmarks' fixtures, written into a work directory (bench/run, bench/instructions).

    python3 bench/fixtures.py DIR

DIR/www/projects.json   a page of a Procore-like project list (~4 KB), the GET body
DIR/www/created.json    the POST sink's small 201 body
DIR/www/files/1m.bin    1 MiB of pseudo-random bytes (fixed seed), bench/instructions' download
DIR/body16k.json        exactly 16 KiB of JSON, the POST body

bench/run adds its 50 MB files itself (from /dev/urandom, with head -c).
"""

import json
import os
import random
import sys

PROJECTS_PATH = "www/projects.json"
CREATED_PATH = "www/created.json"
DOWNLOAD_PATH = "www/files/1m.bin"
POST_BODY_PATH = "body16k.json"


def write(work):
    os.makedirs(f"{work}/www/files", exist_ok=True)
    statuses = ["Active", "Bidding", "Course of Construction", "Pre-Construction", "Warranty"]
    projects = []
    for i in range(8):
        projects.append({
            "id": 2783150 + i, "name": f"Riverside Medical Office Building Phase {i + 1}", "display_name": f"RMOB-{i + 1:02d}",
            "project_number": f"2026-{i + 11:03d}", "address": f"{120 + i} Harbor Blvd", "city": "Carpinteria",
            "state_code": "CA", "country_code": "US", "zip": "93013", "latitude": 34.3989 + i / 1000,
            "longitude": -119.5185, "stage": statuses[i % 5], "phone": "(805) 555-01%02d" % i, "active": True,
            "created_at": "2026-03-0%dT16:21:44Z" % (i + 1), "updated_at": "2026-11-2%dT08:05:13Z" % i,
            "company": {"id": 8, "name": "Procore Sandbox Builders"}, "origin_id": None,
        })
    text = json.dumps(projects, separators=(",", ":"))
    open(f"{work}/{PROJECTS_PATH}", "w").write(text)
    open(f"{work}/{CREATED_PATH}", "w").write('{"id":91735,"number":"42","status":"draft"}')
    # 16 KiB of JSON, exactly.
    head = '{"rfi":{"subject":"Clarify slab-edge embed spacing at grid C/4","question":{"body":"'
    tail = '"},"assignee_ids":[17,23],"due_date":"2026-12-15"}}'
    body = head + "x" * (16384 - len(head) - len(tail)) + tail
    assert len(body) == 16384
    open(f"{work}/{POST_BODY_PATH}", "w").write(body)
    open(f"{work}/{DOWNLOAD_PATH}", "wb").write(random.Random(1).randbytes(1024 * 1024))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python3 bench/fixtures.py DIR")
    write(sys.argv[1])
