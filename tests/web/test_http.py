"""tourcast-server over HTTP: every status of every endpoint, with a real redis-server, real
guide pipelines and real webrtcbin answers. Run inside tests/e2e/netns-run.sh."""
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
MUSEUM_TOKEN = "museum-guide-token-0123456789"
PARK_TOKEN = "park.guide_token~0123456789"
SDP = {"Content-Type": "application/sdp"}
FRAG = {"Content-Type": "application/trickle-ice-sdpfrag"}
JSON = {"Content-Type": "application/json"}


def read(name):
    with open(os.path.join(HERE, name)) as f:
        return f.read()


LISTEN_OFFER = read("offer.sdp")
PUBLISH_OFFER = read("publish-offer.sdp")


class HttpTest(unittest.TestCase):
    server_args = ()

    def setUp(self):
        self.procs = []
        self.redis = harness.Redis()
        self.dir = tempfile.mkdtemp(prefix="tourcast-http-")
        self.tokens = os.path.join(self.dir, "tokens")
        with open(self.tokens, "w") as f:
            f.write("museum %s\npark %s\n" % (MUSEUM_TOKEN, PARK_TOKEN))
        self.server = None

    def start_server(self, *extra):
        self.server = harness.Server(self.redis.url, self.tokens, extra)
        return self.server

    def tearDown(self):
        failed = any(e for t, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if t is self)
        for p in reversed(self.procs):
            if failed and hasattr(p, "text"):
                print("---- %s ----\n%s" % (p.name, p.text()[-3000:]))
            p.stop()
        if self.server:
            code = self.server.stop()
            if failed:
                print("---- server ----\n%s" % self.server.text()[-5000:])
            self.assertEqual(code, 0, "tourcast-server exited with %s" % code)
            self.assertEqual(harness.our_problems(self.server.text()), [])
        for p in self.procs:
            if hasattr(p, "text"):
                self.assertEqual(harness.our_problems(p.text()), [], p.name)
        self.redis.stop()

    def req(self, method, path, body=None, headers=None):
        return self.server.request(method, path, body, headers)

    def error_of(self, response, status):
        code, headers, body = response
        self.assertEqual(code, status, body)
        self.assertEqual(headers.get_content_type(), "application/json", body)
        doc = json.loads(body)
        self.assertEqual(doc["status"], status)
        self.assertTrue(doc["error"])
        return doc["error"]

    def guide(self, tour="museum", language="en"):
        g = harness.guide_pipeline(self.redis.url, tour, language)
        self.procs.append(g)
        wait_for(lambda: any(c["tourId"] == tour and c["language"] == language and c["guide"]
                             for c in json.loads(self.req("GET", "/api/channels")[2])["channels"]),
                 20, "the guide of %s/%s" % (tour, language))
        return g

    # --- health ---------------------------------------------------------------------------

    def test_health_and_ready(self):
        self.start_server()
        self.assertEqual(self.req("GET", "/healthz")[:1], (200,))
        self.assertEqual(self.req("GET", "/readyz")[0], 200)
        self.error_of(self.req("POST", "/healthz", "x"), 405)
        self.redis.stop()
        self.assertEqual(self.req("GET", "/healthz")[0], 200)
        self.assertIn("Redis", self.error_of(self.req("GET", "/readyz"), 503))

    def test_help_explains_every_option(self):
        out = subprocess.run([os.environ["TOURCAST_SERVER"], "--help"], capture_output=True,
                             text=True, check=True).stdout
        for option in ["--listen", "--port", "--redis-url", "--embedded-redis", "--token-file",
                       "--static-dir", "--ice-addresses", "--rate", "--burst",
                       "--max-pending-joins", "--answer-timeout", "Token file:"]:
            self.assertIn(option, out)
        bad = subprocess.run([os.environ["TOURCAST_SERVER"], "--port", "70000"],
                             capture_output=True, text=True)
        self.assertEqual(bad.returncode, 2)
        self.assertIn("out of range", bad.stderr)
        with open(os.path.join(self.dir, "bad-tokens"), "w") as f:
            f.write("museum short\n")
        bad = subprocess.run([os.environ["TOURCAST_SERVER"], "--token-file",
                              os.path.join(self.dir, "bad-tokens"), "--redis-url",
                              self.redis.url], capture_output=True, text=True)
        self.assertEqual(bad.returncode, 1)
        self.assertIn("line 1: the token must be 16-256 characters long", bad.stderr)

    def test_embedded_redis(self):
        p = harness.Process([os.environ["TOURCAST_SERVER"], "--embedded-redis", "--port", "0",
                             "--listen", harness.GUIDE_ADDRESS], "embedded")
        self.procs.append(p)
        m = wait_for(lambda: re.search(r"listening on (http://\S+/) \(redis (redis://\S+)\)",
                                       p.text()), 15, "the server")
        import urllib.request
        with urllib.request.urlopen(m.group(1) + "readyz", timeout=10) as r:
            self.assertEqual(r.status, 200)
        self.assertEqual(p.stop(), 0)

    # --- WHEP -----------------------------------------------------------------------------

    def test_whep_join_trickle_and_leave(self):
        self.start_server()
        self.guide()
        code, headers, body = self.req("POST", "/whep/museum/en?profile=mobile/4g", LISTEN_OFFER,
                                       SDP)
        self.assertEqual(code, 201, body)
        self.assertEqual(headers.get_content_type(), "application/sdp")
        location = headers["Location"]
        self.assertRegex(location, r"^/resource/[0-9a-f]{32}$")
        answer = body.decode()
        self.assertTrue(answer.startswith("v=0"))
        self.assertIn("a=rtpmap:111 OPUS/48000/2", answer)  # the browser's payload type
        self.assertIn("a=candidate:", answer)               # the guide's candidates
        self.assertIn("a=sendonly", answer)
        participant = headers["X-Tourcast-Participant"]
        record = json.loads(self.redis.cli("GET", "webrtc:participant:museum:en:" + participant))
        self.assertEqual(record["role"], "attendee")
        self.assertEqual(record["profile"], "mobile/4g")
        # Two resources never share an id.
        code2, headers2, _ = self.req("POST", "/whep/museum/en", LISTEN_OFFER, SDP)
        self.assertEqual(code2, 201)
        self.assertNotEqual(headers2["Location"], location)
        self.assertEqual(self.req("DELETE", headers2["Location"])[0], 204)

        frag = ("a=ice-ufrag:Xk3e\r\na=ice-pwd:Qz1n0Tb7hN3dJx5YpW2sKq8m\r\nm=audio 9 "
                "UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\na=candidate:1 1 udp 2122260223 "
                "198.18.0.2 50000 typ host generation 0\r\na=end-of-candidates\r\n")
        self.assertEqual(self.req("PATCH", location, frag, FRAG)[0], 204)
        queued = self.redis.cli("LRANGE", "webrtc:ice_candidates:museum:en", "0", "-1")
        self.assertIn("198.18.0.2 50000", queued)
        self.assertIn('"from":"%s"' % participant, queued)
        self.error_of(self.req("PATCH", location, frag, SDP), 415)
        self.assertIn("not allowed", self.error_of(self.req("PATCH", location, "x=y\r\n", FRAG), 400))
        self.error_of(self.req("GET", location), 405)

        self.assertEqual(self.req("DELETE", location)[0], 204)
        self.assertEqual(self.redis.cli("EXISTS", "webrtc:participant:museum:en:" + participant), "0")
        self.error_of(self.req("DELETE", location), 404)
        self.error_of(self.req("PATCH", location, frag, FRAG), 404)
        # The guide dropped the peer: the channel has no listener left.
        wait_for(lambda: json.loads(self.req("GET", "/api/channels")[2])["channels"][0]
                 ["attendees"] == 0, 10, "no listener")

    def test_whep_bad_input_touches_nothing(self):
        self.start_server()
        before = self.redis.cli("DBSIZE")
        self.assertIn("application/sdp",
                      self.error_of(self.req("POST", "/whep/museum/en", LISTEN_OFFER,
                                             {"Content-Type": "text/plain"}), 415))
        self.assertIn("v=0", self.error_of(self.req("POST", "/whep/museum/en", "hello", SDP), 400))
        self.assertIn("m=audio", self.error_of(
            self.req("POST", "/whep/museum/en", "v=0\r\nm=video 9 RTP/AVP 96\r\n", SDP), 400))
        self.assertIn("line 3", self.error_of(
            self.req("POST", "/whep/museum/en", "v=0\r\nm=audio 9 RTP/AVP 0\r\n\x01\r\n", SDP), 400))
        self.assertIn("profile", self.error_of(
            self.req("POST", "/whep/museum/en?profile=toaster", LISTEN_OFFER, SDP), 400))
        self.assertIn("over the limit", self.error_of(
            self.req("POST", "/whep/museum/en", "v=0\r\n" + "a" * 100000, SDP), 413))
        self.assertIn("tour name", self.error_of(
            self.req("POST", "/whep/my%20tour/en", LISTEN_OFFER, SDP), 404))
        # Refused from the headers alone: the server answers before any of the body is sent
        # (to a client that waits for 100 Continue; the 413 above read and dropped the body).
        for head in ["Content-Length: 100000000", "Transfer-Encoding: chunked"]:
            status, text = self.raw_headers_only("POST /whep/museum/en", head)
            self.assertEqual(status, 413 if "Length" in head else 411, text)
            self.assertIn('"error"', text)
        self.error_of(self.req("POST", "/whep/museum", LISTEN_OFFER, SDP), 404)
        self.error_of(self.req("GET", "/whep/museum/en"), 405)
        self.error_of(self.req("DELETE", "/resource/0123456789abcdef0123456789abcdef"), 404)
        self.error_of(self.req("DELETE", "/resource/../../etc/passwd"), 404)
        self.error_of(self.req("GET", "/api/nothing"), 404)
        self.error_of(self.req("GET", "/../README.md"), 404)
        self.assertEqual(self.redis.cli("DBSIZE"), before)
        # No guide on the channel: 404, and the attempt leaves nothing behind.
        self.assertIn("no guide", self.error_of(self.req("POST", "/whep/museum/en", LISTEN_OFFER,
                                                         SDP), 404))
        self.assertEqual(self.redis.cli("DBSIZE"), before)
        self.assertEqual(self.req("GET", "/healthz")[0], 200)

    def raw_headers_only(self, request_line, header):
        """Sends a request's headers with Expect: 100-continue, never its body; (status,
        response text) as the server answers them within 5 s."""
        host, port = self.server.base[len("http://"):].split(":")
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(("%s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/sdp\r\n"
                          "Expect: 100-continue\r\n%s\r\n\r\n" % (request_line, host, header))
                         .encode())
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        text = data.decode(errors="replace")
        return int(text.split(" ")[1]), text

    def test_flood_gets_429_and_busy_gets_503(self):
        self.start_server("--rate", "1", "--burst", "3", "--max-pending-joins", "1",
                          "--answer-timeout", "3000")
        # A "guide" that listens but never answers keeps a join pending.
        mute = harness.Process(["redis-cli", "-p", str(self.redis.port), "SUBSCRIBE",
                                "webrtc:signal:museum:en:guide"], "mute-guide")
        self.procs.append(mute)
        wait_for(lambda: self.redis.cli("PUBSUB", "NUMSUB", "webrtc:signal:museum:en:guide")
                 .endswith("1"), 10, "the mute guide")
        import threading
        first = {}
        t = threading.Thread(target=lambda: first.update(
            r=self.req("POST", "/whep/museum/en", LISTEN_OFFER, SDP)))
        t.start()
        wait_for(lambda: "tourcast_pending_joins 1" in self.req("GET", "/metrics")[2].decode(), 5,
                 "a pending join")
        code, headers, body = self.req("POST", "/whep/museum/en", LISTEN_OFFER, SDP)
        self.assertEqual(code, 503, body)
        self.assertTrue(headers["Retry-After"])
        t.join()
        self.assertIn("did not answer", self.error_of(first["r"], 504))
        self.assertEqual(self.redis.cli("KEYS", "webrtc:participant:*"), "")
        mute.stop()  # now joins fail at once (no guide), so they come faster than the rate
        statuses = [self.req("POST", "/whep/museum/en", LISTEN_OFFER, SDP) for _ in range(5)]
        limited = [s for s in statuses if s[0] == 429]
        self.assertTrue(limited, [s[0] for s in statuses])
        self.assertGreaterEqual(int(limited[0][1]["Retry-After"]), 1)
        self.assertIn("too many requests", json.loads(limited[0][2])["error"])
        self.assertEqual(self.req("GET", "/healthz")[0], 200)  # GETs are not limited

    # --- WHIP -----------------------------------------------------------------------------

    def test_whip_tokens_conflicts_and_takeover(self):
        self.start_server()
        path = "/whip/museum/fr"
        code, headers, _ = self.req("POST", path, PUBLISH_OFFER, SDP)
        self.assertEqual(code, 401)
        self.assertIn("Bearer", headers["WWW-Authenticate"])
        self.error_of(self.req("POST", path, PUBLISH_OFFER,
                               dict(SDP, Authorization="Bearer nobody-has-this-token")), 401)
        self.assertIn("another tour", self.error_of(
            self.req("POST", path, PUBLISH_OFFER, dict(SDP, Authorization="Bearer " + PARK_TOKEN)),
            403))
        auth = {"Authorization": "Bearer " + MUSEUM_TOKEN}
        self.error_of(self.req("POST", path, PUBLISH_OFFER, dict(auth, **JSON)), 415)
        self.error_of(self.req("POST", path, "v=1", dict(auth, **SDP)), 400)
        code, headers, body = self.req("POST", path, PUBLISH_OFFER, dict(auth, **SDP))
        self.assertEqual(code, 201, body)
        first = headers["Location"]
        self.assertIn("a=recvonly", body.decode())
        self.assertIn("a=candidate:", body.decode())
        # The server's guide pipeline registered on the channel.
        wait_for(lambda: any(c["tourId"] == "museum" and c["language"] == "fr" and c["guide"]
                             for c in json.loads(self.req("GET", "/api/channels")[2])["channels"]),
                 15, "the browser guide's pipeline")
        self.assertIn("takeover", self.error_of(
            self.req("POST", path, PUBLISH_OFFER, dict(auth, **SDP)), 409))
        code, headers, body = self.req("POST", path + "?takeover=1", PUBLISH_OFFER, dict(auth, **SDP))
        self.assertEqual(code, 201, body)
        second = headers["Location"]
        self.error_of(self.req("DELETE", first), 404)
        self.assertEqual(self.redis.cli("GET", "webrtc:publisher:museum:fr"), second[10:])
        self.assertEqual(self.req("DELETE", second)[0], 204)
        self.assertEqual(self.redis.cli("EXISTS", "webrtc:publisher:museum:fr"), "0")
        # A guide pipeline that no server runs holds the channel too.
        self.guide("museum", "it")
        self.assertIn("already speaks", self.error_of(
            self.req("POST", "/whip/museum/it", PUBLISH_OFFER, dict(auth, **SDP)), 409))

    # --- seed endpoints -------------------------------------------------------------------

    def test_seed_offer_replaces_the_placeholder(self):
        self.start_server()
        key = "webrtc:offer:museum:en:att-1"
        self.redis.cli("SET", key, '{"placeholder":true,"ts":1}')
        body = json.dumps({"language": "en", "tourId": "museum", "attendeeId": "att-1",
                           "offer": {"type": "offer", "sdp": LISTEN_OFFER}})
        code, headers, reply = self.req("POST", "/api/tour/offer", body, JSON)
        self.assertEqual(code, 200, reply)
        doc = json.loads(reply)
        self.assertEqual(doc["success"], True)
        self.assertEqual(doc["placeholderReplaced"], True)
        stored = json.loads(self.redis.cli("GET", key))
        self.assertEqual(stored["placeholder"], False)
        self.assertEqual(stored["sdp"], LISTEN_OFFER)
        self.assertEqual(json.loads(self.req("POST", "/api/tour/offer", body, JSON)[2])
                         ["placeholderReplaced"], False)
        # Without attendeeId: the channel's offer key, as the seed's clients use it.
        body = json.dumps({"language": "en", "tourId": "museum", "offer": LISTEN_OFFER})
        self.assertEqual(json.loads(self.req("POST", "/api/tour/offer", body, JSON)[2])["key"],
                         "webrtc:offer:museum:en")
        self.assertIn("tourId", self.error_of(self.req(
            "POST", "/api/tour/offer", json.dumps({"language": "en", "offer": "v=0"}), JSON), 400))
        self.assertIn("not valid JSON", self.error_of(
            self.req("POST", "/api/tour/offer", "{", JSON), 400))
        self.assertIn("attendeeId", self.error_of(self.req(
            "POST", "/api/tour/offer", json.dumps({"language": "en", "tourId": "m",
                                                   "attendeeId": "a b", "offer": LISTEN_OFFER}),
            JSON), 400))
        self.error_of(self.req("POST", "/api/tour/offer", body, SDP), 415)
        self.error_of(self.req("GET", "/api/tour/offer"), 405)

    def test_seed_diagnostics(self):
        self.start_server()
        for query in ["", "?tourId=museum", "?language=en", "?tourId=&language=en"]:
            self.assertIn("required", self.error_of(
                self.req("GET", "/api/tour/diagnostics" + query), 400))
        self.assertIn("invalid", self.error_of(
            self.req("GET", "/api/tour/diagnostics?tourId=a:b&language=en"), 400))
        self.guide()
        code, headers, body = self.req("GET", "/api/tour/diagnostics?tourId=museum&language=en")
        self.assertEqual(code, 200)
        doc = json.loads(body)
        self.assertLessEqual({"coordination", "iceCandidatesCount", "participants", "timestamp"},
                             set(doc))
        self.assertTrue(doc["coordination"]["guideReady"])
        self.assertEqual([p["role"] for p in doc["participants"]], ["guide"])
        self.assertAlmostEqual(doc["timestamp"] / 1000, time.time(), delta=30)

    # --- metrics, reports, page -----------------------------------------------------------

    def guide_report(self, tour="museum", language="en"):
        text = self.redis.cli("GET", "webrtc:diagnostics:%s:%s" % (tour, language))
        return json.loads(text) if text else None

    def reported(self, participant, tour="museum", language="en"):
        """The guide's latest report on one attendee, or None."""
        report = self.guide_report(tour, language)
        return next((a for a in (report or {}).get("attendees", []) if a["id"] == participant),
                    None)

    def test_metrics_and_reports(self):
        self.start_server()
        self.guide()
        # A listener on 3G: the guide starts it at its profile's level (minimum).
        code, headers, _ = self.req("POST", "/whep/museum/en?profile=mobile/3g", LISTEN_OFFER, SDP)
        self.assertEqual(code, 201)
        location = headers["Location"]
        participant = headers["X-Tourcast-Participant"]
        report = {"state": "connected", "rttMs": 250, "jitterMs": 4, "packetsLost": 0,
                  "packetsReceived": 250, "recoveries": 2}

        def post_report():
            code, _, body = self.req("POST", location + "/report", json.dumps(report), JSON)
            self.assertEqual(code, 200, body)
            return json.loads(body)
        quality = post_report()
        # What this browser measured, scored: the seed's -15 -15 for an RTT over 200 ms.
        self.assertEqual(quality["browser"], {"score": 70, "category": "good"})
        # The level shown is the one the guide reports sending this listener, not the server's.
        guide = wait_for(lambda: post_report()["guide"], 15, "the guide's report on the listener",
                         interval=0.5)
        self.assertEqual(guide["level"], "minimum")
        reported = self.reported(participant)
        self.assertEqual(guide["level"], reported["level"])
        self.assertEqual(guide["levelChanges"], reported["levelChanges"])
        if "score" in guide:
            self.assertEqual((guide["score"], guide["category"]),
                             (reported["score"], reported["category"]))
        report["packetsReceived"] = 0
        self.assertIsNone(post_report()["browser"])
        self.error_of(self.req("POST", location + "/report", "{}", JSON), 400)
        self.error_of(self.req("POST", location + "/report", "x", SDP), 415)
        self.error_of(self.req("POST", "/resource/%s/report" % ("0" * 32), json.dumps(report),
                               JSON), 404)
        self.req("POST", "/whep/nowhere/en", LISTEN_OFFER, SDP)  # a failure: no guide
        # A report in Redis that does not decode is counted, not shown.
        self.redis.cli("SET", "webrtc:diagnostics:broken:en", '{"tour":"broken"}')

        _, types = self.metrics()
        samples, listener = self.scrape_between_reports(participant)
        for family, kind in [("tourcast_up", "gauge"), ("tourcast_attendees", "gauge"),
                             ("tourcast_guide_attendees", "gauge"),
                             ("tourcast_guide_attendees_by_level", "gauge"),
                             ("tourcast_quality_scores", "gauge"),
                             ("tourcast_quality_score_sum", "gauge"),
                             ("tourcast_guide_level_changes", "gauge"),
                             ("tourcast_guide_failed_connections", "gauge"),
                             ("tourcast_guide_recoveries", "gauge"),
                             ("tourcast_guide_report_age_seconds", "gauge"),
                             ("tourcast_guide_reports_unreadable", "gauge"),
                             ("tourcast_joins_total", "counter"),
                             ("tourcast_join_failures_total", "counter")]:
            self.assertEqual(types.get(family), kind, family)
        self.assertEqual(samples[("tourcast_up", ())], 1)
        self.assertEqual(samples[("tourcast_attendees", at())], 1)
        self.assertEqual(samples[("tourcast_guide_present", at())], 1)
        self.assertEqual(samples[("tourcast_guide_attendees_by_level",
                                  at(level="minimum"))], 1)
        self.assertEqual(samples[("tourcast_guide_attendees_by_level",
                                  at(level="high"))], 0)
        by_state = {dict(k[1])["state"]: v for k, v in samples.items()
                    if k[0] == "tourcast_guide_attendees"}
        self.assertEqual(sum(by_state.values()), 1)
        self.assertEqual(by_state[listener["state"]], 1)
        self.assertEqual(samples[("tourcast_quality_scores", at(le="+Inf"))],
                         1 if "score" in listener else 0)
        self.assertEqual(samples[("tourcast_guide_reports_unreadable", ())], 1)
        self.assertLess(samples[("tourcast_guide_report_age_seconds", at())], 10)
        self.assertEqual(samples[("tourcast_joins_total", (("kind", "whep"),))], 1)
        self.assertEqual(samples[("tourcast_join_failures_total",
                                  (("kind", "whep"), ("reason", "no-guide")))], 1)

    def scrape_between_reports(self, participant):
        """/metrics and the guide's report on `participant`, from the same report (a scrape
        that straddles the guide's next report is taken again)."""
        for _ in range(10):
            before = self.guide_report()
            samples, _ = self.metrics()
            if self.guide_report() == before:
                return samples, next(a for a in before["attendees"] if a["id"] == participant)
        self.fail("the guide's report changed during every scrape")

    def metrics(self):
        code, headers, body = self.req("GET", "/metrics")
        self.assertEqual(code, 200)
        self.assertEqual(headers["Content-Type"], "text/plain; version=0.0.4; charset=utf-8")
        return parse_prometheus(body.decode())

    def test_metrics_of_a_gstreamer_attendee(self):
        """A tourattendeesrc held at level low: its state, level and score appear under its
        channel, as its guide reports them."""
        self.start_server()
        self.guide()
        attendee = harness.Attendee(self.redis.url, "museum", "en",
                                    ("participant-id=gst-1", "auto-quality=false", "level=low",
                                     "rtcp-interval=500"))
        self.procs.append(attendee)

        seen = []

        def scored():
            samples, _ = self.metrics()
            a = self.reported("gst-1")
            seen[:] = [a]
            if (samples.get(("tourcast_guide_attendees", at(state="connected")))
                    == 1 and a and a["level"] == "low" and "score" in a):
                return samples, a
            return None
        try:
            wait_for(scored, 30, "the guide to report gst-1 connected, low, scored", interval=0.5)
        except AssertionError as e:
            raise AssertionError("%s; the guide reported %r" % (e, seen)) from None
        samples, a = self.scrape_between_reports("gst-1")
        self.assertEqual(samples[("tourcast_guide_attendees_by_level",
                                  at(level="low"))], 1)
        for level in ["maximum", "high", "medium", "minimum"]:
            self.assertEqual(samples[("tourcast_guide_attendees_by_level",
                                      at(level=level))], 0, level)
        for le in ["30", "50", "70", "85", "100"]:
            self.assertEqual(samples[("tourcast_quality_scores", at(le=le))],
                             1 if a["score"] <= int(le) else 0, le)
        self.assertEqual(samples[("tourcast_quality_scores", at(le="+Inf"))], 1)
        self.assertEqual(samples[("tourcast_quality_score_sum", at())], a["score"])
        self.assertEqual(samples[("tourcast_guide_level_changes", at())],
                         self.guide_report()["levelChanges"])
        for level in ["ice_restart", "signaling_reset", "full_reconnect"]:
            self.assertEqual(samples[("tourcast_guide_recoveries", at(level=level))],
                             0, level)
        # The attendee's link to the guide breaks for a while: it recovers, and the guide's
        # count of recoveries shows under the channel.
        subprocess.run(["ip", "link", "set", "tcguide", "down"], check=True)
        time.sleep(6)
        subprocess.run(["ip", "link", "set", "tcguide", "up"], check=True)
        wait_for(lambda: sum(v for k, v in self.metrics()[0].items()
                             if k[0] == "tourcast_guide_recoveries") >= 1, 60,
                 "the guide to count a recovery", interval=0.5)
        wait_for(lambda: self.metrics()[0].get(
            ("tourcast_guide_attendees", at(state="connected"))) == 1, 60,
            "the attendee to be connected again", interval=0.5)

    def test_page_is_served(self):
        self.start_server()
        code, headers, body = self.req("GET", "/")
        self.assertEqual(code, 200)
        self.assertEqual(headers.get_content_type(), "text/html")
        self.assertIn(b'src="app.js"', body)
        code, headers, body = self.req("GET", "/app.js")
        self.assertEqual(headers.get_content_type(), "text/javascript")
        self.assertIn(b"window.tourcast", body)
        self.assertEqual(self.req("GET", "/style.css")[0], 200)
        self.error_of(self.req("GET", "/.hidden"), 404)
        self.assertIn(self.req("GET", "/index.html%00.js")[0], (400, 404))  # libsoup: 400


