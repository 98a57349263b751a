"""A small W3C WebDriver client (python3 standard library only) for chromedriver, and the
headless Chromium the browser tests run: no network access, fake media devices."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def chromium_flags(user_data_dir, audio_file=None, secure_origin=None):
    flags = [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-default-apps", "--disable-extensions", "--no-default-browser-check",
        "--autoplay-policy=no-user-gesture-required",
        # Host candidates as addresses, not mDNS names libnice cannot resolve.
        "--disable-features=WebRtcHideLocalIpsWithMdns",
        "--user-data-dir=" + user_data_dir,
    ]
    if secure_origin:
        # getUserMedia needs a secure context: https, localhost, or this.
        flags.append("--unsafely-treat-insecure-origin-as-secure=" + secure_origin)
    if audio_file:
        flags += ["--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
                  "--use-file-for-fake-audio-capture=" + audio_file]
    return flags


class WebDriverError(Exception):
    pass


class Browser:
    """chromedriver on a free loopback port driving one headless Chromium session."""

    def __init__(self, audio_file=None, secure_origin=None):
        self.dir = tempfile.mkdtemp(prefix="tourcast-chromium-")
        self.port = free_port()
        self.log = open(os.path.join(self.dir, "chromedriver.log"), "w")
        self.driver = subprocess.Popen(
            [shutil.which("chromedriver") or "/usr/bin/chromedriver", "--port=%d" % self.port],
            stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.time() + 20
        while True:
            try:
                self._call("GET", "/status")
                break
            except Exception:
                if time.time() > deadline or self.driver.poll() is not None:
                    self.close()
                    raise WebDriverError("chromedriver did not start")
                time.sleep(0.1)
        binary = shutil.which("chromium") or "/usr/bin/chromium"
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": chromium_flags(os.path.join(self.dir, "profile"), audio_file,
                                       secure_origin),
            },
            "goog:loggingPrefs": {"browser": "ALL"},
        }}}
        try:
            self.session = self._call("POST", "/session", caps)["sessionId"]
        except Exception:
            self.close()
            raise
        self._call("POST", self._s("/timeouts"), {"script": 60000, "pageLoad": 30000})

    def _s(self, path):
        return "/session/%s%s" % (self.session, path)

    def _call(self, method, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            "http://127.0.0.1:%d%s" % (self.port, path), data=data, method=method,
            headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                return json.loads(response.read() or b"{}").get("value")
        except urllib.error.HTTPError as e:
            detail = e.read().decode(errors="replace")
            raise WebDriverError("%s %s: %d %s" % (method, path, e.code, detail[:2000]))

    def get(self, url):
        self._call("POST", self._s("/url"), {"url": url})

    def run(self, script, *args):
        """Runs an async function body; `script` gets the arguments and returns a value."""
        wrapped = ("const done = arguments[arguments.length - 1];"
                   "(async (...a) => { %s })(...Array.from(arguments).slice(0, -1))"
                   ".then((v) => done({ok: v === undefined ? null : v}),"
                   "      (e) => done({error: String(e && e.stack || e)}));" % script)
        result = self._call("POST", self._s("/execute/async"), {"script": wrapped, "args": list(args)})
        if result is None or "error" in result:
            raise WebDriverError("script failed: %s" % (result and result["error"]))
        return result["ok"]

    def console(self):
        try:
            return self._call("POST", self._s("/se/log"), {"type": "browser"}) or []
        except WebDriverError:
            return []

    def close(self):
        try:
            if getattr(self, "session", None):
                self._call("DELETE", self._s(""))
        except Exception:
            pass
        if self.driver.poll() is None:
            self.driver.terminate()
            try:
                self.driver.wait(10)
            except subprocess.TimeoutExpired:
                self.driver.kill()
                self.driver.wait()
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
