// Login: username and password, then the TOTP code (or a recovery code) when
// the account has a second factor. Lockout and errors come from the server.
import { h, notice, field, clear } from '../dom.js';
import { t } from '../i18n.js';
import { post } from '../api.js';
import { setSession, go } from '../main.js';

export function render() {
  const msg = h('div', { id: 'login-msg' });
  const user = h('input', { id: 'username', name: 'username', autocomplete: 'username', required: true, maxlength: 200 });
  const pass = h('input', { id: 'password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 });
  const code = h('input', { id: 'totp', name: 'totp', autocomplete: 'one-time-code', inputmode: 'text', maxlength: 16 });
  const step1 = h('div', { class: 'step1' }, field(t('login.username'), user), field(t('login.password'), pass));
  const step2 = h('div', { class: 'step2 hidden' }, h('p', null, t('login.totp_help')), field(t('login.totp'), code),
    h('p', { class: 'muted small' }, t('login.recovery_help')));
  const submit = h('button', { type: 'submit', class: 'btn primary', id: 'login-submit' }, t('login.submit'));
  const help = h('div', { class: 'hidden notice info', id: 'forgot-help' }, t('login.forgot_help'));
  const form = h('form', { class: 'login', id: 'login-form', autocomplete: 'on' }, step1, step2, submit,
    h('p', null, h('a', { href: '#/login', id: 'forgot', on: { click: (e) => { e.preventDefault(); help.classList.toggle('hidden'); } } }, t('login.forgot'))), help);
  let needTotp = false;
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    clear(msg);
    submit.disabled = true;
    const body = { username: user.value.trim(), password: pass.value };
    if (needTotp) body.totp = code.value.trim();
    try {
      const data = await post('/login', body, { noRedirect: true });
      await setSession(data);
      const after = sessionStorage.getItem('kh.after');
      sessionStorage.removeItem('kh.after');
      go(after && after !== '/login' ? after : '/');
    } catch (err) {
      if (err.code === 'totp_required' && !needTotp) {
        needTotp = true;
        step1.classList.add('hidden');
        step2.classList.remove('hidden');
        submit.textContent = t('login.verify');
        code.focus();
      } else if (err.status === 423) {
        msg.appendChild(notice('error', t('login.locked')));
      } else if (err.status === 429) {
        msg.appendChild(notice('error', t('login.too_many')));
      } else if (err.status === 401) {
        msg.appendChild(notice('error', needTotp ? t('login.bad_code') : t('login.bad_credentials')));
        if (needTotp) { code.value = ''; code.focus(); }
      } else {
        msg.appendChild(notice('error', t('error.generic', { msg: err.message })));
      }
    } finally {
      submit.disabled = false;
    }
  });
  setTimeout(() => user.focus(), 0);
  return h('div', { class: 'login-wrap' },
    h('div', { class: 'card login-card' }, h('h1', null, t('login.title')), h('p', { class: 'muted' }, t('login.intro')), msg, form));
}
