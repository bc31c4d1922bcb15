// Khiên web — message catalogues. Every human-facing string of the dashboard
// is a key in web/i18n/vi.json and web/i18n/en.json (Vietnamese by default,
// English by the switch in the header; the choice is kept in localStorage).
let current = 'vi';
let cat = {};
let fallback = {};
export const LANGS = ['vi', 'en'];

export function lang() { return current; }

export async function loadLang(want) {
  const l = LANGS.includes(want) ? want : 'vi';
  const get = async (x) => {
    const r = await fetch(`/i18n/${x}.json`, { credentials: 'same-origin' });
    if (!r.ok) throw new Error(`i18n ${x}: HTTP ${r.status}`);
    return r.json();
  };
  cat = await get(l);
  if (l !== 'vi' && !Object.keys(fallback).length) fallback = await get('vi');
  current = l;
  document.documentElement.lang = l;
  try { localStorage.setItem('kh.lang', l); } catch (_) { /* private mode */ }
}

export function savedLang() {
  try { return localStorage.getItem('kh.lang') || 'vi'; } catch (_) { return 'vi'; }
}

export function has(key) { return key in cat || key in fallback; }

// t('incident.state.new'), t('common.rows', {n: 3}) — unknown keys show as the key itself.
export function t(key, vars) {
  let s = cat[key] ?? fallback[key];
  if (s === undefined) {
    if (window.KH_MISSING) window.KH_MISSING.add(key);
    s = key;
  }
  if (vars) s = s.replace(/\{(\w+)\}/g, (m, k) => (vars[k] !== undefined ? String(vars[k]) : m));
  return s;
}
