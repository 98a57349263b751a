// tourcast web page: listen to a channel (WHEP) or speak on one as its guide (WHIP).
// No build step: plain browser JavaScript. window.tourcast exposes the same actions to
// scripts (the browser tests drive it).
'use strict';

const $ = (id) => document.getElementById(id);

// Waits until ICE gathering is complete (the offer then carries our candidates), at most
// `ms`; candidates found later are trickled with PATCH.
function gathered(pc, ms) {
  if (pc.iceGatheringState === 'complete') return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => { pc.removeEventListener('icegatheringstatechange', check); resolve(); };
    const check = () => { if (pc.iceGatheringState === 'complete') done(); };
    pc.addEventListener('icegatheringstatechange', check);
    setTimeout(done, ms);
  });
}

async function errorText(response) {
  try {
    const body = await response.json();
    return `${response.status}: ${body.error}`;
  } catch (e) {
    return `${response.status} ${response.statusText}`;
  }
}

function trickle(resource, candidate) {
  if (!resource || !candidate || !candidate.candidate) return;
  const frag = `a=mid:${candidate.sdpMid}\r\na=${candidate.candidate}\r\n`;
  fetch(resource, {
    method: 'PATCH',
    headers: { 'Content-Type': 'application/trickle-ice-sdpfrag' },
    body: frag,
  }).catch(() => {});
}

// Measures a MediaStream with WebAudio: dominant frequency (Hz) and level (dBFS).
class Analyser {
  constructor(stream) {
    this.context = new AudioContext();
    this.source = this.context.createMediaStreamSource(stream);
    this.node = this.context.createAnalyser();
    this.node.fftSize = 8192;
    this.node.smoothingTimeConstant = 0;
    this.source.connect(this.node);
    this.context.resume().catch(() => {});
  }
  measure() {
    const n = this.node;
    const time = new Float32Array(n.fftSize);
    n.getFloatTimeDomainData(time);
    let sum = 0;
    for (const v of time) sum += v * v;
    const rms = Math.sqrt(sum / time.length);
    const level = rms > 0 ? 20 * Math.log10(rms) : -Infinity;
    const freq = new Float32Array(n.frequencyBinCount);
    n.getFloatFrequencyData(freq);
    let best = 1;
    for (let i = 1; i < freq.length; i++) if (freq[i] > freq[best]) best = i;
    return { frequency: best * this.context.sampleRate / n.fftSize, level,
             contextState: this.context.state };
  }
  close() { this.context.close().catch(() => {}); }
}

class Listener {
  constructor(tour, language, profile, onchange) {
    this.tour = tour;
    this.language = language;
    this.profile = profile;
    this.onchange = onchange;
    this.recoveries = 0;
    this.state = 'new';
    this.quality = null;
    this.error = '';
    this.stopped = false;
    this.last = null;
  }

  async start() {
    await this.connect();
    this.timer = setInterval(() => this.tick(), 2000);
  }

