// Checks the message catalogues: vi.json and en.json have the same keys, and
// every literal t('key') of web/js exists in both. Exit 1 with the list otherwise.
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const web = process.argv[2] || new URL('../../web', import.meta.url).pathname;
const vi = JSON.parse(readFileSync(join(web, 'i18n/vi.json'), 'utf8'));
const en = JSON.parse(readFileSync(join(web, 'i18n/en.json'), 'utf8'));
const bad = [];
for (const k of Object.keys(vi)) if (!(k in en)) bad.push(`en.json lacks ${k}`);
for (const k of Object.keys(en)) if (!(k in vi)) bad.push(`vi.json lacks ${k}`);
for (const [k, v] of Object.entries(vi)) if (!String(v).trim()) bad.push(`vi.json: empty ${k}`);
const walk = (d) => readdirSync(d).flatMap((f) => (statSync(join(d, f)).isDirectory() ? walk(join(d, f)) : [join(d, f)]));
let used = 0;
for (const f of walk(join(web, 'js')).filter((f) => f.endsWith('.js'))) {
  const src = readFileSync(f, 'utf8');
  for (const m of src.matchAll(/\bt\('([a-z0-9_]+(?:\.[a-z0-9_]+)+)'\s*[,)]/g)) {
    used++;
    if (!(m[1] in vi)) bad.push(`${f}: '${m[1]}' not in the catalogues`);
  }
  for (const m of src.matchAll(/\['#[^']*', '([a-z_.]+)'/g)) if (!(m[1] in vi)) bad.push(`${f}: nav '${m[1]}' not in the catalogues`);
}
if (bad.length) {
  console.error(bad.join('\n'));
  process.exit(1);
}
console.log(`i18n: ${Object.keys(vi).length} keys in vi and en, ${used} uses checked`);
