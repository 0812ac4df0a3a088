// charts.js: time-series charts on uPlot (the vendored global from
// uPlot.iife.min.js), sized to their container.

/** Every live chart by key, for the curious and for the browser tests. */
export const charts = new Map();

const palette = ['#2f6fe4', '#e8871e', '#1a9b5a', '#c2387f', '#7b4fd6', '#0c8aa6'];

const hhmm = (t) => new Date(t * 1000).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit', hour12: false });

function cssVar(name, fallback) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

/**
 * timeChart draws series (each {type, label}: the MetricSeries type it
 * plots) in container. set(metricSeries) replaces the data with a
 * subscription update or query result: every update carries the whole window.
 */
export function timeChart(container, { key, series, height = 150, yMax = 100, unit = '%' }) {
  const muted = cssVar('--muted', '#667085');
  const grid = cssVar('--grid', '#eaecf0');
  const axis = {
    stroke: muted,
    grid: { stroke: grid, width: 1 },
    ticks: { stroke: grid, width: 1, size: 4 },
    font: '11px system-ui, sans-serif',
  };
  const fmt = (v) => (v == null ? '—' : `${v.toFixed(1)}${unit}`);
  const opts = {
    width: Math.max(160, container.clientWidth || 300),
    height,
    cursor: { drag: { x: false, y: false }, points: { size: 6 } },
    legend: { show: series.length > 1, live: true },
    scales: { x: { time: true }, y: { range: (u, min, max) => [0, Math.max(yMax, max || 0)] } },
    axes: [{ ...axis, space: 60, values: (u, vals) => vals.map(hhmm) }, { ...axis, size: 44, values: (u, vals) => vals.map((v) => `${v}${unit}`) }],
    series: [
      {},
      ...series.map((s, i) => ({
        label: s.label,
        stroke: palette[i % palette.length],
        width: 1.75,
        fill: series.length === 1 ? `${palette[0]}1f` : undefined,
        points: { show: false },
        spanGaps: true,
        // The legend shows the value under the cursor, else the latest one.
        value: (u, v, si, idx) => fmt(idx == null ? latest(u.data[si]) : v),
      })),
    ],
  };
  const u = new uPlot(opts, [[], ...series.map(() => [])], container);
  const ro = new ResizeObserver(() => {
    const w = container.clientWidth;
    if (w && Math.abs(w - u.width) > 1) u.setSize({ width: w, height });
  });
  ro.observe(container);
  if (key) charts.set(key, u);
  return {
    u,
    /** set replaces the data; it returns the latest value of the first series. */
    set(metricSeries) {
      const data = toData(metricSeries, series);
      u.setData(data);
      return latest(data[1]);
    },
    destroy() {
      ro.disconnect();
      u.destroy();
      if (key && charts.get(key) === u) charts.delete(key);
    },
  };
}

function latest(ys) {
  for (let i = (ys?.length ?? 0) - 1; i >= 0; i--) if (ys[i] != null) return ys[i];
  return null;
}

// toData turns MetricSeries into uPlot's columns: the union of timestamps
// (seconds) and one column per wanted type, null where a series has no point.
function toData(list, series) {
  const xs = new Set();
  const byType = new Map();
  for (const s of list || []) {
    const m = byType.get(s.type) || new Map();
    byType.set(s.type, m);
    for (const p of s.points || []) {
      const t = Date.parse(p.timestamp) / 1000;
      xs.add(t);
      m.set(t, p.value);
    }
  }
  const x = [...xs].sort((a, b) => a - b);
  return [x, ...series.map((s) => x.map((t) => byType.get(s.type)?.get(t) ?? null))];
}
