// pool.js: one node pool (#/pool/<id>): its status, its nodes, its metrics
// (live through nodePoolMetrics) and the forms to scale or delete it.

import { h, fill, num, pct, time, markAt, date, bytes, badge, allocation, allocationSub, readiness } from './dom.js';
import { request, describeErrors, briefErrors } from './gql.js';
import { subscribe } from './live.js';
import { timeChart } from './charts.js';
import { scaleForm, deleteForm } from './forms.js';
import { LIVE_POOL_METRICS, window1h, notConfigured, NOT_CONFIGURED_HINT, emptyTile } from './overview.js';

const POOL = `query Pool($id: ID!) {
  nodePool(id: $id) {
    id name provider backend phase phaseMessage isDefault flavor nodeSelector reportedNodeCount createdAt
    cluster { id name state version }
    nodes(first: 500) { totalCount edges { node {
      id name status vendorStatus gpuType gpuCount ip zone flavor createdAt
      capacity { cpuCores memoryBytes gpus }
      available { cpuCores memoryBytes gpus } } } }
  }
  summary: fleetSummary(filter: {nodePoolId: $id}) { nodes readyNodes gpus readyGpus allocatedGpus }
  readyOnly: fleetSummary(filter: {nodePoolId: $id, status: [READY]}) { allocatedGpus }
}`;

// Run:ai gives a node's allocation in its telemetry (ModelArts in each
// node's available resources): the pool's nodes in one call.
const RUNAI_NODE_ALLOCATION = `query NodeAllocation($cluster: ID!, $pool: String!) {
  nodeTelemetry(type: ALLOCATED_GPUS, clusterId: $cluster, nodePoolName: $pool, groupBy: [NODE]) { value groups { key value } }
}`;

async function runaiAllocation(p) {
  if (p.provider !== 'RUNAI') return null;
  const { data } = await request(RUNAI_NODE_ALLOCATION, { cluster: p.cluster.id, pool: p.name }).catch(() => ({ data: null }));
  if (!data) return null;
  return new Map(data.nodeTelemetry.map((v) => [v.groups.find((g) => g.key === 'Node')?.value, Math.round(v.value)]));
}

const METRICS = `query PoolMetrics($id: ID!, $types: [NodePoolMetricType!]!, $start: DateTime!, $end: DateTime!, $samples: Int) {
  nodePool(id: $id) { metrics(types: $types, start: $start, end: $end, samples: $samples) { type points { timestamp value } } }
}`;

const SERIES = [
  { type: 'GPU_UTILIZATION', label: 'GPU' },
  { type: 'GPU_MEMORY_UTILIZATION', label: 'GPU memory' },
  { type: 'CPU_UTILIZATION', label: 'CPU' },
  { type: 'CPU_MEMORY_UTILIZATION', label: 'CPU memory' },
];

// ModelArts also serves its Ascend NPUs (from AOM); Run:ai has none.
const SERIES_BY_PROVIDER = {
  MODELARTS: SERIES.concat({ type: 'NPU_UTILIZATION', label: 'NPU' }, { type: 'NPU_MEMORY_UTILIZATION', label: 'NPU memory' }),
};

