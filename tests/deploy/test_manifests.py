"""deploy/: the Kubernetes manifests, the systemd unit and the Containerfile agree with each other and with what the
binary does. The configs they carry pass `corsproxy validate`; each probe's path is asked of a running admin
listener; the unit passes `systemd-analyze verify`.
"""

from __future__ import annotations

import json
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import unittest
from pathlib import Path, PurePosixPath

import yaml

from support import DEPLOY, REPO, Proxy, corsproxy_bin, free_port, http_get, stop_seconds

KUBERNETES = DEPLOY / "kubernetes"
UNIT = DEPLOY / "systemd" / "corsproxy.service"
CONTAINERFILE = DEPLOY / "Containerfile"
CONTAINER_CONFIG = DEPLOY / "container" / "proxy.json"
# How long the curl loops may take to stop after the proxy's drain (Serve.swift: CurlLoop drainTimeout 5 s).
CURL_LOOP_STOP = 5
INSTALLED_BINARY = "/usr/local/bin/corsproxy"
INSTALLED_CONFIG = "/etc/corsproxy/proxy.json"


def validate(config_text: str) -> subprocess.CompletedProcess:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "proxy.json"
        path.write_text(config_text)
        return subprocess.run([str(corsproxy_bin()), "validate", "--config", str(path)],
                              capture_output=True, text=True, timeout=30)


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def host_of(listen: str) -> str:
    return listen.rsplit(":", 1)[0].strip("[]")


class KubernetesTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.documents = {}
        for path in sorted(KUBERNETES.glob("*.yaml")):
            for document in yaml.safe_load_all(path.read_text()):
                if document is not None:
                    cls.documents[(document["kind"], path.name)] = document
        cls.by_kind = {kind: document for (kind, _), document in cls.documents.items()}
        cls.deployment = cls.by_kind["Deployment"]
        cls.pod = cls.deployment["spec"]["template"]["spec"]
        cls.container = cls.pod["containers"][0]
        cls.config_text = cls.by_kind["ConfigMap"]["data"]["proxy.json"]
        cls.config = json.loads(cls.config_text)

    def test_every_file_parses_with_kind_and_name(self):
        for path in sorted(KUBERNETES.glob("*.yaml")):
            documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
            self.assertTrue(documents, f"{path.name}: no document")
            for document in documents:
                self.assertIn("apiVersion", document, path.name)
                self.assertIn("kind", document, path.name)
                if document["kind"] != "Kustomization":
                    self.assertTrue(document["metadata"]["name"], path.name)
        for kind in ("ConfigMap", "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler"):
            self.assertIn(kind, self.by_kind)

    def test_kustomization_lists_existing_files(self):
        resources = self.by_kind["Kustomization"]["resources"]
        for name in resources:
            self.assertTrue((KUBERNETES / name).is_file(), name)
        self.assertNotIn("hpa.yaml", resources, "the HPA is optional: applied on its own")

    def test_configmap_passes_validate(self):
        result = validate(self.config_text)
        print(f"\n  validate (ConfigMap proxy.json): {result.stdout.strip()}")
        self.assertEqual(result.returncode, 0, result.stderr)
        # The one expected warning: the admin listener is on 0.0.0.0 so that the kubelet can probe it.
        warnings = [line for line in result.stderr.splitlines() if "warning" in line]
        for line in warnings:
            print(f"  {line}")
        self.assertTrue(all("admin.listen" in line for line in warnings), warnings)

    def test_configmap_listens_beyond_loopback(self):
        # A pod is reached on its own IP: the Service for listen, the kubelet for admin.listen.
        self.assertEqual(host_of(self.config["listen"]), "0.0.0.0")
        self.assertEqual(host_of(self.config["admin"]["listen"]), "0.0.0.0")

    def named_port(self, port) -> int:
        if isinstance(port, int):
            return port
        numbers = [p["containerPort"] for p in self.container["ports"] if p.get("name") == port]
        self.assertEqual(len(numbers), 1, f"port {port!r} is not declared by the container")
        return numbers[0]

    def probes(self) -> dict:
        return {kind: self.container[kind] for kind in ("readinessProbe", "livenessProbe", "startupProbe")
                if kind in self.container}

    def test_probes_name_the_admin_port(self):
        admin_port = port_of(self.config["admin"]["listen"])
        self.assertIn("readinessProbe", self.probes())
        self.assertIn("livenessProbe", self.probes())
        for kind, probe in self.probes().items():
            self.assertEqual(self.named_port(probe["httpGet"]["port"]), admin_port,
                             f"{kind} does not probe admin.listen's port {admin_port}")
        declared = {p["containerPort"] for p in self.container["ports"]}
        self.assertIn(port_of(self.config["listen"]), declared)
        self.assertIn(admin_port, declared)

    def test_readiness_is_readyz_and_liveness_is_healthz(self):
        # Liveness on /readyz would restart every draining pod; readiness on /healthz would never take one out.
        self.assertEqual(self.container["readinessProbe"]["httpGet"]["path"], "/readyz")
        self.assertEqual(self.container["livenessProbe"]["httpGet"]["path"], "/healthz")

    def test_probe_paths_are_served_by_the_admin_listener(self):
        """Starts the ConfigMap's config (on loopback, free ports) and asks its admin listener each probe's path."""
        config = dict(self.config)
        config["listen"] = f"127.0.0.1:{free_port()}"
        config["admin"] = {"listen": f"127.0.0.1:{free_port()}"}
        with tempfile.TemporaryDirectory() as directory:
            path = Path(directory) / "proxy.json"
            path.write_text(json.dumps(config))
            proxy = Proxy(corsproxy_bin(), path, Path(directory) / "log").start()
            try:
                host, port = proxy.admin.rsplit(":", 1)
                for kind, probe in self.probes().items():
                    status, _, body = http_get(host, int(port), probe["httpGet"]["path"])
                    self.assertEqual(status, 200, f"{kind} {probe['httpGet']['path']}: {status} {body!r}")
                proxy.signal(signal.SIGTERM)
                self.assertEqual(proxy.wait(stop_seconds(config) + CURL_LOOP_STOP + 5), 0)
            finally:
                proxy.stop()

    def pre_stop_seconds(self) -> int:
        command = self.container.get("lifecycle", {}).get("preStop", {}).get("exec", {}).get("command", [])
        return int(command[1]) if command[:1] == ["sleep"] else 0

    def test_grace_period_exceeds_pre_stop_and_drain(self):
        grace = self.pod["terminationGracePeriodSeconds"]
        needed = self.pre_stop_seconds() + stop_seconds(self.config) + CURL_LOOP_STOP
        print(f"\n  terminationGracePeriodSeconds {grace} > preStop {self.pre_stop_seconds()} + drain "
              f"(with lame duck) {stop_seconds(self.config):g} + curl loops {CURL_LOOP_STOP}")
        self.assertGreater(grace, needed)

    def test_config_is_a_directory_mount_of_the_configmap(self):
        mounts = [m for m in self.container["volumeMounts"] if m["name"] == "config"]
        self.assertEqual(len(mounts), 1)
        mount = mounts[0]
        # subPath mounts never see ConfigMap updates; the file watch needs the ..data swap of a directory mount.
        self.assertNotIn("subPath", mount)
        self.assertNotIn("subPathExpr", mount)
        args = self.container["args"]
        config_path = PurePosixPath(args[args.index("--config") + 1])
        self.assertEqual(str(config_path), INSTALLED_CONFIG)
        self.assertEqual(PurePosixPath(mount["mountPath"]), config_path.parent)
        volume = next(v for v in self.pod["volumes"] if v["name"] == "config")
        self.assertEqual(volume["configMap"]["name"], self.by_kind["ConfigMap"]["metadata"]["name"])
        self.assertIn(config_path.name, self.by_kind["ConfigMap"]["data"])

    def test_security_context_and_resources(self):
        context = self.container["securityContext"]
        self.assertTrue(self.pod["securityContext"]["runAsNonRoot"])
        self.assertNotEqual(self.pod["securityContext"]["runAsUser"], 0)
        self.assertTrue(context["readOnlyRootFilesystem"])
        self.assertFalse(context["allowPrivilegeEscalation"])
        self.assertEqual(context["capabilities"]["drop"], ["ALL"])
        for kind in ("requests", "limits"):
            for resource in ("cpu", "memory"):
                self.assertIn(resource, self.container["resources"][kind], f"resources.{kind}.{resource}")
        self.assertEqual(str(self.pod["securityContext"]["runAsUser"]), ContainerfileTests.final_user())

    def test_service_exposes_the_proxy_port_only(self):
        service = self.by_kind["Service"]
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        for key, value in service["spec"]["selector"].items():
            self.assertEqual(labels.get(key), value)
        admin_port = port_of(self.config["admin"]["listen"])
        for port in service["spec"]["ports"]:
            target = self.named_port(port["targetPort"])
            self.assertEqual(target, port_of(self.config["listen"]))
            self.assertNotEqual(target, admin_port, "the admin listener must not be in the Service")

    def test_pdb_and_hpa_target_the_deployment(self):
        labels = self.deployment["spec"]["template"]["metadata"]["labels"]
        for key, value in self.by_kind["PodDisruptionBudget"]["spec"]["selector"]["matchLabels"].items():
            self.assertEqual(labels.get(key), value)
        target = self.by_kind["HorizontalPodAutoscaler"]["spec"]["scaleTargetRef"]
        self.assertEqual((target["kind"], target["name"]), ("Deployment", self.deployment["metadata"]["name"]))


