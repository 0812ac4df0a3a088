// dom.js: a tiny element builder and formatters. Everything is built with
// properties and text nodes, never innerHTML: vendor strings (names, error
// messages) cannot inject markup, and the strict CSP (no inline style
// attributes) holds because styles are set through the CSSOM.

/**
 * h('a.badge', {href: '#/'}, 'text', child, [more]) builds an element.
 * Attributes: class, dataset, style (object), on<event> (listener), and any
 * property or attribute. Children: strings, numbers, nodes, arrays, null.
 */
export function h(tag, attrs, ...children) {
  const [name, ...classes] = tag.split('.');
  const el = document.createElement(name || 'div');
  if (classes.length) el.className = classes.join(' ');
  if (attrs && (typeof attrs !== 'object' || attrs instanceof Node || Array.isArray(attrs))) {
    children.unshift(attrs);
    attrs = null;
  }
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === 'class') el.className = [el.className, v].filter(Boolean).join(' ');
    else if (k === 'dataset') Object.assign(el.dataset, v);
    else if (k === 'style') Object.assign(el.style, v);
    else if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k in el && typeof v !== 'string') el[k] = v;
    else el.setAttribute(k, v === true ? '' : v);
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const c of children) {
    if (c == null || c === false) continue;
    if (Array.isArray(c)) append(el, c);
    else el.append(c instanceof Node ? c : String(c));
  }
}

/** Replaces el's children. */
export function fill(el, ...children) {
  el.replaceChildren();
  append(el, children);
  return el;
}

const nf = new Intl.NumberFormat();
export const num = (n) => (n == null ? '—' : nf.format(n));
// pct is a share in whole percent, clamped to 0..100: a vendor that reports
// more allocated than there is capacity never draws a ratio over 100%.
export const pct = (part, whole) => (whole > 0 ? Math.min(100, Math.max(0, Math.round((100 * part) / whole))) : 0);

export function time(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleTimeString([], { hour12: false });
}

/**
 * markAt records a live update's poll time on el: data-at is the latest,
 * data-updates counts the distinct ones (what "a live update arrived" means).
 */
export function markAt(el, at) {
  if (!at || el.dataset.at === at) return;
  el.dataset.at = at;
  el.dataset.updates = String(Number(el.dataset.updates || 0) + 1);
}

export function date(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString([], { dateStyle: 'medium', timeStyle: 'short' });
}

export function bytes(n) {
  if (n == null) return '—';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return `${n.toFixed(n >= 10 || i === 0 ? 0 : 1)} ${units[i]}`;
}

export const providerName = (p) => ({ RUNAI: 'Run:ai', MODELARTS: 'ModelArts' })[p] || p;

/** A coloured badge for a provider, a pool phase or a node status. */
export function badge(value, kind = 'phase') {
  return h('span.badge', { dataset: { [kind]: value } }, kind === 'provider' ? providerName(value) : value);
}

/** A horizontal bar: used/total with the numbers beside it. */
export function meter(used, total, label) {
  const p = pct(used, total);
  return h('span.meter', { title: `${used} of ${total} (${p}%)` },
    h('span.meter-track', h('span.meter-fill', { style: { width: `${p}%` }, dataset: { level: level(p) } })),
    h('span.meter-text', label ?? `${num(used)} / ${num(total)}`));
}

const level = (p) => (p >= 90 ? 'high' : p >= 60 ? 'mid' : 'low');

/**
 * The one definition of "GPUs allocated", wherever it is shown (cards,
 * tables, nodes): GPUs allocated to workloads out of every GPU (ready or
 * not), so the share never passes 100%. The part on nodes that are not READY
 * (allocated, but their workloads may not run) is drawn hatched and said
 * in words.
 */
export function allocation(allocated, gpus, notReady = 0, note = `${num(notReady)} on not-ready nodes`) {
  notReady = Math.min(Math.max(0, notReady || 0), allocated);
  const p = pct(allocated, gpus);
  const pNR = Math.min(p, pct(notReady, gpus));
  const title = `${num(allocated)} of ${num(gpus)} GPUs allocated (${p}%)` + (notReady ? `; ${num(notReady)} of them on nodes that are not ready` : '');
  return h('span.meter', { title, dataset: { allocated: String(allocated), gpus: String(gpus), notReady: String(notReady) } },
    h('span.meter-track',
      h('span.meter-fill', { style: { width: `${p - pNR}%` }, dataset: { level: level(p) } }),
      notReady ? h('span.meter-fill.not-ready', { style: { width: `${pNR}%` } }) : null),
    h('span.meter-text', `${num(allocated)} / ${num(gpus)}`),
    notReady ? h('span.not-ready-text.meter-note', note) : null);
}

/** The sentence under a "GPUs allocated" card: the same definition. */
export function allocationSub(allocated, gpus, notReady = 0) {
  notReady = Math.min(Math.max(0, notReady || 0), allocated);
  return [`${pct(allocated, gpus)}% of all GPUs`, notReady ? h('span.not-ready-text', ` · ${num(notReady)} on not-ready nodes`) : null];
}

/** "3 / 4 nodes ready", beside a vendor's phase; marked when some are not. */
export function readiness(ready, nodes) {
  return h('span.readiness', { dataset: { ready: String(ready), nodes: String(nodes), all: String(ready === nodes) } },
    `${num(ready)} / ${num(nodes)} nodes ready`);
}
