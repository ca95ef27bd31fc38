// Admin → Storage, the seed's form: "Store encrypted secrets in a custom S3 bucket", bucket
// name, a region limited to the org's residency location, Save. Save answers the validation
// sentence (or the failing step with its fix), warnings and every check; below the form are the
// bucket policy and CORS configuration to paste (with copy buttons) and the migration progress.
// A custom bucket's health, as the server's drift checks last recorded it, shows under "Now:": a
// degraded bucket names its failing step and the fix (it is re-read while the page is open).
import { api, seg } from '../api.js';
import { h, fill, message, when, documentBlock } from '../ui.js';

// Offered when the org's location allows any region (`local` orgs).
const ALL_REGIONS = ['us-east-1', 'us-east-2', 'us-west-1', 'us-west-2', 'ca-central-1', 'eu-central-1', 'eu-west-1',
  'eu-west-2', 'eu-west-3', 'eu-north-1', 'eu-south-1', 'ap-northeast-1', 'ap-northeast-2', 'ap-south-1',
  'ap-southeast-1', 'ap-southeast-2', 'sa-east-1'];

function checks(list) {
  return h('table', { class: 'checks' },
    h('thead', {}, h('tr', {}, h('th', {}, 'Step'), h('th', {}, 'Outcome'), h('th', {}, 'Detail'))),
    h('tbody', {}, list.map((c) => h('tr', { class: `outcome-${c.outcome}` }, h('td', {}, c.step), h('td', {}, c.outcome), h('td', {}, c.detail)))));
}

function progress(m) {
  const error = m.last_error ? message('error', m.last_error) : null;
  // An org without secrets has nothing to move: say so instead of a bar and "0 of 0" (or a
  // `done` count and state that do not add up when the total is 0).
  if (!m.total) {
    return h('div', { id: 'migration' },
      h('h2', {}, 'Moving existing secrets'),
      h('p', { id: 'migration-status', class: 'muted' }, 'No secrets to move.'),
      error);
  }
  const pct = Math.floor((Math.min(m.done, m.total) * 100) / m.total);
  return h('div', { id: 'migration' },
    h('h2', {}, 'Moving existing secrets'),
    h('progress', { max: 100, value: pct }), ' ',
    h('span', { id: 'migration-status' }, `${m.done} of ${m.total} versions in place (${m.state})`),
    error);
}

// The bucket's health (`view.health`): degraded with its step and fix, ok, or not checked yet;
// warnings (a missing CORS rule, Object Lock off) never degrade it.
function health(v) {
  const hl = v.health;
  if (v.kind !== 'custom' || !hl) return null;
  const warnings = hl.warnings.map((w) => message('warn', w.detail));
  if (hl.status === 'degraded') {
    return h('div', { id: 'storage-health', class: 'health-degraded' },
      message('error', `Bucket degraded since ${when(hl.since)} — step ${hl.step}: ${hl.detail}`),
      h('p', { class: 'muted small' },
        `Last checked ${when(hl.checked_at)}. Writes keep trying the bucket; nothing is suspended. This clears by itself once the bucket works again.`),
      warnings);
  }
  if (hl.status === 'ok') {
    return h('div', { id: 'storage-health', class: 'health-ok' },
      h('p', {}, `Bucket health: ok since ${when(hl.since)} (checked ${when(hl.checked_at)}).`), warnings);
  }
  return h('p', { id: 'storage-health', class: 'muted' }, 'Bucket health: not checked yet.');
}

