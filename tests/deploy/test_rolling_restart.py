"""A rolling restart of two instances behind HAProxy loses no request (rolling_restart.py does the work).

CORSPROXY_ROLLING_HAPROXY=no-retries (or no-retry-on) runs it behind an HAProxy without the retry settings, which
fails: requests reach an instance between its SIGTERM and the check that takes it out, or go out on a kept-alive
connection it closes at SIGTERM.
"""

from __future__ import annotations

import json
import os
import unittest

import rolling_restart


class RollingRestartTests(unittest.TestCase):
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


if __name__ == "__main__":
    unittest.main()
