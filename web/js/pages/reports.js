// Reports: the incident report to the police (Decree 30/2020 layout:
// national motto, issuing unit, number, place and date, addressee, sections,
// recipients, signature block) and a unit's compliance inspection report.
// Both are built by the server as JSON; this page lays them out for printing
// from the browser, and links the PDF the server renders from the same JSON.
import { h, section, table, notice, field, fmtDateTime } from '../dom.js';
import { t } from '../i18n.js';
import { get, ui, pdf, items } from '../api.js';
import { can, unitList, unitName } from '../main.js';

function str(v) {
  if (v === null || v === undefined) return '';
  if (typeof v === 'object') return Object.values(v).filter((x) => typeof x !== 'object').join(' — ');
  return String(v);
}
function lines(v) {
  if (Array.isArray(v)) return v.map(str);
  return str(v).split('\n');
}

// The document itself, from the report JSON of docs/api.md (also the unit report).
export function documentView(r) {
  const iss = r.issuer && typeof r.issuer === 'object' ? r.issuer : { name: r.issuer };
  const sig = r.signature || {};
  return h('article', { class: 'doc', id: 'report-doc' },
    h('div', { class: 'doc-head' },
      h('div', { class: 'doc-issuer' }, iss.parent ? h('div', null, str(iss.parent).toUpperCase()) : null,
        h('div', { class: 'b' }, str(iss.name || '').toUpperCase()), h('div', { class: 'rule' }), h('div', null, str(r.number))),
      h('div', { class: 'doc-motto' }, h('div', { class: 'b' }, str(r.motto || 'CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM')),
        h('div', { class: 'b u' }, str(r.motto_sub || 'Độc lập - Tự do - Hạnh phúc')), h('div', { class: 'i' }, str(r.place_date)))),
    h('h1', { class: 'doc-title' }, str(r.title)),
    r.subtitle ? h('p', { class: 'doc-sub' }, str(r.subtitle)) : null,
    r.addressee ? h('div', { class: 'doc-to' }, h('span', null, 'Kính gửi: '), h('span', { class: 'to-list' }, lines(r.addressee).map((x, i) => [i ? h('br') : null, x]))) : null,
    r.basis || r.deadline ? h('p', { class: 'doc-basis' }, r.basis ? `Căn cứ / Basis: ${str(r.basis)}. ` : '', r.deadline ? `Thời hạn / Deadline: ${str(r.deadline)}.` : '') : null,
    (r.sections || []).map((s) => h('section', { class: 'doc-section' }, s.heading ? h('h2', null, str(s.heading)) : null,
      s.text ? lines(s.text).map((p) => h('p', null, p)) : null,
      s.fields ? h('div', { class: 'fields' }, s.fields.map((f) => h('div', { class: 'f' }, f.label ? h('b', null, str(f.label) + ': ') : null,
        str(f.value) ? lines(f.value).map((p, i) => [i ? h('br') : null, p]) : '……………………'))) : null,
      s.table ? docTable(s.table) : null)),
    h('div', { class: 'doc-foot' },
      h('div', { class: 'doc-recipients' }, h('div', { class: 'b i' }, 'Nơi nhận:'), lines(r.recipients || '- Như trên;\n- Lưu: VT.').map((x) => h('div', null, x))),
      h('div', { class: 'doc-sign' }, h('div', { class: 'b' }, str(sig.authority || '').toUpperCase()),
        h('div', { class: 'i' }, str(sig.title || '')), h('div', { class: 'sign-space' }), h('div', { class: 'b' }, str(sig.name || '')))));
}

function docTable(tb) {
  const cols = (tb.columns || []).map((c, i) => ({ key: String(i), title: str(c) }));
  const rows = (tb.rows || []).map((r) => Object.fromEntries(r.map((v, i) => [String(i), str(v)])));
  return table(cols, rows);
}

