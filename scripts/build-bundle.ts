/**
 * Builds the prebuilt workflow bundles that production runners load (BOTBURROW_WORKFLOW_BUNDLE), so
 * they start without compiling workflow code: `out` without and `out-traced.js` with the tracing
 * interceptors (lib/tracing.ts `prebuiltBundle` picks one by OTEL_TRACES_EXPORTER):
 *
 *   tsx scripts/build-bundle.ts [out]     (default dist/workflow-bundle.js; part of `npm run build`)
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { tracedBundlePath, workflowInterceptorModules } from '../lib/tracing';

/** Bundles workflows/index.ts (or `workflowsPath`) into `outFile`; returns the size in bytes. */
export async function buildWorkflowBundle(
  outFile: string,
  workflowsPath = path.resolve(__dirname, '../workflows/index.ts'),
  o: { traced?: boolean } = {},
): Promise<number> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    workflowInterceptorModules: workflowInterceptorModules({ enabled: o.traced === true }),
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, code);
  return Buffer.byteLength(code);
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '../dist/workflow-bundle.js'));
  const started = Date.now();
  const traced = tracedBundlePath(out);
  Promise.all([buildWorkflowBundle(out), buildWorkflowBundle(traced, undefined, { traced: true })])
    .then(([bytes, tracedBytes]) =>
      console.log(
        `wrote ${out} (${(bytes / 1024).toFixed(0)} KiB) and ${traced} (${(tracedBytes / 1024).toFixed(0)} KiB) ` +
          `in ${Date.now() - started} ms`,
      ),
    )
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
