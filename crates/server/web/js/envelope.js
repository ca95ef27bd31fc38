// Envelope format v1 sealing with WebCrypto only (docs/envelope-format.md). The browser loads
// this file to seal a secret before upload, and crates/server/tests/web_envelope.rs runs the
// very same file in Node against the committed vectors (crates/envelope/tests/vectors).
//
// The caller gets the data key and its wrapped form from the upload API; the org key never
// leaves the server. Sealing needs only AES-256-GCM and HMAC-SHA256:
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
