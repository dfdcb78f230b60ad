/**
 * How the replay tests run the workflow code: as the runners do — without the tracing interceptor
 * modules, or with them (`traced`, a runner with tracing on) — and with the payload codec holding
 * the committed test key, so histories recorded encrypted (activation-encrypted.json, by
 * test/integration/codec.test.ts with RECORD_HISTORIES=1) replay next to the plain ones.
 */
import type { ReplayWorkerOptions } from '@temporalio/worker';
import { dataConverter } from '../../lib/codec';
import { parseCodecKeys } from '../../lib/config';
import { workflowInterceptorModules } from '../../lib/tracing';
import { droppingTracingSinks } from '../../lib/tracing-on';

/** A test-only key (never used outside tests): the key the encrypted replay histories were written with. */
export const REPLAY_CODEC_KEYS = 'replay-test=OvAT3uQd0WNnPtoT0vn6mcvhbx4ffsn7SSoCoWdHYlU=';

export function replayOptions(workflowsPath: string, o: { traced?: boolean } = {}): ReplayWorkerOptions {
  return {
    workflowsPath,
    interceptors: { workflowModules: workflowInterceptorModules({ enabled: o.traced === true }) },
    // A traced bundle sends its spans to the exporter sink; replays drop them.
    ...(o.traced === true && { sinks: droppingTracingSinks() }),
    dataConverter: dataConverter({ codecKeys: parseCodecKeys(REPLAY_CODEC_KEYS) }),
  };
}
