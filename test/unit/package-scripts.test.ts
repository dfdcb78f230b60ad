/**
 * Every file a package.json script names exists: `npm run <script>` must not fail with "cannot
 * find module" for a file that was renamed or never written.
 */
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const ROOT = path.resolve(__dirname, '../..');
const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')) as {
  scripts: Record<string, string>;
};

/** The words of a script that name a file: a path with a slash, or a name with a file extension. */
function fileArguments(script: string): string[] {
  return script
    .split(/\s+|&&|\|\||;/)
    .filter((w) => w !== '' && !w.startsWith('-') && !w.includes('='))
    .filter((w) => w.includes('/') || /\.(ts|mts|cts|js|mjs|cjs|sh|json)$/.test(w));
}

describe('package.json scripts', () => {
  it('finds the files in a script', () => {
    expect(fileArguments('tsc -p tsconfig.build.json && tsx scripts/build-bundle.ts')).toEqual([
      'tsconfig.build.json',
      'scripts/build-bundle.ts',
    ]);
    expect(fileArguments('vitest run --project unit')).toEqual([]);
  });

  it.each(Object.entries(pkg.scripts))('%s names only files that exist', (_name, script) => {
    const missing = fileArguments(script).filter((f) => !fs.existsSync(path.join(ROOT, f)));
    expect(missing).toEqual([]);
  });
});
