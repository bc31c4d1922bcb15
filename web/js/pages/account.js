// The signed-in person's own account: first-login password change, TOTP
// enrolment (QR code drawn from the matrix the server computes, secret shown
// for manual entry, recovery codes shown once), and the account summary.
import { h, s, notice, field, clear, kv, section, download } from '../dom.js';
import { t } from '../i18n.js';
import { post, ui } from '../api.js';
import { user, refreshSession, go, unitName } from '../main.js';

function after() {
  const a = sessionStorage.getItem('kh.after');
  sessionStorage.removeItem('kh.after');
  go(a && a !== '/login' ? a : '/');
}

export function password() {
  const u = user();
  const msg = h('div');
  const oldp = h('input', { id: 'old-password', type: 'password', autocomplete: 'current-password', required: true });
  const newp = h('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 12 });
  const again = h('input', { id: 'new-password2', type: 'password', autocomplete: 'new-password', required: true, minlength: 12 });
  const form = h('form', { id: 'password-form' }, field(t('account.old_password'), oldp), field(t('account.new_password'), newp),
    field(t('account.new_password2'), again), h('button', { type: 'submit', class: 'btn primary' }, t('account.change_password')));
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    if (newp.value.length < 12) return msg.appendChild(notice('error', t('account.password_short')));
    if (newp.value !== again.value) return msg.appendChild(notice('error', t('account.password_mismatch')));
    try {
      await post('/me/password', { old_password: oldp.value, new_password: newp.value });
      await refreshSession();
      if (!user().totp_enabled) go('/mfa'); else after();
    } catch (err) {
      msg.appendChild(notice('error', err.status === 401 || err.status === 403 ? t('account.old_wrong') : err.message));
    }
  });
  return h('div', { class: 'narrow' }, h('h1', null, t('account.password_title')),
    u.must_change_password ? notice('info', t('account.must_change')) : null, msg, section(t('account.change_password'), form));
}

// QR code: the server returns the module matrix as one SVG path (no markup).
async function qr(text) {
  const q = await ui('POST', '/qr', { text });
  const n = q.size + 8;
  return s('svg', { viewBox: `0 0 ${n} ${n}`, class: 'qr', id: 'totp-qr', role: 'img', 'aria-label': t('mfa.qr') , 'shape-rendering': 'crispEdges' },
    s('rect', { x: 0, y: 0, width: n, height: n, fill: '#fff' }), s('path', { d: q.path, fill: '#000', transform: 'translate(4 4)' }));
}

export async function mfa() {
  const wrap = h('div', { class: 'narrow' }, h('h1', null, t('mfa.title')), notice('info', t('mfa.required')));
  const setup = await post('/me/totp/setup');
  const msg = h('div');
  const code = h('input', { id: 'totp-code', autocomplete: 'one-time-code', inputmode: 'numeric', maxlength: 8, required: true });
  const groups = setup.secret.replace(/(.{4})/g, '$1 ').trim();
  let qrNode;
  try { qrNode = await qr(setup.otpauth_uri); } catch (e) { qrNode = notice('error', t('mfa.qr_failed')); }
  const form = h('form', { id: 'mfa-form' }, field(t('mfa.code'), code), h('button', { type: 'submit', class: 'btn primary' }, t('mfa.confirm')));
  const box = section(t('mfa.scan'), h('div', { class: 'mfa-grid' }, qrNode,
    h('div', null, h('p', null, t('mfa.manual')), h('code', { id: 'totp-secret', class: 'secret', dataset: { secret: setup.secret } }, groups),
      h('p', { class: 'muted small' }, t('mfa.apps')))), msg, form);
  wrap.appendChild(box);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    try {
      const r = await post('/me/totp/confirm', { code: code.value.trim() });
      const codes = r.recovery_codes || [];
      clear(box);
      box.append(h('h2', null, t('mfa.done')), notice('ok', t('mfa.recovery_help')),
        h('ol', { id: 'recovery-codes', class: 'codes' }, codes.map((c) => h('li', null, h('code', null, c)))),
        h('div', { class: 'actions' },
          h('button', { type: 'button', class: 'btn', on: { click: () => download('khien-recovery-codes.txt', 'text/plain;charset=utf-8', codes.join('\r\n') + '\r\n') } }, t('mfa.download')),
          h('button', { type: 'button', class: 'btn', on: { click: () => window.print() } }, t('common.print')),
          h('button', { type: 'button', class: 'btn primary', id: 'mfa-continue', on: { click: async () => { await refreshSession(); after(); } } }, t('mfa.saved'))));
    } catch (err) {
      msg.appendChild(notice('error', err.status === 400 || err.status === 401 || err.status === 403 ? t('mfa.bad_code') : err.message));
    }
  });
  return wrap;
}

export function overview() {
  const u = user();
  return h('div', { class: 'narrow' }, h('h1', null, t('account.title')),
    section(t('account.details'), kv([
      [t('users.username'), u.username], [t('users.full_name'), u.full_name || '—'], [t('users.role'), t('role.' + u.role)],
      [t('users.unit'), unitName(u.unit_id)], [t('mfa.status'), u.totp_enabled ? t('mfa.on') : t('mfa.off')],
    ])),
    h('div', { class: 'actions' }, h('a', { class: 'btn', href: '#/password' }, t('account.change_password'))));
}
