#!/usr/bin/env python3
"""The bench's JSON fixtures, written under DIR: www/projects.json (the ~4 KB page of the GET scenario),
www/created.json (the POST sink's answer) and body16k.json (the POST body). Used by bench/run and bench/floor.

Usage: bench/fixtures.py DIR   (DIR/www must exist)
"""
import json, sys
work = sys.argv[1]
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
open(f"{work}/www/projects.json", "w").write(text)
open(f"{work}/www/created.json", "w").write('{"id":91735,"number":"42","status":"draft"}')
# 16 KiB of JSON, exactly.
head = '{"rfi":{"subject":"Clarify slab-edge embed spacing at grid C/4","question":{"body":"'
tail = '"},"assignee_ids":[17,23],"due_date":"2026-12-15"}}'
body = head + "x" * (16384 - len(head) - len(tail)) + tail
assert len(body) == 16384
open(f"{work}/body16k.json", "w").write(body)
