// forms.js: create, scale and delete node pools through the mutations. The
// gateway validates with each vendor's own rules and names the offending
// input in extensions.field (input.name, input.count, ...): the message goes
// next to that field. The forms do no validation of their own beyond what
// the GraphQL types need (whole numbers), so the rules live in one place.

import { h, fill, providerName } from './dom.js';
import { request, describeErrors } from './gql.js';

const CREATE = `mutation CreateNodePool($in: CreateNodePoolInput!) {
  createNodePool(input: $in) { id name provider phase }
}`;
const PATCH = `mutation PatchNodePool($id: ID!, $in: PatchNodePoolInput!) {
  patchNodePool(id: $id, input: $in) { id phase reportedNodeCount nodeSelector }
}`;
const DELETE = `mutation DeleteNodePool($id: ID!) {
  deleteNodePool(id: $id) { id accepted phase }
}`;

/** A labelled input whose errors for `field` (e.g. input.name) show inline. */
function field(path, label, control, hint) {
  return h('label.field', { dataset: { field: path } },
    h('span.field-label', label),
    control,
    hint && h('span.field-hint', hint),
    h('span.field-error', { role: 'alert' }));
}

function clearErrors(form) {
  for (const el of form.querySelectorAll('.field-error, .form-error')) el.textContent = '';
  for (const el of form.querySelectorAll('[aria-invalid]')) el.removeAttribute('aria-invalid');
  form.querySelector('.form-error')?.setAttribute('hidden', '');
}

// The message without the "createNodePool: input.name: " prefix the field
// already says.
function shortMessage(e) {
  const f = e.extensions?.field;
  let m = e.message || 'invalid';
  for (const p of [e.path?.[0], f]) if (p && m.startsWith(`${p}: `)) m = m.slice(p.length + 2);
  return m;
}

// input.labels[0].key -> input.labels[0] -> input.labels -> input -> ''
function parentField(f) {
  const p = f.replace(/(\[\d+\]|\.[^.[\]]+)$/, '');
  return p === f ? '' : p;
}

/**
 * showErrors puts each error next to the field its extensions.field names
 * (or the closest enclosing field: input.labels[0].key -> input.labels), and
 * the others in the form's error line. Returns whether any was inline.
 */
export function showErrors(form, errors) {
  clearErrors(form);
  const rest = [];
  let inline = false;
  for (const e of errors) {
    let box = null;
    for (let f = e.extensions?.field; f && !box; f = parentField(f)) {
      box = [...form.querySelectorAll('.field[data-field]')].find((el) => el.dataset.field === f && !el.closest('[disabled]'));
    }
    if (box) {
      const out = box.querySelector('.field-error');
      out.textContent = out.textContent ? `${out.textContent}; ${shortMessage(e)}` : shortMessage(e);
      box.querySelector('input, select')?.setAttribute('aria-invalid', 'true');
      if (!inline) box.querySelector('input, select')?.focus();
      inline = true;
    } else {
      rest.push(e);
    }
  }
  const line = form.querySelector('.form-error');
  if (rest.length) {
    line.textContent = describeErrors(rest);
    line.removeAttribute('hidden');
  }
  return inline;
}

function setBusy(form, busy, text) {
  const btn = form.querySelector('button[type=submit]');
  if (btn) {
    btn.disabled = busy;
    if (busy) { btn.dataset.label = btn.textContent; btn.textContent = text; } else if (btn.dataset.label) btn.textContent = btn.dataset.label;
  }
  form.setAttribute('aria-busy', busy ? 'true' : 'false');
}

// intValue reads a number input: undefined when empty, NaN when not a whole
// number (GraphQL Int would reject the whole request without naming the field).
function intValue(form, name) {
  const v = form.elements[name].value.trim();
  if (v === '') return undefined;
  return /^-?\d+$/.test(v) ? Number(v) : NaN;
}

function wholeNumbers(form, input, names) {
  const bad = names.filter((n) => Number.isNaN(input[n]));
  if (!bad.length) return true;
  showErrors(form, bad.map((n) => ({ message: 'must be a whole number', extensions: { field: `input.${n}` } })));
  return false;
}

