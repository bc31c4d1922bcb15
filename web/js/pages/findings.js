// Findings: every open (or resolved) finding in scope, with filters; a
// finding can be marked resolved or ignored by those allowed to.
import { h, table, field, sevBadge, fmtDateTime, notice } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, items } from '../api.js';
import { can, unitName, route } from '../main.js';
import { unitFilter } from './incidents.js';

const KINDS = ['malware', 'vulnerability', 'failed_check', 'credential_exposure', 'inventory_change'];
const SEVS = ['critical', 'high', 'medium', 'low', 'info'];

export function findingColumns(withHost = true) {
  const cols = [
    { key: 'id', title: '#' },
    withHost && { key: 'hostname', title: t('common.host'), render: (f) => h('a', { href: `#/hosts/${f.host_id}` }, f.hostname || `#${f.host_id}`), csv: (f) => f.hostname },
    withHost && { key: 'unit', title: t('common.unit'), render: (f) => unitName(f.unit_id), csv: (f) => unitName(f.unit_id) },
    { key: 'kind', title: t('common.kind'), render: (f) => t('kind.' + f.kind), csv: (f) => f.kind },
    { key: 'severity', title: t('common.severity'), render: (f) => sevBadge(f.severity), csv: (f) => f.severity },
    { key: 'title', title: t('findings.title_col'), cls: 'finding-title' },
    { key: 'path', title: t('findings.path'), render: (f) => (f.detail && (f.detail.path || f.detail.package)) || '—', csv: (f) => f.detail && (f.detail.path || f.detail.package) },
    { key: 'status', title: t('findings.status'), render: (f) => t('finding.status.' + f.status), csv: (f) => f.status },
    { key: 'count', title: t('findings.count'), cls: 'num' },
    { key: 'first_seen', title: t('findings.first_seen'), render: (f) => fmtDateTime(f.first_seen), csv: (f) => fmtDateTime(f.first_seen) },
    { key: 'last_seen', title: t('findings.last_seen'), render: (f) => fmtDateTime(f.last_seen), csv: (f) => fmtDateTime(f.last_seen) },
    { key: 'incident', title: t('findings.incident'), render: (f) => (f.incident_id ? h('a', { href: `#/incidents/${f.incident_id}` }, `#${f.incident_id}`) : '—'), csv: (f) => f.incident_id || '' },
  ];
  if (can(['admin', 'officer'])) {
    cols.push({ key: 'act', title: '', csv: () => '', render: (f) => (f.status === 'open'
      ? h('span', { class: 'acts' }, ['resolved', 'ignored'].map((st) => h('button', { type: 'button', class: 'btn small', on: { click: async () => {
        try { await patch(`/findings/${f.id}`, { status: st }); route(); } catch (e) { window.alert(e.message); }
      } } }, t('findings.mark_' + st))))
      : '') });
  }
  return cols.filter(Boolean);
}

export async function list({ query }) {
  const f = { unit_id: query.get('unit_id') || '', kind: query.get('kind') || '', severity: query.get('severity') || '', status: query.get('status') ?? 'open' };
  const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  const nav = (p) => {
    const n = new URLSearchParams(Object.entries({ ...f, ...p }).filter(([k, v]) => v || k === 'status'));
    location.hash = '#/findings?' + n;
  };
  const sel = (id, key, values, prefix) => h('select', { id, on: { change: (e) => nav({ [key]: e.target.value }) } },
    h('option', { value: '' }, t('common.all')), values.map((v) => h('option', { value: v, selected: f[key] === v }, t(prefix + v))));
  let rows = [];
  const msg = h('div');
  try { rows = items(await get('/findings?limit=500&' + qs)); } catch (e) { msg.appendChild(notice('error', e.message)); }
  return h('div', null, h('h1', null, t('findings.title')),
    h('div', { class: 'filters' }, unitFilter(f.unit_id, (v) => nav({ unit_id: v })), field(t('common.kind'), sel('f-kind', 'kind', KINDS, 'kind.')),
      field(t('common.severity'), sel('f-sev', 'severity', SEVS, 'sev.')), field(t('findings.status'), sel('f-status', 'status', ['open', 'resolved', 'ignored'], 'finding.status.'))),
    msg, table(findingColumns(true), rows, { csv: 'khien-findings', id: 'findings' }));
}
