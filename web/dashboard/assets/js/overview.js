// overview.js: the fleet at a glance. Totals by provider and GPU type (live
// through the fleetSummary subscription), the node-pool table with phase and
// GPU allocation, one GPU-utilisation chart per pool (live through
// nodePoolMetrics), and the create-pool form.

import { h, fill, num, pct, time, markAt, badge, meter, providerName } from './dom.js';
import { request, describeErrors, briefErrors } from './gql.js';
import { subscribe } from './live.js';
import { timeChart } from './charts.js';
import { createForm } from './forms.js';

const SUMMARY_FIELDS = `nodes readyNodes gpus readyGpus allocatedGpus
  byProvider { key nodes readyNodes gpus readyGpus allocatedGpus }
  byGpuType { key nodes readyNodes gpus readyGpus allocatedGpus }`;

const OVERVIEW = `query Overview {
  fleetSummary { ${SUMMARY_FIELDS} }
  clusters { id name provider backend }
  nodePools(first: 500) { totalCount edges { node {
    id name provider backend phase phaseMessage isDefault flavor nodeSelector reportedNodeCount
    cluster { id name } } } }
}`;

const LIVE_SUMMARY = `subscription LiveSummary($interval: Int) {
  fleetSummary(intervalSeconds: $interval) { at summary { ${SUMMARY_FIELDS} } }
}`;

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

// Per-pool totals in one request, one aliased fleetSummary per pool: the
// gateway batches their node listings and telemetry calls.
function perPoolQuery(pools) {
  const vars = pools.map((p, i) => `$p${i}: ID!`);
  const alloc = pools.map((p, i) => `a${i}: fleetSummary(filter: {nodePoolId: $p${i}}) { nodes readyNodes gpus readyGpus allocatedGpus }`);
  return `query PoolAllocation(${vars.join(', ')}) { ${alloc.join('\n')} }`;
}

// Per-pool metrics in one request. nodePool is nullable, so a pool whose
// metrics fail blanks only its own alias.
function metricsQuery(pools) {
  const vars = pools.map((p, i) => `$p${i}: ID!`).concat('$start: DateTime!', '$end: DateTime!', '$samples: Int');
  const fields = pools.map((p, i) => `m${i}: nodePool(id: $p${i}) { metrics(types: [GPU_UTILIZATION], start: $start, end: $end, samples: $samples) { type points { timestamp value } } }`);
  return `query PoolMetrics(${vars.join(', ')}) { ${fields.join('\n')} }`;
}

// METRICS_NOT_CONFIGURED: the backend serves pool metrics only when
// configured (a ModelArts backend without its aom: block).
export const NOT_CONFIGURED_HINT = 'ModelArts node-pool metrics come from AOM: this backend has no aom: block';

export function notConfigured(errors, alias) {
  return (errors || []).some((e) => e.extensions?.code === 'METRICS_NOT_CONFIGURED' && (alias == null || e.path?.[0] === alias));
}

const poolVars = (pools) => Object.fromEntries(pools.map((p, i) => [`p${i}`, p.id]));