export function renderPool(root, id, { interval }) {
  const cleanups = [];
  let alive = true;
  fill(root, h('p.muted', 'Loading pool…'));

  // flash is the outcome of the last write, shown above the reloaded page.
  async function load(flash) {
    const { data, errors } = await request(POOL, { id });
    if (!alive) return;
    const p = data?.nodePool;
    if (!p) {
      fill(root, crumbs(null),
        flash ? h('p.banner.ok', { dataset: { flash: '' } }, flash) : null,
        h('p.banner.error', errors.length ? describeErrors(errors) : 'No such node pool: it may have been deleted.'));
      return;
    }
    const s = data.summary;
    const notReady = s && data.readyOnly ? Math.max(0, s.allocatedGpus - data.readyOnly.allocatedGpus) : 0;
    const allocated = await runaiAllocation(p);
    if (!alive) return;
    const nodes = p.nodes.edges.map((e) => e.node);
    const metrics = h('section.panel.metrics');
    fill(root,
      crumbs(p),
      flash ? h('p.banner.ok', { dataset: { flash: '' } }, flash) : null,
      errors.length ? h('p.banner.warn', `Partial data: ${describeErrors(errors)}`) : null,
      h('div.pool-title',
        h('h1', p.name), h('span.phase', badge(p.phase), s ? [' · ', readiness(s.readyNodes, s.nodes)] : null), badge(p.provider, 'provider'), p.isDefault ? h('span.tag', 'default') : null,
        p.phaseMessage ? h('span.muted', p.phaseMessage) : null),
      s ? h('section.cards',
        statCard('Nodes ready', s.readyNodes, s.nodes, 'nodes'),
        statCard('GPUs ready', s.readyGpus, s.gpus, 'gpus'),
        statCard('GPUs allocated', s.allocatedGpus, s.gpus, 'allocated', allocationSub(s.allocatedGpus, s.gpus, notReady))) : null,
      h('div.pool-grid',
        h('div.pool-main',
          metrics,
          h('section.panel',
            h('h2', 'Nodes ', h('span.muted', `(${p.nodes.totalCount})`)),
            h('div.table-wrap', nodesTable(nodes, allocated)))),
        h('aside.pool-side',
          h('section.panel', h('h2', 'Details'), details(p)),
          ['DELETING', 'DELETED'].includes(p.phase)
            ? h('section.panel', h('h2', 'Changes'), h('p.muted', `The pool is ${p.phase.toLowerCase()}: it takes no more changes.`))
            : [
              h('section.panel', h('h2', p.provider === 'MODELARTS' ? 'Scale' : 'Node selector'),
                scaleForm(p, { onDone: (r, msg) => reload(msg) })),
              h('section.panel', h('h2', 'Delete'), deleteForm(p, { onDone: (r, msg) => reload(msg) })),
            ])));
    liveMetrics(metrics, p);
  }

  function reload(flash) {
    for (const c of cleanups.splice(0)) c();
    load(flash).catch((e) => fill(root, h('p.banner.error', e.message)));
  }

  // liveMetrics charts the pool's series that have points (a CPU pool has
  // no GPU series, a GPU pool no NPU series): the chart is rebuilt when an
  // update brings another set; with none, one line says so.
  function liveMetrics(panel, p) {
    const box = h('div.chart');
    const at = h('span.at', { dataset: { source: 'none' } }, 'waiting for data…');
    const warn = h('span.warn', { role: 'status' });
    fill(panel, h('div.section-head', h('h2', 'Metrics, last hour'), h('span.muted', `live, every ${interval} s`)), box, h('footer', at, warn));
    const wanted = SERIES_BY_PROVIDER[p.provider] || SERIES;
    const key = `poolpage:${p.id}`;
    let chart = null;
    let drawn = '';
    let source = 'none';
    const show = (list, stamp, src) => {
      const present = wanted.filter((w) => (list || []).some((m) => m.type === w.type && m.points?.length));
      const shape = present.map((w) => w.type).join();
      if (shape !== drawn || !chart) {
        chart?.destroy();
        chart = null;
        drawn = shape;
        if (present.length) {
          fill(box);
          box.className = 'chart';
          chart = timeChart(box, { key, series: present, height: 220 });
        } else {
          fill(box, emptyTile(`no samples in the last hour: the vendor sent none of ${wanted.map((w) => w.label).join(', ')} for this pool`).firstChild);
          box.className = 'chart empty';
        }
      }
      chart?.set(list);
      source = src;
      at.dataset.source = src;
      markAt(at, stamp);
      at.textContent = src === 'live' ? `updated ${time(stamp)}` : `loaded ${time(new Date().toISOString())}, waiting for live data`;
    };
    const types = wanted.map((s) => s.type);
    let stop = () => {};
    request(METRICS, { id: p.id, types, ...window1h() }).then(({ data, errors }) => {
      if (!alive) return;
      if (notConfigured(errors)) {
        // Nothing to chart until the backend is configured: say why.
        stop();
        fill(panel, h('h2', 'Metrics'), emptyTile(NOT_CONFIGURED_HINT));
        return;
      }
      if (source === 'none' && data?.nodePool) show(data.nodePool.metrics, null, 'query');
    }).catch(() => {});
    const unsubscribe = subscribe(LIVE_POOL_METRICS, { id: p.id, types, interval }, {
      next({ data, errors }) {
        const u = data?.nodePoolMetrics;
        if (u?.series) show(u.series, u.at, 'live');
        else if (u) { markAt(at, u.at); at.textContent = `poll failed ${time(u.at)}`; }
        warn.textContent = errors?.length ? briefErrors(errors) : '';
        warn.title = errors?.length ? describeErrors(errors) : '';
      },
      error(errors) {
        warn.textContent = `live updates failed: ${briefErrors(errors)}`;
        warn.title = describeErrors(errors);
      },
    });
    let stopped = false;
    stop = () => { if (!stopped) { stopped = true; unsubscribe(); chart?.destroy(); } };
    cleanups.push(() => stop());
  }

  load().catch((e) => fill(root, h('p.banner.error', e.message)));
  return () => {
    alive = false;
    for (const c of cleanups) c();
  };
}

