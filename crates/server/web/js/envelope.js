// Envelope format v1 with WebCrypto only (docs/envelope-format.md). The browser loads this file
// to seal a secret before upload, to seal and open one-time links, and to seal a value to a "send
// me a secret" request (docs/links-and-requests.md); crates/server/tests/web_envelope.rs runs the
// very same file in Node against the committed vectors (crates/envelope/tests/vectors) and
// against the Rust implementation.
//
// For uploads the caller gets the data key and its wrapped form from the upload API; the org key
// never leaves the server. Sealing needs only AES-256-GCM and HMAC-SHA256:
//   header  = "COFR" | 0x01 | 0x00 | binding(40) | wrap nonce(12) | wrapped key(48) | payload nonce(12) | commitment(32)
//   binding = org id(16) | secret id(16) | version(u32 BE) | key version(u32 BE)
//   commitment = HMAC-SHA256(data key, "coffer/v1/commit" | header[0..118])
//   payload = AES-256-GCM(data key, payload nonce, aad = header[0..150], plaintext)

const subtle = globalThis.crypto.subtle;
const enc = new TextEncoder();

export const HEADER_LEN = 150;
export const OVERHEAD = 166;

function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

function u32(n) {
  if (!Number.isInteger(n) || n < 1 || n > 0xffffffff) throw new Error(`version ${n} is not a u32 >= 1`);
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

/** The 16 bytes of a UUID string like `0190…-…`. */
export function uuidBytes(uuid) {
  const hex = String(uuid).replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`not a UUID: ${uuid}`);
  return Uint8Array.from(hex.match(/../g), (h) => parseInt(h, 16));
}

/** Standard, padded base64 to bytes. */
export function fromBase64(b64) {
  const bin = atob(b64);
  return Uint8Array.from(bin, (c) => c.charCodeAt(0));
}

/** Bytes to standard, padded base64. */
export function toBase64(bytes) {
  let bin = '';
  for (let i = 0; i < bytes.length; i += 0x8000) {
    bin += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  }
  return btoa(bin);
}

/** Lowercase hex SHA-256 of `bytes`. */
export async function sha256Hex(bytes) {
  const d = new Uint8Array(await subtle.digest('SHA-256', bytes));
  return Array.from(d, (b) => b.toString(16).padStart(2, '0')).join('');
}

/**
 * Seals `plaintext` into an envelope v1.
 * @param {object} p
 * @param {string} p.orgId, p.secretId  UUIDs from the upload grant
 * @param {number} p.version, p.keyVersion
 * @param {Uint8Array} p.dataKey        32 bytes
 * @param {Uint8Array} p.wrappedKey     60 bytes: wrap nonce (12) then wrapped key (48)
 * @param {Uint8Array} p.plaintext
 * @param {Uint8Array} [p.payloadNonce] 12 bytes; random when absent (only tests pass one)
 */
export async function seal(p) {
  if (p.dataKey.length !== 32) throw new Error('the data key must be 32 bytes');
  if (p.wrappedKey.length !== 60) throw new Error('the wrapped data key must be 60 bytes');
  const nonce = p.payloadNonce ?? globalThis.crypto.getRandomValues(new Uint8Array(12));
  if (nonce.length !== 12) throw new Error('the payload nonce must be 12 bytes');
  const binding = concat(uuidBytes(p.orgId), uuidBytes(p.secretId), u32(p.version), u32(p.keyVersion));
  const prefix = concat(enc.encode('COFR'), Uint8Array.of(1, 0), binding, p.wrappedKey, nonce);
  const hmacKey = await subtle.importKey('raw', p.dataKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  const commitment = new Uint8Array(await subtle.sign('HMAC', hmacKey, concat(enc.encode('coffer/v1/commit'), prefix)));
  const header = concat(prefix, commitment);
  const aesKey = await subtle.importKey('raw', p.dataKey, 'AES-GCM', false, ['encrypt']);
  const payload = new Uint8Array(
    await subtle.encrypt({ name: 'AES-GCM', iv: nonce, additionalData: header, tagLength: 128 }, aesKey, p.plaintext),
  );
  return concat(header, payload);
}

const DEK_AAD = enc.encode('coffer/v1/dek');
const COMMIT = enc.encode('coffer/v1/commit');

function bindingBytes(orgId, secretId, version, keyVersion) {
  return concat(uuidBytes(orgId), uuidBytes(secretId), u32(version), u32(keyVersion));
}

function sameBytes(a, b) {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i] ^ b[i];
  return diff === 0;
}

