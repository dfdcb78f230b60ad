/**
 * Which workflow code a worker loads for its tracing state (lib/tracing.ts): the tracing
 * interceptor modules only with tracing on, and the prebuilt bundle's traced twin then, refused
 * with the fix when it is missing.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  WORKFLOW_TRACING_MODULES,
  prebuiltBundle,
  tracedBundlePath,
  workflowInterceptorModules,
} from '../../lib/tracing';

describe('workflow bundles and tracing', () => {
  it('bundles the tracing interceptors only when tracing is on', () => {
    expect(workflowInterceptorModules({ enabled: false })).toEqual([]);
    expect(workflowInterceptorModules({ enabled: true })).toEqual([...WORKFLOW_TRACING_MODULES]);
    expect(WORKFLOW_TRACING_MODULES[0]).toMatch(/interceptors-opentelemetry\/lib\/workflow-interceptors/);
  });

  it('names the traced twin of a prebuilt bundle beside it', () => {
    expect(tracedBundlePath('/app/dist/workflow-bundle.js')).toBe('/app/dist/workflow-bundle-traced.js');
    expect(tracedBundlePath('/tmp/b')).toBe('/tmp/b-traced.js');
  });

  it('loads the plain bundle with tracing off, the traced twin with it on, and names the fix when the twin is missing', () => {
    const file = '/app/dist/workflow-bundle.js';
    const none = (): boolean => false;
    expect(prebuiltBundle(file, { enabled: false }, none)).toBe(file);
    expect(prebuiltBundle(file, { enabled: true }, (p) => p === '/app/dist/workflow-bundle-traced.js')).toBe(
      '/app/dist/workflow-bundle-traced.js',
    );
    expect(() => prebuiltBundle(file, { enabled: true }, none)).toThrow(
      /tracing is on \(OTEL_TRACES_EXPORTER\) but \/app\/dist\/workflow-bundle-traced\.js.*npm run build/,
    );
  });

  it('loads the OpenTelemetry SDK only when tracing is on', () => {
    // A fresh process, as a runner starts: its modules, then installTracing off and on.
    const probe = `
      const sdk = () => Object.keys(require.cache).filter((k) => k.includes('@opentelemetry/sdk-trace-base')).length;
      require('./workers/runner-app.ts');
      const { installTracing } = require('./lib/tracing.ts');
      (async () => {
        const before = sdk();
        const off = await installTracing({ tracesExporter: 'none' }, 'probe');
        const afterOff = sdk();
        const on = await installTracing({ tracesExporter: 'console' }, 'probe');
        console.log(JSON.stringify({ before, afterOff, afterOn: sdk(), off: off.enabled, on: on.enabled }));
        await on.shutdown();
      })();`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', probe], {
      cwd: path.join(__dirname, '../..'),
      encoding: 'utf8',
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
    expect(r).toMatchObject({ before: 0, afterOff: 0, off: false, on: true });
    expect(r.afterOn).toBeGreaterThan(0);
    // A fresh process compiling the runner's modules under tsx: seconds on two busy cores.
  }, 60_000);
});
