// main.js: the dashboard's entry point: hash routes (#/ and #/pool/<id>),
// the live-interval setting, the transport indicator and the credentials
// dialog.

import { credentials, setCredentials } from './gql.js';
import { onStatus, restart, status, useSSE } from './live.js';
import { charts } from './charts.js';
import { renderOverview } from './overview.js';
import { renderPool } from './pool.js';

const params = new URLSearchParams(location.search);
const view = document.getElementById('view');

// Hooks for the browser tests and for debugging from the console.
const cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => cspViolations.push(`${e.violatedDirective} ${e.blockedURI}`));
window.fleetgraph = { charts, live: status, cspViolations };

if (params.get('transport') === 'sse') useSSE();

// ---- live interval: ?interval=N, else the saved choice, else 15 s ----------
const intervalSelect = document.getElementById('interval');
function interval() {
  const n = Number(params.get('interval') || localStorage.getItem('fleetgraph.interval') || 15);
  return Number.isInteger(n) && n > 0 ? n : 15;
}
if (![...intervalSelect.options].some((o) => Number(o.value) === interval())) {
  intervalSelect.add(new Option(`${interval()} s`, String(interval())));
}
intervalSelect.value = String(interval());
intervalSelect.addEventListener('change', () => {
  localStorage.setItem('fleetgraph.interval', intervalSelect.value);
  params.delete('interval');
  history.replaceState(null, '', `${location.pathname}${params.size ? `?${params}` : ''}${location.hash}`);
  route();
});

// ---- transport indicator ---------------------------------------------------
const live = document.getElementById('live');
onStatus((s) => {
  live.dataset.state = s.state;
  live.dataset.transport = s.transport;
  const t = s.transport === 'sse' ? 'SSE' : 'WebSocket';
  // "idle" alone read like a node or pool state: say what it is about.
  live.textContent = { idle: 'live updates: off', connecting: `live updates: connecting (${t})`, live: `live · ${t}`, reconnecting: 'live updates: reconnecting…', error: 'live updates refused' }[s.state] || s.state;
  live.title = s.detail || (s.state === 'idle'
    ? 'No live subscription open: the page shows what it last loaded. Charts and totals subscribe when shown.'
    : `Charts and totals update through GraphQL subscriptions over ${t}`);
});

// ---- credentials -----------------------------------------------------------
const dialog = document.getElementById('creds');
const credsForm = document.getElementById('creds-form');
document.getElementById('creds-open').addEventListener('click', () => {
  const c = credentials();
  credsForm.elements.authorization.value = c.authorization || '';
  credsForm.elements.xAuthToken.value = c.xAuthToken || '';
  credsForm.elements.apiKey.value = c.apiKey || '';
  dialog.showModal();
});
credsForm.addEventListener('submit', (ev) => {
  ev.preventDefault();
  if (ev.submitter?.value === 'save') {
    const f = credsForm.elements;
    setCredentials({ authorization: f.authorization.value.trim(), xAuthToken: f.xAuthToken.value.trim(), apiKey: f.apiKey.value.trim() });
    restart();
    route();
  }
  dialog.close();
});

// ---- routes ----------------------------------------------------------------
let cleanup = () => {};
function route() {
  cleanup();
  const m = location.hash.match(/^#\/pool\/(.+)$/);
  const opts = { interval: interval() };
  for (const a of document.querySelectorAll('[data-nav]')) a.toggleAttribute('aria-current', !m && a.dataset.nav === 'overview');
  if (m) {
    document.title = 'Node pool · fleetgraph';
    cleanup = renderPool(view, decodeURIComponent(m[1]), opts);
  } else {
    document.title = 'fleetgraph dashboard';
    cleanup = renderOverview(view, opts);
  }
  window.scrollTo(0, 0);
}
window.addEventListener('hashchange', route);
route();
