/**
 * Which workflow code a worker loads for its tracing state (lib/tracing.ts): the tracing
 * interceptor modules only with tracing on, and the prebuilt bundle's traced twin then, refused
 * with the fix when it is missing.
 */
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
});
