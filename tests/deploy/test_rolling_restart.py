"""A rolling restart of two instances behind HAProxy loses no request (rolling_restart.py does the work).

CORSPROXY_ROLLING_HAPROXY=no-retries (or no-retry-on) runs the first test behind an HAProxy without the retry
settings, which fails: requests reach an instance between its SIGTERM and the check that takes it out, or go out on
a kept-alive connection it closes at SIGTERM. The second test is that HAProxy, and the instances' timeouts.lameDuck
bridges the gap instead.
"""

from __future__ import annotations

import json
import os
import unittest

import rolling_restart
from support import REPO


def directives(text: str) -> list[str]:
    return [" ".join(line.split("#", 1)[0].split()) for line in text.splitlines() if line.split("#", 1)[0].strip()]


class RollingRestartTests(unittest.TestCase):
    def test_readme_shows_the_tested_haproxy_config(self):
        """Every line of the README's HAProxy config, its server addresses aside, is in the one tested here."""
        readme = (REPO / "README.md").read_text()
        block = readme.split("```haproxy\n", 1)[1].split("```", 1)[0]
        tested = set(directives(rolling_restart.HAPROXY_CONFIG))
        for line in directives(block):
            if not line.startswith("server "):
                self.assertIn(line, tested)

    def test_rolling_restart_under_load_fails_nothing(self):
        threads = int(os.environ.get("CORSPROXY_ROLLING_THREADS", "6"))
        variant = os.environ.get("CORSPROXY_ROLLING_HAPROXY", "operator")
        result = rolling_restart.run(threads=threads, drain=2.0, variant=variant)
        print("\n" + json.dumps(result, indent=2))
        for name, step in result["steps"].items():
            self.assertEqual(step["exitStatus"], 0, f"instance {name} after SIGTERM")
            self.assertLess(step["drainSeconds"], 2.0 + 5, f"instance {name} outlived its drain")
        self.assertGreater(result["restartWindowRequests"], 100, "too little load to prove anything")
        self.assertEqual(result["failures"], 0, result["firstFailures"])

    def test_lame_duck_loses_nothing_behind_a_balancer_that_retries_nothing(self):
        """With a second of lame duck, HAProxy's 200 ms check takes each instance out while it still accepts and
        keeps its connections alive, so nothing needs a retry: HAProxy has none, and retries nothing."""
        result = rolling_restart.run(threads=6, drain=2.0, variant="no-retries", lame_duck=1.0)
        print("\n" + json.dumps(result, indent=2))
        for name, step in result["steps"].items():
            self.assertEqual(step["exitStatus"], 0, f"instance {name} after SIGTERM")
            self.assertGreaterEqual(step["drainSeconds"], 1.0, f"instance {name} left before its lame duck ended")
        self.assertGreater(result["restartWindowRequests"], 100, "too little load to prove anything")
        self.assertEqual(result["haproxyRetried"], 0, "this HAProxy retries nothing")
        self.assertEqual(result["failures"], 0, result["firstFailures"])


if __name__ == "__main__":
    unittest.main()
