// Hosts: the list with filters, and one host with its inventory, latest audit
// results, vulnerabilities, findings and the history of changes.
import { h, table, section, kv, notice, field, clear, badge, sevBadge, fmtDateTime, SEVERITIES, truncate } from '../dom.js';
import { t } from '../i18n.js';
import { get, patch, del, items } from '../api.js';
import { can, unitName, route } from '../main.js';
import { unitFilter } from './incidents.js';
import { findingColumns } from './findings.js';

function sevCounts(o) {
  o = o || {};
  return h('span', { class: 'sevcounts' }, SEVERITIES.map((s) => (o[s] ? h('span', { class: 'sc sev-' + s, title: t('sev.' + s) }, String(o[s])) : null)));
}

export async function list({ query }) {
  const f = { unit_id: query.get('unit_id') || '', population_db: query.get('population_db') || '', q: query.get('q') || '', status: query.get('status') || '' };
  const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  const rows = items(await get('/hosts?limit=500&' + qs.toString()));
  const nav = (patchF) => {
    const n = new URLSearchParams(Object.entries({ ...f, ...patchF }).filter(([, v]) => v));
    location.hash = '#/hosts' + (n.toString() ? '?' + n : '');
  };
  const q = h('input', { id: 'f-q', type: 'search', value: f.q, placeholder: t('hosts.search'), maxlength: 200 });
  const pop = h('select', { id: 'f-pop', on: { change: (e) => nav({ population_db: e.target.value }) } },
    h('option', { value: '' }, t('common.all')), h('option', { value: '1', selected: f.population_db === '1' }, t('hosts.population_db_only')));
  const status = h('select', { id: 'f-status', on: { change: (e) => nav({ status: e.target.value }) } },
    h('option', { value: '' }, t('common.all')), ['active', 'removed'].map((s) => h('option', { value: s, selected: f.status === s }, t('host.status.' + s))));
  const search = h('form', { class: 'filters', id: 'host-filters' }, field(t('common.search'), q), unitFilter(f.unit_id, (v) => nav({ unit_id: v })),
    field(t('hosts.population_db'), pop), field(t('hosts.status'), status), h('button', { type: 'submit', class: 'btn' }, t('common.filter')));
  search.addEventListener('submit', (e) => { e.preventDefault(); nav({ q: q.value.trim() }); });
  const shown = f.status ? rows : rows.filter((r) => r.status !== 'removed');
  return h('div', null, h('h1', null, t('hosts.title')), search, table([
    { key: 'hostname', title: t('hosts.hostname'), render: (r) => h('a', { href: `#/hosts/${r.id}` }, r.hostname) },
    { key: 'unit', title: t('common.unit'), render: (r) => unitName(r.unit_id), csv: (r) => unitName(r.unit_id) },
    { key: 'os', title: t('hosts.os') },
    { key: 'population_db', title: t('hosts.population_db_short'), render: (r) => (r.population_db ? badge('pop', t('common.yes')) : ''), csv: (r) => (r.population_db ? 1 : 0) },
    { key: 'level', title: t('hosts.level'), cls: 'num' },
    { key: 'last_seen', title: t('hosts.last_seen'), render: (r) => fmtDateTime(r.last_seen), csv: (r) => fmtDateTime(r.last_seen) },
    { key: 'status', title: t('hosts.status'), render: (r) => t('host.status.' + r.status), csv: (r) => r.status },
    { key: 'open', title: t('hosts.open_findings'), render: (r) => sevCounts(r.open_findings), csv: (r) => SEVERITIES.map((s) => (r.open_findings || {})[s] || 0).join('/') },
  ], shown, { csv: 'khien-hosts', id: 'hosts' }));
}

// Generic, escaped rendering of nested JSON (event data, diffs).
export function jsonView(v, depth = 0) {
  if (v === null || v === undefined) return h('span', { class: 'muted' }, '—');
  if (typeof v !== 'object') return String(v);
  if (depth > 4) return truncate(JSON.stringify(v), 200);
  if (Array.isArray(v)) {
    if (!v.length) return h('span', { class: 'muted' }, '[]');
    return h('ul', { class: 'jv' }, v.slice(0, 200).map((x) => h('li', null, jsonView(x, depth + 1))), v.length > 200 ? h('li', { class: 'muted' }, `… +${v.length - 200}`) : null);
  }
  return h('dl', { class: 'jv' }, Object.entries(v).map(([k, x]) => [h('dt', null, k), h('dd', null, jsonView(x, depth + 1))]));
}

function inventoryView(inv) {
  if (!inv) return h('p', { class: 'muted' }, t('host.no_inventory'));
  const tables = Array.isArray(inv.tables) ? inv.tables : [];
  if (!tables.length) return jsonView(inv);
  return h('div', { class: 'inv' }, h('p', { class: 'muted' }, t('host.collected', { d: fmtDateTime(inv.collected_at) })),
    tables.map((tb) => {
      const rows = tb.rows || [];
      const keys = [...new Set(rows.slice(0, 50).flatMap((r) => Object.keys(r)))].slice(0, 8);
      const single = rows.length === 1 && ['os', 'host', 'cpu', 'memory'].includes(tb.name);
      return h('details', { class: 'inv-table', open: single ? true : null, dataset: { table: tb.name } },
        h('summary', null, t('inv.' + tb.name), ` (${rows.length})`),
        single ? kv(Object.entries(rows[0]).map(([k, v]) => [k, String(v)]))
          : table(keys.map((k) => ({ key: k, title: k, render: (r) => truncate(r[k] ?? '', 80), csv: (r) => r[k] })), rows, { csv: `khien-inventory-${tb.name}` }));
    }));
}