/** Standard base64 to unpadded base64url (the link key in a URL fragment). */
export function toBase64Url(bytes) {
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

/** Unpadded base64url to bytes. */
export function fromBase64Url(s) {
  if (!/^[A-Za-z0-9_-]*$/.test(s)) throw new Error('not base64url');
  const b64 = s.replace(/-/g, '+').replace(/_/g, '/');
  return fromBase64(b64 + '='.repeat((4 - (b64.length % 4)) % 4));
}

const toHex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('');

/**
 * The proof that opens a one-time link: HMAC-SHA256(link key, "coffer/v1/link-open"), as hex.
 * The server keeps only its SHA-256 and never sees the key.
 */
export async function linkOpenProof(linkKey) {
  const k = await subtle.importKey('raw', linkKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
  return toHex(new Uint8Array(await subtle.sign('HMAC', k, enc.encode('coffer/v1/link-open'))));
}

/**
 * Seals `plaintext` for a one-time link (docs/links-and-requests.md): an envelope v1 whose data
 * key is wrapped under a fresh 32-byte link key instead of the org key, bound to the secret
 * version it copies with key version 1. The link key goes only into the URL fragment; the server
 * gets the SHA-256 of its open proof.
 * @returns {Promise<{envelope: Uint8Array, linkKey: Uint8Array, openHash: string}>}
 */
export async function sealForLink({ orgId, secretId, version, plaintext }) {
  const linkKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  const dataKey = globalThis.crypto.getRandomValues(new Uint8Array(32));
  try {
    const binding = bindingBytes(orgId, secretId, version, 1);
    const wrapNonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const kek = await subtle.importKey('raw', linkKey, 'AES-GCM', false, ['encrypt']);
    const wrapped = new Uint8Array(await subtle.encrypt(
      { name: 'AES-GCM', iv: wrapNonce, additionalData: concat(DEK_AAD, binding), tagLength: 128 }, kek, dataKey));
    const envelope = await seal({ orgId, secretId, version, keyVersion: 1, dataKey, wrappedKey: concat(wrapNonce, wrapped), plaintext });
    const proof = await linkOpenProof(linkKey);
    const openHash = await sha256Hex(Uint8Array.from(proof.match(/../g), (x) => parseInt(x, 16)));
    return { envelope, linkKey, openHash };
  } finally {
    dataKey.fill(0);
  }
}

/**
 * Opens an envelope v1 with the key that wrapped its data key (a link key), checking the binding
 * it must carry, the key commitment before decrypting, and every tag. Any failure throws one
 * error that does not say which check failed.
 */
export async function openEnvelope({ key, orgId, secretId, version, keyVersion, envelope }) {
  const fail = () => new Error('the secret could not be decrypted: the link is incomplete or was altered');
  const e = envelope;
  if (e.length < OVERHEAD || e[0] !== 0x43 || e[1] !== 0x4f || e[2] !== 0x46 || e[3] !== 0x52 || e[4] !== 1 || e[5] !== 0) throw fail();
  const binding = bindingBytes(orgId, secretId, version, keyVersion);
  if (!sameBytes(e.subarray(6, 46), binding)) throw fail();
  let dataKey;
  try {
    const kek = await subtle.importKey('raw', key, 'AES-GCM', false, ['decrypt']);
    dataKey = new Uint8Array(await subtle.decrypt(
      { name: 'AES-GCM', iv: e.subarray(46, 58), additionalData: concat(DEK_AAD, binding), tagLength: 128 }, kek, e.subarray(58, 106)));
    const hmacKey = await subtle.importKey('raw', dataKey, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign']);
    const commitment = new Uint8Array(await subtle.sign('HMAC', hmacKey, concat(COMMIT, e.subarray(0, 118))));
    if (!sameBytes(commitment, e.subarray(118, 150))) throw fail();
    const aesKey = await subtle.importKey('raw', dataKey, 'AES-GCM', false, ['decrypt']);
    return new Uint8Array(await subtle.decrypt(
      { name: 'AES-GCM', iv: e.subarray(106, 118), additionalData: e.subarray(0, 150), tagLength: 128 }, aesKey, e.subarray(150)));
  } catch {
    throw fail();
  } finally {
    if (dataKey) dataKey.fill(0);
  }
}

const REQUEST_LABEL = enc.encode('coffer/v1/request');

/**
 * Seals `plaintext` to a "send me a secret" request (request sealing v1,
 * docs/links-and-requests.md): ECDH P-256 with a fresh ephemeral key, HKDF-SHA256, AES-256-GCM.
 * @param {string} requestId  UUID of the request
 * @param {Uint8Array} publicKey  the request's public key, 65 bytes SEC1 uncompressed
 * @returns {Promise<Uint8Array>} 0x01 | ephemeral public (65) | nonce (12) | ciphertext and tag
 */
export async function sealToRequest({ requestId, publicKey, plaintext }) {
  if (publicKey.length !== 65 || publicKey[0] !== 4) throw new Error('the request key must be a 65-byte P-256 point');
  const id = uuidBytes(requestId);
  const alg = { name: 'ECDH', namedCurve: 'P-256' };
  const theirs = await subtle.importKey('raw', publicKey, alg, false, []);
  const eph = await subtle.generateKey(alg, false, ['deriveBits']);
  const ephPublic = new Uint8Array(await subtle.exportKey('raw', eph.publicKey));
  const z = new Uint8Array(await subtle.deriveBits({ name: 'ECDH', public: theirs }, eph.privateKey, 256));
  try {
    const ikm = await subtle.importKey('raw', z, 'HKDF', false, ['deriveKey']);
    const key = await subtle.deriveKey(
      { name: 'HKDF', hash: 'SHA-256', salt: id, info: concat(REQUEST_LABEL, ephPublic, publicKey) },
      ikm, { name: 'AES-GCM', length: 256 }, false, ['encrypt']);
    const nonce = globalThis.crypto.getRandomValues(new Uint8Array(12));
    const ct = new Uint8Array(await subtle.encrypt(
      { name: 'AES-GCM', iv: nonce, additionalData: concat(REQUEST_LABEL, id), tagLength: 128 }, key, plaintext));
    return concat(Uint8Array.of(1), ephPublic, nonce, ct);
  } finally {
    z.fill(0);
  }
}
