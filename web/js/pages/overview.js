// Overview: compliance by unit (table and SVG charts) and the open incidents
// with their deadline clocks. The server limits every list to the caller's
// scope, so a unit officer sees only their unit and the units below it.
import { h, table, section, stackedBars, ring, SEVERITIES, fmtDateTime, notice, badge } from '../dom.js';
import { t } from '../i18n.js';
import { get, items } from '../api.js';
import { can, unitName, unitList } from '../main.js';
import { deadlineClock, stateBadge } from './incidents.js';

export async function render() {
  const out = h('div', null, h('h1', null, t('overview.title')));
  let rows = null;
  if (can(['admin', 'officer', 'auditor'])) {
    try { rows = items(await get('/compliance')); } catch (e) { if (e.status !== 403) throw e; }
  }
  if (rows) {
    // Each unit counts its subtree: the totals are those of the top units in scope.
    const ids = new Set(rows.map((r) => r.unit_id));
    const parent = new Map(unitList().map((u) => [Number(u.id), u.parent_id]));
    const tops = rows.filter((r) => !ids.has(parent.get(Number(r.unit_id))));
    const sum = (k) => tops.reduce((a, r) => a + (Number(r[k]) || 0), 0);
    const hostsN = sum('hosts');
    out.appendChild(h('div', { class: 'rings', id: 'rings' },
      ring(sum('active_24h'), hostsN, t('overview.active_24h')), ring(sum('protected'), hostsN, t('overview.protected')),
      ring(sum('signatures_fresh'), hostsN, t('overview.signatures_fresh')), ring(sum('full_scan_7d'), hostsN, t('overview.full_scan_7d'))));
    const chartRows = rows.slice(0, 30).map((r) => ({ label: r.unit || unitName(r.unit_id), values: r.findings_open || {} }));
    out.appendChild(section(t('overview.findings_by_unit'), stackedBars(chartRows, SEVERITIES, { keyLabel: 'sev.', title: t('overview.findings_by_unit') })));
    const cols = [
      { key: 'unit', title: t('common.unit'), render: (r) => h('a', { href: `#/hosts?unit_id=${r.unit_id}` }, r.unit || unitName(r.unit_id)), csv: (r) => r.unit || unitName(r.unit_id) },
      { key: 'hosts', title: t('overview.hosts'), cls: 'num' },
      { key: 'active_24h', title: t('overview.active_24h'), cls: 'num' },
      { key: 'protected', title: t('overview.protected'), cls: 'num', render: (r) => pct(r.protected, r.hosts), csv: (r) => r.protected },
      { key: 'signatures_fresh', title: t('overview.signatures_fresh'), cls: 'num', render: (r) => pct(r.signatures_fresh, r.hosts), csv: (r) => r.signatures_fresh },
      { key: 'full_scan_7d', title: t('overview.full_scan_7d'), cls: 'num', render: (r) => pct(r.full_scan_7d, r.hosts), csv: (r) => r.full_scan_7d },
      ...SEVERITIES.map((sv) => ({ key: sv, title: t('sev.' + sv), cls: 'num sev-' + sv, render: (r) => String((r.findings_open || {})[sv] || 0), csv: (r) => (r.findings_open || {})[sv] || 0 })),
      { key: 'incidents_open', title: t('overview.incidents_open'), cls: 'num' },
      { key: 'report', title: t('nav.reports'), render: (r) => h('a', { href: `#/reports/unit/${r.unit_id}` }, t('reports.inspection_short')), csv: () => '' },
    ];
    out.appendChild(section(t('overview.compliance'), table(cols, rows, { csv: 'khien-compliance', id: 'compliance' })));
  }
  const inc = items(await get('/incidents?limit=200')).filter((i) => ['new', 'reported', 'investigating'].includes(i.state));
  out.appendChild(section(t('overview.open_incidents'), inc.length ? table([
    { key: 'id', title: '#', render: (i) => h('a', { href: `#/incidents/${i.id}` }, String(i.id)) },
    { key: 'title', title: t('incidents.title_col'), render: (i) => h('a', { href: `#/incidents/${i.id}` }, i.title) },
    { key: 'unit', title: t('common.unit'), render: (i) => unitName(i.unit_id), csv: (i) => unitName(i.unit_id) },
    { key: 'state', title: t('incidents.state'), render: (i) => stateBadge(i.state), csv: (i) => t('incident.state.' + i.state) },
    { key: 'detected_at', title: t('incidents.detected'), render: (i) => fmtDateTime(i.detected_at), csv: (i) => fmtDateTime(i.detected_at) },
    { key: 'deadline', title: t('incidents.deadline'), render: (i) => deadlineClock(i), csv: () => '' },
  ], inc, { csv: 'khien-open-incidents' }) : notice('ok', t('overview.no_open_incidents'))));
  if (!rows && !can(['admin', 'officer', 'auditor'])) out.appendChild(badge('', t('overview.police_scope')));
  return out;
}

function pct(part, total) {
  if (!total) return '—';
  return `${part} (${Math.round((100 * part) / total)}%)`;
}