export async function render(main, { org }) {
  const base = `/orgs/${seg(org)}/storage`;
  const result = h('div', { id: 'storage-result' });
  const docs = h('div', { id: 'storage-docs' });
  const migration = h('div');
  let view;
  try {
    view = await api('GET', base);
  } catch (e) {
    fill(main, h('h1', {}, 'Storage'), message('error', e.message));
    return;
  }
  const current = h('p', { id: 'storage-now' });
  const healthBox = h('div');
  const showCurrent = () => {
    fill(current, view.kind === 'custom'
      ? `Now: bucket ${view.bucket} in ${view.region}, saved ${when(view.saved_at)} by ${view.saved_by ?? '—'}.`
      : 'Now: Coffer’s default storage.');
    fill(healthBox, health(view));
  };
  const custom = h('input', { type: 'checkbox', id: 'custom', checked: view.kind === 'custom' });
  const bucket = h('input', { id: 'bucket', name: 'bucket', value: view.bucket ?? '', placeholder: 'my-team-secrets', autocomplete: 'off' });
  const regions = view.allowed_regions.length ? view.allowed_regions : ALL_REGIONS;
  const region = h('select', { id: 'region', name: 'region' }, regions.map((r) => h('option', { value: r, selected: r === view.region }, r)));
  const fields = h('div', { class: 'grid', id: 'bucket-fields' },
    h('label', { for: 'bucket' }, 'Bucket name'), bucket,
    h('label', { for: 'region' }, 'Region'), region);
  const showFields = () => { fields.hidden = !custom.checked; };
  custom.addEventListener('change', showFields);
  showFields();
  const loadDocs = async () => {
    const b = bucket.value.trim();
    if (!b) return fill(docs);
    try {
      const setup = await api('GET', `${base}/setup?bucket=${encodeURIComponent(b)}`);
      fill(docs, h('h2', {}, `Prepare the bucket ${setup.bucket}`),
        h('ol', {}, setup.instructions.map((i) => h('li', {}, i))),
        documentBlock('Bucket policy', setup.bucket_policy),
        documentBlock('CORS configuration', setup.cors_configuration),
        documentBlock('AWS CLI commands', setup.commands.join('\n')));
    } catch (e) {
      fill(docs, message('error', e.message));
    }
  };
  bucket.addEventListener('change', loadDocs);
  const save = h('button', { type: 'submit' }, 'Save');
  const form = h('form', {
    class: 'card',
    id: 'storage-form',
    onsubmit: async (ev) => {
      ev.preventDefault();
      save.disabled = true;
      fill(result, h('span', { class: 'muted' }, 'Validating the bucket…'));
      try {
        if (custom.checked) {
          const saved = await api('PUT', base, { bucket: bucket.value.trim(), region: region.value });
          fill(result, message('ok', saved.message),
            saved.warnings.length ? h('div', {}, saved.warnings.map((w) => message('warn', w))) : null,
            checks(saved.checks));
          view = saved.storage;
        } else {
          await api('DELETE', base);
          fill(result, message('ok', 'Secrets are stored in Coffer’s default storage again.'));
          view = await api('GET', base);
        }
        fill(migration, progress(view.migration));
        showCurrent();
      } catch (e) {
        fill(result, message('error', e.message));
      } finally {
        save.disabled = false;
      }
    },
  },
  h('h1', {}, 'Storage'),
  h('label', { for: 'custom', class: 'inline' }, custom, ' Store encrypted secrets in a custom S3 bucket'),
  fields,
  view.allowed_regions.length ? h('p', { class: 'muted small' }, `Regions are limited to this org’s residency location: ${view.allowed_regions.join(', ')}.`) : null,
  save, result);
  fill(main, form, current, healthBox, migration, docs);
  showCurrent();
  fill(migration, progress(view.migration));
  await loadDocs();
  let ticks = 0;
  const poll = setInterval(async () => {
    if (!migration.isConnected) return clearInterval(poll);
    // Progress every 3 s while moving; a custom bucket's health every 30 s otherwise.
    ticks += 1;
    const moving = view.migration.state !== 'idle' && view.migration.total;
    if (!moving && (view.kind !== 'custom' || ticks % 10)) return;
    try {
      view = await api('GET', base);
      fill(migration, progress(view.migration));
      fill(healthBox, health(view));
    } catch {
      // keep the last known progress
    }
  }, 3000);
}
