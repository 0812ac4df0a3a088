// live.js: GraphQL subscriptions. The graphql-transport-ws protocol over one
// native WebSocket that every subscription of the page shares; when the
// websocket cannot be established, Server-Sent Events (gqlgen's SSE
// transport: one POST stream per subscription). Operations that fail or end
// are started again with backoff: the gateway's subscriptions never end on
// their own, so an end means a restart, a deadline or a lost connection.

import { endpoint, authHeaders, describeErrors } from './gql.js';

const subs = new Map(); // id -> subscription
const watchers = new Set();
let lastId = 0;
let mode = 'websocket'; // or 'sse', for good once the websocket failed
let sock = null;
let acked = false;
let everAcked = false;
let failures = 0; // websocket attempts in a row that got no connection_ack
let reconnectTimer = 0;
let idleTimer = 0;

/** The transport and its state: idle, connecting, live, reconnecting, error. */
export const status = { transport: 'websocket', state: 'idle', detail: '' };

function setStatus(patch) {
  Object.assign(status, patch);
  for (const f of watchers) f(status);
}

export function onStatus(f) {
  watchers.add(f);
  f(status);
  return () => watchers.delete(f);
}

/**
 * subscribe starts one subscription. sink.next(payload) gets every result,
 * {data, errors}: a failed upstream poll arrives as a result with errors and
 * null series. sink.error(errors) is called when the operation itself failed;
 * it is retried unless the operation is invalid. Returns the unsubscribe
 * function.
 */
export function subscribe(query, variables, sink) {
  const sub = { id: String(++lastId), query, variables, sink, attempt: 0, closed: false, active: false, timer: 0, abort: null };
  subs.set(sub.id, sub);
  clearTimeout(idleTimer);
  begin(sub);
  return () => end(sub);
}

/** restart reconnects with fresh credentials (they travel in connection_init). */
export function restart() {
  for (const s of subs.values()) { s.abort?.abort(); s.abort = null; s.active = false; }
  if (sock) { const s = sock; sock = null; acked = false; s.close(1000, 'restart'); }
  clearTimeout(reconnectTimer);
  reconnectTimer = 0;
  failures = 0;
  for (const s of subs.values()) { clearTimeout(s.timer); s.timer = 0; s.stopped = false; begin(s); }
}

function begin(sub) {
  if (sub.closed || sub.timer || sub.stopped) return;
  if (mode === 'sse') return sseStart(sub);
  if (!sock || !acked) return connect();
  sub.active = true;
  send({ id: sub.id, type: 'subscribe', payload: { query: sub.query, variables: sub.variables } });
}

function end(sub) {
  if (sub.closed) return;
  sub.closed = true;
  subs.delete(sub.id);
  clearTimeout(sub.timer);
  sub.abort?.abort();
  if (sub.active && sock && acked) send({ id: sub.id, type: 'complete' });
  if (!subs.size) idleTimer = setTimeout(closeIdle, 5000); // a route change resubscribes at once
}

function closeIdle() {
  if (subs.size || !sock) return;
  const s = sock;
  sock = null;
  acked = false;
  s.close(1000, 'idle');
  setStatus({ state: 'idle', detail: '' });
}

// retry starts sub again after a backoff: 2 s, 4 s, ... at most 60 s.
function retry(sub) {
  if (sub.closed || sub.timer || sub.stopped) return;
  const delay = Math.min(60000, 2000 * 2 ** sub.attempt++);
  sub.timer = setTimeout(() => { sub.timer = 0; begin(sub); }, delay);
}

// deliver hands a result to the sink. A result without data is the
// operation failing (e.g. refused arguments), not an update: it goes to
// failed, which decides whether to retry.
function deliver(sub, payload) {
  if (payload?.data == null && payload?.errors?.length) return failed(sub, payload.errors);
  sub.attempt = 0;
  sub.sink.next(payload || {});
}

// Errors no retry can fix: the operation itself is wrong.
const permanent = new Set(['GRAPHQL_PARSE_FAILED', 'GRAPHQL_VALIDATION_FAILED', 'BAD_USER_INPUT']);

function failed(sub, errors) {
  sub.active = false;
  errors = Array.isArray(errors) && errors.length ? errors : [{ message: 'subscription failed' }];
  sub.sink.error?.(errors);
  // A server that also ends the operation (complete) finds no retry to start.
  if (errors.some((e) => permanent.has(e.extensions?.code))) sub.stopped = true;
  else retry(sub);
}

// ---- graphql-transport-ws -------------------------------------------------

const send = (m) => sock?.readyState === WebSocket.OPEN && sock.send(JSON.stringify(m));

// connection_init carries the credentials as gqlgen's InitPayload reads
// them: header names as keys ({} when there are none).
const initPayload = () => authHeaders();

