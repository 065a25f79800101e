"""The tarball of `make dist`: its checksum holds; unpacked in an empty directory it has what deploying needs; the
binary needs no Swift library (ldd); `./corsproxy validate` passes and `./corsproxy serve` answers a preflight,
then exits 0 on SIGTERM.

Skipped without a tarball (CORSPROXY_DIST, else the newest dist/corsproxy-*.tar.gz), unless CORSPROXY_REQUIRE_DIST=1
(make deploy-test runs `make dist` first and sets it).
"""

from __future__ import annotations

import hashlib
import os
import re
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path

from support import REPO, Proxy, http_get

ORIGIN = "http://localhost:3000"  # in the shipped proxy.json's allowedOrigins


def tarball() -> Path | None:
    named = os.environ.get("CORSPROXY_DIST")
    if named:
        path = Path(named) if Path(named).is_absolute() else REPO / named
        return path if path.is_file() else None
    found = sorted((REPO / "dist").glob("corsproxy-*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return found[-1] if found else None


class DistTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tarball = tarball()
        if cls.tarball is None:
            if os.environ.get("CORSPROXY_REQUIRE_DIST") == "1":
                raise AssertionError(f"no tarball at {os.environ.get('CORSPROXY_DIST', 'dist/')}: run `make dist`")
            raise unittest.SkipTest("no dist/corsproxy-*.tar.gz: run `make dist` (make deploy-test does)")
        cls.work = tempfile.TemporaryDirectory(prefix="corsproxy-dist-")
        cls.name = cls.tarball.name.removesuffix(".tar.gz")
        # As a user would (and Debian 12's Python 3.11.2 has no tarfile extraction filter).
        subprocess.run(["tar", "xzf", str(cls.tarball), "-C", cls.work.name], check=True)
        cls.root = Path(cls.work.name) / cls.name

    @classmethod
    def tearDownClass(cls):
        cls.work.cleanup()

    def test_name(self):
        self.assertRegex(self.name, r"^corsproxy-[\w.+-]+-linux-(x86_64|aarch64)$")

    def test_checksum(self):
        line = Path(str(self.tarball) + ".sha256").read_text().split()
        self.assertEqual(line[1], self.tarball.name)
        self.assertEqual(line[0], hashlib.sha256(self.tarball.read_bytes()).hexdigest())

    def test_contents(self):
        for relative in ("corsproxy", "proxy.json", "proxy.schema.json", "README.md", "deploy/Containerfile",
                         "deploy/container/proxy.json", "deploy/systemd/corsproxy.service",
                         "deploy/kubernetes/deployment.yaml", "deploy/kubernetes/configmap.yaml"):
            self.assertTrue((self.root / relative).is_file(), relative)
        self.assertTrue(os.access(self.root / "corsproxy", os.X_OK))
        self.assertEqual(sorted(p.name for p in Path(self.work.name).iterdir()), [self.name],
                         "one top-level directory, named after the tarball")

    def test_no_swift_libraries_needed(self):
        ldd = subprocess.run(["ldd", str(self.root / "corsproxy")], capture_output=True, text=True, check=True).stdout
        libraries = sorted({line.split()[0] for line in ldd.splitlines() if line.strip()})
        # What the binary itself names (ldd adds libcurl's own dependencies).
        dynamic = subprocess.run(["readelf", "-d", str(self.root / "corsproxy")], capture_output=True, text=True)
        needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^]]+)\]", dynamic.stdout)
        print(f"\n  corsproxy needs: {' '.join(needed) or '(readelf missing)'}; ldd resolves {len(libraries)} libraries, "
              "none of them Swift's")
        swift = [name for name in libraries if re.search(r"swift|Foundation|dispatch|BlocksRuntime", name)]
        self.assertEqual(swift, [], "the Swift runtime must be linked in (--static-swift-stdlib)")
        self.assertTrue(any(name.startswith("libcurl") for name in libraries))
        self.assertNotIn("not found", ldd)

    def test_validate_and_serve_from_the_unpacked_directory(self):
        validate = subprocess.run(["./corsproxy", "validate"], cwd=self.root, capture_output=True, text=True)
        self.assertEqual(validate.returncode, 0, validate.stderr)
        self.assertTrue(validate.stdout.startswith("proxy.json: ok"), validate.stdout)
        proxy = Proxy(self.root / "corsproxy", Path("proxy.json"), self.root / "serve.log", cwd=self.root,
                      args=("--listen", "127.0.0.1:0"))
        proxy.start()
        try:
            host, port = proxy.address.rsplit(":", 1)
            # A preflight is answered by the proxy itself: no upstream (and no network) needed.
            status, headers, _ = http_get(host, int(port), "/rest/v1.0/projects", method="OPTIONS", headers={
                "Origin": ORIGIN, "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization", "Host": "127.0.0.1"})
            self.assertEqual(status, 204)
            self.assertEqual(headers.get("access-control-allow-origin"), ORIGIN)
            proxy.signal(signal.SIGTERM)
            self.assertEqual(proxy.wait(30), 0)
        finally:
            proxy.stop()


if __name__ == "__main__":
    unittest.main()