  async connect() {
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    this.last = null;
    pc.addTransceiver('audio', { direction: 'recvonly' });
    pc.ontrack = (event) => {
      const stream = event.streams[0] || new MediaStream([event.track]);
      const audio = $('audio');
      audio.srcObject = stream;  // Chrome only feeds WebAudio from a remote stream that plays
      audio.play().catch(() => {});
      if (this.analyser) this.analyser.close();
      this.analyser = new Analyser(stream);
    };
    pc.onconnectionstatechange = () => {
      if (pc !== this.pc) return;
      this.state = pc.connectionState;
      if (this.state === 'connected') this.downSince = 0;
      this.changed();
    };
    pc.onicecandidate = (event) => trickle(this.resource, event.candidate);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    let url = `/whep/${encodeURIComponent(this.tour)}/${encodeURIComponent(this.language)}`;
    if (this.profile) url += `?profile=${encodeURIComponent(this.profile)}`;
    const response = await fetch(url, {
      method: 'POST', headers: { 'Content-Type': 'application/sdp' },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      pc.close();
      throw new Error(await errorText(response));
    }
    this.resource = response.headers.get('Location');
    this.participant = response.headers.get('X-Tourcast-Participant');
    this.quality = null;
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    this.error = '';
    this.changed();
  }

  // Every 2 s: report the stats (the server answers with the guide's latest report on this
  // listener: the Opus level it sends, its score; and this browser's own stats scored), and
  // recover from a connection that dropped: a new offer, with backoff.
  async tick() {
    if (this.stopped || this.recovering) return;
    const down = !this.pc || ['failed', 'closed', 'disconnected'].includes(this.pc.connectionState);
    if (down) {
      this.downSince = this.downSince || Date.now();
      if (this.pc && this.pc.connectionState === 'disconnected' && Date.now() - this.downSince < 3000)
        return;
      return this.recover('connection ' + (this.pc ? this.pc.connectionState : 'missing'));
    }
    try {
      const report = await this.stats();
      const response = await fetch(`${this.resource}/report`, {
        method: 'POST', headers: { 'Content-Type': 'application/json' },
        body: JSON.stringify(report),
      });
      if (response.status === 404) return this.recover('the server forgot this listener');
      if (response.ok) {
        this.quality = await response.json();
        this.changed();
      }
    } catch (e) {
      // the server is unreachable for now: keep listening, report again later
    }
  }

  async stats() {
    const report = { state: this.pc.connectionState, recoveries: this.recoveries };
    const stats = await this.pc.getStats();
    let inbound = null;
    stats.forEach((s) => {
      if (s.type === 'inbound-rtp' && s.kind === 'audio') inbound = s;
      if (s.type === 'candidate-pair' && s.nominated && s.currentRoundTripTime !== undefined)
        report.rttMs = s.currentRoundTripTime * 1000;
    });
    if (inbound) {
      const lost = Math.max(0, inbound.packetsLost || 0);
      const received = inbound.packetsReceived || 0;
      const prev = this.last || { lost: 0, received: 0 };
      report.packetsLost = Math.max(0, lost - prev.lost);
      report.packetsReceived = Math.max(0, received - prev.received);
      if (inbound.jitter !== undefined) report.jitterMs = inbound.jitter * 1000;
      this.last = { lost, received };
    }
    return report;
  }

  async recover(why) {
    if (this.recovering || this.stopped) return;
    this.recovering = true;
    this.recoveries++;
    this.state = 'reconnecting';
    this.error = why;
    this.changed();
    let delay = 500;
    while (!this.stopped) {
      this.close();
      try {
        await this.connect();
        break;
      } catch (e) {
        this.error = `${why}; retrying: ${e.message}`;
        this.changed();
        await new Promise((r) => setTimeout(r, delay));
        delay = Math.min(delay * 2, 8000);
      }
    }
    this.downSince = 0;
    this.recovering = false;
  }

  close() {
    if (this.resource) fetch(this.resource, { method: 'DELETE' }).catch(() => {});
    this.resource = null;
    if (this.pc) this.pc.close();
    this.pc = null;
  }

  stop() {
    this.stopped = true;
    clearInterval(this.timer);
    this.close();
    if (this.analyser) this.analyser.close();
    this.analyser = null;
    this.state = 'closed';
    this.changed();
  }

  changed() { if (this.onchange) this.onchange(this); }
}

class Guide {
  constructor(tour, language, token, takeover, onchange) {
    Object.assign(this, { tour, language, token, takeover, onchange });
    this.state = 'new';
    this.attendees = null;
  }

  async start() {
    this.stream = await navigator.mediaDevices.getUserMedia({ audio: true });
    this.analyser = new Analyser(this.stream);
    const pc = new RTCPeerConnection({ iceServers: [] });
    this.pc = pc;
    pc.addTransceiver(this.stream.getAudioTracks()[0], { direction: 'sendonly', streams: [this.stream] });
    pc.onconnectionstatechange = () => { this.state = pc.connectionState; this.changed(); };
    pc.onicecandidate = (event) => trickle(this.resource, event.candidate);
    await pc.setLocalDescription(await pc.createOffer());
    await gathered(pc, 2000);
    let url = `/whip/${encodeURIComponent(this.tour)}/${encodeURIComponent(this.language)}`;
    if (this.takeover) url += '?takeover=1';
    const response = await fetch(url, {
      method: 'POST',
      headers: { 'Content-Type': 'application/sdp', Authorization: `Bearer ${this.token}` },
      body: pc.localDescription.sdp,
    });
    if (response.status !== 201) {
      this.stop();
      throw new Error(await errorText(response));
    }
    this.resource = response.headers.get('Location');
    await pc.setRemoteDescription({ type: 'answer', sdp: await response.text() });
    this.timer = setInterval(() => this.count(), 2000);
  }

  async count() {
    try {
      const response = await fetch('/api/channels');
      const { channels } = await response.json();
      const mine = channels.find((c) => c.tourId === this.tour && c.language === this.language);
      this.attendees = mine ? mine.attendees : 0;
      this.changed();
    } catch (e) { /* try again next time */ }
  }

  stop() {
    clearInterval(this.timer);
    if (this.resource) fetch(this.resource, { method: 'DELETE' }).catch(() => {});
    this.resource = null;
    if (this.pc) this.pc.close();
    if (this.stream) this.stream.getTracks().forEach((t) => t.stop());
    if (this.analyser) this.analyser.close();
    this.pc = this.stream = this.analyser = null;
    this.state = 'closed';
    this.changed();
  }

