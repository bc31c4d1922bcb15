// Khiên web — start-up, session, layout and the hash router. Each page is a
// module under pages/ exporting render(ctx) → Node (or a Promise of one).
import { h, clear, notice, loading, fmtNumber } from './dom.js';
import { t, loadLang, savedLang, lang, LANGS } from './i18n.js';
import { get, post, setCsrf, onUnauthorized, items } from './api.js';
import * as login from './pages/login.js';
import * as account from './pages/account.js';
import * as overview from './pages/overview.js';
import * as hosts from './pages/hosts.js';
import * as findings from './pages/findings.js';
import * as incidents from './pages/incidents.js';
import * as changes from './pages/changes.js';
import * as bulletins from './pages/bulletins.js';
import * as admin from './pages/admin.js';
import * as audit from './pages/audit.js';
import * as reports from './pages/reports.js';

window.KH_MISSING = new Set(); // keys without a translation (read by the browser tests)

const session = { user: null, csrf: '', units: new Map() };
let footerTimer = null;

// [pattern, page, roles (null = every logged-in role)]
const ROUTES = [
  [/^\/login$/, login.render, 'public'],
  [/^\/password$/, account.password, null],
  [/^\/mfa$/, account.mfa, null],
  [/^\/account$/, account.overview, null],
  [/^\/$/, overview.render, null],
  [/^\/hosts$/, hosts.list, ['admin', 'officer', 'auditor', 'police']],
  [/^\/hosts\/(\d+)$/, hosts.page, ['admin', 'officer', 'auditor', 'police']],
  [/^\/findings$/, findings.list, ['admin', 'officer', 'auditor']],
  [/^\/incidents$/, incidents.list, null],
  [/^\/incidents\/(\d+)$/, incidents.page, null],
  [/^\/changes$/, changes.list, null],
  [/^\/changes\/(\d+)$/, changes.page, null],
  [/^\/bulletins$/, bulletins.list, null],
  [/^\/admin\/users$/, admin.users, ['admin', 'officer']],
  [/^\/admin\/units$/, admin.units, ['admin', 'officer', 'auditor']],
  [/^\/admin\/tokens$/, admin.tokens, ['admin', 'officer']],
  [/^\/audit$/, audit.list, ['admin', 'auditor']],
  [/^\/reports$/, reports.index, null],
  [/^\/reports\/incident\/(\d+)$/, reports.incident, null],
  [/^\/reports\/unit\/(\d+)$/, reports.unit, ['admin', 'officer', 'auditor']],
];

const NAV = [
  ['#/', 'nav.overview', null],
  ['#/hosts', 'nav.hosts', ['admin', 'officer', 'auditor']],
  ['#/findings', 'nav.findings', ['admin', 'officer', 'auditor']],
  ['#/incidents', 'nav.incidents', null],
  ['#/changes', 'nav.changes', null],
  ['#/bulletins', 'nav.bulletins', null],
  ['#/reports', 'nav.reports', null],
  ['#/admin/units', 'nav.units', ['admin', 'officer', 'auditor']],
  ['#/admin/users', 'nav.users', ['admin', 'officer']],
  ['#/admin/tokens', 'nav.tokens', ['admin', 'officer']],
  ['#/audit', 'nav.audit', ['admin', 'auditor']],
];

export function can(roles) {
  return !!session.user && (!roles || roles.includes(session.user.role));
}
export function role() { return session.user ? session.user.role : ''; }
export function user() { return session.user; }
export function unitName(id) {
  const u = session.units.get(Number(id));
  return u ? u.name : id === null || id === undefined ? '—' : `#${id}`;
}
export function unitList() { return [...session.units.values()]; }
export function go(path) {
  if (location.hash === '#' + path) route(); else location.hash = '#' + path;
}

export async function setSession(data) {
  session.user = data.user;
  setCsrf(data.csrf_token || '');
  try {
    const u = await get('/units');
    session.units = new Map(items(u).map((x) => [Number(x.id), x]));
  } catch (_) { session.units = new Map(); }
}

export async function refreshSession() {
  const me = await get('/me', { noRedirect: true });
  await setSession(me);
  return me;
}

export async function logout() {
  try { await post('/logout'); } catch (_) { /* session already gone */ }
  session.user = null;
  setCsrf('');
  go('/login');
}

