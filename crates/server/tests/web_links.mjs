// The browser's link and request crypto (crates/server/web/js/envelope.js) driven from
// web_envelope.rs, which checks each answer with the Rust implementation (coffer-envelope):
//   seal-request <request id> <public key b64> <plaintext b64>       → sealed b64
//   seal-link <org id> <secret id> <version> <plaintext b64>         → {"envelope", "key"} (b64),
//                                                                      "open_hash" (hex)
//   open-link <key b64> <org id> <secret id> <version> <envelope b64> → plaintext b64
import { sealToRequest, sealForLink, openEnvelope, fromBase64, toBase64 } from '../web/js/envelope.js';

const [mode, ...args] = process.argv.slice(2);
if (mode === 'seal-request') {
  const [requestId, pub, plain] = args;
  const sealed = await sealToRequest({ requestId, publicKey: fromBase64(pub), plaintext: fromBase64(plain) });
  console.log(toBase64(sealed));
} else if (mode === 'seal-link') {
  const [orgId, secretId, version, plain] = args;
  const { envelope, linkKey, openHash } = await sealForLink({ orgId, secretId, version: Number(version), plaintext: fromBase64(plain) });
  console.log(JSON.stringify({ envelope: toBase64(envelope), key: toBase64(linkKey), open_hash: openHash }));
} else if (mode === 'open-link') {
  const [key, orgId, secretId, version, envelope] = args;
  try {
    const plain = await openEnvelope({ key: fromBase64(key), orgId, secretId, version: Number(version), keyVersion: 1, envelope: fromBase64(envelope) });
    console.log(toBase64(plain));
  } catch (e) {
    console.log(`refused: ${e.message}`);
  }
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