function connect() {
  if (sock || reconnectTimer) return;
  const u = new URL(endpoint);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  let s;
  try {
    s = new WebSocket(u.href, 'graphql-transport-ws');
  } catch (e) {
    return fallback(e.message);
  }
  sock = s;
  acked = false;
  setStatus({ transport: 'websocket', state: 'connecting', detail: '' });
  const ackTimer = setTimeout(() => sock === s && !acked && s.close(4408, 'connection_ack timeout'), 10000);
  s.onopen = () => send({ type: 'connection_init', payload: initPayload() });
  s.onmessage = (ev) => {
    if (sock !== s) return;
    let m;
    try { m = JSON.parse(ev.data); } catch { return s.close(4400, 'invalid message'); }
    const sub = m.id == null ? null : subs.get(m.id);
    switch (m.type) {
      case 'connection_ack':
        clearTimeout(ackTimer);
        acked = everAcked = true;
        failures = 0;
        setStatus({ state: 'live', detail: '' });
        for (const x of subs.values()) if (!x.active) begin(x);
        break;
      case 'ping':
        send({ type: 'pong' });
        break;
      case 'next':
        if (sub) deliver(sub, m.payload);
        break;
      case 'error':
        if (sub) failed(sub, m.payload);
        break;
      case 'complete':
        if (sub) { sub.active = false; retry(sub); }
        break;
    }
  };
  s.onclose = (ev) => {
    clearTimeout(ackTimer);
    if (sock !== s) return;
    sock = null;
    const wasAcked = acked;
    acked = false;
    for (const x of subs.values()) x.active = false;
    if (!subs.size) return setStatus({ state: 'idle', detail: '' });
    const why = ev.reason || `closed with code ${ev.code}`;
    if (!wasAcked) failures++;
    if (ev.code === 4401 || ev.code === 4403) {
      // The credentials were refused: SSE would be refused too.
      const code = ev.code === 4401 ? 'UNAUTHENTICATED' : 'FORBIDDEN';
      for (const x of subs.values()) x.sink.error?.([{ message: why, extensions: { code } }]);
      setStatus({ state: 'error', detail: why });
      return reconnectIn(30000);
    }
    if (!everAcked || failures >= 3) return fallback(why);
    setStatus({ state: 'reconnecting', detail: why });
    reconnectIn(Math.min(30000, 1000 * 2 ** failures));
  };
}

function reconnectIn(ms) {
  clearTimeout(reconnectTimer);
  reconnectTimer = setTimeout(() => { reconnectTimer = 0; if (subs.size) connect(); }, ms);
}

function fallback(why) {
  mode = 'sse';
  setStatus({ transport: 'sse', state: 'live', detail: `websocket unavailable (${why})` });
  for (const x of subs.values()) { clearTimeout(x.timer); x.timer = 0; begin(x); }
}

// ---- Server-Sent Events ---------------------------------------------------

// An HTTP/1.1 browser opens at most 6 connections per host: streams beyond
// these wait, so queries and mutations always have a connection left.
const sseMax = 4;
let sseOpen = 0;
const sseWaiting = [];

function sseStart(sub) {
  if (sub.closed || sub.abort) return;
  if (sseOpen >= sseMax) {
    if (!sseWaiting.includes(sub)) sseWaiting.push(sub);
    return;
  }
  sseOpen++;
  const ctl = (sub.abort = new AbortController());
  sub.active = true;
  sseStream(sub, ctl.signal)
    .then(() => { sub.active = false; retry(sub); }, (e) => { if (!ctl.signal.aborted) failed(sub, e.errors || [{ message: e.message }]); })
    .finally(() => {
      sseOpen--;
      if (sub.abort === ctl) sub.abort = null;
      let next;
      while ((next = sseWaiting.shift()) && next.closed);
      if (next) sseStart(next);
    });
}

async function sseStream(sub, signal) {
  const res = await fetch(endpoint, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Accept: 'text/event-stream', ...authHeaders() },
    body: JSON.stringify({ query: sub.query, variables: sub.variables }),
    signal,
    cache: 'no-store',
  });
  if (!(res.headers.get('Content-Type') || '').includes('text/event-stream')) {
    const body = await res.json().catch(() => null);
    const err = new Error(body?.errors ? describeErrors(body.errors) : `HTTP ${res.status}: no event stream`);
    err.errors = body?.errors;
    throw err;
  }
  setStatus({ transport: 'sse', state: 'live' });
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buf = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    buf = (buf + value).replace(/\r\n/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      const block = buf.slice(0, i);
      buf = buf.slice(i + 2);
      let event = 'message';
      const data = [];
      for (const line of block.split('\n')) {
        if (!line || line.startsWith(':')) continue; // comments are keep-alives
        const c = line.indexOf(':');
        const field = c < 0 ? line : line.slice(0, c);
        const v = c < 0 ? '' : line.slice(c + 1).replace(/^ /, '');
        if (field === 'event') event = v;
        else if (field === 'data') data.push(v);
      }
      if (event === 'complete') return;
      if (event === 'next' && data.length) deliver(sub, JSON.parse(data.join('\n')));
    }
  }
}

/** For tests and the curious: force SSE (e.g. ?transport=sse). */
export function useSSE() {
  fallback('disabled by the page');
}
