/**
 * Builds the prebuilt workflow bundle that production runners load (BOTBURROW_WORKFLOW_BUNDLE), so
 * they start without compiling workflow code:
 *
 *   tsx scripts/build-bundle.ts [out]     (default dist/workflow-bundle.js; part of `npm run build`)
 */
import fs from 'node:fs';
import path from 'node:path';
import { bundleWorkflowCode } from '@temporalio/worker';
import { WORKFLOW_TRACING_MODULES } from '../lib/tracing';

/** Bundles workflows/index.ts (or `workflowsPath`) into `outFile`; returns the size in bytes. */
export async function buildWorkflowBundle(
  outFile: string,
  workflowsPath = path.resolve(__dirname, '../workflows/index.ts'),
): Promise<number> {
  const { code } = await bundleWorkflowCode({
    workflowsPath,
    // Always in: tracing on or off then needs no other workflow code (lib/tracing.ts).
    workflowInterceptorModules: [...WORKFLOW_TRACING_MODULES],
  });
  fs.mkdirSync(path.dirname(outFile), { recursive: true });
  fs.writeFileSync(outFile, code);
  return Buffer.byteLength(code);
}

if (require.main === module) {
  const out = path.resolve(process.argv[2] ?? path.join(__dirname, '../dist/workflow-bundle.js'));
  const started = Date.now();
  buildWorkflowBundle(out)
    .then((bytes) =>
      console.log(`wrote ${out} (${(bytes / 1024).toFixed(0)} KiB) in ${Date.now() - started} ms`),
    )
    .catch((err: unknown) => {
      console.error(err);
      process.exit(1);
    });
}
