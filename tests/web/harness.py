"""Processes the server and browser tests run for real: redis-server, tourcast-server,
guide and attendee pipelines (gst-launch-1.0 with the build's plugin)."""
import math
import os
import re
import signal
import socket
import struct
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import wave

GUIDE_ADDRESS = os.environ.get("TOURCAST_TEST_GUIDE_ADDRESS", "127.0.0.1")
ATTENDEE_ADDRESS = os.environ.get("TOURCAST_TEST_ATTENDEE_ADDRESS", "127.0.0.1")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Process:
    def __init__(self, args, name, env=None, stdout=None):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="tourcast-%s-" % name)
        self.log_path = os.path.join(self.dir, "log")
        self.log = open(self.log_path, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen(args, stdout=stdout or self.log, stderr=self.log, env=e,
                                     start_new_session=True)

    def text(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGINT):
        self.proc.stdout and self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        return self.proc.returncode


def our_problems(log):
    """GLib criticals and GStreamer warnings (GST_DEBUG=2) of tourcast's own code, and
    the rtpsession warning of a peer whose sender reports tourwebrtcbin failed to time."""
    return [line for line in log.splitlines()
            if "CRITICAL" in line or ("WARN" in line and "tour" in line.lower())
            or "without knowing configured latency" in line]


def wait_for(predicate, timeout, what, interval=0.1):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = predicate()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError("timed out after %.0f s waiting for %s (last: %r)" % (timeout, what, last))


class Redis(Process):
    def __init__(self):
        self.port = free_port()
        super().__init__(["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                          "--save", "", "--appendonly", "no"], "redis")
        self.url = "redis://127.0.0.1:%d" % self.port
        wait_for(lambda: self.cli("PING") == "PONG", 10, "redis-server")

    def cli(self, *args):
        r = subprocess.run(["redis-cli", "-p", str(self.port)] + list(args),
                           capture_output=True, text=True)
        return r.stdout.strip()


class Server(Process):
    def __init__(self, redis_url, token_file=None, extra=()):
        args = [os.environ["TOURCAST_SERVER"], "--listen", GUIDE_ADDRESS, "--port", "0",
                "--redis-url", redis_url, "--ice-addresses", GUIDE_ADDRESS] + list(extra)
        if token_file:
            args += ["--token-file", token_file]
        super().__init__(args, "server")
        m = wait_for(lambda: re.search(r"listening on http://[^:]+:(\d+)/", self.text()), 15,
                     "tourcast-server to listen")
        self.base = "http://%s:%s" % (GUIDE_ADDRESS, m.group(1))

    def request(self, method, path, body=None, headers=None):
        """(status, headers, body bytes); never raises for an HTTP status."""
        data = body.encode() if isinstance(body, str) else body
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers=headers or {})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.headers, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()


def gst_launch(description, name):
    return Process(["gst-launch-1.0", "-e"] + description.split(), name)


def guide_pipeline(redis_url, tour, language, freq=440):
    return gst_launch(
        "audiotestsrc is-live=true wave=sine freq=%d volume=0.5 ! tourguidesink tour=%s "
        "language=%s redis-url=%s ice-addresses=%s" % (freq, tour, language, redis_url,
                                                        GUIDE_ADDRESS), "guide")


def write_tone(path, freq, seconds=10, rate=48000, amplitude=0.5):
    with wave.open(path, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        frames = bytearray()
        for i in range(int(seconds * rate)):
            frames += struct.pack("<h", int(amplitude * 32767 * math.sin(2 * math.pi * freq * i / rate)))
        w.writeframes(bytes(frames))


def goertzel_share(samples, rate, freq):
    """Share of the signal's energy at `freq` (0..1) and its RMS level in dBFS."""
    n = len(samples)
    if n == 0:
        return 0.0, -math.inf
    k = 2 * math.cos(2 * math.pi * freq / rate)
    s1 = s2 = 0.0
    energy = 0.0
    for x in samples:
        s0 = x + k * s1 - s2
        s2, s1 = s1, s0
        energy += x * x
    power = s1 * s1 + s2 * s2 - k * s1 * s2
    tone = 2 * power / n  # energy of a sinusoid at freq
    rms = math.sqrt(energy / n)
    return (min(1.0, tone / energy) if energy > 0 else 0.0,
            20 * math.log10(rms) if rms > 0 else -math.inf)


class Attendee:
    """tourattendeesrc writing mono 48 kHz S16LE to a pipe we read."""

    def __init__(self, redis_url, tour, language, properties=()):
        """properties: more tourattendeesrc properties, e.g. ("level=low",)."""
        self.proc = subprocess.Popen(
            ["gst-launch-1.0", "-q", "tourattendeesrc", "tour=" + tour, "language=" + language,
             "redis-url=" + redis_url, "ice-addresses=" + ATTENDEE_ADDRESS] + list(properties) +
            ["!", "audioconvert",
             "!", "audioresample", "!", "audio/x-raw,format=S16LE,channels=1,rate=48000", "!",
             "fdsink", "fd=1"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            start_new_session=True)

    def read_seconds(self, seconds, timeout):
        need = int(seconds * 48000) * 2
        data = bytearray()
        deadline = time.time() + timeout
        os.set_blocking(self.proc.stdout.fileno(), False)
        while len(data) < need and time.time() < deadline:
            chunk = self.proc.stdout.read(need - len(data))
            if chunk:
                data += chunk
            else:
                time.sleep(0.02)
        return [v / 32768.0 for v in struct.unpack("<%dh" % (len(data) // 2), bytes(data[:len(data) // 2 * 2]))]

    def stop(self):
        self.proc.stdout.close()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
