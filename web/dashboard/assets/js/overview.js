// overview.js: the fleet at a glance. Totals by provider and accelerator (live
// through the fleetSummary subscription), the node-pool table with phase,
// node readiness and GPU allocation, one utilisation chart per pool (GPU, or
// CPU for a pool without GPUs; live through nodePoolMetrics), and the
// create-pool form.

import { h, fill, num, pct, time, markAt, badge, providerName, allocation, allocationSub, readiness } from './dom.js';
import { request, requestPerItem, describeErrors, briefErrors } from './gql.js';
import { subscribe } from './live.js';
import { timeChart } from './charts.js';
import { createForm } from './forms.js';
import { capacityBox } from './capacity.js';

const SUMMARY_FIELDS = `nodes readyNodes gpus readyGpus allocatedGpus
  byProvider { key nodes readyNodes gpus readyGpus allocatedGpus }
  byAccelerator { vendor model nodes readyNodes gpus readyGpus allocatedGpus }`;

// The GPUs allocated on READY nodes: what fleetSummary counts minus this
// is the allocation on nodes that are not ready, shown as such.
const READY_FIELDS = `allocatedGpus byProvider { key allocatedGpus } byAccelerator { vendor model allocatedGpus }`;

const OVERVIEW = `query Overview {
  fleetSummary { ${SUMMARY_FIELDS} }
  readyOnly: fleetSummary(filter: {status: [READY]}) { ${READY_FIELDS} }
  clusters { id name provider backend }
  nodePools(first: 500) { totalCount edges { node {
    id name provider backend phase phaseMessage isDefault flavor nodeSelector reportedNodeCount
    cluster { id name } } } }
}`;

const LIVE_SUMMARY = `subscription LiveSummary($interval: Int) {
  fleetSummary(intervalSeconds: $interval) { at summary { ${SUMMARY_FIELDS} } }
}`;

// Asked again with each live update: a query, not a second subscription,
// which would take one of the connection's subscriptions.maxPerConnection.
const READY_ALLOCATION = `query ReadyAllocation { readyOnly: fleetSummary(filter: {status: [READY]}) { ${READY_FIELDS} } }`;

export const LIVE_POOL_METRICS = `subscription LivePoolMetrics($id: ID!, $types: [NodePoolMetricType!]!, $interval: Int) {
  nodePoolMetrics(nodePoolId: $id, types: $types, intervalSeconds: $interval) {
    at series { type labels { key value } points { timestamp value } }
  }
}`;

// The subscriptions' default window (3600 s, 60 samples): the first paint
// asks for the same aligned range, so it shares the gateway's cache entry.
export function window1h() {
  const end = new Date();
  return { start: new Date(end - 3600e3).toISOString(), end: end.toISOString(), samples: 60 };
}

// Per-pool totals, two aliased fleetSummary per pool (all nodes, READY
// nodes), in as few requests as the gateway's limits allow: the gateway
// batches their node listings and telemetry calls.
function perPoolQuery(pools, base) {
  const at = (j) => base + j;
  const vars = pools.map((p, j) => `$p${at(j)}: ID!`);
  const alloc = pools.map((p, j) => `a${at(j)}: fleetSummary(filter: {nodePoolId: $p${at(j)}}) { nodes readyNodes gpus readyGpus allocatedGpus }
    r${at(j)}: fleetSummary(filter: {nodePoolId: $p${at(j)}, status: [READY]}) { allocatedGpus }`);
  return { query: `query PoolAllocation(${vars.join(', ')}) { ${alloc.join('\n')} }`, variables: poolVars(pools, base) };
}

// Per-pool metrics, each pool its own type (chartType). nodePool is
// nullable, so a pool whose metrics fail blanks only its alias.
function metricsQuery(pools, base) {
  const at = (j) => base + j;
  const vars = pools.map((p, j) => `$p${at(j)}: ID!`).concat('$start: DateTime!', '$end: DateTime!', '$samples: Int');
  const fields = pools.map((p, j) => `m${at(j)}: nodePool(id: $p${at(j)}) { metrics(types: [${p.chart.types.join(', ')}], start: $start, end: $end, samples: $samples) { type points { timestamp value } } }`);
  return { query: `query PoolMetrics(${vars.join(', ')}) { ${fields.join('\n')} }`, variables: { ...poolVars(pools, base), ...window1h() } };
}