function crumbs(p) {
  return h('nav.crumbs', { 'aria-label': 'Breadcrumb' },
    h('a', { href: '#/' }, 'Overview'), ' › ',
    p ? [h('span', p.cluster.name), ' › ', h('span', p.name)] : h('span', 'pool'));
}

function statCard(label, value, total, key, sub) {
  return h('div.card', { dataset: { card: key } },
    h('div.card-label', label),
    h('div.card-value', h('span.big', { dataset: { value: String(value) } }, num(value)), total != null ? h('span.of', { dataset: { total: String(total) } }, ` / ${num(total)}`) : null),
    h('div.card-sub', sub || `${pct(value, total)}%`));
}

function details(p) {
  const row = (k, v) => (v == null || v === '' ? null : [h('dt', k), h('dd', v)]);
  return h('dl.details',
    row('Provider backend', p.backend),
    row('Cluster', `${p.cluster.name}${p.cluster.state ? ` (${p.cluster.state})` : ''}`),
    row('Node selector', p.nodeSelector && h('code', p.nodeSelector)),
    row('Flavor', p.flavor && h('code', p.flavor)),
    row('Reported nodes', num(p.reportedNodeCount)),
    row('Created', p.createdAt && date(p.createdAt)), // ModelArts node pools report none
    row('ID', h('code.small.id', p.id)));
}

// nodesTable: a column only where the vendor says something. "GPU
// capacity" is the node's GPUs; "GPUs allocated" only where the vendor gives
// it (ModelArts: capacity minus available; Run:ai: its telemetry), drawn as
// everywhere else and hatched on a node that is not ready.
function nodesTable(nodes, runaiAllocated) {
  if (!nodes.length) return h('p.muted', 'No nodes.');
  const capacity = (n) => n.capacity?.gpus ?? n.gpuCount;
  const allocatedOf = (n) => {
    if (n.available?.gpus != null && capacity(n) != null) return capacity(n) - n.available.gpus;
    return runaiAllocated?.get(n.name) ?? null;
  };
  const cols = [
    ['Node', (n) => h('span.node-name', { title: n.name }, n.name)],
    ['Status', (n) => [badge(n.status, 'status'), n.vendorStatus && n.vendorStatus.toUpperCase() !== n.status.replace('_', '') ? h('span.muted.small', ` ${n.vendorStatus}`) : null]],
    ['GPU type', (n) => (n.gpuType ? h('code.small', n.gpuType) : h('span.muted', '—'))],
    ['GPU capacity', (n) => (capacity(n) ? num(capacity(n)) : h('span.muted', 'none')), 'n'],
    ['GPUs allocated', (n) => {
      const a = allocatedOf(n);
      if (!capacity(n) || a == null) return null;
      return allocation(a, capacity(n), n.status === 'READY' ? 0 : a, 'on a node that is not ready');
    }],
    ['CPU cores', (n) => n.capacity?.cpuCores?.toFixed(1), 'n'],
    ['Memory', (n) => (n.capacity?.memoryBytes != null ? bytes(n.capacity.memoryBytes) : null), 'n'],
    ['IP / zone', (n) => [n.ip, n.zone].filter(Boolean).join(' · ')],
    ['Created', (n) => n.createdAt && date(n.createdAt), 'small'],
  ].filter(([, f]) => nodes.some((n) => { const v = f(n); return v != null && v !== '' && v !== false; }));
  return h('table.data.nodes', { dataset: { table: 'nodes' } },
    h('thead', h('tr', cols.map(([t, , c]) => h(c === 'n' ? 'th.n' : 'th', t)))),
    h('tbody', nodes.map((n) => h('tr', { dataset: { nodeId: n.id, nodeName: n.name, status: n.status } },
      cols.map(([t, f, c]) => h(c ? `td.${c}` : 'td', { dataset: { col: t } }, f(n) || h('span.muted', '—')))))));
}