function auditView(audit) {
  const pols = Array.isArray(audit) ? audit : audit ? Object.values(audit) : [];
  if (!pols.length) return h('p', { class: 'muted' }, t('host.no_audit'));
  return h('div', null, pols.map((p) => {
    const d = p.data || p;
    const res = d.results || [];
    const failed = res.filter((r) => r.result === 'failed');
    const passed = res.filter((r) => r.result === 'passed').length;
    return h('div', { class: 'policy' }, h('h3', null, d.policy || '—', ' ', h('span', { class: 'muted' },
      t('host.audit_counts', { p: passed, f: failed.length, n: res.length }), p.time ? ' · ' + fmtDateTime(p.time) : '')),
      table([
        { key: 'id', title: 'ID' }, { key: 'title', title: t('findings.title_col') },
        { key: 'severity', title: t('common.severity'), render: (r) => (r.severity ? sevBadge(r.severity) : '—'), csv: (r) => r.severity },
      ], failed, { csv: `khien-audit-${d.policy || 'policy'}-failed`, empty: t('host.all_passed') }));
  }));
}

function vulnView(v) {
  const d = v && (v.data || v);
  const pk = (d && d.packages) || [];
  if (!pk.length) return h('p', { class: 'muted' }, v ? t('host.no_vulns') : t('host.no_vuln_scan'));
  const rows = pk.flatMap((p) => (p.vulns || []).map((x) => ({ ...x, package: p.name, version: p.version })));
  return table([
    { key: 'package', title: t('host.package') }, { key: 'version', title: t('host.version') }, { key: 'id', title: 'ID' },
    { key: 'severity', title: t('common.severity'), render: (r) => sevBadge(String(r.severity || 'unknown').toLowerCase()), csv: (r) => r.severity },
    { key: 'fixed', title: t('host.fixed') }, { key: 'summary', title: t('host.summary'), render: (r) => truncate(r.summary, 120), csv: (r) => r.summary },
  ], rows, { csv: 'khien-vulns', id: 'vulns' });
}

export async function page({ params }) {
  const id = params[0];
  const host = await get(`/hosts/${id}`);
  let fnd = [];
  try { fnd = items(await get(`/findings?host_id=${id}&limit=500`)); } catch (e) { if (e.status !== 403) throw e; }
  const hb = host.heartbeat || {};
  const out = h('div', { class: 'host', dataset: { host: host.id } }, h('h1', null, t('host.title'), ': ', host.hostname));
  out.appendChild(section(t('host.summary_title'), kv([
    [t('common.unit'), unitName(host.unit_id)], [t('hosts.os'), host.os], [t('host.agent'), host.agent_version],
    [t('hosts.status'), t('host.status.' + host.status)], [t('hosts.population_db'), host.population_db ? t('common.yes') : t('common.no')],
    [t('hosts.level'), String(host.level ?? '—')], [t('host.enrolled'), fmtDateTime(host.enrolled_at)], [t('hosts.last_seen'), fmtDateTime(host.last_seen)],
    [t('host.protection'), (host.protection ?? hb.protection) === undefined ? '—' : (host.protection ?? hb.protection) ? t('common.yes') : t('common.no')],
    [t('host.signatures'), [hb.signatures && hb.signatures.version ? hb.signatures.version + ' · ' : '', fmtDateTime(host.sig_updated || (hb.signatures && hb.signatures.updated))]],
    [t('host.last_full_scan'), fmtDateTime(host.last_full_scan || hb.last_full_scan)], [t('hosts.open_findings'), sevCounts(host.open_findings)],
  ])));
  if (can(['admin', 'officer']) && host.status !== 'removed') out.appendChild(editForm(host));
  out.appendChild(section(t('host.findings'), table(findingColumns(false), fnd, { csv: `khien-host-${id}-findings`, id: 'host-findings' })));
  out.appendChild(section(t('host.vulns'), vulnView(host.vuln)));
  out.appendChild(section(t('host.audit'), auditView(host.audit)));
  out.appendChild(section(t('host.inventory'), inventoryView(host.inventory && (host.inventory.data || host.inventory))));
  const ch = host.changes || [];
  out.appendChild(section(t('host.changes'), ch.length ? h('ol', { class: 'timeline', id: 'changes' }, ch.map((c) =>
    h('li', null, h('time', null, fmtDateTime(c.time)), h('div', null, jsonView(c.data || c))))) : h('p', { class: 'muted' }, t('host.no_changes'))));
  return out;
}

function editForm(host) {
  const msg = h('div');
  const pop = h('input', { type: 'checkbox', id: 'h-pop', checked: !!host.population_db });
  const level = h('select', { id: 'h-level' }, [1, 2, 3, 4, 5].map((l) => h('option', { value: l, selected: Number(host.level) === l }, String(l))));
  const form = h('form', { class: 'grid-form', id: 'host-edit' }, h('label', { class: 'check' }, pop, t('hosts.population_db')),
    field(t('hosts.level'), level), h('button', { type: 'submit', class: 'btn primary' }, t('common.save')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await patch(`/hosts/${host.id}`, { population_db: pop.checked, level: Number(level.value) }); route(); } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
  });
  const rm = h('button', { type: 'button', class: 'btn danger', id: 'h-remove', on: { click: async () => {
    if (!window.confirm(t('host.remove_confirm'))) return;
    try { await del(`/hosts/${host.id}`); route(); } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
  } } }, t('host.remove'));
  return h('details', { class: 'card' }, h('summary', null, t('host.edit')), msg, form, h('p', { class: 'muted small' }, t('host.remove_help')), rm);
}
