// The audit log: every login (failed or not) and every change, with paging.
import { h, table, field, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';
import { get, items } from '../api.js';
import { jsonView } from './hosts.js';

const PAGE = 100;

export async function list({ query }) {
  const f = { user: query.get('user') || '', action: query.get('action') || '' };
  const offset = Math.max(0, Number(query.get('offset')) || 0);
  const qs = new URLSearchParams(Object.entries(f).filter(([, v]) => v));
  const data = await get(`/audit-log?limit=${PAGE}&offset=${offset}&${qs}`);
  const rows = items(data);
  const total = data.total ?? rows.length;
  const link = (off) => `#/audit?${new URLSearchParams({ ...Object.fromEntries(qs), offset: off })}`;
  const u = h('input', { id: 'f-user', value: f.user, maxlength: 200 });
  const a = h('input', { id: 'f-action', value: f.action, maxlength: 64, list: 'actions' });
  const form = h('form', { class: 'filters' }, field(t('audit.user'), u), field(t('audit.action'), a),
    h('datalist', { id: 'actions' }, ['login', 'login_failed', 'logout', 'create', 'update', 'delete', 'transition', 'enroll'].map((x) => h('option', { value: x }))),
    h('button', { type: 'submit', class: 'btn' }, t('common.filter')));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = '#/audit?' + new URLSearchParams(Object.entries({ user: u.value.trim(), action: a.value.trim() }).filter(([, v]) => v));
  });
  return h('div', null, h('h1', null, t('audit.title')), form,
    table([
      { key: 'time', title: t('audit.time'), render: (r) => fmtDateTime(r.time), csv: (r) => fmtDateTime(r.time) },
      { key: 'user', title: t('audit.user') }, { key: 'ip', title: 'IP' },
      { key: 'action', title: t('audit.action'), render: (r) => h('span', { class: r.action === 'login_failed' ? 'bad' : null }, r.action) },
      { key: 'object', title: t('audit.object') },
      { key: 'detail', title: t('audit.detail'), render: (r) => (typeof r.detail === 'object' ? jsonView(r.detail) : r.detail ?? '—'), csv: (r) => (typeof r.detail === 'object' ? JSON.stringify(r.detail) : r.detail) },
    ], rows, { csv: 'khien-audit-log', id: 'audit' }),
    h('div', { class: 'pager' }, offset > 0 ? h('a', { class: 'btn small', href: link(Math.max(0, offset - PAGE)) }, t('common.prev')) : null,
      h('span', { class: 'muted' }, t('common.range', { a: total ? offset + 1 : 0, b: offset + rows.length, n: total })),
      offset + rows.length < total ? h('a', { class: 'btn small', href: link(offset + PAGE) }, t('common.next')) : null));
}
