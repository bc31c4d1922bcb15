// Khiên web — DOM helpers. Every page is built with these: text always goes
// through text nodes (never innerHTML), so data from the server cannot inject
// markup; charts are SVG elements built the same way.
import { t, lang } from './i18n.js';

export function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

const SVGNS = 'http://www.w3.org/2000/svg';
export function s(tag, attrs, ...kids) {
  const el = document.createElementNS(SVGNS, tag);
  setAttrs(el, attrs);
  append(el, kids);
  return el;
}

function setAttrs(el, attrs) {
  if (!attrs) return;
  for (const [k, v] of Object.entries(attrs)) {
    if (v === null || v === undefined || v === false) continue;
    if (k === 'on') {
      for (const [ev, fn] of Object.entries(v)) el.addEventListener(ev, fn);
    } else if (k === 'class') {
      el.setAttribute('class', Array.isArray(v) ? v.filter(Boolean).join(' ') : v);
    } else if (k === 'dataset') {
      Object.assign(el.dataset, v);
    } else if (k === 'href' && typeof v === 'string' && !/^(#|\/|mailto:)/.test(v)) {
      el.setAttribute('href', '#'); // only same-site links
    } else if (k === 'value' && 'value' in el) {
      el.value = v;
    } else if (k === 'checked' || k === 'disabled' || k === 'selected' || k === 'required' || k === 'multiple') {
      el[k] = !!v;
    } else if (k.startsWith('on')) {
      throw new Error('use on: {}');
    } else {
      el.setAttribute(k, v === true ? '' : String(v));
    }
  }
}

function append(el, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === null || k === undefined || k === false) continue;
    el.appendChild(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

// ---- dates: dd/mm/yyyy HH:MM in Asia/Ho_Chi_Minh, whatever the browser's zone ----
export const TZ = 'Asia/Ho_Chi_Minh';
const fmtParts = new Intl.DateTimeFormat('en-GB', {
  timeZone: TZ, year: 'numeric', month: '2-digit', day: '2-digit',
  hour: '2-digit', minute: '2-digit', hourCycle: 'h23',
});

export function toDate(v) {
  if (v === null || v === undefined || v === '' || v === 0) return null;
  if (v instanceof Date) return v;
  if (typeof v === 'number') return new Date(v < 1e12 ? v * 1000 : v);
  if (/^\d+$/.test(v)) return toDate(Number(v));
  const d = new Date(v);
  return isNaN(d) ? null : d;
}

function parts(d) {
  const o = {};
  for (const p of fmtParts.formatToParts(d)) o[p.type] = p.value;
  return o;
}

export function fmtDate(v) {
  const d = toDate(v);
  if (!d) return '—';
  const p = parts(d);
  return `${p.day}/${p.month}/${p.year}`;
}

export function fmtDateTime(v) {
  const d = toDate(v);
  if (!d) return '—';
  const p = parts(d);
  return `${p.day}/${p.month}/${p.year} ${p.hour}:${p.minute}`;
}

// "3 giờ 12 phút" / "3 h 12 min"; negative = overdue.
export function fmtDuration(sec) {
  sec = Math.abs(Math.round(sec));
  const d = Math.floor(sec / 86400), hh = Math.floor((sec % 86400) / 3600), mm = Math.floor((sec % 3600) / 60);
  const out = [];
  if (d) out.push(t('time.days', { n: d }));
  if (hh || d) out.push(t('time.hours', { n: hh }));
  out.push(t('time.minutes', { n: mm }));
  return out.join(' ');
}

export function fmtNumber(n) {
  if (n === null || n === undefined || n === '') return '—';
  return new Intl.NumberFormat(lang() === 'vi' ? 'vi-VN' : 'en-GB').format(n);
}

// ---- small widgets ----
export function badge(kind, text) {
  return h('span', { class: ['badge', kind && 'b-' + String(kind).replace(/[^a-z0-9_-]/gi, '')] }, text);
}

export function sevBadge(sev) {
  return badge('sev-' + (sev || 'unknown'), t('sev.' + (sev || 'unknown')));
}

export function field(label, input) {
  return h('label', { class: 'field' }, h('span', null, label), input);
}

export function notice(kind, text) {
  return h('div', { class: ['notice', kind], role: kind === 'error' ? 'alert' : 'status' }, text);
}

export function loading() {
  return h('p', { class: 'muted' }, t('common.loading'));
}

// Key/value list.
export function kv(rows) {
  return h('dl', { class: 'kv' }, rows.filter(Boolean).map(([k, v]) => [h('dt', null, k), h('dd', null, v ?? '—')]));
}

export function section(title, ...kids) {
  return h('section', { class: 'card' }, h('h2', null, title), ...kids);
}

// ---- CSV: every table offers its rows as CSV (UTF-8 with BOM for spreadsheet programs) ----
export function csvCell(v) {
  let s = v === null || v === undefined ? '' : String(v);
  if (/^[=+\-@\t\r]/.test(s)) s = "'" + s; // no formula injection in spreadsheets
  return /[",\r\n;]/.test(s) ? '"' + s.replace(/"/g, '""') + '"' : s;
}

export function toCsv(columns, rows) {
  const lines = [columns.map((c) => csvCell(c.title)).join(',')];
  for (const r of rows) lines.push(columns.map((c) => csvCell(c.csv ? c.csv(r) : r[c.key])).join(','));
  return '\ufeff' + lines.join('\r\n') + '\r\n';
}

export function download(name, mime, text) {
  const url = URL.createObjectURL(new Blob([text], { type: mime }));
  const a = h('a', { href: '#', download: name, class: 'hidden' });
  a.setAttribute('href', url);
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 1000);
}

// A table with optional CSV export button. columns: [{key, title, render(row), csv(row), cls}]
export function table(columns, rows, opts = {}) {
  const tb = h('tbody');
  if (!rows.length) tb.appendChild(h('tr', null, h('td', { colspan: columns.length, class: 'muted' }, opts.empty || t('common.none'))));
  for (const r of rows) {
    tb.appendChild(h('tr', { class: opts.rowClass ? opts.rowClass(r) : null },
      columns.map((c) => h('td', { class: c.cls }, c.render ? c.render(r) : (r[c.key] ?? '—')))));
  }
  const tbl = h('table', { class: 'grid', id: opts.id }, h('thead', null, h('tr', null, columns.map((c) => h('th', { class: c.cls }, c.title)))), tb);
  if (!opts.csv) return h('div', { class: 'table-wrap' }, tbl);
  const btn = h('button', { type: 'button', class: 'btn small csv', on: { click: () => download(opts.csv + '.csv', 'text/csv;charset=utf-8', toCsv(columns, rows)) } }, t('common.csv'));
  return h('div', { class: 'table-wrap' }, h('div', { class: 'table-tools' }, h('span', { class: 'muted' }, t('common.rows', { n: rows.length })), btn), tbl);
}

// ---- SVG charts (no library) ----
const PALETTE = { critical: '#8b0000', high: '#d9480f', medium: '#e8a400', low: '#3b7dd8', info: '#8a94a6' };
export const SEVERITIES = ['critical', 'high', 'medium', 'low'];

// Horizontal stacked bars: data [{label, values: {key: n}}], keys with colours.
export function stackedBars(data, keys, opts = {}) {
  const rowH = 26, labelW = opts.labelW || 170, W = 640, barW = W - labelW - 50;
  const max = Math.max(1, ...data.map((d) => keys.reduce((a, k) => a + (d.values[k] || 0), 0)));
  const H = data.length * rowH + 34;
  const svg = s('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img', 'aria-label': opts.title || '' });
  if (opts.title) svg.appendChild(s('title', null, opts.title));
  data.forEach((d, i) => {
    const y = i * rowH + 4;
    svg.appendChild(s('text', { x: labelW - 8, y: y + 16, 'text-anchor': 'end', class: 'c-label' }, truncate(d.label, 24)));
    let x = labelW, total = 0;
    for (const k of keys) {
      const v = d.values[k] || 0;
      if (!v) continue;
      const w = (v / max) * barW;
      svg.appendChild(s('rect', { x, y, width: Math.max(w, 1), height: rowH - 8, fill: PALETTE[k] || opts.colors?.[k] || '#567' },
        s('title', null, `${t(opts.keyLabel ? opts.keyLabel + k : k)}: ${v}`)));
      x += w; total += v;
    }
    svg.appendChild(s('text', { x: x + 6, y: y + 16, class: 'c-value' }, String(total)));
  });
  const ly = data.length * rowH + 22;
  let lx = labelW;
  for (const k of keys) {
    svg.appendChild(s('rect', { x: lx, y: ly - 10, width: 12, height: 12, fill: PALETTE[k] || opts.colors?.[k] || '#567' }));
    const label = t(opts.keyLabel ? opts.keyLabel + k : k);
    svg.appendChild(s('text', { x: lx + 16, y: ly, class: 'c-legend' }, label));
    lx += 30 + label.length * 7;
  }
  return svg;
}

// A ring showing part/total, with the percentage in the middle.
export function ring(part, total, label) {
  const r = 40, c = 2 * Math.PI * r, frac = total ? part / total : 0;
  const pct = Math.round(frac * 100);
  const colour = pct >= 90 ? '#2f9e44' : pct >= 60 ? '#e8a400' : '#c92a2a';
  const arc = s('circle', { cx: 50, cy: 50, r, fill: 'none', stroke: colour, 'stroke-width': 12,
    'stroke-dasharray': `${(frac * c).toFixed(2)} ${c.toFixed(2)}`, transform: 'rotate(-90 50 50)' });
  return h('figure', { class: 'ring' },
    s('svg', { viewBox: '0 0 100 100', role: 'img', 'aria-label': `${label}: ${pct}%` },
      s('circle', { cx: 50, cy: 50, r, fill: 'none', stroke: '#e3e7ee', 'stroke-width': 12 }), arc,
      s('text', { x: 50, y: 56, 'text-anchor': 'middle', class: 'c-pct' }, `${pct}%`)),
    h('figcaption', null, label, h('br'), h('span', { class: 'muted' }, `${part}/${total}`)));
}

export function truncate(str, n) {
  str = String(str ?? '');
  return str.length > n ? str.slice(0, n - 1) + '…' : str;
}
