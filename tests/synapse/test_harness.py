"""The harness itself: offsets reach Synapse exactly, and Synapse never
outlives its test (context manager, SIGTERM, CLI stop, CLI watchdog)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import harness  # noqa: E402

CLI = [sys.executable, str(HERE / "harness.py")]


def wait_gone(pgid: int, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not harness.group_alive(pgid):
            return True
        time.sleep(0.1)
    return False


def shm_files(pid: int) -> list[str]:
    return [n for n in (f"faketime_shm_{pid}", f"sem.faketime_sem_{pid}") if os.path.exists(f"/dev/shm/{n}")]


def server_now_error_ms(port: int, offset_s: float) -> float:
    """server_now minus (real time + offset) at the middle of the exchange."""
    r = harness.http_request(port, "GET", "/_matrix/client/v3/get_server_now")
    assert r.status == 200, r
    lo = r.sent_s * 1000 + offset_s * 1000
    hi = r.received_s * 1000 + offset_s * 1000
    t = r.json()["server_now"]
    assert lo - 2 <= t <= hi + 2, (lo, t, hi)
    return t - (lo + hi) / 2


def setUpModule() -> None:
    harness.ensure_installed()


class FaketimeSpec(unittest.TestCase):
    def test_format(self):
        self.assertEqual(harness.faketime_spec(37.25), "+37.250000")
        self.assertEqual(harness.faketime_spec(-0.5), "-0.500000")
        self.assertEqual(harness.faketime_spec(0.0), "+0.000000")
        self.assertEqual(harness.faketime_spec(-86399.123456), "-86399.123456")

    def test_rejects_nonsense(self):
        for bad in (float("nan"), float("inf"), 1e12):
            with self.assertRaises(ValueError):
                harness.faketime_spec(bad)


class Lifecycle(unittest.TestCase):
    def test_context_manager_stops_on_exception(self):
        class Boom(Exception):
            pass

        with self.assertRaises(Boom):
            with harness.SynapseServer(offset_s=-0.75, module=True) as hs:
                pid, state_dir = hs.pid, hs.state_dir
                # Sub-second negative offsets are applied too.
                server_now_error_ms(hs.port, -0.75)
                raise Boom
        self.assertTrue(wait_gone(pid, 1.0), "Synapse still running after the with-block raised")
        self.assertFalse(state_dir.exists(), "temp state dir left behind")
        self.assertEqual(shm_files(pid), [], "libfaketime's /dev/shm objects left behind")

    def kill_test_process(self, sig: int, gone_within_s: float) -> None:
        script = textwrap.dedent(f"""
            import sys, time
            sys.path.insert(0, {str(HERE)!r})
            import harness
            hs = harness.SynapseServer(offset_s=3.5).start()
            print(hs.pid, hs.watchdog_pid, hs.state_dir, flush=True)
            time.sleep(600)
        """)
        child = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
        try:
            line = child.stdout.readline()
            self.assertTrue(line.strip(), "child did not start Synapse")
            pid_s, watchdog_s, state_dir = line.split()
            pid, watchdog_pid = int(pid_s), int(watchdog_s)
            self.assertTrue(harness.group_alive(pid))
            child.send_signal(sig)
            rc = child.wait(30)
            # It dies of the signal it got (after stopping Synapse, for SIGTERM).
            self.assertEqual(rc, -sig)
            self.assertTrue(wait_gone(pid, gone_within_s), f"Synapse outlived a test process killed by {sig}")
            self.assertTrue(wait_gone(watchdog_pid, 5.0), "watchdog left running")
            self.assertEqual(shm_files(pid), [])
            if not os.environ.get("MXCLOCK_SYNAPSE_KEEP"):
                self.assertFalse(os.path.exists(state_dir), "temp state dir left behind")
        finally:
            if child.poll() is None:
                child.kill()
                child.wait()

    def test_sigterm_to_the_test_process_stops_synapse(self):
        self.kill_test_process(signal.SIGTERM, 1.0)

    def test_sigkill_to_the_test_process_stops_synapse(self):
        # No cleanup code runs in the killed process: the watchdog does it.
        self.kill_test_process(signal.SIGKILL, 15.0)


class Cli(unittest.TestCase):
    def start(self, state_dir: str, *extra: str) -> dict:
        out = subprocess.run(
            CLI + ["start", "--state-dir", state_dir, *extra],
            check=True,
            stdout=subprocess.PIPE,
            text=True,
            timeout=120,
        ).stdout
        lines = out.strip().splitlines()
        self.assertEqual(len(lines), 1, out)
        info = json.loads(lines[0])
        self.addCleanup(subprocess.run, CLI + ["stop", "--state-dir", state_dir], stdout=subprocess.DEVNULL)
        return info

    def test_start_prints_one_json_line_and_stop_stops(self):
        with tempfile.TemporaryDirectory() as d:
            info = self.start(d, "--offset-s", "37.25", "--module")
            for key in ("base_url", "port", "offset_s", "pid", "registration_shared_secret"):
                self.assertIn(key, info)
            self.assertEqual(info["offset_s"], 37.25)
            self.assertEqual(info["base_url"], f"http://127.0.0.1:{info['port']}")
            server_now_error_ms(info["port"], 37.25)

            # `register` gives a working token for a new user.
            out = subprocess.run(
                CLI + ["register", "--state-dir", d, "--username", "alice"],
                check=True,
                stdout=subprocess.PIPE,
                text=True,
                timeout=60,
            ).stdout
            user = json.loads(out)
            self.assertEqual(user["user_id"], "@alice:localhost")
            r = harness.http_request(
                info["port"], "GET", "/_matrix/client/v3/account/whoami", token=user["access_token"]
            )
            self.assertEqual((r.status, r.json()["user_id"]), (200, "@alice:localhost"))

            # So does open registration with m.login.dummy (no HMAC needed).
            r = harness.http_request(
                info["port"],
                "POST",
                "/_matrix/client/v3/register",
                body={"username": "bob", "password": "pw-bob-123", "auth": {"type": "m.login.dummy"}},
            )
            self.assertEqual(r.status, 200, r)
            self.assertEqual(r.json()["user_id"], "@bob:localhost")

            out = subprocess.run(
                CLI + ["stop", "--state-dir", d], check=True, stdout=subprocess.PIPE, text=True, timeout=60
            ).stdout
            self.assertEqual(json.loads(out), {"stopped": info["pid"]})
            self.assertTrue(wait_gone(info["pid"], 1.0), "CLI stop left Synapse running")
            self.assertEqual(shm_files(info["pid"]), [])
            # Stopping twice is harmless.
            subprocess.run(
                CLI + ["stop", "--state-dir", d], check=True, stdout=subprocess.DEVNULL, timeout=60
            )

    def test_watchdog_stops_synapse_when_the_watched_process_exits(self):
        sleeper = subprocess.Popen(["sleep", "3"])
        try:
            with tempfile.TemporaryDirectory() as d:
                info = self.start(d, "--offset-s", "-12.5", "--watch-pid", str(sleeper.pid))
                self.assertTrue(harness.group_alive(info["pid"]))
                sleeper.wait(30)
                self.assertTrue(wait_gone(info["pid"], 20.0), "watchdog did not stop Synapse")
        finally:
            if sleeper.poll() is None:
                sleeper.kill()
                sleeper.wait()


if __name__ == "__main__":
    unittest.main()
