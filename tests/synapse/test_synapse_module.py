"""Real Synapse under libfaketime, with and without the MSC4094 module.

The clock offset is random per run (fractional, up to ±1 day) and known only
to these tests; set MXCLOCK_SYNAPSE_OFFSET_S to replay one. What Synapse was
seen to do is printed at the end and written to
target/synapse-observations.json.

All bounds come from real times measured around each exchange (no fixed
latency budget): a server time read while handling a request lies between
send + offset and receive + offset.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import random
import sys
import threading
import time
import unittest
import urllib.parse
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import harness  # noqa: E402

# Slack for the server's ms truncation and the µs rounding of the offset.
SLACK_MS = 2.0

OBS: dict = {}
SERVERS: dict[str, harness.SynapseServer] = {}


def _pick_offset_s() -> float:
    forced = os.environ.get("MXCLOCK_SYNAPSE_OFFSET_S")
    if forced:
        return float(forced)
    off = random.SystemRandom().uniform(-86400.0, 86400.0)
    return round(off, 6)


def setUpModule() -> None:
    harness.ensure_installed()
    offset_s = _pick_offset_s()
    # Only the offset, so a failure can be replayed; the code under test never sees it.
    print(f"\nsynapse clock offset for this run: {offset_s:+.6f} s", file=sys.stderr)
    OBS["offset_s"] = offset_s
    harness.install_cleanup_handlers()
    started: dict[str, float] = {}
    errors: list[BaseException] = []

    def start(name: str, hs: harness.SynapseServer) -> None:
        t0 = time.monotonic()
        try:
            hs.start()
            started[name] = round(time.monotonic() - t0, 2)
        except BaseException as e:  # re-raised on the main thread below
            errors.append(e)

    # Both servers start in parallel: startup is mostly waiting on SQLite.
    threads = []
    for name, module in (("module", True), ("plain", False)):
        hs = harness.SynapseServer(offset_s=offset_s, module=module)
        # Stopped even if a start or a test fails.
        unittest.addModuleCleanup(hs.stop)
        SERVERS[name] = hs
        threads.append(threading.Thread(target=start, args=(name, hs)))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    if errors:
        raise errors[0]
    for name, secs in started.items():
        OBS[f"startup_s_{name}"] = secs


def tearDownModule() -> None:
    print("\nsynapse observations: " + json.dumps(OBS, indent=1, sort_keys=True), file=sys.stderr)
    out = harness.REPO_ROOT / "target" / "synapse-observations.json"
    try:
        out.write_text(json.dumps(OBS, indent=1, sort_keys=True))
    except OSError:
        pass


def offset_ms() -> float:
    return OBS["offset_s"] * 1000.0


def window_ms(r: harness.Response) -> tuple[float, float]:
    """Server-clock window [lo, hi] (ms) in which the server handled r."""
    return r.sent_s * 1000.0 + offset_ms() - SLACK_MS, r.received_s * 1000.0 + offset_ms() + SLACK_MS


def date_header_s(r: harness.Response) -> int:
    value = r.headers["Date"]
    return int(email.utils.parsedate_to_datetime(value).timestamp())


class WithModule(unittest.TestCase):
    hs: harness.SynapseServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.hs = SERVERS["module"]

    def get_now(self, conn=None) -> tuple[int, harness.Response]:
        r = harness.http_request(self.hs.port, "GET", "/_matrix/client/v3/get_server_now", conn=conn)
        self.assertEqual(r.status, 200, r)
        body = r.json()
        self.assertEqual(list(body), ["server_now"], body)
        self.assertIsInstance(body["server_now"], int)
        return body["server_now"], r

    def test_server_now_is_real_time_plus_offset(self):
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.hs.port, timeout=10)
        errors, rtts = [], []
        try:
            for _ in range(20):
                t_ms, r = self.get_now(conn)
                lo, hi = window_ms(r)
                self.assertLessEqual(lo, t_ms, f"server_now {t_ms} before the request left (+offset)")
                self.assertLessEqual(t_ms, hi, f"server_now {t_ms} after the reply came back (+offset)")
                mid = (r.sent_s + r.received_s) / 2 * 1000.0 + offset_ms()
                errors.append(t_ms - mid)
                rtts.append((r.received_s - r.sent_s) * 1000.0)
        finally:
            conn.close()
        best = min(range(len(rtts)), key=rtts.__getitem__)
        OBS["endpoint_rtt_ms_min_median"] = [round(min(rtts), 3), round(sorted(rtts)[len(rtts) // 2], 3)]
        OBS["endpoint_error_ms_at_min_rtt"] = round(errors[best], 3)
        OBS["endpoint_abs_error_ms_max"] = round(max(abs(e) for e in errors), 3)

    def test_reply_headers(self):
        _, r = self.get_now()
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertEqual(r.headers["Cache-Control"], "no-store")
        self.assertEqual(r.headers["Access-Control-Allow-Origin"], "*")
        OBS["endpoint_reply_raw"] = r.raw.decode()

    def test_no_access_token_needed_and_a_bad_one_is_ignored(self):
        # get_now() sends no token; a garbage token must not turn it into a 401.
        r = self.hs.request("GET", "/_matrix/client/v3/get_server_now", token="not-a-token")
        self.assertEqual(r.status, 200, r)

    def test_head_options_and_other_methods(self):
        r = self.hs.request("HEAD", "/_matrix/client/v3/get_server_now")
        self.assertEqual(r.status, 200)
        self.assertEqual(r.raw, b"")
        r = self.hs.request("OPTIONS", "/_matrix/client/v3/get_server_now")
        self.assertEqual(r.status, 204)
        self.assertIn("GET", r.headers["Access-Control-Allow-Methods"])
        r = self.hs.request("POST", "/_matrix/client/v3/get_server_now", body={})
        self.assertEqual(r.status, 405)
        self.assertEqual(r.json()["errcode"], "M_UNRECOGNIZED")

    def test_rest_of_the_api_still_routed(self):
        # The module sits at /_matrix: everything else must reach Synapse unchanged.
        r = self.hs.request("GET", "/_matrix/client/versions")
        self.assertEqual(r.status, 200)
        self.assertIn("versions", r.json())
        for path in ("/_matrix/client/v3/get_server_now/", "/_matrix/client/v3/nonexistent", "/_matrix/nope"):
            r = self.hs.request("GET", path)
            self.assertEqual(r.status, 404, path)
            self.assertEqual(r.json()["errcode"], "M_UNRECOGNIZED", path)
        r = self.hs.request("GET", "/_matrix/media/v3/config")
        self.assertEqual(r.json().get("errcode"), "M_MISSING_TOKEN", "media API lost its route")

    def test_date_header_is_truncated_server_second(self):
        # The Date header is the server second, floor'd, taken within the exchange.
        seen = []
        for _ in range(30):
            t_ms, r = self.get_now()
            d = date_header_s(r)
            lo, hi = window_ms(r)
            self.assertLessEqual(math.floor(lo / 1000.0), d, r.headers["Date"])
            self.assertLessEqual(d, math.floor(hi / 1000.0), r.headers["Date"])
            # Twisted stamps Date before the handler runs: never after server_now.
            self.assertLessEqual(d * 1000, t_ms)
            self.assertLess(t_ms - d * 1000, 2000)
            seen.append(t_ms - d * 1000)
            time.sleep(random.uniform(0.0, 0.05))
        OBS["date_header_example"] = r.headers["Date"]
        OBS["server_now_minus_date_ms_range"] = [min(seen), max(seen)]

    def test_event_timestamps_and_age(self):
        hs = self.hs
        token = hs.register_user("u" + uuid.uuid4().hex[:10], uuid.uuid4().hex)
        r = hs.request("POST", "/_matrix/client/v3/createRoom", {"preset": "private_chat"}, token=token)
        self.assertEqual(r.status, 200, r)
        room = r.json()["room_id"]
        qroom = urllib.parse.quote(room)

        before_ms, _ = self.get_now()
        r = hs.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{qroom}/send/m.room.message/t{uuid.uuid4().hex}",
            {"msgtype": "m.text", "body": "tick"},
            token=token,
        )
        self.assertEqual(r.status, 200, r)
        send_lo, send_hi = window_ms(r)
        after_ms, _ = self.get_now()
        event_id = r.json()["event_id"]

        r = hs.request(
            "GET", f"/_matrix/client/v3/rooms/{qroom}/event/{urllib.parse.quote(event_id)}", token=token
        )
        self.assertEqual(r.status, 200, r)
        ots = r.json()["origin_server_ts"]
        # origin_server_ts comes from the skewed clock, the same one as server_now.
        self.assertLessEqual(send_lo, ots)
        self.assertLessEqual(ots, send_hi)
        self.assertLessEqual(before_ms, ots)
        self.assertLessEqual(ots, after_ms)
        OBS["ots_minus_send_window_mid_ms"] = round(ots - (send_lo + send_hi) / 2, 3)

        # Let the event grow old, then read it back three ways.
        time.sleep(1.0)
        ages = {}
        r = hs.request("GET", "/_matrix/client/v3/sync?timeout=0", token=token)
        self.assertEqual(r.status, 200, r)
        sync_body = r.json()
        events = sync_body["rooms"]["join"][room]["timeline"]["events"]
        ev = next(e for e in events if e["event_id"] == event_id)
        ages["sync"] = (ev, r)

        r = hs.request("GET", f"/_matrix/client/v3/rooms/{qroom}/messages?dir=b&limit=5", token=token)
        self.assertEqual(r.status, 200, r)
        ev = next(e for e in r.json()["chunk"] if e["event_id"] == event_id)
        ages["messages"] = (ev, r)

        r = hs.request(
            "GET", f"/_matrix/client/v3/rooms/{qroom}/event/{urllib.parse.quote(event_id)}", token=token
        )
        ages["event"] = (r.json(), r)

        for where, (ev, resp) in ages.items():
            self.assertEqual(ev["origin_server_ts"], ots, where)
            age = ev["unsigned"]["age"]
            lo, hi = window_ms(resp)
            # ots + age is the server's clock when the reply was built.
            self.assertLessEqual(lo, ots + age, where)
            self.assertLessEqual(ots + age, hi, where)
            # And so age is at least the real time that passed since sending.
            self.assertGreaterEqual(age, (resp.sent_s * 1000.0 + offset_ms()) - send_hi, where)
            OBS[f"age_{where}_ms"] = age
            OBS[f"age_{where}_ots_plus_age_minus_reply_mid_ms"] = round(ots + age - (lo + hi) / 2, 3)

        # The same /sync again: Synapse answers an identical request from its
        # sync response cache; is age then recomputed for the new reply?
        time.sleep(0.5)
        r = hs.request("GET", "/_matrix/client/v3/sync?timeout=0", token=token)
        self.assertEqual(r.status, 200, r)
        events = r.json()["rooms"]["join"][room]["timeline"]["events"]
        ev = next(e for e in events if e["event_id"] == event_id)
        lo, hi = window_ms(r)
        # Only the events come from the cache: age is computed for this reply.
        self.assertLessEqual(lo, ots + ev["unsigned"]["age"])
        self.assertLessEqual(ots + ev["unsigned"]["age"], hi)
        OBS["age_sync_repeat_ms"] = ev["unsigned"]["age"]
        OBS["age_sync_repeat_ots_plus_age_minus_reply_mid_ms"] = round(
            ots + ev["unsigned"]["age"] - (lo + hi) / 2, 3
        )

        # Long-poll: an event that arrives while /sync waits. Is its age taken
        # when the reply is built (after the wait), not when the wait started?
        since = sync_body["next_batch"]
        result: dict = {}

        def poll() -> None:
            result["r"] = hs.request(
                "GET", f"/_matrix/client/v3/sync?timeout=10000&since={since}", token=token
            )

        th = threading.Thread(target=poll)
        th.start()
        time.sleep(0.8)
        r = hs.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{qroom}/send/m.room.message/t{uuid.uuid4().hex}",
            {"msgtype": "m.text", "body": "tock"},
            token=token,
        )
        self.assertEqual(r.status, 200, r)
        second_id = r.json()["event_id"]
        th.join(15)
        self.assertFalse(th.is_alive(), "long-poll /sync did not return")
        resp = result["r"]
        self.assertEqual(resp.status, 200, resp)
        events = resp.json()["rooms"]["join"][room]["timeline"]["events"]
        ev = next(e for e in events if e["event_id"] == second_id)
        lo, hi = window_ms(resp)
        # Only the end of the window can be used: the request left before the event existed.
        self.assertLessEqual(ev["origin_server_ts"] + ev["unsigned"]["age"], hi)
        self.assertGreaterEqual(ev["origin_server_ts"], lo + 700.0, "event created before the poll waited")
        OBS["age_longpoll_ms"] = ev["unsigned"]["age"]
        OBS["age_longpoll_ots_plus_age_minus_reply_end_ms"] = round(
            ev["origin_server_ts"] + ev["unsigned"]["age"] - (resp.received_s * 1000.0 + offset_ms()), 3
        )


class WithoutModule(unittest.TestCase):
    hs: harness.SynapseServer

    @classmethod
    def setUpClass(cls) -> None:
        cls.hs = SERVERS["plain"]

    def test_endpoint_missing_is_json_404_unrecognized(self):
        r = self.hs.request("GET", "/_matrix/client/v3/get_server_now")
        self.assertEqual(r.status, 404, r)
        self.assertEqual(r.headers["Content-Type"], "application/json")
        self.assertEqual(r.json(), {"errcode": "M_UNRECOGNIZED", "error": "Unrecognized request"})
        OBS["missing_endpoint_status"] = r.status
        OBS["missing_endpoint_body"] = r.raw.decode()
        OBS["missing_endpoint_cache_control"] = r.headers["Cache-Control"]
        # The same reply still carries a usable Date (the client's fallback).
        d = date_header_s(r)
        lo, hi = window_ms(r)
        self.assertLessEqual(math.floor(lo / 1000.0), d)
        self.assertLessEqual(d, math.floor(hi / 1000.0))

    def test_other_methods_on_missing_endpoint(self):
        r = self.hs.request("POST", "/_matrix/client/v3/get_server_now", body={})
        OBS["missing_endpoint_post"] = [r.status, r.raw.decode()]
        self.assertIn(r.status, (404, 405))
        self.assertEqual(r.json()["errcode"], "M_UNRECOGNIZED")

    def test_date_probing_brackets_the_offset(self):
        """The client's Date-only method, done here in Python: each reply bounds
        the offset by [D - received, D + 1000 - sent] (ms). Timing each probe to
        reach the server at the predicted second boundary halves the interval.
        The true offset must stay inside on every step; the final width is
        recorded (it depends on load, so it is not asserted)."""
        true_ms = offset_ms()
        lo, hi = -math.inf, math.inf
        widths = []
        rtt_s = 0.001
        for _ in range(10):
            if math.isfinite(lo):
                # Arrive (half an RTT after sending) when real + mid-offset
                # crosses a whole second.
                mid = (lo + hi) / 2
                now_ms = time.time() * 1000.0
                arrive_ms = math.ceil((now_ms + mid + 20.0) / 1000.0) * 1000.0 - mid
                time.sleep(max(0.0, (arrive_ms - now_ms) / 1000.0 - rtt_s / 2))
            r = self.hs.request("GET", "/_matrix/client/v3/get_server_now")
            rtt_s = r.received_s - r.sent_s
            d_ms = date_header_s(r) * 1000.0
            s_lo = d_ms - r.received_s * 1000.0
            s_hi = d_ms + 1000.0 - r.sent_s * 1000.0
            self.assertLessEqual(s_lo - SLACK_MS, true_ms, r.headers["Date"])
            self.assertLessEqual(true_ms, s_hi + SLACK_MS, r.headers["Date"])
            lo, hi = max(lo, s_lo), min(hi, s_hi)
            self.assertLessEqual(lo, hi + SLACK_MS, "Date samples contradict each other")
            widths.append(round(hi - lo, 1))
        self.assertLess(widths[-1], widths[0], "probing did not narrow the interval")
        OBS["date_probe_widths_ms"] = widths
        OBS["date_probe_midpoint_error_ms"] = round((lo + hi) / 2 - true_ms, 2)

    def test_origin_server_ts_is_skewed_without_module_too(self):
        hs = self.hs
        token = hs.register_user("p" + uuid.uuid4().hex[:10], uuid.uuid4().hex)
        r = hs.request("POST", "/_matrix/client/v3/createRoom", {}, token=token)
        self.assertEqual(r.status, 200, r)
        room = urllib.parse.quote(r.json()["room_id"])
        r = hs.request(
            "PUT",
            f"/_matrix/client/v3/rooms/{room}/send/m.room.message/t1",
            {"msgtype": "m.text", "body": "x"},
            token=token,
        )
        self.assertEqual(r.status, 200, r)
        lo, hi = window_ms(r)
        eid = urllib.parse.quote(r.json()["event_id"])
        ev = hs.request("GET", f"/_matrix/client/v3/rooms/{room}/event/{eid}", token=token).json()
        self.assertLessEqual(lo, ev["origin_server_ts"])
        self.assertLessEqual(ev["origin_server_ts"], hi)


if __name__ == "__main__":
    unittest.main()
