// Small DOM helpers shared by the pages. Everything is built with createElement and
// textContent (never innerHTML), so no server value can become markup.

/** `h('p', {class: 'x', onclick: f}, 'text', child)` */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs ?? {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith('on')) el.addEventListener(k.slice(2), v);
    else if (k === 'class') el.className = v;
    else if (v === true) el.setAttribute(k, '');
    else el.setAttribute(k, String(v));
  }
  for (const c of children.flat(Infinity)) {
    if (c === undefined || c === null || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

/** Replaces the children of `el`. */
export function fill(el, ...children) {
  el.replaceChildren();
  for (const c of children.flat(Infinity)) if (c) el.append(c instanceof Node ? c : String(c));
  return el;
}

/** A message box: kind is `error`, `ok` or `warn`. */
export function message(kind, text) {
  return h('div', { class: `msg msg-${kind}`, role: kind === 'error' ? 'alert' : 'status' }, text);
}

/** Shows an error's own sentence in `where`. */
export function showError(where, err) {
  fill(where, message('error', err.message || String(err)));
}

/** Local, readable time of an RFC 3339 string (or an em dash). */
export function when(iso) {
  if (!iso) return '—';
  const d = new Date(iso);
  return d.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
}

const CLIPBOARD_CLEAR_MS = 30_000;

/** Copies `text()` to the clipboard and clears the clipboard again after ~30 s. */
export async function copyText(text, status) {
  await navigator.clipboard.writeText(text);
  if (status) status.textContent = 'Copied. The clipboard is cleared in 30 seconds.';
  setTimeout(async () => {
    try {
      const now = await navigator.clipboard.readText();
      if (now === text) await navigator.clipboard.writeText('');
    } catch {
      await navigator.clipboard.writeText('').catch(() => {});
    }
    if (status) status.textContent = 'Clipboard cleared.';
  }, CLIPBOARD_CLEAR_MS);
}

/** A button that copies a document (e.g. a policy) as is. */
export function copyButton(label, getText) {
  const status = h('span', { class: 'muted small' });
  const btn = h('button', {
    type: 'button',
    class: 'secondary',
    onclick: async () => {
      try {
        await navigator.clipboard.writeText(getText());
        status.textContent = 'Copied.';
      } catch (e) {
        status.textContent = `Could not copy (${e.message}); select the text and copy it by hand.`;
      }
    },
  }, label);
  return h('span', {}, btn, ' ', status);
}

/** A `<pre>` with a JSON document and a copy button. */
export function documentBlock(title, doc) {
  const text = typeof doc === 'string' ? doc : JSON.stringify(doc, null, 2);
  return h('section', { class: 'doc' },
    h('div', { class: 'doc-head' }, h('h3', {}, title), copyButton(`Copy ${title.toLowerCase()}`, () => text)),
    h('pre', {}, text));
}