  changed() { if (this.onchange) this.onchange(this); }
}

/* ---------- the page ---------- */

let listener = null;
let guide = null;

function showListener(l) {
  // guide: what the guide reported on this listener (null until its first report names it);
  // browser: this browser's own inbound stats, scored (null until packets arrived).
  const guide = l.quality && l.quality.guide;
  const browser = l.quality && l.quality.browser;
  $('listen-state').textContent = l.state;
  $('recoveries').textContent = l.recoveries;
  $('level').textContent = guide ? guide.level : '–';
  $('score').textContent = guide && guide.score !== undefined ? guide.score : '–';
  $('category').textContent = guide && guide.category ? `(${guide.category})` : '';
  $('browser-score').textContent = browser ? browser.score : '–';
  $('browser-category').textContent = browser ? `(${browser.category})` : '';
  $('listen-error').textContent = l.error || '';
}

function showGuide(g) {
  $('speak-state').textContent = g.state;
  $('attendee-count').textContent = g.attendees === null ? '–' : g.attendees;
}

async function refreshChannels() {
  const select = $('channel');
  try {
    const response = await fetch('/api/channels');
    const { channels } = await response.json();
    select.innerHTML = '';
    const live = channels.filter((c) => c.guide);
    for (const c of live) {
      const option = document.createElement('option');
      option.value = `${c.tourId}/${c.language}`;
      option.textContent = `${c.tourId} – ${c.language} (${c.attendees} listening)`;
      select.appendChild(option);
    }
    if (live.length === 0) select.innerHTML = '<option value="">no tour is live right now</option>';
    return channels;
  } catch (e) {
    select.innerHTML = '<option value="">cannot reach the server</option>';
    return [];
  }
}

async function listen(tour, language, profile) {
  if (listener) listener.stop();
  listener = new Listener(tour, language, profile || '', showListener);
  $('listen').disabled = true;
  $('leave').disabled = false;
  try {
    await listener.start();
  } catch (e) {
    listener.error = e.message;
    showListener(listener);
    listener.stop();
    listener = null;
    $('listen').disabled = false;
    $('leave').disabled = true;
    throw e;
  }
}

function leave() {
  if (listener) listener.stop();
  listener = null;
  $('listen').disabled = false;
  $('leave').disabled = true;
}

async function speak(tour, language, token, takeover) {
  if (guide) guide.stop();
  guide = new Guide(tour, language, token, takeover, showGuide);
  $('speak').disabled = true;
  $('stop-speaking').disabled = false;
  $('speak-error').textContent = '';
  try {
    await guide.start();
  } catch (e) {
    $('speak-error').textContent = e.message;
    guide = null;
    $('speak').disabled = false;
    $('stop-speaking').disabled = true;
    throw e;
  }
}

function stopSpeaking() {
  if (guide) guide.stop();
  guide = null;
  $('speak').disabled = false;
  $('stop-speaking').disabled = true;
}

function tab(which) {
  $('view-listen').hidden = which !== 'listen';
  $('view-speak').hidden = which !== 'speak';
  $('tab-listen').classList.toggle('active', which === 'listen');
  $('tab-speak').classList.toggle('active', which === 'speak');
}

$('tab-listen').onclick = () => tab('listen');
$('tab-speak').onclick = () => tab('speak');
$('refresh').onclick = refreshChannels;
$('listen').onclick = () => {
  const [tour, language] = ($('channel').value || '/').split('/');
  if (!tour) return;
  listen(tour, language, $('profile').value).catch(() => {});
};
$('leave').onclick = leave;
$('speak').onclick = () => speak($('guide-tour').value.trim(), $('guide-language').value.trim(),
  $('guide-token').value.trim(), $('takeover').checked).catch(() => {});
$('stop-speaking').onclick = stopSpeaking;

setInterval(() => {
  if (listener && listener.analyser) $('meter').value = Math.max(-80, listener.analyser.measure().level);
  if (guide && guide.analyser) $('mic-meter').value = Math.max(-80, guide.analyser.measure().level);
}, 250);

refreshChannels();

// For scripts and the browser tests.
window.tourcast = {
  channels: refreshChannels,
  listen,
  leave,
  speak,
  stopSpeaking,
  listener: () => listener && {
    state: listener.state, recoveries: listener.recoveries, quality: listener.quality,
    error: listener.error, resource: listener.resource, participant: listener.participant,
    audio: listener.analyser ? listener.analyser.measure() : null,
  },
  guide: () => guide && {
    state: guide.state, attendees: guide.attendees, resource: guide.resource,
    microphone: guide.analyser ? guide.analyser.measure() : null,
  },
};