export function renderOverview(root, { interval }) {
  const cleanups = [];
  const banner = h('div.banners');
  const cards = h('section.cards', { 'aria-label': 'Fleet totals' });
  const byProvider = h('tbody');
  const byGpuType = h('tbody');
  const summaryAt = h('span.at.muted', { dataset: { source: 'none' } });
  const poolRows = h('tbody');
  const poolCount = h('span.muted');
  const chartGrid = h('div.chart-grid');
  const createSlot = h('div');

  fill(root,
    banner,
    h('div.section-head', h('h1', 'Fleet'), summaryAt),
    cards,
    h('div.two-col',
      h('section.panel', h('h2', 'By provider'),
        h('table.data', { dataset: { table: 'by-provider' } }, h('thead', h('tr', h('th', 'Provider'), h('th.n', 'Nodes ready'), h('th.n', 'GPUs ready'), h('th', 'GPUs allocated'))), byProvider)),
      h('section.panel', h('h2', 'By GPU type'),
        h('table.data', { dataset: { table: 'by-gpu-type' } }, h('thead', h('tr', h('th', 'GPU type'), h('th.n', 'Nodes'), h('th.n', 'GPUs ready'), h('th', 'GPUs allocated'))), byGpuType))),
    h('section.panel',
      h('div.section-head', h('h2', 'Node pools ', poolCount), h('button.ghost', { type: 'button', onclick: () => loadPools() }, 'Reload')),
      h('div.table-wrap', h('table.data.pools', { dataset: { table: 'pools' } },
        h('thead', h('tr', h('th', 'Pool'), h('th', 'Provider'), h('th', 'Cluster'), h('th', 'Phase'), h('th.n', 'Nodes ready'), h('th', 'GPUs allocated'), h('th.n', 'GPU util.'), h('th', 'Selector / flavor'))),
        poolRows))),
    h('section.panel',
      h('div.section-head', h('h2', 'GPU utilisation, last hour'), h('span.muted', `live, every ${interval} s`)),
      chartGrid),
    h('details.panel.create', { open: false },
      h('summary', h('h2', 'Create a node pool')),
      createSlot));

  function showBanner(kind, text) {
    fill(banner, text ? h(`p.banner.${kind}`, text) : null);
  }

  function renderSummary(s) {
    if (!s) return;
    fill(cards,
      card('Nodes ready', s.readyNodes, s.nodes, 'nodes'),
      card('GPUs ready', s.readyGpus, s.gpus, 'gpus'),
      card('GPUs allocated', s.allocatedGpus, s.readyGpus, 'allocated', `${pct(s.allocatedGpus, s.readyGpus)}% of ready`),
      card('Providers', s.byProvider.length, null, 'providers', s.byProvider.map((g) => providerName(g.key)).join(' · ')));
    fill(byProvider, s.byProvider.map((g) => h('tr',
      h('td', badge(g.key, 'provider')), h('td.n', `${num(g.readyNodes)} / ${num(g.nodes)}`), h('td.n', `${num(g.readyGpus)} / ${num(g.gpus)}`), h('td', meter(g.allocatedGpus, g.gpus)))));
    fill(byGpuType, s.byGpuType.filter((g) => g.key !== 'none' || g.nodes).map((g) => h('tr',
      h('td', g.key === 'none' ? h('span.muted', 'no GPU') : h('code', g.key)), h('td.n', num(g.nodes)), h('td.n', `${num(g.readyGpus)} / ${num(g.gpus)}`),
      h('td', g.gpus ? meter(g.allocatedGpus, g.gpus) : h('span.muted', '—')))));
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
    renderSummary(data.fleetSummary);
    if (summaryAt.dataset.source === 'none') {
      summaryAt.dataset.source = 'query';
      summaryAt.textContent = `as of ${time(new Date().toISOString())}`;
    }
    pools = data.nodePools.edges.map((e) => e.node);
    poolCount.textContent = `(${data.nodePools.totalCount})`;
    renderPoolRows(pools, null);
    // A partial answer (a backend failed) keeps the charts of pools it left
    // out: their subscriptions recover with the backend.
    renderCharts(pools, errors.length === 0);
    if (!createSlot.firstChild) {
      const flavors = [...new Set(pools.map((p) => p.flavor).filter(Boolean))].sort();
      createSlot.append(createForm(data.clusters, flavors, { onCreated: () => loadPools() }));
    }
    if (pools.length) {
      const res = await request(perPoolQuery(pools), poolVars(pools));
      if (seq !== loadSeq) return;
      renderPoolRows(pools, res.data || {});
    }
  }

  function renderPoolRows(list, alloc) {
    utilCells.clear();
    fill(poolRows, list.map((p, i) => {
      const a = alloc?.[`a${i}`];
      const util = h('td.n.util', { dataset: { pool: p.id } }, p.provider === 'RUNAI' ? '…' : h('span.muted', 'n/a'));
      utilCells.set(p.id, util);
      return h('tr', { dataset: { poolId: p.id, poolName: p.name } },
        h('td', h('a', { href: `#/pool/${encodeURIComponent(p.id)}` }, p.name), p.isDefault ? h('span.tag', 'default') : null),
        h('td', badge(p.provider, 'provider')),
        h('td', p.cluster.name),
        h('td', badge(p.phase), p.phaseMessage ? h('span.muted.small', ` ${p.phaseMessage}`) : null),
        h('td.n', a ? `${num(a.readyNodes)} / ${num(a.nodes)}` : h('span.muted', { title: 'reported by the vendor' }, `${p.reportedNodeCount}`)),
        h('td', a ? (a.gpus ? meter(a.allocatedGpus, a.gpus) : h('span.muted', 'no GPUs')) : h('span.muted', alloc ? '—' : '…')),
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
    request(metricsQuery(fresh), { ...poolVars(fresh), ...window1h() }).then(({ data, errors }) => {
      fresh.forEach((p, i) => {
        if (notConfigured(errors, `m${i}`)) return noMetrics(p);
        const m = data?.[`m${i}`]?.metrics;
        const c = chartsById.get(p.id);
        if (m && c && c.source === 'none') c.update(m, null, 'query');
      });
    }).catch(() => {});
  }

  function chartCard(p) {
    const box = h('div.chart');
    const value = h('span.value', '—');
    const at = h('span.at', { dataset: { source: 'none' } }, 'waiting for data…');
    const warn = h('span.warn', { role: 'status' });
    const el = h('article.chart-card', { dataset: { poolId: p.id, poolName: p.name } },
      h('header', h('a', { href: `#/pool/${encodeURIComponent(p.id)}` }, p.name), h('span.muted', p.cluster.name), value),
      box, h('footer', at, warn));
    // The chart is made once the card is laid out (uPlot sizes to it).
    const state = { source: 'none', chart: null, dead: false };
    requestAnimationFrame(() => {
      if (state.dead) return;
      state.chart = timeChart(box, { key: `pool:${p.id}`, series: [{ type: 'GPU_UTILIZATION', label: 'GPU utilisation' }], height: 140 });
    });
    state.update = (series, stamp, source) => {
      if (state.dead) return;
      if (!state.chart) return requestAnimationFrame(() => state.update(series, stamp, source));
      const v = state.chart.set(series);
      value.textContent = v == null ? '—' : `${v.toFixed(0)}%`;
      setUtil(p.id, v);
      state.source = source;
      at.dataset.source = source;
      markAt(at, stamp);
      at.textContent = source === 'live' ? `updated ${time(stamp)}` : `loaded ${time(new Date().toISOString())}, waiting for live data`;
    };
    chartsById.set(p.id, state);
    const unsubscribe = subscribe(LIVE_POOL_METRICS, { id: p.id, types: ['GPU_UTILIZATION'], interval }, {
      next({ data, errors }) {
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
        warn.textContent = `live updates failed: ${briefErrors(errors)}`;
        warn.title = describeErrors(errors);
      },
    });
    return {
      el,
      cleanup() {
        state.dead = true;
        unsubscribe();
        state.chart?.destroy();
        chartsById.delete(p.id);
      },
    };
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
      h('div.chart.empty', h('p', 'no metrics API'), h('p.muted.small', NOT_CONFIGURED_HINT)));
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
      renderSummary(u.summary);
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

function card(label, value, total, key, sub) {
  return h('div.card', { dataset: { card: key } },
    h('div.card-label', label),
    h('div.card-value', h('span.big', { dataset: { value: String(value) } }, num(value)), total != null ? h('span.of', ` / ${num(total)}`) : null),
    sub ? h('div.card-sub', sub) : total ? h('div.card-sub', `${pct(value, total)}%`) : null);
}