// A pool's card charts what its nodes have: GPU utilisation (on ModelArts
// NPU utilisation where the accelerators are Ascend NPUs, which count as
// GPUs there), or CPU utilisation for a pool without accelerators (gpus 0;
// unknown counts as accelerators). The first kind with samples is drawn.
const GPU_CHART = { type: 'GPU_UTILIZATION', label: 'GPU utilisation', what: 'GPU', accel: true };
const NPU_CHART = { type: 'NPU_UTILIZATION', label: 'NPU utilisation', what: 'NPU', accel: true };
const CPU_CHART = { type: 'CPU_UTILIZATION', label: 'CPU utilisation', what: 'CPU', accel: false };
function chartType(a, provider) {
  const kinds = a && a.gpus === 0 ? [CPU_CHART] : provider === 'MODELARTS' ? [GPU_CHART, NPU_CHART] : [GPU_CHART];
  return { kinds, types: kinds.map((k) => k.type) };
}

// METRICS_NOT_CONFIGURED: the backend serves pool metrics only when
// configured (a ModelArts backend without its aom: block). One line says why.
export const NOT_CONFIGURED_HINT = 'no metrics API: ModelArts node-pool metrics come from AOM, and this backend has no aom: block';

/** An empty chart tile: one line that says why it is empty. */
export function emptyTile(text) {
  return h('div.chart.empty', h('p.empty-why', text));
}

export function notConfigured(errors, alias) {
  return (errors || []).some((e) => e.extensions?.code === 'METRICS_NOT_CONFIGURED' && (alias == null || e.path?.[0] === alias));
}

const poolVars = (pools, base = 0) => Object.fromEntries(pools.map((p, j) => [`p${base + j}`, p.id]));

