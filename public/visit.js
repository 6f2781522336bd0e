// The visit page: join, follow the live stream, switch sections. No framework, no inline script.
(() => {
  // Times in the visitor's own time zone.
  for (const el of document.querySelectorAll('time[data-local]')) {
    const d = new Date(el.getAttribute('datetime'));
    if (!Number.isNaN(d.getTime()))
      el.textContent = d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
  }

  // Not yet open: count down, then reload into the visit.
  const countdown = document.querySelector('[data-countdown]');
  if (countdown) {
    const opens = Number(countdown.getAttribute('data-countdown')) * 1000;
    // Rounded up: 0 only once the window is open (rounded, the page reloaded up to half a second
    // early, got "not yet" again and reloaded at once, over and over until it opened).
    const tick = () => {
      const left = Math.max(0, Math.ceil((opens - Date.now()) / 1000));
      const h = Math.floor(left / 3600);
      const m = Math.floor((left % 3600) / 60);
      const s = left % 60;
      countdown.textContent = `${h > 0 ? `${h} h ` : ''}${m} min ${s} s`;
      return left;
    };
    tick();
    // Reload from the interval only: a clock ahead of the server's reloads once a second at most.
    setInterval(() => {
      if (tick() === 0) window.location.reload();
    }, 1000);
  }

  const root = document.querySelector('[data-ticket]');
  if (!root) return;
  const ticket = root.getAttribute('data-ticket');
  const role = root.getAttribute('data-role');
  let stream;
  let left = false;
  const over = (state) => ['ended', 'expired', 'cancelled'].includes(state);

  const show = (name) => {
    for (const section of root.querySelectorAll('[data-section]')) {
      const s = section.getAttribute('data-section');
      const visible =
        s === name ||
        (s === 'leave' && role === 'guest' && !left && !['ended', 'expired', 'cancelled'].includes(name));
      section.classList.toggle('hidden', !visible);
    }
  };

  const error = (message) => {
    const el = root.querySelector('[data-field="error"]');
    el.textContent = message;
    el.classList.toggle('hidden', !message);
  };

  const render = (status) => {
    root.setAttribute('data-state', status.state);
    // "Valid until" holds only while the visit can still be joined.
    root.querySelector('[data-field="valid"]')?.classList.toggle('hidden', over(status.state));
    if (over(status.state)) {
      show(status.state);
      clearTimeout(retryTimer);
      stream?.close();
      return;
    }
    if (left) return show('left');
    if (role === 'host') {
      show('host');
      root.querySelector('[data-field="state"]').textContent = status.state === 'live' ? 'Live' : 'Starting…';
      root.querySelector('[data-field="guests"]').textContent = String(status.guestsPresent);
      const list = root.querySelector('[data-field="devices"]');
      list.replaceChildren(
        ...(status.devices.length === 0
          ? [Object.assign(document.createElement('li'), { textContent: 'No devices for this visit.' })]
          : status.devices.map((d) => {
              const li = document.createElement('li');
              li.textContent = `${d.uri}: ${d.status}`;
              li.setAttribute('data-device', d.uri);
              li.setAttribute('data-status', d.status);
              return li;
            })),
      );
    } else {
      // Let in while a host is here; back in the lobby when the host has gone.
      show(status.admitted && status.hostsPresent > 0 ? 'admitted' : 'lobby');
    }
  };

  const expired = () => {
    root.setAttribute('data-state', 'expired');
    root.querySelector('[data-field="valid"]')?.classList.add('hidden');
    show('expired');
  };

  const post = async (path) => {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ticket }),
    });
    const body = await response.json().catch(() => ({}));
    if (!response.ok) throw new Error(body.message || `The server answered ${response.status}`);
    return body;
  };

  // The stream: EventSource reconnects by itself after a dropped connection (the server asks for
  // 5 s). When the server refuses it (too many pages of this link, the server full, the visit
  // over) it stops; the page then asks once why, shows it, and tries again later, ever less often.
  let retryMs = 10_000;
  let retryTimer;
  const follow = () => {
    clearTimeout(retryTimer);
    stream?.close();
    const source = new EventSource(`/live/events?ticket=${encodeURIComponent(ticket)}`);
    stream = source;
    source.addEventListener('status', (e) => {
      retryMs = 10_000;
      render(JSON.parse(e.data));
    });
    // The server ended the stream after its final status: no reconnection, except when the server
    // is only restarting (`closing`).
    source.addEventListener('end', (e) => {
      const { reason } = JSON.parse(e.data || '{}');
      if (reason === 'closing') return;
      source.close();
      if (reason === 'ticket-expired') {
        expired();
      } else if (reason === 'gone') {
        error('This visit no longer exists.');
      }
    });
    source.addEventListener('error', async () => {
      if (source.readyState !== EventSource.CLOSED || stream !== source || left) return;
      const answer = await fetch(`/live/status?ticket=${encodeURIComponent(ticket)}`).catch(() => undefined);
      if (stream !== source || left) return;
      if (answer?.status === 403) {
        expired();
        return;
      }
      const status = answer?.ok ? await answer.json().catch(() => undefined) : undefined;
      if (status) render(status);
      if (status && over(status.state)) return;
      if (!status) error('The connection to the visit was lost; trying again shortly.');
      retryTimer = setTimeout(follow, retryMs);
      retryMs = Math.min(retryMs * 2, 300_000);
    });
  };

  const join = async () => {
    try {
      error('');
      left = false;
      // Follow the stream while joining, not after: a host's join answers only once every device
      // has been dialled, and meanwhile the stream shows each one dialling.
      const joined = post('/live/join');
      follow();
      render(await joined);
    } catch (e) {
      error(e.message);
    }
  };

  root.querySelector('[data-action="leave"]')?.addEventListener('click', async () => {
    // A visit that is over has nothing to leave (nor to rejoin).
    if (over(root.getAttribute('data-state'))) return;
    left = true;
    clearTimeout(retryTimer);
    stream?.close();
    show('left');
    await post('/live/leave').catch(() => {});
    root.querySelector('[data-action="rejoin"]')?.focus();
  });
  root.querySelector('[data-action="rejoin"]')?.addEventListener('click', join);
  root.querySelector('[data-action="end"]')?.addEventListener('click', async () => {
    if (!window.confirm('End the visit for everyone?')) return;
    try {
      render(await post('/live/end'));
    } catch (e) {
      error(e.message);
    }
  });

  if (!over(root.getAttribute('data-state'))) join();
})();