async function submit(form, busyText, query, variables, onData) {
  setBusy(form, true, busyText);
  const status = form.querySelector('.form-status');
  status.textContent = '';
  try {
    const { data, errors } = await request(query, variables);
    if (errors.length) {
      showErrors(form, errors);
      return;
    }
    clearErrors(form);
    onData(data, status);
  } catch (e) {
    showErrors(form, [{ message: e.message }]);
  } finally {
    setBusy(form, false);
  }
}

/**
 * createForm: a form to create a node pool in one of clusters; its fields
 * follow the chosen cluster's provider. flavors suggests ModelArts flavors.
 */
export function createForm(clusters, flavors, { onCreated }) {
  const clusterSelect = h('select', { name: 'clusterId' },
    ['RUNAI', 'MODELARTS'].map((p) => {
      const cs = clusters.filter((c) => c.provider === p);
      return cs.length ? h('optgroup', { label: providerName(p) }, cs.map((c) => h('option', { value: c.id, dataset: { provider: c.provider } }, `${c.name} (${c.backend})`))) : null;
    }));
  const listId = `flavors-${Math.random().toString(36).slice(2, 8)}`;
  const runai = h('fieldset.provider-fields', { dataset: { provider: 'RUNAI' } },
    h('legend', 'Run:ai node selector'),
    field('input.labelKey', 'Label key', h('input', { name: 'labelKey', value: 'run.ai/node-pool', autocomplete: 'off' })),
    field('input.labelValue', 'Label value', h('input', { name: 'labelValue', autocomplete: 'off', placeholder: 'team-a' })),
    field('input.placementStrategy.gpu', 'GPU placement', h('select', { name: 'gpuPlacement' },
      h('option', { value: '' }, 'default'), h('option', 'BINPACK'), h('option', 'SPREAD'))));
  const modelarts = h('fieldset.provider-fields', { dataset: { provider: 'MODELARTS' } },
    h('legend', 'ModelArts nodes'),
    field('input.flavor', 'Flavor', h('input', { name: 'flavor', list: listId, autocomplete: 'off', placeholder: 'modelarts.vm.cpu.4ud' })),
    h('datalist', { id: listId }, flavors.map((f) => h('option', { value: f }))),
    field('input.count', 'Nodes', h('input', { name: 'count', type: 'number', min: '0', step: '1', value: '1' })),
    field('input.maxCount', 'Max nodes', h('input', { name: 'maxCount', type: 'number', min: '0', step: '1', placeholder: 'same' }), 'elastic maximum'));

  const form = h('form.pool-form', { novalidate: true, dataset: { form: 'create' } },
    field('input.clusterId', 'Cluster', clusterSelect),
    field('input.name', 'Name', h('input', { name: 'name', autocomplete: 'off', placeholder: 'team-a', spellcheck: false })),
    runai, modelarts,
    h('p.form-error', { role: 'alert', hidden: true }),
    h('div.form-actions', h('button', { type: 'submit' }, 'Create pool'), h('span.form-status', { role: 'status' })));

  const provider = () => clusterSelect.selectedOptions[0]?.dataset.provider;
  const sync = () => {
    for (const fs of [runai, modelarts]) {
      const on = fs.dataset.provider === provider();
      fs.hidden = !on;
      fs.disabled = !on;
    }
  };
  clusterSelect.addEventListener('change', () => { clearErrors(form); sync(); });
  sync();

  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const f = form.elements;
    const input = { clusterId: f.clusterId.value, name: f.name.value.trim() };
    if (provider() === 'RUNAI') {
      input.labelKey = f.labelKey.value.trim();
      input.labelValue = f.labelValue.value.trim();
      if (f.gpuPlacement.value) input.placementStrategy = { gpu: f.gpuPlacement.value };
    } else {
      input.flavor = f.flavor.value.trim();
      input.count = intValue(form, 'count');
      input.maxCount = intValue(form, 'maxCount');
      if (!wholeNumbers(form, input, ['count', 'maxCount'])) return;
    }
    submit(form, 'Creating…', CREATE, { in: input }, (data, status) => {
      const p = data.createNodePool;
      fill(status, 'Created ', h('a', { href: `#/pool/${encodeURIComponent(p.id)}` }, p.name), ` (${p.phase}).`);
      f.name.value = '';
      onCreated?.(p);
    });
  });
  return form;
}

