// The staff pages' enhancements: copy buttons, the browser's time zone, times in that zone, and
// focus on the first field with a problem. Everything works without this script.
(() => {
  const status = document.getElementById('copy-status');
  const announce = (text) => {
    if (!status) return;
    status.textContent = '';
    // A fresh change, so the same message twice is read twice.
    setTimeout(() => {
      status.textContent = text;
    }, 50);
  };

  const zone = (() => {
    try {
      return Intl.DateTimeFormat().resolvedOptions().timeZone || '';
    } catch {
      return '';
    }
  })();

  // ---- copy buttons (shown only when this script runs)
  const copyText = async (text, field) => {
    if (navigator.clipboard && window.isSecureContext) {
      try {
        await navigator.clipboard.writeText(text);
        return true;
      } catch {
        // fall through to the selection
      }
    }
    if (field) {
      field.focus();
      field.select();
      try {
        return document.execCommand('copy');
      } catch {
        return false;
      }
    }
    return false;
  };

  for (const button of document.querySelectorAll('button.copy[data-copy]')) {
    button.hidden = false;
    const text = button.querySelector('.copy-text');
    let timer;
    button.addEventListener('click', async () => {
      const field = button.closest('.link-row')?.querySelector('input.url');
      const name = (button.dataset.copyLabel || 'link').toLowerCase();
      const ok = await copyText(button.dataset.copy || '', field);
      clearTimeout(timer);
      if (ok) {
        button.classList.add('copied');
        if (text) text.textContent = 'Copied';
        announce(`Copied the ${name}.`);
        timer = setTimeout(() => {
          button.classList.remove('copied');
          if (text) text.textContent = 'Copy';
        }, 3000);
      } else {
        field?.focus();
        field?.select();
        announce(`The ${name} is selected: press Control+C, or Command+C on a Mac, to copy it.`);
      }
    });
  }

  // ---- the browser's time zone, and "now" in it, on a new form
  const zoneField = document.querySelector('input[data-browser-time-zone]');
  if (zoneField && zone && !zoneField.value) {
    zoneField.value = zone;
    for (const el of document.querySelectorAll('[data-time-zone-name]')) el.textContent = zone;
    const start = document.getElementById('start');
    if (start?.hasAttribute('data-default-now')) {
      const d = new Date();
      const two = (n) => String(n).padStart(2, '0');
      start.value = `${d.getFullYear()}-${two(d.getMonth() + 1)}-${two(d.getDate())}T${two(d.getHours())}:${two(d.getMinutes())}`;
    }
  }

  // ---- times in the browser's zone
  const format = new Intl.DateTimeFormat(undefined, {
    year: 'numeric',
    month: 'short',
    day: 'numeric',
    hour: '2-digit',
    minute: '2-digit',
    timeZoneName: 'short',
  });
  for (const el of document.querySelectorAll('time[data-local]')) {
    const date = new Date(el.getAttribute('datetime') || '');
    if (!Number.isNaN(date.getTime())) el.textContent = format.format(date);
  }

  // ---- visits' states, live: waiting guests, live visits and no-shows show with no reload
  const badges = () => document.querySelectorAll('[data-visit]');
  if (badges().length > 0 && window.EventSource) {
    // The same words and colours as the server's (src/server/staff/views.ts).
    const CLASS = {
      scheduled: 'wait',
      open: 'ok',
      waiting: 'wait',
      live: 'ok',
      ended: 'muted',
      no_show: 'bad',
      expired: 'muted',
      cancelled: 'bad',
    };
    const stream = new EventSource('/staff/events');
    // Says whether the page is following (for people who inspect it, and for the tests).
    stream.addEventListener('open', () => document.body.setAttribute('data-live', 'open'));
    stream.addEventListener('error', () => document.body.setAttribute('data-live', 'reconnecting'));
    stream.addEventListener('visit', (e) => {
      let update;
      try {
        update = JSON.parse(e.data);
      } catch {
        return;
      }
      for (const badge of badges()) {
        if (badge.getAttribute('data-visit') !== update.id || !CLASS[update.state]) continue;
        badge.className = `state ${CLASS[update.state]}`;
        badge.setAttribute('data-state', update.state);
        badge.textContent = update.label;
      }
    });
    // The session ended: no reconnection (the next page asks to sign in again).
    stream.addEventListener('end', () => stream.close());
  }

  // ---- the first problem gets the focus (the summary is announced as an alert)
  const invalid = document.querySelector('[aria-invalid="true"]');
  if (invalid) invalid.focus();
  else document.querySelector('[data-error-summary]')?.focus();
})();
