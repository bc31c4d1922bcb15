// Khiên web — the REST API client. The dashboard calls only /api/v1, the same
// API as every other client, so authorisation stays on the server. The
// session is an HttpOnly cookie; every state change carries the CSRF token
// the server returned with the session (header X-CSRF-Token).
let csrf = '';
let onUnauth = () => {};

export class ApiError extends Error {
  constructor(status, message, body) {
    super(message);
    this.status = status;
    this.body = body;
  }
}

export function setCsrf(tok) { csrf = tok || ''; }
export function onUnauthorized(fn) { onUnauth = fn; }

export async function api(method, path, body, opts = {}) {
  return call(method, '/api/v1' + path, body, opts);
}

// The dashboard's own endpoints (QR codes, PDF, the unit report) live under /ui/.
export function ui(method, path, body, opts = {}) {
  return call(method, '/ui' + path, body, opts);
}

// POSTs a report document (JSON) and saves the PDF the server renders from it.
export async function pdf(doc, fileName) {
  const r = await fetch('/ui/pdf', {
    method: 'POST', credentials: 'same-origin', cache: 'no-store',
    headers: { 'Content-Type': 'application/json', 'X-CSRF-Token': csrf, Accept: 'application/pdf' },
    body: JSON.stringify(doc),
  });
  if (!r.ok) {
    let msg = `HTTP ${r.status}`;
    try { const e = (await r.json()).error; msg = e.message || msg; } catch (_) { /* not JSON */ }
    throw new ApiError(r.status, msg, null);
  }
  const blob = await r.blob();
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = fileName;
  a.className = 'hidden';
  document.body.appendChild(a);
  a.click();
  setTimeout(() => { URL.revokeObjectURL(url); a.remove(); }, 2000);
}

async function call(method, url, body, opts) {
  const headers = { Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD') headers['X-CSRF-Token'] = csrf;
  let payload;
  if (body !== undefined) {
    headers['Content-Type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const r = await fetch(url, { method, headers, body: payload, credentials: 'same-origin', cache: 'no-store' });
  let data = null;
  const ct = r.headers.get('Content-Type') || '';
  if (ct.includes('json')) {
    try { data = await r.json(); } catch (_) { data = null; }
  }
  if (!r.ok) {
    const e = data && data.error;
    const msg = (e && (e.message || e.code)) || (typeof e === 'string' ? e : '') || `HTTP ${r.status}`;
    const err = new ApiError(r.status, msg, data);
    err.code = (e && e.code) || '';
    if (r.status === 401 && !opts.noRedirect && err.code !== 'totp_required') onUnauth();
    throw err;
  }
  return data;
}

export const get = (p, o) => api('GET', p, undefined, o);
export const post = (p, b, o) => api('POST', p, b ?? {}, o);
export const put = (p, b, o) => api('PUT', p, b ?? {}, o);
export const patch = (p, b, o) => api('PATCH', p, b ?? {}, o);
export const del = (p, o) => api('DELETE', p, undefined, o);

// Lists come as {items: [...], total, limit, offset} (docs/api.md).
export function items(data) {
  if (Array.isArray(data)) return data;
  if (data && Array.isArray(data.items)) return data.items;
  for (const v of Object.values(data || {})) if (Array.isArray(v)) return v;
  return [];
}

// Fetch every page of a paginated list (?limit=&offset=), up to `max` rows.
export async function all(path, max = 5000) {
  const out = [];
  const sep = path.includes('?') ? '&' : '?';
  for (let off = 0; off < max;) {
    const data = await get(`${path}${sep}limit=500&offset=${off}`);
    const got = items(data);
    out.push(...got);
    off += got.length;
    const total = data && typeof data.total === 'number' ? data.total : off;
    if (!got.length || off >= total) break;
  }
  return out;
}
