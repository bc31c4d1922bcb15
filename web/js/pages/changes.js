// Change-evaluation requests for the police (PA05): an inventory change on a
// population-database host, with its diff, evaluated through
// requested → under evaluation → approved / needs remediation.
import { h, table, section, kv, notice, field, clear, badge, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, items } from '../api.js';
import { can, unitName, route } from '../main.js';
import { jsonView } from './hosts.js';

const STATES = ['requested', 'under_evaluation', 'approved', 'needs_remediation'];
const NEXT = { requested: ['under_evaluation', 'approved', 'needs_remediation'], under_evaluation: ['approved', 'needs_remediation'], needs_remediation: ['under_evaluation'], approved: [] };

function crBadge(st) { return badge('cr-' + st, t('cr.state.' + st)); }

export async function list({ query }) {
  const st = query.get('state') || '';
  const rows = items(await get('/change-requests?limit=500' + (st ? '&state=' + encodeURIComponent(st) : '')));
  const sel = h('select', { id: 'f-cr-state', on: { change: (e) => { location.hash = '#/changes' + (e.target.value ? '?state=' + e.target.value : ''); } } },
    h('option', { value: '' }, t('common.all')), STATES.map((s) => h('option', { value: s, selected: s === st }, t('cr.state.' + s))));
  return h('div', null, h('h1', null, t('changes.title')), h('p', { class: 'muted' }, t('changes.intro')),
    h('div', { class: 'filters' }, field(t('incidents.state'), sel)),
    table([
      { key: 'id', title: '#', render: (r) => h('a', { href: `#/changes/${r.id}` }, String(r.id)) },
      { key: 'summary', title: t('changes.summary'), render: (r) => h('a', { href: `#/changes/${r.id}` }, r.summary || '—') },
      { key: 'host', title: t('common.host'), render: (r) => h('a', { href: `#/hosts/${r.host_id}` }, r.hostname || `#${r.host_id}`), csv: (r) => r.hostname || r.host_id },
      { key: 'unit', title: t('common.unit'), render: (r) => unitName(r.unit_id), csv: (r) => unitName(r.unit_id) },
      { key: 'state', title: t('incidents.state'), render: (r) => crBadge(r.state), csv: (r) => t('cr.state.' + r.state) },
      { key: 'created_at', title: t('changes.created'), render: (r) => fmtDateTime(r.created_at), csv: (r) => fmtDateTime(r.created_at) },
    ], rows, { csv: 'khien-change-requests', id: 'changes' }));
}

export async function page({ params }) {
  const id = params[0];
  const cr = await get(`/change-requests/${id}`);
  const out = h('div', null, h('h1', null, t('changes.one', { id: cr.id })), crBadge(cr.state));
  out.appendChild(section(t('incidents.summary'), kv([
    [t('changes.summary'), cr.summary], [t('common.host'), h('a', { href: `#/hosts/${cr.host_id}` }, cr.hostname || `#${cr.host_id}`)],
    [t('common.unit'), unitName(cr.unit_id)], [t('changes.created'), fmtDateTime(cr.created_at)],
  ])));
  out.appendChild(section(t('changes.diff'), h('div', { id: 'cr-diff' }, jsonView(cr.diff))));
  const next = NEXT[cr.state] || [];
  if (next.length && can(['admin', 'police'])) {
    const msg = h('div');
    const to = h('select', { id: 'cr-to' }, next.map((x) => h('option', { value: x }, t('cr.state.' + x))));
    const comment = h('textarea', { id: 'cr-comment', rows: 2, required: true });
    const form = h('form', null, field(t('incidents.move_to'), to), field(t('common.comment'), comment), h('button', { type: 'submit', class: 'btn primary' }, t('incidents.move')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try { await post(`/change-requests/${id}/transition`, { state: to.value, comment: comment.value }); route(); } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
    });
    out.appendChild(section(t('changes.evaluate'), msg, form));
  }
  out.appendChild(section(t('incidents.timeline'), h('ol', { class: 'timeline' }, (cr.timeline || []).map((e) =>
    h('li', null, h('time', null, fmtDateTime(e.time)), ' ', h('b', null, e.user || '—'), ' ', e.from ? `${t('cr.state.' + e.from)} → ` : '',
      e.to ? t('cr.state.' + e.to) : '', e.comment ? h('div', { class: 'comment' }, e.comment) : null)))));
  const cmsg = h('div');
  const text = h('textarea', { rows: 3, required: true, id: 'cr-comment-text' });
  const cform = h('form', null, field(t('common.comment'), text), h('button', { type: 'submit', class: 'btn' }, t('incidents.add_comment')));
  cform.addEventListener('submit', async (e) => {
    e.preventDefault();
    try { await post(`/change-requests/${id}/comments`, { text: text.value }); route(); } catch (err) { clear(cmsg).appendChild(notice('error', err.message)); }
  });
  out.appendChild(section(t('incidents.comments'), h('ul', { class: 'comments' }, (cr.comments || []).map((c) =>
    h('li', null, h('div', { class: 'meta' }, h('b', null, c.user), ' · ', fmtDateTime(c.time)), h('div', { class: 'comment' }, c.text)))),
    can(['admin', 'officer', 'police']) ? [cmsg, cform] : null));
  return out;
}