def unit_directives() -> dict[str, list[str]]:
    directives: dict[str, list[str]] = {}
    for line in UNIT.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith(("#", ";", "[")):
            key, _, value = line.partition("=")
            directives.setdefault(key.strip(), []).append(value.strip())
    return directives


def seconds(value: str) -> float:
    units = {"": 1, "s": 1, "sec": 1, "min": 60, "m": 60, "ms": 0.001}
    total = 0.0
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)\s*([a-z]*)", value):
        total += float(number) * units[unit]
    return total


class SystemdTests(unittest.TestCase):
    def test_unit_passes_systemd_analyze_verify(self):
        """verify needs the ExecStart binary: a copy of the unit points at the built one. Any output fails too:
        verify exits 0 on an unknown or unparsable directive and only prints it."""
        binary = str(corsproxy_bin())
        with tempfile.TemporaryDirectory() as directory:
            copy = Path(directory) / "corsproxy.service"
            copy.write_text(UNIT.read_text().replace(INSTALLED_BINARY, binary))
            result = subprocess.run(["systemd-analyze", "verify", str(copy)], capture_output=True, text=True)
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertEqual((result.stdout + result.stderr).strip(), "")
            security = subprocess.run(["systemd-analyze", "security", "--offline=true", str(copy)],
                                      capture_output=True, text=True)
            exposure = re.search(r"Overall exposure level for \S+: ([\d.]+)", security.stdout)
            self.assertIsNotNone(exposure, security.stdout + security.stderr)
            print(f"\n  systemd-analyze security: exposure {exposure.group(1)} (0 best, 10 worst)")
            # 1.4 as shipped; running as root (no DynamicUser) reads 1.8, one capability back 1.7.
            self.assertLessEqual(float(exposure.group(1)), 1.5)

    def test_command_lines(self):
        directives = unit_directives()
        self.assertEqual(directives["ExecStart"], [f"{INSTALLED_BINARY} serve --config {INSTALLED_CONFIG}"])
        self.assertEqual(directives["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        # The options the unit passes are the binary's: serve --help lists --config, validate accepts it.
        help_text = subprocess.run([str(corsproxy_bin()), "serve", "--help"], capture_output=True, text=True).stdout
        self.assertIn("--config", help_text)
        for pre in directives.get("ExecStartPre", []):
            argv = shlex.split(pre.lstrip("-"))
            self.assertEqual(argv[0], INSTALLED_BINARY)
            argv[0] = str(corsproxy_bin())
            argv[argv.index("--config") + 1] = str(REPO / "proxy.json")
            self.assertEqual(subprocess.run(argv, capture_output=True).returncode, 0, pre)

    def test_stop_timeout_exceeds_drain(self):
        stop = seconds(unit_directives()["TimeoutStopSec"][-1])
        proxy_stop = stop_seconds(json.loads((REPO / "proxy.json").read_text()))
        print(f"\n  TimeoutStopSec {stop:g} s > lame duck + drain {proxy_stop:g} s (proxy.json) + curl loops {CURL_LOOP_STOP} s")
        self.assertGreater(stop, proxy_stop + CURL_LOOP_STOP)

    def test_sandboxing(self):
        directives = {key: values[-1] for key, values in unit_directives().items()}
        expected = {
            "DynamicUser": "yes", "NoNewPrivileges": "yes", "ProtectSystem": "strict", "ProtectHome": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes", "ProtectKernelLogs": "yes", "ProtectControlGroups": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes",
            "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes", "CapabilityBoundingSet": "",
            "Restart": "on-failure", "ConfigurationDirectory": "corsproxy",
        }
        for key, value in expected.items():
            self.assertEqual(directives.get(key), value, key)
        self.assertIn("@system-service", unit_directives()["SystemCallFilter"])


def containerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    instructions, pending = [], ""
    for line in CONTAINERFILE.read_text().splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        full = (pending + line).strip()
        pending = ""
        keyword, _, rest = full.partition(" ")
        instructions.append((keyword.upper(), rest.strip()))
    return instructions


def stages() -> list[list[tuple[str, str]]]:
    result: list[list[tuple[str, str]]] = []
    for instruction in containerfile_instructions():
        if instruction[0] == "FROM":
            result.append([])
        result[-1].append(instruction)
    return result


class ContainerfileTests(unittest.TestCase):
    @staticmethod
    def final_user() -> str:
        users = [rest for keyword, rest in stages()[-1] if keyword == "USER"]
        return users[-1].split(":")[0] if users else "root"

    def test_stages(self):
        all_stages = stages()
        self.assertGreaterEqual(len(all_stages), 2, "multi-stage: a builder and the final image")
        builder = all_stages[0]
        builder_from = builder[0][1].split()
        self.assertIn("swift:", builder_from[0])
        self.assertEqual([w.lower() for w in builder_from[1:]], ["as", "build"])
        runs = " ".join(rest for keyword, rest in builder if keyword == "RUN")
        self.assertIn("swift build -c release --static-swift-stdlib --product corsproxy", runs)
        final_from = all_stages[-1][0][1]
        self.assertRegex(final_from, r"debian:\w+-slim$")
        # One Debian release on both sides, so the libcurl linked against is the one found at run time.
        self.assertEqual(re.search(r"swift:[\d.]+-(\w+)", builder_from[0]).group(1),
                         re.search(r"debian:(\w+)-slim", final_from).group(1))

    def test_final_stage(self):
        final = stages()[-1]
        keywords = [keyword for keyword, _ in final]
        installs = " ".join(rest for keyword, rest in final if keyword == "RUN")
        for package in ("libcurl4", "ca-certificates"):
            self.assertRegex(installs, rf"\b{package}\b")
        user = self.final_user()
        self.assertTrue(user.isdigit() and user != "0", f"USER {user}: numeric and not root (runAsNonRoot)")
        self.assertLess(keywords.index("USER"), keywords.index("ENTRYPOINT"))
        self.assertIn("HEALTHCHECK", keywords)
        entrypoint = json.loads(dict(final)["ENTRYPOINT"])
        self.assertEqual(entrypoint, [INSTALLED_BINARY])
        command = json.loads(dict(final)["CMD"])
        self.assertEqual(command, ["serve", "--config", INSTALLED_CONFIG])
        copies = [rest.split() for keyword, rest in final if keyword == "COPY"]
        destinations = {words[-1] for words in copies}
        self.assertIn(INSTALLED_BINARY, destinations)
        self.assertIn(INSTALLED_CONFIG, destinations)
        for words in copies:
            if not any(word.startswith("--from") for word in words):
                for source in words[:-1]:
                    self.assertTrue((REPO / source).exists(), f"COPY {source}: not in the repository")

    def test_healthcheck_and_expose_match_the_image_config(self):
        final = dict(stages()[-1])
        config = json.loads(CONTAINER_CONFIG.read_text())
        health = final["HEALTHCHECK"]
        url = re.search(r"http://([\d.]+):(\d+)(/\S*?)\"", health)
        self.assertIsNotNone(url, health)
        self.assertEqual(url.group(3), "/healthz")
        self.assertEqual(f"{url.group(1)}:{url.group(2)}", config["admin"]["listen"])
        if '"curl"' in health:
            runs = " ".join(rest for keyword, rest in stages()[-1] if keyword == "RUN")
            self.assertRegex(runs, r"install[^&]*\bcurl\b", "the HEALTHCHECK runs curl: the image must install it")
        self.assertIn(str(port_of(config["listen"])), final["EXPOSE"].split())
        self.assertEqual(host_of(config["listen"]), "0.0.0.0")

    def test_image_config_passes_validate(self):
        result = validate(CONTAINER_CONFIG.read_text())
        print(f"\n  validate (deploy/container/proxy.json): {result.stdout.strip()}")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr.strip(), "", "the image's own config should draw no warning")

    def test_paths_agree_with_the_unit(self):
        directives = unit_directives()
        self.assertTrue(directives["ExecStart"][0].startswith(INSTALLED_BINARY + " "))
        self.assertIn(INSTALLED_CONFIG, directives["ExecStart"][0])

    def test_context_ignores_build_trees(self):
        ignored = (REPO / ".dockerignore").read_text().split()
        for entry in (".build", ".build-*", "dist"):
            self.assertIn(entry, ignored)


if __name__ == "__main__":
    unittest.main()
