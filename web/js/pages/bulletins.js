// Bulletins: awareness notices published by the city. Each person
// acknowledges them; the acknowledgement rate is shown per unit.
import { h, section, notice, field, clear, fmtDateTime, table, stackedBars, badge } from '../dom.js';
import { t } from '../i18n.js';
import { get, post, items } from '../api.js';
import { can, route } from '../main.js';

export async function list() {
  const rows = items(await get('/bulletins?limit=100'));
  const out = h('div', null, h('h1', null, t('bulletins.title')));
  if (can(['admin'])) {
    const msg = h('div');
    const title = h('input', { id: 'b-title', required: true, maxlength: 200 });
    const body = h('textarea', { id: 'b-body', rows: 5, required: true, maxlength: 16384 });
    const form = h('form', { id: 'bulletin-form' }, field(t('bulletins.title_field'), title), field(t('bulletins.body'), body),
      h('button', { type: 'submit', class: 'btn primary' }, t('bulletins.publish')));
    form.addEventListener('submit', async (e) => {
      e.preventDefault();
      try { await post('/bulletins', { title: title.value, body: body.value }); route(); } catch (err) { clear(msg).appendChild(notice('error', err.message)); }
    });
    out.appendChild(h('details', { class: 'card' }, h('summary', null, t('bulletins.new')), msg, form));
  }
  if (!rows.length) out.appendChild(notice('info', t('bulletins.none')));
  for (const b of rows) {
    const rate = h('div', { class: 'acks' });
    const ack = b.acked ? badge('ok', t('bulletins.acked')) : h('button', { type: 'button', class: 'btn primary small ack', on: { click: async () => {
      try { await post(`/bulletins/${b.id}/ack`); route(); } catch (err) { window.alert(err.message); }
    } } }, t('bulletins.ack'));
    const showRate = h('button', { type: 'button', class: 'btn small', on: { click: async () => {
      const acks = items(await get(`/bulletins/${b.id}/acks`));
      clear(rate).append(
        stackedBars(acks.map((a) => ({ label: a.unit, values: { acked: a.acked, pending: Math.max(0, a.users - a.acked) } })), ['acked', 'pending'],
          { keyLabel: 'bulletins.k.', colors: { acked: '#2f9e44', pending: '#d0d5dd' }, title: t('bulletins.rate') }),
        table([
          { key: 'unit', title: t('common.unit') }, { key: 'users', title: t('bulletins.users'), cls: 'num' },
          { key: 'acked', title: t('bulletins.acked_n'), cls: 'num' },
          { key: 'rate', title: t('bulletins.rate'), cls: 'num', render: (a) => `${Math.round((a.rate || 0) * 100)}%`, csv: (a) => a.rate },
        ], acks, { csv: `khien-bulletin-${b.id}-acks` }));
    } } }, t('bulletins.show_rate'));
    out.appendChild(h('article', { class: 'card bulletin', dataset: { id: b.id } },
      h('h2', null, b.title), h('p', { class: 'muted small' }, fmtDateTime(b.created_at || b.published_at), b.author ? ' · ' + b.author : ''),
      h('div', { class: 'body' }, String(b.body || '').split(/\n{2,}/).map((p) => h('p', null, p))),
      h('div', { class: 'actions' }, ack, can(['admin', 'officer', 'auditor']) ? showRate : null), rate));
  }
  return out;
}
