// Incidents: the list, and one incident with its workflow (state changes with
// a required comment), deadline clocks, timeline, comments, the evidence
// (names and hashes of what was found, never file contents) and its reports.
import { h, table, section, kv, notice, field, clear, badge, sevBadge, fmtDateTime, fmtDuration, toDate } from '../dom.js';
import { t, has } from '../i18n.js';
import { get, post, patch, items } from '../api.js';
import { can, unitName, unitList, route } from '../main.js';

export const STATES = ['new', 'reported', 'investigating', 'resolved', 'false_positive'];
const NEXT = { new: ['reported', 'false_positive'], reported: ['investigating'], investigating: ['reported', 'resolved', 'false_positive'], resolved: [], false_positive: [] };
// The fields of the reports (docs/api.md; Decree 30 header, 2017/2025 reports, Decree 356 form 08).
const DETAIL_FIELDS = ['place', 'number', 'operator', 'operator_address', 'owner', 'system', 'provider',
  'contact_name', 'contact_position', 'contact_phone', 'contact_email',
  'symptoms', 'harm', 'spread', 'impact', 'cause', 'scope', 'measures', 'helpers', 'results', 'recommendations',
  'data_types', 'data_count', 'consequences', 'dpo_name', 'dpo_title', 'dpo_phone', 'dpo_email', 'org_tax_code', 'org_phone', 'org_website',
  'attachments', 'signer_authority', 'signer_title', 'signer_name', 'recipients'];
const LONG_FIELDS = ['symptoms', 'harm', 'spread', 'impact', 'cause', 'scope', 'measures', 'helpers', 'results', 'recommendations', 'consequences', 'attachments', 'recipients'];

export function stateBadge(st) { return badge('st-' + st, t('incident.state.' + st)); }

export function deadlineClock(inc) {
  const dl = (inc.deadlines || []).filter((d) => !d.met);
  if (!dl.length) return h('span', { class: 'muted' }, (inc.deadlines || []).length ? t('incidents.deadlines_met') : '—');
  return h('span', { class: 'clocks' }, dl.map((d) => {
    const left = (toDate(d.due) - Date.now()) / 1000;
    const over = d.overdue || left < 0;
    return h('span', { class: ['clock', over ? 'overdue' : left < 6 * 3600 ? 'soon' : 'ok'], title: fmtDateTime(d.due), dataset: { deadline: d.name } },
      (has('deadline.' + d.name) ? t('deadline.' + d.name) : d.label || d.name) + ': ', over ? t('incidents.overdue', { d: fmtDuration(left) }) : t('incidents.left', { d: fmtDuration(left) }));
  }));
}

export async function list({ query }) {
  const st = query.get('state') || '';
  const unit = query.get('unit_id') || '';
  const qs = new URLSearchParams();
  if (st) qs.set('state', st);
  if (unit) qs.set('unit_id', unit);
  const rows = items(await get('/incidents?limit=500&' + qs.toString()));
  const stateSel = h('select', { id: 'f-state', on: { change: (e) => nav({ state: e.target.value, unit_id: unit }) } },
    h('option', { value: '' }, t('common.all')), STATES.map((x) => h('option', { value: x, selected: x === st }, t('incident.state.' + x))));
  const out = h('div', null, h('h1', null, t('incidents.title')),
    h('div', { class: 'filters' }, field(t('incidents.state'), stateSel), unitFilter(unit, (v) => nav({ state: st, unit_id: v }))));
  if (can(['admin', 'officer'])) out.appendChild(newIncidentForm());
  out.appendChild(table([
    { key: 'id', title: '#', render: (i) => h('a', { href: `#/incidents/${i.id}` }, String(i.id)) },
    { key: 'title', title: t('incidents.title_col'), render: (i) => h('a', { href: `#/incidents/${i.id}` }, i.title) },
    { key: 'severity', title: t('common.severity'), render: (i) => sevBadge(i.severity), csv: (i) => i.severity },
    { key: 'category', title: t('incidents.category'), render: (i) => t('kind.' + i.category), csv: (i) => i.category },
    { key: 'unit', title: t('common.unit'), render: (i) => unitName(i.unit_id), csv: (i) => unitName(i.unit_id) },
    { key: 'state', title: t('incidents.state'), render: (i) => stateBadge(i.state), csv: (i) => t('incident.state.' + i.state) },
    { key: 'detected_at', title: t('incidents.detected'), render: (i) => fmtDateTime(i.detected_at), csv: (i) => fmtDateTime(i.detected_at) },
    { key: 'deadline', title: t('incidents.deadline'), render: (i) => deadlineClock(i), csv: () => '' },
  ], rows, { csv: 'khien-incidents', id: 'incidents' }));
  return out;
}