def at(tour="museum", language="en", **more):
    """The labels of a sample of one channel, as parse_prometheus keys them."""
    return tuple(sorted(dict(more, tour=tour, language=language).items()))


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{([^}]*)\})? (-?[0-9.e+]+|\+Inf|NaN)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(,|$)')


def parse_prometheus(text):
    """Strict parse of the text exposition format: {(name, labels): value}, {family: type}."""
    samples, types = {}, {}
    assert text.endswith("\n"), "exposition must end with a newline"
    for line in text.splitlines():
        if line.startswith("# HELP "):
            continue
        if line.startswith("# TYPE "):
            _, _, family, kind = line.split(" ")
            assert family not in types, "two TYPE lines for " + family
            types[family] = kind
            continue
        m = SAMPLE.match(line)
        assert m, "not a sample line: %r" % line
        name, labels_text, value = m.group(1), m.group(3) or "", m.group(4)
        labels = []
        rest = labels_text
        while rest:
            lm = LABEL.match(rest)
            assert lm, "bad labels in %r" % line
            labels.append((lm.group(1), lm.group(2)))
            rest = rest[lm.end():]
        family = re.sub(r"_(bucket|sum|count)$", "", name)
        assert family in types or name in types, "sample before its TYPE: %r" % line
        key = (name, tuple(sorted(labels)))
        assert key not in samples, "duplicate sample %r" % line
        samples[key] = float(value)
    return samples, types


if __name__ == "__main__":
    unittest.main(verbosity=2)