function toolbar(doc, fileName, extra) {
  const msg = h('span');
  return h('div', { class: 'toolbar no-print' }, extra,
    h('button', { type: 'button', class: 'btn', id: 'print', on: { click: () => window.print() } }, t('common.print')),
    h('button', { type: 'button', class: 'btn primary pdf', id: 'pdf-download', on: { click: async () => {
      msg.textContent = '';
      try { await pdf(doc, fileName); } catch (e) { msg.textContent = t('error.generic', { msg: e.message }); }
    } } }, t('reports.pdf')), msg);
}

export async function incident({ params, query }) {
  const id = params[0];
  const profile = ['2017', '2025'].includes(query.get('profile')) ? query.get('profile') : '';
  const kind = ['initial', 'closure', 'breach'].includes(query.get('kind')) ? query.get('kind') : 'initial';
  const qs = new URLSearchParams({ kind, format: 'json' });
  if (profile) qs.set('profile', profile);
  const r = await get(`/incidents/${id}/report?${qs}`);
  const p = profile || r.profile || '2025';
  const nav = (pp, kk) => { location.hash = `#/reports/incident/${id}?profile=${pp}&kind=${kk}`; };
  const profSel = h('select', { id: 'r-profile', on: { change: (e) => nav(e.target.value, kind) } }, ['2025', '2017'].map((x) => h('option', { value: x, selected: x === p }, t('profile.' + x))));
  const kindSel = h('select', { id: 'r-kind', on: { change: (e) => nav(p, e.target.value) } }, ['initial', 'closure', 'breach'].map((x) => h('option', { value: x, selected: x === kind }, t('reports.kind.' + x))));
  const name = `khien-bao-cao-su-co-${id}-${kind}.pdf`;
  const page = h('div', { class: 'report-page' },
    h('p', { class: 'no-print' }, h('a', { href: `#/incidents/${id}` }, '← ', t('incidents.one', { id }))),
    toolbar(r, name, [field(t('incidents.profile'), profSel), field(t('reports.kind_label'), kindSel)]),
    documentView(r));
  if (query.get('pdf') === '1') setTimeout(() => pdf(r, name).catch(() => {}), 0);
  return page;
}

export async function unit({ params }) {
  const id = params[0];
  const r = await ui('GET', `/reports/unit/${id}`);
  return h('div', { class: 'report-page' }, toolbar(r, `khien-bao-cao-kiem-tra-${id}.pdf`, null), documentView(r));
}

export async function index() {
  const out = h('div', null, h('h1', null, t('reports.title')), h('p', { class: 'muted' }, t('reports.intro')));
  const inc = items(await get('/incidents?limit=200'));
  out.appendChild(section(t('reports.incident_reports'), table([
    { key: 'id', title: '#' }, { key: 'title', title: t('incidents.title_col') },
    { key: 'unit', title: t('common.unit'), render: (i) => unitName(i.unit_id), csv: (i) => unitName(i.unit_id) },
    { key: 'detected_at', title: t('incidents.detected'), render: (i) => fmtDateTime(i.detected_at), csv: (i) => fmtDateTime(i.detected_at) },
    { key: 'links', title: t('reports.title'), csv: () => '', render: (i) => h('span', { class: 'acts' },
      h('a', { href: `#/reports/incident/${i.id}?profile=${i.profile || '2025'}&kind=initial` }, t('reports.kind.initial')), ' · ',
      h('a', { href: `#/reports/incident/${i.id}?profile=${i.profile || '2025'}&kind=initial&pdf=1` }, 'PDF')) },
  ], inc, { csv: 'khien-incident-reports' })));
  if (can(['admin', 'officer', 'auditor'])) {
    out.appendChild(section(t('reports.inspection'), h('ul', { class: 'links', id: 'unit-reports' }, unitList().map((u) => h('li', null, u.name, ': ',
      h('a', { href: `#/reports/unit/${u.id}` }, t('reports.view_print')), ' · ',
      h('a', { href: `/ui/reports/unit/${u.id}.pdf`, download: `khien-bao-cao-kiem-tra-${u.id}.pdf` }, 'PDF'))))));
  } else {
    out.appendChild(notice('info', t('reports.police_note')));
  }
  return out;
}
