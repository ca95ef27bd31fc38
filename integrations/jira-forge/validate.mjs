// Offline validation of manifest.yml with Atlassian's own validators (npm @forge/manifest, the
// package `forge lint` and `forge deploy` use): every validation type the package offers, each
// run through ProcessorBuilder, then two rules of Coffer's own (below). Needs no Forge login
// and no network.
//
//   npm run validate            (exits 1 on any error; warnings are printed but do not fail)
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import process from 'node:process';

const require = createRequire(import.meta.url);
const { ProcessorBuilder, ValidationTypes } = require('@forge/manifest');

const here = path.dirname(fileURLToPath(import.meta.url));
// The package does not export its package.json; read the installed one.
const { version } = JSON.parse(readFileSync(path.join(here, 'node_modules/@forge/manifest/package.json'), 'utf8'));
const manifest = path.join(here, 'manifest.yml');
// Some validators resolve globs and resource paths against the working directory.
process.chdir(here);

// manifest.yml takes its app id from ${FORGE_APP_ID} (a Forge manifest variable, declared
// without a default). Validation needs some value; a real deploy sets the real one.
if (!process.env.FORGE_APP_ID) {
  process.env.FORGE_APP_ID = '00000000-0000-4000-8000-000000000000';
  console.log('FORGE_APP_ID is not set: validating with the placeholder app id 00000000-0000-4000-8000-000000000000');
}

const types = Object.values(ValidationTypes);
console.log(`@forge/manifest ${version}: validating ${path.relative(process.cwd(), manifest)} with ${types.join(', ')}`);

let failed = 0;
let parsed;
for (const type of types) {
  const processor = ProcessorBuilder.instance().withValidation(type).build();
  const result = await processor.process(manifest);
  parsed ??= result.manifestObject?.typedContent;
  const issues = result.errors ?? [];
  const errors = issues.filter((e) => e.level !== 'warning');
  for (const e of issues) {
    const where = e.line ? `manifest.yml:${e.line}:${e.column ?? 0}` : 'manifest.yml';
    console.log(`  [${type}] ${e.level ?? 'error'}: ${where}: ${e.message}${e.reference ? ` (${e.reference})` : ''}`);
  }
  // A processor can also fail without an error entry (for example when an earlier step could
  // not read the file); count that too.
  const ok = result.success && errors.length === 0;
  if (!ok) failed += 1;
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${type}${ok ? '' : ` (${errors.length || 'no'} error${errors.length === 1 ? '' : 's'} reported)`}`);
}

// Two rules of Coffer's own that @forge/manifest does not enforce:
// * every ${VAR} must be declared under environment.variables (an undeclared one stays in the
//   manifest verbatim, and `ari:cloud:ecosystem::app/${X}` still matches the app id pattern);
// * no module may let unlicensed users in (`unlicensedAccess`): Jira guests, customers and
//   anonymous visitors must not see secrets. The schema rejects the property on most Jira
//   modules but accepts it on jira:issuePanel.
const own = [];
const walk = (node, at) => {
  if (typeof node === 'string') {
    for (const m of node.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}/g)) own.push(`${at}: \${${m[1]}} is not declared under environment.variables`);
  } else if (Array.isArray(node)) {
    node.forEach((v, i) => walk(v, `${at}[${i}]`));
  } else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) {
      if (k === 'unlicensedAccess') own.push(`${at}: unlicensedAccess would show Coffer to users without a Jira licence`);
      walk(v, at ? `${at}.${k}` : k);
    }
  }
};
if (parsed) walk(parsed, '');
else own.push('the manifest could not be parsed');
for (const e of own) console.log(`  [coffer] error: manifest.yml: ${e}`);
console.log(`${own.length ? 'FAIL' : 'ok  '} coffer rules (declared variables, no unlicensed access)`);

if (failed || own.length) {
  const what = [failed ? `${failed} of ${types.length} @forge/manifest validations` : null, own.length ? 'Coffer’s own rules' : null];
  console.error(`manifest.yml failed ${what.filter(Boolean).join(' and ')}`);
  process.exit(1);
}
console.log(`manifest.yml passed all ${types.length} @forge/manifest validations and Coffer’s own rules`);