export function renderOverview(root, { interval }) {
  const cleanups = [];
  const banner = h('div.banners');
  const cards = h('section.cards', { 'aria-label': 'Fleet totals' });
  const byProvider = h('tbody');
  const byAccelerator = h('tbody');
  const summaryAt = h('span.at.muted', { dataset: { source: 'none' } });
  const poolRows = h('tbody');
  const poolCount = h('span.muted');
  const chartGrid = h('div.chart-grid');
  const createSlot = h('div');
  const capacity = capacityBox({ interval }); // "find capacity": nothing asked until a search
  cleanups.push(capacity.cleanup);

  fill(root,
    banner,
    h('div.section-head', h('h1', 'Fleet'), summaryAt),
    cards,
    capacity.el,
    h('div.two-col',
      h('section.panel', h('h2', 'By provider'),
        h('table.data', { dataset: { table: 'by-provider' } }, h('thead', h('tr', h('th', 'Provider'), h('th.n', 'Nodes ready'), h('th.n', 'GPUs ready'), h('th', { title: ALLOCATED_TITLE }, 'GPUs allocated / all'))), byProvider)),
      h('section.panel', h('h2', 'By accelerator'),
        h('table.data', { dataset: { table: 'by-accelerator' } }, h('thead', h('tr', h('th', { title: ACCELERATOR_TITLE }, 'Accelerator'), h('th.n', 'Nodes ready'), h('th.n', 'GPUs ready'), h('th', { title: ALLOCATED_TITLE }, 'GPUs allocated / all'))), byAccelerator))),
    h('section.panel',
      h('div.section-head', h('h2', 'Node pools ', poolCount), h('button.ghost', { type: 'button', onclick: () => loadPools() }, 'Reload')),
      h('div.table-wrap', h('table.data.pools', { dataset: { table: 'pools' } },
        h('thead', h('tr', h('th', 'Pool'), h('th', 'Provider'), h('th', 'Cluster'), h('th', { title: 'The vendor\'s phase, and how many of the pool\'s nodes are READY' }, 'Phase · nodes ready'), h('th', { title: ALLOCATED_TITLE }, 'GPUs allocated / all'), h('th.n', { title: 'The latest GPU utilisation (NPU for Ascend pools) of the chart below' }, 'GPU util.'), h('th', 'Selector / flavor'))),
        poolRows))),
    h('section.panel',
      h('div.section-head', h('h2', 'Utilisation, last hour ', h('span.muted.small', 'GPU; CPU for pools without GPUs')), h('span.muted', `live, every ${interval} s`)),
      chartGrid),
    h('details.panel.create', { open: false },
      h('summary', h('h2', 'Create a node pool')),
      createSlot));

  function showBanner(kind, text) {
    fill(banner, text ? h(`p.banner.${kind}`, text) : null);
  }

  // The latest totals and the latest allocation on READY nodes (a query,
  // or their two subscriptions): rendered together.
  let lastSummary = null;
  let lastReady = null;
  function renderSummary(s, ready) {
    if (s) lastSummary = s;
    if (ready) lastReady = ready;
    s = lastSummary;
    if (!s) return;
    const r = lastReady;
    // Allocated on nodes that are not READY, for the totals and a group.
    const notReady = (all, key, list) => {
      if (!r) return 0;
      const rg = key == null ? r : (r[list] || []).find((g) => groupKey(g) === key);
      return Math.max(0, all - (rg?.allocatedGpus ?? 0));
    };
    fill(cards,
      card('Nodes ready', s.readyNodes, s.nodes, 'nodes'),
      card('GPUs ready', s.readyGpus, s.gpus, 'gpus'),
      card('GPUs allocated', s.allocatedGpus, s.gpus, 'allocated', allocationSub(s.allocatedGpus, s.gpus, notReady(s.allocatedGpus))),
      card('Providers', s.byProvider.length, null, 'providers', s.byProvider.map((g) => providerName(g.key)).join(' · ')));
    fill(byProvider, s.byProvider.map((g) => h('tr',
      h('td', badge(g.key, 'provider')), h('td.n', `${num(g.readyNodes)} / ${num(g.nodes)}`), h('td.n', `${num(g.readyGpus)} / ${num(g.gpus)}`),
      h('td', allocation(g.allocatedGpus, g.gpus, notReady(g.allocatedGpus, g.key, 'byProvider'))))));
    // One row per catalogue model whatever the vendor calls it (a V100
    // on Run:ai and on ModelArts is one row), then the nodes with none.
    const grouped = s.byAccelerator.reduce((n, g) => n + g.nodes, 0);
    const readyGrouped = s.byAccelerator.reduce((n, g) => n + g.readyNodes, 0);
    fill(byAccelerator, s.byAccelerator.map((g) => h('tr', { dataset: { accelerator: groupKey(g) } },
      h('td', h('span.accel-vendor.muted', g.vendor), ' ', h('strong', g.model)), h('td.n', `${num(g.readyNodes)} / ${num(g.nodes)}`), h('td.n', `${num(g.readyGpus)} / ${num(g.gpus)}`),
      h('td', g.gpus ? allocation(g.allocatedGpus, g.gpus, notReady(g.allocatedGpus, groupKey(g), 'byAccelerator')) : h('span.muted', 'no GPUs')))),
    s.nodes > grouped ? h('tr', { dataset: { accelerator: 'none' } }, h('td', h('span.muted', 'no accelerator')),
      h('td.n', `${num(s.readyNodes - readyGrouped)} / ${num(s.nodes - grouped)}`), h('td.n', '–'), h('td', h('span.muted', 'no GPUs'))) : null);
  }

  // ---- pools --------------------------------------------------------------
  let pools = [];
  const utilCells = new Map(); // pool id -> <td> with the latest GPU utilisation
  let loadSeq = 0;

  // loadPools (re)loads totals, pools and their allocation; it never
  // rejects: failures go to the banner.
  function loadPools() {
    return load().catch((e) => showBanner('error', e.message));
  }

  async function load() {
    const seq = ++loadSeq;
    const { data, errors } = await request(OVERVIEW);
    if (seq !== loadSeq) return;
    showBanner(errors.length ? 'warn' : '', errors.length ? `Partial data: ${describeErrors(errors)}` : '');
    if (!data) return;
    renderSummary(data.fleetSummary, data.readyOnly);
    if (summaryAt.dataset.source === 'none') {
      summaryAt.dataset.source = 'query';
      summaryAt.textContent = `as of ${time(new Date().toISOString())}`;
    }
    pools = data.nodePools.edges.map((e) => e.node);
    poolCount.textContent = `(${data.nodePools.totalCount})`;
    renderPoolRows(pools, null);
    if (!createSlot.firstChild) {
      const flavors = [...new Set(pools.map((p) => p.flavor).filter(Boolean))].sort();
      createSlot.append(createForm(data.clusters, flavors, { onCreated: () => loadPools() }));
    }
    let alloc = {};
    if (pools.length) {
      const res = await requestPerItem(pools, 2, perPoolQuery).catch(() => ({ data: null }));
      if (seq !== loadSeq) return;
      alloc = res.data || {};
      renderPoolRows(pools, alloc);
    }
    // The charts come once the pools' GPU counts are known (CPU for a pool
    // without GPUs). A partial answer (a backend failed) keeps the charts of
    // pools it left out: their subscriptions recover with the backend.
    renderCharts(pools.map((p, i) => ({ ...p, chart: chartType(alloc[`a${i}`], p.provider) })), errors.length === 0);
  }

  function renderPoolRows(list, alloc) {
    utilCells.clear();
    fill(poolRows, list.map((p, i) => {
      const a = alloc?.[`a${i}`];
      const r = alloc?.[`r${i}`];
      const noGpus = a?.gpus === 0;
      const util = h('td.n.util', { dataset: { pool: p.id } }, noGpus ? h('span.muted', 'no GPUs') : '…');
      if (!noGpus) utilCells.set(p.id, util);
      return h('tr', { dataset: { poolId: p.id, poolName: p.name } },
        h('td', h('a', { href: `#/pool/${encodeURIComponent(p.id)}` }, p.name), p.isDefault ? h('span.tag', 'default') : null),
        h('td', badge(p.provider, 'provider')),
        h('td', p.cluster.name),
        h('td.phase', badge(p.phase), ' · ',
          a ? readiness(a.readyNodes, a.nodes) : h('span.muted', { title: 'reported by the vendor' }, `${num(p.reportedNodeCount)} nodes`),
          p.phaseMessage ? h('span.muted.small', ` ${p.phaseMessage}`) : null),
        h('td', a ? (a.gpus ? allocation(a.allocatedGpus, a.gpus, r ? a.allocatedGpus - r.allocatedGpus : 0) : h('span.muted', 'no GPUs')) : h('span.muted', alloc ? '—' : '…')),
        util,
        h('td', h('code.small', p.nodeSelector || p.flavor || '')));
    }));
    for (const [id, v] of lastUtil) setUtil(id, v);
  }

  const lastUtil = new Map();
  function setUtil(id, v) {
    lastUtil.set(id, v);
    const td = utilCells.get(id);
    if (td) td.textContent = v == null ? '—' : `${v.toFixed(0)}%`;
  }

  // ---- charts -------------------------------------------------------------
  // One card per pool, kept across reloads so a new pool does not restart
  // every other pool's subscription.
  const cardsById = new Map(); // pool id -> {el, cleanup}
  const chartsById = new Map(); // pool id -> chart state

  function renderCharts(list, prune) {
    const seen = new Set(list.map((p) => p.id));
    const kept = [];
    for (const [id, c] of cardsById) {
      if (seen.has(id)) continue;
      if (prune) { c.cleanup(); cardsById.delete(id); } else kept.push(c.el);
    }
    const fresh = [];
    fill(chartGrid, kept, list.map((p) => {
      let c = cardsById.get(p.id);
      if (!c) {
        // ModelArts pools chart like Run:ai's (their series come from AOM);
        // a backend without it says so once the first answer tells.
        c = chartCard(p);
        cardsById.set(p.id, c);
        fresh.push(p);
      }
      return c.el;
    }));
    if (!fresh.length) return;
    // First paint from one query; the subscriptions then carry every update.
    requestPerItem(fresh, 1, metricsQuery).then(({ data, errors }) => {
      fresh.forEach((p, i) => {
        if (notConfigured(errors, `m${i}`)) return noMetrics(p);
        const m = data?.[`m${i}`]?.metrics;
        const c = chartsById.get(p.id);
        if (m && c && c.source === 'none') c.update(m, null, 'query');
      });
    }).catch(() => {});
  }

  function chartCard(p) {
    const { kinds, types } = p.chart;
    const box = h('div.chart');
    const value = h('span.value', '—');
    const tag = h('span.tag', kinds[0].what);
    const empty = h('p.chart-empty', { hidden: true }, `no ${kinds.map((k) => k.what).join(' or ')} samples in the last hour: the vendor sent none for this pool`);
    const at = h('span.at', { dataset: { source: 'none' } }, 'waiting for data…');
    const warn = h('span.warn', { role: 'status' });
    const el = h('article.chart-card', { dataset: { poolId: p.id, poolName: p.name, chartType: kinds[0].type } },
      h('header', h('a', { href: `#/pool/${encodeURIComponent(p.id)}` }, p.name), h('span.muted', p.cluster.name), tag, value),
      box, empty, h('footer', at, warn));
    // The chart is made at the first data (the card is laid out by then:
    // uPlot sizes to it), for the first kind that has samples.
    const state = { source: 'none', chart: null, kind: null, dead: false };
    const draw = (series) => {
      const kind = kinds.find((k) => (series || []).some((m) => m.type === k.type && m.points?.length)) || kinds[0];
      if (state.chart && state.kind === kind) return;
      state.chart?.destroy();
      state.kind = kind;
      tag.textContent = kind.what;
      el.dataset.chartType = kind.type;
      state.chart = timeChart(box, { key: `pool:${p.id}`, series: [{ type: kind.type, label: kind.label }], height: 140 });
    };
    state.update = (series, stamp, source) => {
      if (state.dead) return;
      draw(series);
      const v = state.chart.set(series);
      value.textContent = v == null ? '—' : `${v.toFixed(0)}%`;
      empty.hidden = v != null;
      if (state.kind.accel) setUtil(p.id, v);
      state.source = source;
      at.dataset.source = source;
      markAt(at, stamp);
      at.textContent = source === 'live' ? `updated ${time(stamp)}`
        : source === 'poll' ? `polled ${time(stamp)}`
          : `loaded ${time(new Date().toISOString())}, waiting for live data`;
    };
    chartsById.set(p.id, state);
    const unsubscribe = subscribe(LIVE_POOL_METRICS, { id: p.id, types, interval }, {
      next({ data, errors }) {
        if (subscriptionLimit(errors)) return pollInstead();
        const u = data?.nodePoolMetrics;
        if (u?.series) {
          state.update(u.series, u.at, 'live');
        } else if (u) {
          markAt(at, u.at);
          at.textContent = `poll failed ${time(u.at)}`;
        }
        warn.textContent = errors?.length ? briefErrors(errors) : '';
        warn.title = errors?.length ? describeErrors(errors) : '';
      },
      error(errors) {
        if (subscriptionLimit(errors)) return pollInstead();
        warn.textContent = `live updates failed: ${briefErrors(errors)}`;
        warn.title = describeErrors(errors);
      },
    });
    // The connection's subscriptions are all in use (subscriptions.
    // maxPerConnection; a fleet of more pools than that): this chart is
    // polled with the others that did not fit, in one chunked query.
    function pollInstead() {
      unsubscribe();
      warn.textContent = '';
      at.title = 'polled: every subscription of this connection is in use';
      polled.set(p.id, p);
      startPolling();
    }
    return {
      el,
      cleanup() {
        state.dead = true;
        unsubscribe();
        polled.delete(p.id);
        state.chart?.destroy();
        chartsById.delete(p.id);
      },
    };
  }

  // Charts the gateway had no subscription for (SUBSCRIPTION_LIMIT), one
  // chunked query for all of them every interval.
  const polled = new Map(); // pool id -> pool
  let pollTimer = null;
  function startPolling() {
    if (pollTimer) return;
    const tick = () => {
      const pools = [...polled.values()];
      if (!pools.length) return;
      requestPerItem(pools, 1, metricsQuery).then(({ data }) => {
        const stamp = new Date().toISOString();
        pools.forEach((p, i) => {
          const m = data?.[`m${i}`]?.metrics;
          const c = chartsById.get(p.id);
          if (m && c) c.update(m, stamp, 'poll');
        });
      }).catch(() => {});
    };
    pollTimer = setInterval(tick, interval * 1000);
    cleanups.push(() => clearInterval(pollTimer));
    setTimeout(tick, 0); // the pools that just joined, at once
  }

  // noMetrics replaces a pool's chart with the reason it has none.
  function noMetrics(p) {
    const c = cardsById.get(p.id);
    if (!c) return;
    c.cleanup();
    const el = noMetricsCard(p);
    c.el.replaceWith(el);
    cardsById.set(p.id, { el, cleanup() {} });
  }

  function noMetricsCard(p) {
    return h('article.chart-card.no-metrics', { dataset: { poolId: p.id, poolName: p.name } },
      h('header', h('a', { href: `#/pool/${encodeURIComponent(p.id)}` }, p.name), h('span.muted', p.cluster.name)),
      emptyTile(NOT_CONFIGURED_HINT));
  }

  // ---- live totals --------------------------------------------------------
  let lastShape = '';
  cleanups.push(subscribe(LIVE_SUMMARY, { interval }, {
    next({ data, errors }) {
      const u = data?.fleetSummary;
      if (!u) return;
      summaryAt.dataset.source = 'live';
      markAt(summaryAt, u.at);
      summaryAt.textContent = `live, updated ${time(u.at)}`;
      if (errors?.length) showBanner('warn', `Live totals incomplete: ${describeErrors(errors)}`);
      if (!u.summary) return;
      renderSummary(u.summary, null);
      request(READY_ALLOCATION).then(({ data }) => { if (data?.readyOnly) renderSummary(null, data.readyOnly); }).catch(() => {});
      // Nodes came or went, or changed state: the pool table is stale too.
      const shape = `${u.summary.nodes}/${u.summary.readyNodes}/${u.summary.gpus}`;
      if (lastShape && shape !== lastShape) loadPools();
      lastShape = shape;
    },
    error(errors) {
      summaryAt.textContent = `live totals unavailable: ${describeErrors(errors)}`;
    },
  }));

  loadPools();
  return () => {
    loadSeq++;
    for (const c of cleanups) c();
    for (const c of cardsById.values()) c.cleanup();
  };
}

const ALLOCATED_TITLE = 'GPUs allocated to workloads out of all GPUs (ready or not); the part on nodes that are not READY is hatched and counted';

// The catalogue's vendor and model (internal/accel): the vendors' own
// strings (Run:ai gpuType, ModelArts resource + flavor) are on each node.
const ACCELERATOR_TITLE = 'The accelerator model from the gateway\'s catalogue, the same on every provider; each node keeps the vendor\'s own GPU type';
const groupKey = (g) => `${g.vendor} ${g.model}`;

function card(label, value, total, key, sub) {
  return h('div.card', { dataset: { card: key } },
    h('div.card-label', label),
    h('div.card-value', h('span.big', { dataset: { value: String(value) } }, num(value)), total != null ? h('span.of', { dataset: { total: String(total) } }, ` / ${num(total)}`) : null),
    sub ? h('div.card-sub', sub) : total ? h('div.card-sub', `${pct(value, total)}%`) : null);
}

// subscriptionLimit says whether errors refuse a subscription for the
// connection's (or the gateway's) subscription limit.
function subscriptionLimit(errors) {
  return Array.isArray(errors) && errors.some((e) => e?.extensions?.code === 'SUBSCRIPTION_LIMIT');
}