/**
 * scaleForm changes a pool through patchNodePool: ModelArts scales (count,
 * maxCount); Run:ai pools have no size, their node selector label is what
 * moves nodes in and out.
 */
export function scaleForm(pool, { onDone }) {
  let fields;
  if (pool.provider === 'MODELARTS') {
    fields = [
      field('input.count', 'Nodes', h('input', { name: 'count', type: 'number', min: '0', step: '1', value: String(pool.reportedNodeCount) })),
      field('input.maxCount', 'Max nodes', h('input', { name: 'maxCount', type: 'number', min: '0', step: '1', placeholder: 'unchanged' }), 'elastic maximum'),
    ];
  } else {
    const [k, v] = (pool.nodeSelector || '=').split('=');
    fields = [
      field('input.labelKey', 'Label key', h('input', { name: 'labelKey', value: k || '', autocomplete: 'off' })),
      field('input.labelValue', 'Label value', h('input', { name: 'labelValue', value: v || '', autocomplete: 'off' })),
    ];
  }
  const form = h('form.pool-form', { novalidate: true, dataset: { form: 'scale' } },
    fields,
    h('p.form-error', { role: 'alert', hidden: true }),
    h('div.form-actions', h('button', { type: 'submit' }, pool.provider === 'MODELARTS' ? 'Scale' : 'Update selector'), h('span.form-status', { role: 'status' })));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    const input = {};
    if (pool.provider === 'MODELARTS') {
      input.count = intValue(form, 'count');
      input.maxCount = intValue(form, 'maxCount');
      if (!wholeNumbers(form, input, ['count', 'maxCount'])) return;
    } else {
      input.labelKey = form.elements.labelKey.value.trim();
      input.labelValue = form.elements.labelValue.value.trim();
    }
    submit(form, 'Saving…', PATCH, { id: pool.id, in: input }, (data, status) => {
      const p = data.patchNodePool;
      status.textContent = `${pool.provider === 'MODELARTS' ? 'Scale' : 'Change'} accepted: ${p.phase}${pool.provider === 'MODELARTS' ? `, ${p.reportedNodeCount} nodes` : `, ${p.nodeSelector}`}.`;
      onDone?.(p, status.textContent);
    });
  });
  return form;
}

/** deleteForm asks once more, then deletes the pool. */
export function deleteForm(pool, { onDone }) {
  const confirm = h('div.confirm', { hidden: true },
    h('p', 'Delete ', h('strong', pool.name), '? Its nodes leave the pool; this cannot be undone.'),
    h('div.form-actions',
      h('button.danger', { type: 'submit' }, 'Delete'),
      h('button.ghost', { type: 'button', onclick: () => { confirm.hidden = true; ask.hidden = false; } }, 'Cancel')));
  const ask = h('button.danger-outline', { type: 'button', onclick: () => { confirm.hidden = false; ask.hidden = true; } }, 'Delete pool…');
  const form = h('form.pool-form', { novalidate: true, dataset: { form: 'delete' } },
    ask, confirm, h('p.form-error', { role: 'alert', hidden: true }), h('span.form-status', { role: 'status' }));
  form.addEventListener('submit', (ev) => {
    ev.preventDefault();
    submit(form, 'Deleting…', DELETE, { id: pool.id }, (data, status) => {
      const d = data.deleteNodePool;
      confirm.hidden = true;
      status.textContent = d.accepted ? `Deletion of ${pool.name} accepted: ${d.phase}.` : `Deletion of ${pool.name} not accepted (${d.phase}).`;
      onDone?.(d, status.textContent);
    });
  });
  return form;
}
