"""HAProxy terminates TLS in front of one corsproxy instance, as the README's "Behind a balancer that terminates
TLS" shows: through it, a redirect the proxy rewrites reads https:// and the upstream is told https; straight to
the instance over plain HTTP, the same redirect reads http://. Needs haproxy and openssl (make deploy-deps).
"""

from __future__ import annotations

import http.client
import json
import shutil
import ssl
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from support import REPO, Proxy, Upstream, corsproxy_bin, free_port, http_get
from test_rolling_restart import directives

ORIGIN = "http://localhost:3000"

HAPROXY_CONFIG = """\
global
    maxconn 256

defaults
    mode http
    timeout connect 1s
    timeout client 10s
    timeout server 10s

frontend gateway
    bind 127.0.0.1:{tls} ssl crt {pem}
    http-request set-header X-Forwarded-Proto https if {{ ssl_fc }}
    option forwardfor
    default_backend corsproxy

backend corsproxy
    server a 127.0.0.1:{proxy}
"""


def readme_block() -> str:
    """The HAProxy config under the README's heading for TLS termination."""
    section = (REPO / "README.md").read_text().split("### Behind a balancer that terminates TLS\n", 1)[1]
    return section.split("```haproxy\n", 1)[1].split("```", 1)[0]


class TLSTerminationTests(unittest.TestCase):
    def test_readme_shows_the_tested_haproxy_config(self):
        """Every line of the README's frontend, its bind address aside, is in the one tested here."""
        tested = set(directives(HAPROXY_CONFIG.format(tls=443, proxy=8787, pem="cors-gw.pem")))
        for line in directives(readme_block()):
            if not line.startswith("bind "):
                self.assertIn(line, tested)

    def test_redirects_through_a_tls_terminating_haproxy_read_https(self):
        haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
        with tempfile.TemporaryDirectory(prefix="corsproxy-tls-termination-") as work, Upstream() as upstream:
            work = Path(work)
            subprocess.run(
                ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                 "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", str(work / "key.pem"), "-out", str(work / "cert.pem")],
                check=True, capture_output=True,
            )
            (work / "haproxy.pem").write_text((work / "cert.pem").read_text() + (work / "key.pem").read_text())
            ports = {"tls": free_port(), "proxy": free_port()}
            config = {
                "listen": f"127.0.0.1:{ports['proxy']}",
                "trustedProxies": ["127.0.0.1/32"],
                "routes": [{"prefix": "/", "upstream": f"http://127.0.0.1:{upstream.port}"}],
                "cors": {"allowedOrigins": [ORIGIN]},
            }
            (work / "proxy.json").write_text(json.dumps(config))
            (work / "haproxy.cfg").write_text(HAPROXY_CONFIG.format(pem=work / "haproxy.pem", **ports))
            check = subprocess.run([haproxy, "-c", "-f", str(work / "haproxy.cfg")], capture_output=True, text=True)
            self.assertEqual(check.returncode, 0, check.stdout + check.stderr)
            proxy = Proxy(corsproxy_bin(), work / "proxy.json", work / "proxy.log").start()
            balancer = subprocess.Popen([haproxy, "-db", "-f", str(work / "haproxy.cfg")],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                context = ssl.create_default_context(cafile=str(work / "cert.pem"))

                def through_haproxy(path: str) -> tuple[int, dict, bytes]:
                    for _ in range(50):  # until HAProxy listens
                        connection = http.client.HTTPSConnection("127.0.0.1", ports["tls"], context=context,
                                                                 timeout=5)
                        try:
                            connection.request("GET", path, headers={"Origin": ORIGIN})
                            response = connection.getresponse()
                            return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
                        except ConnectionRefusedError:
                            time.sleep(0.1)
                        finally:
                            connection.close()
                    self.fail("HAProxy never listened")

                status, headers, _ = through_haproxy("/redirect")
                self.assertEqual(status, 302)
                self.assertEqual(headers["location"], f"https://127.0.0.1:{ports['tls']}/after")
                self.assertEqual(headers["access-control-allow-origin"], ORIGIN)
                seen = json.loads(through_haproxy("/forwarding")[2])
                self.assertEqual(seen.get("x-forwarded-proto"), "https", seen)
                self.assertEqual(seen.get("x-forwarded-for"), "127.0.0.1, 127.0.0.1", seen)

                status, headers, _ = http_get("127.0.0.1", ports["proxy"], "/redirect", {"Origin": ORIGIN})
                self.assertEqual(status, 302)
                self.assertEqual(headers["location"], f"http://127.0.0.1:{ports['proxy']}/after",
                                 "plain HTTP to the instance, no balancer: the proxy's own scheme")
            finally:
                balancer.terminate()
                balancer.wait(10)
                proxy.stop()


if __name__ == "__main__":
    unittest.main()
