// `npm run e2e`: the browser tests (dashboard.e2e.mjs) against a stack this starts. Needs the
// built binaries (PERMISO_BUILD_DIR, default build/asan), web/dist and /usr/bin/chromium.
import { existsSync } from 'node:fs';
import path from 'node:path';
import { run } from 'node:test';
import { spec } from 'node:test/reporters';

const repo = process.env.PERMISO_REPO ?? path.resolve(import.meta.dirname, '../..');
if (!existsSync(path.join(repo, 'web/dist/index.html'))) {
  console.error('e2e: web/dist is not built (npm run build in web/)');
  process.exit(2);
}
let failed = false;
const stream = run({ files: [path.join(import.meta.dirname, 'dashboard.e2e.mjs')], concurrency: 1, timeout: 600_000 });
stream.on('test:fail', () => {
  failed = true;
});
stream.compose(spec).pipe(process.stdout);
stream.on('end', () => process.exit(failed ? 1 : 0));
