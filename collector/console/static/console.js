// Vigil console helpers: j/k/Enter/x in the alert queue (selection and focus survive the live
// refresh), live updates from the server's event stream, deadlines counting down, and loading a
// chosen Sigma file into the rule text area.
(() => {
  const rowsOf = () => Array.from(document.querySelectorAll('#alert-rows tr[data-id]'));
  let currentId = null;
  let kept = null;

  function setCurrent(row, focus) {
    for (const r of rowsOf()) r.classList.toggle('current', r === row);
    currentId = row ? row.dataset.id : null;
    if (row && focus) row.querySelector('a.row-link')?.focus();
  }

  function updateSelectedCount() {
    const label = document.getElementById('selected-count');
    if (!label) return;
    const n = document.querySelectorAll('#alert-rows input[name="ids"]:checked').length;
    label.textContent = n === 0 ? 'Select alerts (x), then:' : `${n} selected:`;
  }

  document.addEventListener('keydown', (event) => {
    if (event.ctrlKey || event.metaKey || event.altKey) return;
    const target = event.target;
    if (target instanceof HTMLElement && target.closest('input, select, textarea, [contenteditable]')) return;
    const rows = rowsOf();
    if (rows.length === 0) return;
    const index = rows.findIndex((r) => r.dataset.id === currentId);
    if (event.key === 'j' || event.key === 'k') {
      const next = event.key === 'j' ? Math.min(rows.length - 1, index + 1) : Math.max(0, index - 1);
      setCurrent(rows[next], true);
      event.preventDefault();
    } else if (event.key === 'x' && index >= 0) {
      const box = rows[index].querySelector('input[name="ids"]');
      if (box) {
        box.checked = !box.checked;
        updateSelectedCount();
      }
      event.preventDefault();
    } else if (event.key === 'Enter' && index >= 0 && !(target instanceof HTMLAnchorElement)) {
      rows[index].querySelector('a.row-link')?.click();
    }
  });

  document.addEventListener('change', (event) => {
    if (event.target instanceof HTMLInputElement && event.target.name === 'ids') updateSelectedCount();
  });

  document.addEventListener('focusin', (event) => {
    const row = event.target instanceof HTMLElement ? event.target.closest('#alert-rows tr[data-id]') : null;
    if (row) setCurrent(row, false);
  });

  document.addEventListener('htmx:beforeSwap', (event) => {
    if (event.detail.target?.id !== 'alert-rows') return;
    const focused = document.activeElement;
    kept = {
      checked: new Set(
        Array.from(document.querySelectorAll('#alert-rows input[name="ids"]:checked')).map(
          (box) => box.value,
        ),
      ),
      refocus: focused instanceof HTMLElement && focused.closest('#alert-rows') !== null,
    };
  });

  document.addEventListener('htmx:afterSettle', () => {
    announceNewRows();
    if (!kept) return;
    for (const box of document.querySelectorAll('#alert-rows input[name="ids"]')) {
      if (kept.checked.has(box.value)) box.checked = true;
    }
    const row = rowsOf().find((r) => r.dataset.id === currentId);
    if (row) setCurrent(row, kept.refocus);
    kept = null;
    updateSelectedCount();
  });

  // Live updates: the server's event stream (SSE) says when alerts were created or bumped; the
  // rows then refresh through htmx (the tbody's hx-trigger), at most twice a second. EventSource
  // reconnects by itself; the tbody's slow poll covers the time it is down.
  let knownIds = new Set(rowsOf().map((r) => r.dataset.id));
  const liveRows = document.querySelector('#alert-rows[data-live]');
  if (liveRows && typeof EventSource === 'function' && window.htmx) {
    const source = new EventSource(liveRows.dataset.live);
    let pending = null;
    source.addEventListener('alerts', () => {
      if (pending) return;
      pending = setTimeout(() => {
        pending = null;
        const rows = document.getElementById('alert-rows');
        if (rows) window.htmx.trigger(rows, 'vigil-alerts');
      }, 500);
    });
    window.addEventListener('pagehide', () => source.close());
  }

  /** Tells screen readers (and sighted users) how many rows the last refresh added. */
  function announceNewRows() {
    const status = document.getElementById('live-status');
    const ids = rowsOf().map((r) => r.dataset.id);
    const added = ids.filter((id) => !knownIds.has(id)).length;
    knownIds = new Set(ids);
    if (status && added > 0) status.textContent = `${added} new alert${added === 1 ? '' : 's'}.`;
  }

  function formatRemaining(ms) {
    const overdue = ms < 0;
    let rest = Math.abs(Math.round(ms / 1000));
    const days = Math.floor(rest / 86400);
    rest -= days * 86400;
    const hours = Math.floor(rest / 3600);
    rest -= hours * 3600;
    const minutes = Math.floor(rest / 60);
    const seconds = rest - minutes * 60;
    const text =
      days > 0
        ? `${days} d ${hours} h`
        : hours > 0
          ? `${hours} h ${minutes} min`
          : `${minutes} min ${seconds} s`;
    return overdue ? `overdue ${text}` : text;
  }

  function tick() {
    const now = Date.now();
    for (const el of document.querySelectorAll('time[data-countdown]')) {
      const remaining = Date.parse(el.getAttribute('datetime')) - now;
      if (Number.isNaN(remaining)) continue;
      el.textContent = formatRemaining(remaining);
      el.classList.toggle('overdue', remaining < 0);
    }
  }
  setInterval(tick, 1000);

  document.addEventListener('change', (event) => {
    const input = event.target;
    if (!(input instanceof HTMLInputElement) || !input.dataset.loadInto || !input.files?.[0]) return;
    const area = document.getElementById(input.dataset.loadInto);
    input.files[0].text().then((text) => {
      if (area) area.value = text;
    });
  });
})();
