"""tourcast in a real browser: headless Chromium (chromedriver) opens the page tourcast-server
serves, listens to a guide pipeline sending 440 Hz and checks the tone with WebAudio; speaks
as a guide from a fake microphone playing a tone file, which a tourattendeesrc hears.
Run inside tests/e2e/netns-run.sh (guide side on 198.18.0.1, attendees on 198.18.0.2)."""
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import wait_for  # noqa: E402
from webdriver import Browser  # noqa: E402

TOKEN = "museum-guide-token-0123456789"


class BrowserTest(unittest.TestCase):
    def setUp(self):
        self.procs = []
        self.browser = None
        self.redis = harness.Redis()
        self.dir = tempfile.mkdtemp(prefix="tourcast-browser-")
        tokens = os.path.join(self.dir, "tokens")
        with open(tokens, "w") as f:
            f.write("# test\nmuseum %s\n" % TOKEN)
        self.server = harness.Server(self.redis.url, tokens)

    def tearDown(self):
        failed = any(e for _, e in (self._outcome.result.errors + self._outcome.result.failures)
                     if _ is self)
        if self.browser:
            if failed:
                for entry in self.browser.console()[-40:]:
                    print("console:", entry.get("message"))
            self.browser.close()
        for p in reversed(self.procs):
            p.stop()
            if hasattr(p, "text") and failed:
                print("---- %s log ----\n%s" % (p.name, p.text()[-4000:]))
        code = self.server.stop()
        if failed:
            print("---- server log ----\n%s" % self.server.text()[-6000:])
        self.redis.stop()
        self.assertEqual(code, 0)
        for p in self.procs + [self.server]:
            if hasattr(p, "text"):
                self.assertEqual(harness.our_problems(p.text()), [], p.name)

    def listener(self):
        return self.browser.run("return tourcast.listener();")

    def assert_hears(self, freq, what):
        def ok():
            l = self.listener()
            a = l and l.get("audio")
            # frequency and level are null until the page's analyser has a block
            if (a and a.get("frequency") is not None and a.get("level") is not None
                    and abs(a["frequency"] - freq) < 15 and a["level"] > -30):
                return l
            return False
        return wait_for(ok, 30, what, interval=0.5)

    def test_listener_hears_the_guide(self):
        guide = harness.guide_pipeline(self.redis.url, "museum", "en", 440)
        self.procs.append(guide)
        wait_for(lambda: '"guide": true' in self.server.request("GET", "/api/channels")[2]
                 .decode().replace('"guide":true', '"guide": true'), 20, "the guide's channel")
        self.browser = Browser()
        self.browser.get(self.server.base + "/")
        channels = self.browser.run("return await tourcast.channels();")
        self.assertIn({"tourId": "museum", "language": "en", "guide": True, "attendees": 0},
                      channels)
        self.browser.run("await tourcast.listen('museum', 'en', 'desktop/wifi');")
        l = self.assert_hears(440, "the page to hear 440 Hz")
        self.assertEqual(l["state"], "connected")
        # The page shows the level the guide reports sending this listener, and the score
        # the guide measures (from the browser's RTCP), as its report in Redis has them.
        participant = l["participant"]
        self.assertTrue(participant.startswith("web-"), participant)

        def shown_matches_report():
            q = (self.listener() or {}).get("quality") or {}
            guide, browser = q.get("guide"), q.get("browser")
            if not guide or "score" not in guide or not browser:
                return None
            text = self.redis.cli("GET", "webrtc:diagnostics:museum:en")
            reported = next((a for a in json.loads(text)["attendees"] if a["id"] == participant),
                            None) if text else None
            shown = self.browser.run(
                "return ['listen-state', 'level', 'score', 'category', 'browser-score']"
                ".map((id) => document.getElementById(id).textContent);")
            if reported and shown[1] == reported["level"] and shown[2] == str(reported["score"]):
                return guide, browser, reported, shown
            return None
        guide, browser, reported, shown = wait_for(shown_matches_report, 20,
                                                   "the page to show the guide's report")
        self.assertEqual(guide["level"], reported["level"])
        self.assertIn(reported["level"], ["maximum", "high"])  # desktop/wifi on a clean link
        self.assertEqual(shown[0], "connected")
        self.assertEqual(shown[3], "(%s)" % reported["category"])
        self.assertGreaterEqual(reported["score"], 85)
        self.assertEqual(browser["category"], "excellent")  # what the browser measures itself
        self.assertEqual(shown[4], str(browser["score"]))
        # The server counts it.
        metrics = self.server.request("GET", "/metrics")[2].decode()
        self.assertIn('tourcast_attendees{tour="museum",language="en"} 1', metrics)
        self.assertIn('tourcast_guide_attendees{tour="museum",language="en",state="connected"} 1',
                      metrics)
        self.assertIn('tourcast_guide_attendees_by_level{tour="museum",language="en",level="%s"} 1'
                      % reported["level"], metrics)
        self.assertIn('tourcast_joins_total{kind="whep"} 1', metrics)

        # A flood of joins from one client is refused with Retry-After; the listener keeps
        # its audio.
        with open(os.path.join(os.path.dirname(__file__), "offer.sdp")) as f:
            offer = f.read()
        statuses = []

        def flood():
            for _ in range(60):
                s, h, _ = self.server.request("POST", "/whep/museum/en", offer,
                                              {"Content-Type": "application/sdp"})
                statuses.append((s, h.get("Retry-After")))
                if s == 201:
                    self.server.request("DELETE", h["Location"])
        threads = [threading.Thread(target=flood) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        refused = [r for r in statuses if r[0] in (429, 503)]
        self.assertTrue(refused, statuses)
        self.assertTrue(all(r[1] for r in refused), refused)
        self.assert_hears(440, "the listener to keep hearing 440 Hz after the flood")
        l = self.listener()
        self.assertEqual(l["state"], "connected")
        self.assertEqual(l["recoveries"], 0)

        # The guide's side of the link goes down for 8 s: the page reconnects by itself.
        subprocess.run(["ip", "link", "set", "tcguide", "down"], check=True)
        wait_for(lambda: (self.listener() or {}).get("state") in
                 ("disconnected", "failed", "reconnecting"), 20, "the page to notice the drop")
        time.sleep(8)
        subprocess.run(["ip", "link", "set", "tcguide", "up"], check=True)
        wait_for(lambda: (self.listener() or {}).get("recoveries", 0) >= 1, 30, "a reconnection")
        self.assert_hears(440, "the page to hear 440 Hz again after the drop")
        # A reconnection is a new join: the guide reports the new listener, and the page
        # shows that report.
        wait_for(lambda: (self.listener() or {}).get("participant") not in (None, participant)
                 and ((self.listener() or {}).get("quality") or {}).get("guide"), 20,
                 "the guide's report on the reconnected listener")

        # Leaving deletes the listener's keys.
        self.browser.run("tourcast.leave();")
        wait_for(lambda: 'tourcast_attendees{tour="museum",language="en"} 0' in
                 self.server.request("GET", "/metrics")[2].decode(), 10, "the listener to go")

    def test_browser_speaks_as_the_guide(self):
        tone = os.path.join(self.dir, "tone.wav")
        harness.write_tone(tone, 660)
        self.browser = Browser(audio_file=tone, secure_origin=self.server.base)
        self.browser.get(self.server.base + "/")
        self.browser.run("await tourcast.speak(a[0], a[1], a[2], false);", "museum", "de", TOKEN)
        g = wait_for(lambda: (self.browser.run("return tourcast.guide();") or {})
                     .get("state") == "connected", 20, "the guide page to connect")
        self.assertTrue(g)
        attendee = harness.Attendee(self.redis.url, "museum", "de")
        self.procs.append(attendee)
        samples = attendee.read_seconds(1.0, 30)  # skip the start
        samples = attendee.read_seconds(2.0, 20)
        self.assertGreater(len(samples), 48000, "the attendee received no audio")
        share, level = harness.goertzel_share(samples, 48000, 660)
        other, _ = harness.goertzel_share(samples, 48000, 440)
        self.assertGreater(share, 0.5, "660 Hz share %.2f (level %.1f dBFS)" % (share, level))
        self.assertLess(other, 0.05)
        # Chrome processes the microphone (gain control, noise suppression): a bit quieter.
        self.assertGreater(level, -40)
        # The guide view shows its live listener count.
        wait_for(lambda: (self.browser.run("return tourcast.guide();") or {}).get("attendees") == 1,
                 15, "the guide page to count one listener")
        # Stopping releases the channel for the next guide.
        self.browser.run("tourcast.stopSpeaking();")
        wait_for(lambda: self.redis.cli("EXISTS", "webrtc:publisher:museum:de") == "0", 10,
                 "the publisher lock to go")


if __name__ == "__main__":
    unittest.main(verbosity=2)
