// Independent check of envelope_v1.json using only WebCrypto (Node >= 18's
// `crypto.webcrypto`, the same API a browser has). It rebuilds every positive
// vector byte for byte from its inputs, opens it with nothing but the org key
// (the disaster-recovery path), refuses every negative vector, and unwraps the
// keywrap vector. Run: node crates/envelope/tests/vectors/webcrypto_check.mjs
// (tests/webcrypto.rs runs it when `node` is on PATH).
import { webcrypto as wc } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const subtle = wc.subtle;
const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const tohex = (b) => Buffer.from(b).toString('hex');
const cat = (...parts) => { const o = new Uint8Array(parts.reduce((n, p) => n + p.length, 0)); let i = 0; for (const p of parts) { o.set(p, i); i += p.length; } return o; };
const enc = new TextEncoder();
const aesKey = (raw) => subtle.importKey('raw', raw, 'AES-GCM', false, ['encrypt', 'decrypt']);
const hmacKey = (raw) => subtle.importKey('raw', raw, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);
const gcm = async (op, raw, iv, aad, data) => new Uint8Array(await subtle[op]({ name: 'AES-GCM', iv, additionalData: aad, tagLength: 128 }, await aesKey(raw), data));
const u32 = (n) => { const b = new Uint8Array(4); new DataView(b.buffer).setUint32(0, n); return b; };
const bindingBytes = (b) => cat(hex(b.org), hex(b.secret), u32(b.version), u32(b.key_version));

async function seal(orgKey, v) {
  const bind = bindingBytes(v.binding);
  const dek = hex(v.data_key);
  const wrapped = await gcm('encrypt', orgKey, hex(v.wrap_nonce), cat(enc.encode('coffer/v1/dek'), bind), dek);
  const prefix = cat(enc.encode('COFR'), Uint8Array.of(1, 0), bind, hex(v.wrap_nonce), wrapped, hex(v.payload_nonce));
  const commit = new Uint8Array(await subtle.sign('HMAC', await hmacKey(dek), cat(enc.encode('coffer/v1/commit'), prefix)));
  const header = cat(prefix, commit);
  return cat(header, await gcm('encrypt', dek, hex(v.payload_nonce), header, hex(v.plaintext)));
}

// Disaster recovery: only the object and the org key. Throws on any failure.
async function open(orgKey, env, expected) {
  const dv = new DataView(env.buffer, env.byteOffset, env.byteLength);
  if (env.length < 166 || tohex(env.subarray(0, 4)) !== tohex(enc.encode('COFR')) || env[4] !== 1 || env[5] !== 0) throw new Error('malformed');
  const binding = env.subarray(6, 46);
  if (dv.getUint32(38) === 0 || dv.getUint32(42) === 0) throw new Error('malformed');
  if (expected && tohex(binding) !== tohex(bindingBytes(expected))) throw new Error('binding mismatch');
  const dek = await gcm('decrypt', orgKey, env.subarray(46, 58), cat(enc.encode('coffer/v1/dek'), binding), env.subarray(58, 106));
  const ok = await subtle.verify('HMAC', await hmacKey(dek), env.subarray(118, 150), cat(enc.encode('coffer/v1/commit'), env.subarray(0, 118)));
  if (!ok) throw new Error('commitment');
  return gcm('decrypt', dek, env.subarray(106, 118), env.subarray(0, 150), env.subarray(150));
}

const file = JSON.parse(readFileSync(fileURLToPath(new URL('./envelope_v1.json', import.meta.url)), 'utf8'));
const orgKey = hex(file.org_key);
let passed = 0; let failed = 0;
const check = (ok, what) => { if (ok) passed++; else { failed++; console.error(`FAIL ${what}`); } };
for (const v of file.vectors) {
  check(tohex(await seal(orgKey, v)) === v.envelope, `seal ${v.name}`);
  check(tohex(await open(orgKey, hex(v.envelope), v.binding)) === v.plaintext, `open ${v.name}`);
}
for (const v of file.negative) {
  let refused = false;
  try { await open(orgKey, hex(v.envelope), v.expected_binding); } catch { refused = true; }
  check(refused, `refuse ${v.name}`);
}
for (const v of file.keywrap) {
  const w = hex(v.wrapped);
  check(w[0] === 1 && w.length === 61, 'keywrap layout');
  check(tohex(await gcm('decrypt', hex(v.kek), w.subarray(1, 13), hex(v.aad), w.subarray(13))) === v.key, 'keywrap unwrap');
}
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