function nav(params) {
  const qs = new URLSearchParams(Object.entries(params).filter(([, v]) => v));
  location.hash = '#/incidents' + (qs.toString() ? '?' + qs : '');
}

export function unitFilter(value, onChange) {
  return field(t('common.unit'), h('select', { id: 'f-unit', on: { change: (e) => onChange(e.target.value) } },
    h('option', { value: '' }, t('common.all')), unitList().map((u) => h('option', { value: u.id, selected: String(u.id) === String(value) }, u.name))));
}

function newIncidentForm() {
  const msg = h('div');
  const host = h('input', { id: 'ni-host', type: 'number', min: 1, required: true });
  const title = h('input', { id: 'ni-title', required: true, maxlength: 200 });
  const desc = h('textarea', { id: 'ni-desc', rows: 3, maxlength: 16384 });
  const sev = h('select', { id: 'ni-sev' }, ['critical', 'high', 'medium', 'low'].map((x) => h('option', { value: x }, t('sev.' + x))));
  const cat = h('select', { id: 'ni-cat' }, ['malware', 'vulnerability', 'failed_check', 'credential_exposure', 'intrusion', 'other'].map((x) => h('option', { value: x }, t('kind.' + x))));
  const pd = h('input', { id: 'ni-pd', type: 'checkbox' });
  const form = h('form', { class: 'grid-form' }, field(t('incidents.host_id'), host), field(t('incidents.title_col'), title),
    field(t('common.severity'), sev), field(t('incidents.category'), cat), field(t('incidents.description'), desc),
    h('label', { class: 'check' }, pd, t('incidents.personal_data')), h('button', { type: 'submit', class: 'btn primary' }, t('incidents.create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    try {
      const r = await post('/incidents', { host_id: Number(host.value), title: title.value, description: desc.value, severity: sev.value, category: cat.value, personal_data: pd.checked });
      location.hash = `#/incidents/${r.id}`;
    } catch (err) { msg.appendChild(notice('error', err.message)); }
  });
  return h('details', { class: 'card' }, h('summary', null, t('incidents.new')), msg, form);
}