function header() {
  const top = clear(document.getElementById('top'));
  const langSel = h('select', { id: 'lang', 'aria-label': t('common.language'), on: { change: async (e) => { await loadLang(e.target.value); route(); } } },
    LANGS.map((l) => h('option', { value: l, selected: l === lang() }, t('lang.' + l))));
  top.appendChild(h('div', { class: 'brand' },
    h('img', { src: '/img/shield.svg', alt: '', width: 28, height: 28 }),
    h('a', { href: '#/', class: 'brand-name' }, 'Khiên'), h('span', { class: 'brand-sub' }, t('app.subtitle'))));
  if (session.user) {
    const here = location.hash.split('?')[0] || '#/';
    top.appendChild(h('nav', { 'aria-label': t('nav.main') },
      NAV.filter(([, , roles]) => can(roles)).map(([href, key]) =>
        h('a', { href, class: here === href || (href !== '#/' && here.startsWith(href)) ? 'active' : null }, t(key)))));
    top.appendChild(h('div', { class: 'who' },
      h('a', { href: '#/account', id: 'me' }, session.user.full_name || session.user.username),
      h('span', { class: 'badge b-role' }, t('role.' + session.user.role)), langSel,
      h('button', { type: 'button', class: 'btn small', id: 'logout', on: { click: logout } }, t('nav.logout'))));
  } else {
    top.appendChild(h('div', { class: 'who' }, langSel));
  }
}

async function footer() {
  const foot = clear(document.getElementById('foot'));
  const line = h('div', { class: 'stats', id: 'stats' });
  foot.appendChild(line);
  foot.appendChild(h('div', { class: 'muted small' }, t('app.footer')));
  if (!session.user) return;
  try {
    const st = await get('/stats/access', { noRedirect: true });
    const item = (k, v) => h('span', { class: 'stat', dataset: { k } }, t('stats.' + k) + ': ', h('b', null, fmtNumber(v)));
    line.append(t('stats.title') + ' — ', item('online', st.online), item('today', st.today), item('week', st.week),
      item('month', st.month), item('total', st.total));
  } catch (_) { /* statistics are best effort */ }
}

export async function route() {
  const main = document.getElementById('main');
  const raw = location.hash.replace(/^#/, '') || '/';
  const [path, qs] = raw.split('?');
  const query = new URLSearchParams(qs || '');
  let hit = null;
  for (const [re, fn, roles] of ROUTES) {
    const m = path.match(re);
    if (m) { hit = { fn, roles, params: m.slice(1) }; break; }
  }
  if (!session.user && (!hit || hit.roles !== 'public')) {
    try { await refreshSession(); } catch (_) { /* not logged in */ }
  }
  if (!session.user && (!hit || hit.roles !== 'public')) {
    sessionStorage.setItem('kh.after', raw);
    location.hash = '#/login';
    return;
  }
  if (session.user && hit && hit.roles !== 'public') {
    // First login: a new password, then the second factor, before anything else.
    if (session.user.must_change_password && path !== '/password') { location.hash = '#/password'; return; }
    if (!session.user.must_change_password && !session.user.totp_enabled && path !== '/mfa' && path !== '/password') {
      location.hash = '#/mfa'; return;
    }
  }
  header();
  clear(main);
  document.title = 'Khiên';
  if (!hit) {
    main.appendChild(notice('error', t('error.not_found_page')));
  } else if (hit.roles !== 'public' && Array.isArray(hit.roles) && !can(hit.roles)) {
    main.appendChild(notice('error', t('error.forbidden')));
  } else {
    main.appendChild(loading());
    try {
      const node = await hit.fn({ params: hit.params, query, path, session });
      clear(main).appendChild(node);
    } catch (e) {
      const key = e.status === 403 ? 'error.forbidden' : e.status === 404 ? 'error.not_found' : null;
      clear(main).appendChild(notice('error', key ? t(key) : t('error.generic', { msg: e.message })));
      if (e.status) main.firstChild.dataset.status = e.status;
    }
  }
  main.dataset.page = path;
  clearInterval(footerTimer);
  footer();
  footerTimer = setInterval(footer, 60000);
  document.body.dataset.route = raw; // rendered (the browser tests wait for this)
}

onUnauthorized(() => {
  session.user = null;
  if (!location.hash.startsWith('#/login')) location.hash = '#/login';
});

window.addEventListener('hashchange', route);
(async () => {
  await loadLang(savedLang());
  await route();
})();
