// Administration: users (create, one-time password reset = the "forgot
// password" path, disable), units (the tree), enrollment tokens.
import { h, section, notice, field, clear, table, fmtDateTime, badge, kv } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, patch, del, items } from '../api.js';
import { can, unitName, unitList, route, user } from '../main.js';

const ROLES = ['admin', 'officer', 'police', 'auditor'];
const KINDS = ['city', 'department', 'ward', 'commune', 'unit'];

function unitSelect(id, value) {
  return h('select', { id }, unitList().map((u) => h('option', { value: u.id, selected: Number(value) === Number(u.id) }, u.name)));
}

function oneTime(title, secret, id) {
  return h('div', { class: 'notice ok onetime' }, h('p', null, title), h('code', { class: 'secret', id }, secret), h('p', { class: 'small' }, t('admin.shown_once')));
}

export async function users() {
  const rows = items(await get('/users?limit=500'));
  const out = h('div', null, h('h1', null, t('users.title')));
  const msg = h('div', { id: 'users-msg' });
  out.appendChild(msg);
  if (can(['admin'])) {
    const un = h('input', { id: 'u-username', required: true, maxlength: 200, pattern: '[A-Za-z0-9._@-]+' });
    const fn = h('input', { id: 'u-fullname', maxlength: 200 });
    const rl = h('select', { id: 'u-role' }, ROLES.map((r) => h('option', { value: r }, t('role.' + r))));
    const unit = unitSelect('u-unit');
    const email = h('input', { id: 'u-email', type: 'email', maxlength: 200 });
    const form = h('form', { class: 'grid-form', id: 'user-form' }, field(t('users.username'), un), field(t('users.full_name'), fn),
      field(t('users.role'), rl), field(t('users.unit'), unit), field(t('users.email'), email), h('button', { type: 'submit', class: 'btn primary' }, t('users.create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        const r = await post('/users', { username: un.value.trim(), full_name: fn.value, role: rl.value, unit_id: Number(unit.value), email: email.value || undefined });
        await route();
        document.getElementById('users-msg').appendChild(oneTime(t('users.created', { u: r.user.username }), r.password, 'new-password-value'));
      } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
    });
    out.appendChild(h('details', { class: 'card' }, h('summary', null, t('users.new')), form));
  }
  const cols = [
    { key: 'username', title: t('users.username') }, { key: 'full_name', title: t('users.full_name') },
    { key: 'role', title: t('users.role'), render: (u) => t('role.' + u.role), csv: (u) => u.role },
    { key: 'unit', title: t('users.unit'), render: (u) => unitName(u.unit_id), csv: (u) => unitName(u.unit_id) },
    { key: 'totp', title: t('mfa.status'), render: (u) => (u.totp_enabled ? badge('ok', t('mfa.on')) : badge('warn', t('mfa.off'))), csv: (u) => (u.totp_enabled ? 1 : 0) },
    { key: 'last_login', title: t('users.last_login'), render: (u) => fmtDateTime(u.last_login), csv: (u) => fmtDateTime(u.last_login) },
    { key: 'state', title: t('users.state'), render: (u) => (u.disabled ? badge('off', t('users.disabled')) : u.locked_until && new Date(u.locked_until) > new Date() ? badge('warn', t('users.locked')) : t('users.active')),
      csv: (u) => (u.disabled ? 'disabled' : 'active') },
  ];
  if (can(['admin'])) {
    cols.push({ key: 'act', title: '', csv: () => '', render: (u) => h('span', { class: 'acts' },
      h('button', { type: 'button', class: 'btn small reset', dataset: { user: u.username }, on: { click: async () => {
        if (!window.confirm(t('users.reset_confirm', { u: u.username }))) return;
        try {
          const r = await post(`/users/${u.id}/reset-password`);
          clear(msg).appendChild(oneTime(t('users.reset_done', { u: u.username }), r.password, 'reset-password-value'));
        } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
      } } }, t('users.reset')),
      u.id !== user().id ? h('button', { type: 'button', class: 'btn small', on: { click: async () => {
        try { await patch(`/users/${u.id}`, { disabled: !u.disabled }); route(); } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
      } } }, u.disabled ? t('users.enable') : t('users.disable')) : null) });
  }
  out.appendChild(section(t('users.list'), table(cols, rows, { csv: 'khien-users', id: 'users' })));
  return out;
}

