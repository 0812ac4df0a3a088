// capacity.js: the overview's "find capacity" box. A model and a count in,
// the placements query's answer out: ranked pools and nodes, best fit
// (fewest free accelerators left over) first, kept live through the
// placements subscription until the request changes or the page goes.
// Nothing is asked before the first search: the box costs no upstream call
// on an overview that does not use it.

import { h, fill, num, time, markAt, badge } from './dom.js';
import { describeErrors, briefErrors } from './gql.js';
import { subscribe } from './live.js';

const LIVE_PLACEMENTS = `subscription LivePlacements($r: PlacementRequest!, $interval: Int) {
  placements(request: $r, intervalSeconds: $interval) { at placements {
    provider vendor model freeAccelerators leftOver
    nodePool { id name cluster { name } }
    nodes { id name } } }
}`;

// Catalogue models offered in the input (any other is sent as typed; the
// gateway names the known ones when it refuses one).
const MODELS = ['A100', 'H100', 'H200', 'V100', 'T4', 'L4', 'L40S', 'ASCEND_910B', 'ASCEND_910', 'ASCEND_310'];

/** capacityBox returns the box's element and its cleanup (ends the subscription). */
export function capacityBox({ interval }) {
  const status = h('span.muted.at', { dataset: { source: 'none' } }, 'model and count in, ranked pools and nodes out');
  const rows = h('tbody');
  const error = h('p.form-error', { role: 'alert', hidden: true });
  const form = h('form.pool-form.capacity-form', { dataset: { form: 'capacity' } },
    h('label', 'Model', h('input', { name: 'model', list: 'capacity-models', placeholder: 'any', autocomplete: 'off' }),
      h('datalist', { id: 'capacity-models' }, MODELS.map((m) => h('option', { value: m })))),
    h('label', 'Accelerators', h('input', { name: 'accelerators', type: 'number', min: '1', max: '10000', value: '8', required: true })),
    h('label', 'Provider', h('select', { name: 'provider' },
      h('option', { value: '' }, 'any'), h('option', { value: 'RUNAI' }, 'Run:ai'), h('option', { value: 'MODELARTS' }, 'ModelArts'))),
    h('label.check', h('input', { name: 'sameNode', type: 'checkbox', checked: true }), ' all on one node'),
    error,
    h('div.form-actions', h('button', { type: 'submit' }, 'Find capacity'), status));

  let unsubscribe = () => {};
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const r = { accelerators: Number(f.accelerators.value), sameNode: f.sameNode.checked };
    if (f.model.value.trim()) r.model = f.model.value.trim();
    if (f.provider.value) r.provider = f.provider.value;
    unsubscribe();
    error.hidden = true;
    status.dataset.source = 'none';
    status.textContent = 'searching…';
    fill(rows);
    unsubscribe = subscribe(LIVE_PLACEMENTS, { r, interval }, {
      next({ data, errors }) {
        const u = data?.placements;
        if (!u) return;
        status.dataset.source = 'live';
        markAt(status, u.at);
        status.textContent = `live, updated ${time(u.at)}${errors?.length ? ` · ${briefErrors(errors)}` : ''}`;
        status.title = errors?.length ? describeErrors(errors) : '';
        if (u.placements) render(u.placements, r);
      },
      error(errors) {
        error.hidden = false;
        error.textContent = describeErrors(errors);
        status.textContent = '';
      },
    });
  });

  function render(list, r) {
    if (!list.length) {
      fill(rows, h('tr', h('td.muted', { colSpan: 6 }, `no ${r.sameNode ? 'node' : 'node pool'} has ${num(r.accelerators)} free ${r.model || 'accelerators'} now`)));
      return;
    }
    fill(rows, list.map((p, i) => h('tr', { dataset: { rank: String(i + 1), leftOver: String(p.leftOver) } },
      h('td.n', String(i + 1)),
      h('td', badge(p.provider, 'provider')),
      h('td', p.nodePool ? h('a', { href: `#/pool/${encodeURIComponent(p.nodePool.id)}` }, p.nodePool.name) : h('span.muted', 'no pool'),
        p.nodePool ? h('span.muted.small', ` ${p.nodePool.cluster.name}`) : null),
      h('td', h('code', `${p.vendor} ${p.model}`)),
      h('td', p.nodes.map((n) => n.name).join(', ')),
      h('td.n', { title: 'free now · left over after the job' }, `${num(p.freeAccelerators)} · ${num(p.leftOver)} left`))));
  }

  const el = h('section.panel.capacity', { dataset: { panel: 'capacity' } },
    h('div.section-head', h('h2', 'Find capacity ', h('span.muted.small', 'where a job fits now, best fit first'))),
    form,
    h('div.table-wrap', h('table.data', { dataset: { table: 'placements' } },
      h('thead', h('tr', h('th.n', '#'), h('th', 'Provider'), h('th', 'Pool'), h('th', 'Accelerator'), h('th', 'Nodes'), h('th.n', 'Free'))),
      rows)));
  return { el, cleanup: () => unsubscribe() };
}
