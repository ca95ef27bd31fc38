// Runs the browser's sealing module (crates/server/web/js/envelope.js, the file the UI loads)
// against the committed envelope v1 vectors: every positive vector must be rebuilt byte for
// byte from its inputs, and a random-nonce seal must open (WebCrypto) to the same plaintext.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { seal, sha256Hex, uuidBytes, fromBase64, toBase64 } from '../web/js/envelope.js';

const hex = (s) => Uint8Array.from(s.match(/../g) ?? [], (h) => parseInt(h, 16));
const tohex = (b) => Buffer.from(b).toString('hex');
const uuid = (h) => `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
const vectors = JSON.parse(readFileSync(fileURLToPath(new URL('../../envelope/tests/vectors/envelope_v1.json', import.meta.url)), 'utf8'));
const subtle = globalThis.crypto.subtle;
let passed = 0;
let failed = 0;
const check = (ok, what) => { if (ok) passed++; else { failed++; console.error(`FAIL ${what}`); } };

for (const v of vectors.vectors) {
  const input = {
    orgId: uuid(v.binding.org),
    secretId: uuid(v.binding.secret),
    version: v.binding.version,
    keyVersion: v.binding.key_version,
    dataKey: hex(v.data_key),
    wrappedKey: hex(v.wrapped_key),
    plaintext: hex(v.plaintext),
  };
  const fixed = await seal({ ...input, payloadNonce: hex(v.payload_nonce) });
  check(tohex(fixed) === v.envelope, `seal ${v.name} reproduces the vector`);
  const random = await seal(input);
  check(tohex(random.subarray(0, 106)) === v.envelope.slice(0, 212), `seal ${v.name}: header prefix`);
  const key = await subtle.importKey('raw', input.dataKey, 'AES-GCM', false, ['decrypt']);
  const opened = await subtle.decrypt({ name: 'AES-GCM', iv: random.subarray(106, 118), additionalData: random.subarray(0, 150) }, key, random.subarray(150));
  check(tohex(new Uint8Array(opened)) === v.plaintext, `seal ${v.name}: random nonce opens`);
  check(tohex(random.subarray(106, 118)) !== v.payload_nonce, `seal ${v.name}: a fresh random nonce`);
}
let refused = false;
try { await seal({ orgId: 'x', secretId: uuid('0'.repeat(32)), version: 1, keyVersion: 1, dataKey: new Uint8Array(32), wrappedKey: new Uint8Array(60), plaintext: new Uint8Array(0) }); } catch { refused = true; }
check(refused, 'a malformed org id is refused');
refused = false;
try { await seal({ orgId: uuid('1'.repeat(32)), secretId: uuid('2'.repeat(32)), version: 1, keyVersion: 1, dataKey: new Uint8Array(31), wrappedKey: new Uint8Array(60), plaintext: new Uint8Array(0) }); } catch { refused = true; }
check(refused, 'a short data key is refused');
check(await sha256Hex(new Uint8Array(0)) === 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855', 'sha256 of nothing');
check(tohex(uuidBytes('00112233-4455-6677-8899-aabbccddeeff')) === '00112233445566778899aabbccddeeff', 'uuid bytes');
check(tohex(fromBase64(toBase64(hex('00ff10')))) === '00ff10', 'base64 round trip');
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