export async function units() {
  const rows = items(await get('/units'));
  const byParent = new Map();
  for (const u of rows) {
    const p = u.parent_id ?? null;
    if (!byParent.has(p)) byParent.set(p, []);
    byParent.get(p).push(u);
  }
  const ids = new Set(rows.map((u) => u.id));
  const tree = (list) => h('ul', { class: 'tree' }, list.map((u) => h('li', null,
    h('b', null, u.name), ' ', h('span', { class: 'muted' }, t('unit.kind.' + u.kind), u.code ? ' · ' + u.code : ''), ' ',
    h('a', { href: `#/hosts?unit_id=${u.id}` }, t('nav.hosts')), byParent.has(u.id) ? tree(byParent.get(u.id)) : null)));
  const roots = rows.filter((u) => !ids.has(u.parent_id));
  const out = h('div', null, h('h1', null, t('units.title')), section(t('units.tree'), tree(roots)));
  if (can(['admin', 'officer'])) {
    const msg = h('div');
    const name = h('input', { id: 'unit-name', required: true, maxlength: 200 });
    const kind = h('select', { id: 'unit-kind' }, KINDS.map((k) => h('option', { value: k }, t('unit.kind.' + k))));
    const parent = unitSelect('unit-parent');
    const code = h('input', { id: 'unit-code', maxlength: 64 });
    const form = h('form', { class: 'grid-form', id: 'unit-form' }, field(t('units.name'), name), field(t('units.kind'), kind), field(t('units.parent'), parent),
      field(t('units.code'), code), h('button', { type: 'submit', class: 'btn primary' }, t('units.create')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try {
        await post('/units', { name: name.value.trim(), kind: kind.value, parent_id: Number(parent.value), code: code.value || undefined });
        const { refreshSession } = await import('../main.js');
        await refreshSession();
        route();
      } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
    });
    out.appendChild(section(t('units.new'), msg, form));
  }
  out.appendChild(section(t('units.list'), table([
    { key: 'id', title: '#' }, { key: 'name', title: t('units.name') }, { key: 'kind', title: t('units.kind'), render: (u) => t('unit.kind.' + u.kind), csv: (u) => u.kind },
    { key: 'parent', title: t('units.parent'), render: (u) => (u.parent_id ? unitName(u.parent_id) : '—'), csv: (u) => (u.parent_id ? unitName(u.parent_id) : '') },
    { key: 'code', title: t('units.code') },
  ], rows, { csv: 'khien-units', id: 'units' })));
  return out;
}

export async function tokens() {
  const rows = items(await get('/enrollment-tokens?limit=500'));
  const msg = h('div', { id: 'tokens-msg' });
  const unit = unitSelect('t-unit', user().unit_id);
  const hours = h('input', { id: 't-hours', type: 'number', min: 1, max: 8760, value: 72 });
  const uses = h('input', { id: 't-uses', type: 'number', min: 1, max: 100000, value: 10 });
  const note = h('input', { id: 't-note', maxlength: 200 });
  const form = h('form', { class: 'grid-form', id: 'token-form' }, field(t('common.unit'), unit), field(t('tokens.hours'), hours), field(t('tokens.uses'), uses),
    field(t('tokens.note'), note), h('button', { type: 'submit', class: 'btn primary' }, t('tokens.create')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    try {
      const r = await post('/enrollment-tokens', { unit_id: Number(unit.value), expires_in_hours: Number(hours.value), max_uses: Number(uses.value), note: note.value });
      await route();
      document.getElementById('tokens-msg').appendChild(h('div', null, oneTime(t('tokens.created'), r.token, 'new-token-value'),
        kv([[t('tokens.command'), h('code', null, `khien agent enroll --server https://${location.host} --token ${r.token} --ca-sha256 …`)]])));
    } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
  });
  return h('div', null, h('h1', null, t('tokens.title')), h('p', { class: 'muted' }, t('tokens.intro')), msg,
    section(t('tokens.new'), form),
    section(t('tokens.list'), table([
      { key: 'id', title: '#' }, { key: 'unit', title: t('common.unit'), render: (r) => unitName(r.unit_id), csv: (r) => unitName(r.unit_id) },
      { key: 'note', title: t('tokens.note') }, { key: 'expires', title: t('tokens.expires'), render: (r) => fmtDateTime(r.expires), csv: (r) => fmtDateTime(r.expires) },
      { key: 'uses', title: t('tokens.used'), cls: 'num', render: (r) => `${r.uses}/${r.max_uses}`, csv: (r) => `${r.uses}/${r.max_uses}` },
      { key: 'state', title: t('users.state'), render: (r) => (r.revoked ? badge('off', t('tokens.revoked')) : new Date(r.expires) < new Date() ? badge('warn', t('tokens.expired')) : badge('ok', t('tokens.valid'))),
        csv: (r) => (r.revoked ? 'revoked' : 'valid') },
      { key: 'act', title: '', csv: () => '', render: (r) => (r.revoked ? '' : h('button', { type: 'button', class: 'btn small danger', on: { click: async () => {
        try { await del(`/enrollment-tokens/${r.id}`); route(); } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
      } } }, t('tokens.revoke'))) },
    ], rows, { csv: 'khien-enrollment-tokens', id: 'tokens' })));
}