export async function page({ params }) {
  const id = params[0];
  const inc = await get(`/incidents/${id}`);
  const out = h('div', { class: 'incident', dataset: { state: inc.state } });
  out.appendChild(h('h1', null, t('incidents.one', { id: inc.id }) + ' — ', inc.title));
  out.appendChild(h('div', { class: 'row' }, stateBadge(inc.state), ' ', sevBadge(inc.severity), ' ',
    inc.auto ? badge('auto', t('incidents.auto')) : null, inc.personal_data ? badge('pd', t('incidents.personal_data')) : null));
  out.appendChild(section(t('incidents.summary'), kv([
    [t('common.unit'), unitName(inc.unit_id)],
    [t('common.host'), inc.host_id ? h('a', { href: `#/hosts/${inc.host_id}` }, inc.hostname || `#${inc.host_id}`) : '—'],
    [t('incidents.category'), t('kind.' + inc.category)],
    [t('incidents.profile'), t('profile.' + inc.profile)],
    [t('incidents.detected'), fmtDateTime(inc.detected_at)],
    [t('incidents.reported'), fmtDateTime(inc.reported_at)],
    [t('incidents.closed'), fmtDateTime(inc.closed_at)],
    [t('incidents.deadline'), deadlineClock(inc)],
    [t('incidents.description'), inc.description || '—'],
  ])));

  // Workflow
  const next = NEXT[inc.state] || [];
  if (next.length && can(['admin', 'officer', 'police'])) {
    const msg = h('div');
    const to = h('select', { id: 'tr-state' }, next.map((x) => h('option', { value: x }, t('incident.state.' + x))));
    const comment = h('textarea', { id: 'tr-comment', rows: 2, required: true, maxlength: 16384 });
    const form = h('form', { id: 'transition-form' }, field(t('incidents.move_to'), to), field(t('common.comment'), comment),
      h('button', { type: 'submit', class: 'btn primary' }, t('incidents.move')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      clear(msg);
      try {
        await post(`/incidents/${id}/transition`, { state: to.value, comment: comment.value });
        route();
      } catch (err) { msg.appendChild(notice('error', err.message)); }
    });
    out.appendChild(section(t('incidents.workflow'), msg, form));
  }

  // Reports
  const profile = inc.profile || '2025';
  const kinds = ['initial', 'closure'].concat(inc.personal_data ? ['breach'] : []);
  out.appendChild(section(t('reports.title'), h('ul', { class: 'links', id: 'report-links' }, kinds.map((k) => h('li', null,
    t('reports.kind.' + k), ': ',
    h('a', { href: `#/reports/incident/${id}?profile=${profile}&kind=${k}` }, t('reports.view_print')), ' · ',
    h('a', { href: `#/reports/incident/${id}?profile=${profile}&kind=${k}&pdf=1`, class: 'pdf' }, t('reports.pdf')))))));

  // Evidence: what was found, by name and hash
  const f = inc.findings || [];
  out.appendChild(section(t('incidents.evidence'), table([
    { key: 'id', title: '#', render: (x) => String(x.id) },
    { key: 'kind', title: t('common.kind'), render: (x) => t('kind.' + x.kind), csv: (x) => x.kind },
    { key: 'title', title: t('findings.title_col') },
    { key: 'path', title: t('findings.path'), render: (x) => (x.detail && (x.detail.path || x.detail.package)) || '—', csv: (x) => x.detail && x.detail.path },
    { key: 'sha256', title: 'SHA-256', cls: 'hash', render: (x) => (x.detail && x.detail.sha256) || '—', csv: (x) => x.detail && x.detail.sha256 },
    { key: 'last_seen', title: t('findings.last_seen'), render: (x) => fmtDateTime(x.last_seen), csv: (x) => fmtDateTime(x.last_seen) },
  ], f, { csv: `khien-incident-${id}-evidence`, id: 'evidence' })));

  // Report details (the fields the police report needs)
  if (can(['admin', 'officer'])) out.appendChild(detailsForm(inc));

  // Timeline and comments
  out.appendChild(section(t('incidents.timeline'), h('ol', { class: 'timeline', id: 'timeline' }, (inc.timeline || []).map((e) =>
    h('li', null, h('time', null, fmtDateTime(e.time)), ' ', h('b', null, e.user || '—'), ' ',
      e.from ? `${t('incident.state.' + e.from)} → ` : '', e.to ? t('incident.state.' + e.to) : '', e.comment ? h('div', { class: 'comment' }, e.comment) : null)))));
  const cmsg = h('div');
  const text = h('textarea', { id: 'comment-text', rows: 3, required: true, maxlength: 16384 });
  const cform = h('form', { id: 'comment-form' }, field(t('common.comment'), text), h('button', { type: 'submit', class: 'btn' }, t('incidents.add_comment')));
  cform.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await post(`/incidents/${id}/comments`, { text: text.value }); route(); } catch (err) { clear(cmsg).appendChild(notice('error', err.message)); }
  });
  out.appendChild(section(t('incidents.comments'), h('ul', { class: 'comments', id: 'comments' }, (inc.comments || []).map((c) =>
    h('li', null, h('div', { class: 'meta' }, h('b', null, c.user), ' · ', fmtDateTime(c.time)), h('div', { class: 'comment' }, c.text)))),
    can(['admin', 'officer', 'police']) ? [cmsg, cform] : null));
  if (can(['admin'])) {
    const fmsg = h('div');
    out.appendChild(section(t('incidents.forward'), h('p', { class: 'muted' }, t('incidents.forward_help')), fmsg,
      h('button', { type: 'button', class: 'btn', on: { click: async () => {
        try { await post(`/incidents/${id}/forward`); clear(fmsg).appendChild(notice('ok', t('incidents.forwarded'))); } catch (err) { clear(fmsg).appendChild(notice('error', err.message)); }
      } } }, t('incidents.forward'))));
  }
  return out;
}

function detailsForm(inc) {
  const d = inc.details || {};
  const msg = h('div');
  const inputs = {};
  const profile = h('select', { id: 'd-profile' }, ['2025', '2017'].map((p) => h('option', { value: p, selected: inc.profile === p }, t('profile.' + p))));
  const pd = h('input', { type: 'checkbox', id: 'd-pd', checked: !!inc.personal_data });
  const form = h('form', { class: 'grid-form', id: 'details-form' }, field(t('incidents.profile'), profile),
    h('label', { class: 'check' }, pd, t('incidents.personal_data')),
    DETAIL_FIELDS.map((k) => {
      const long = LONG_FIELDS.includes(k);
      inputs[k] = long ? h('textarea', { rows: 2, name: k, maxlength: 16384 }) : h('input', { name: k, maxlength: 200 });
      inputs[k].value = d[k] || '';
      return field(t('details.' + k), inputs[k]);
    }), h('button', { type: 'submit', class: 'btn primary' }, t('common.save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    const details = {};
    for (const k of DETAIL_FIELDS) details[k] = inputs[k].value;
    try {
      await patch(`/incidents/${inc.id}`, { profile: profile.value, personal_data: pd.checked, details });
      clear(msg).appendChild(notice('ok', t('common.saved')));
    } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
  });
  return h('details', { class: 'card' }, h('summary', null, t('incidents.report_details')), msg, form);
}
