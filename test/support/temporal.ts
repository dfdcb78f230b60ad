/**
 * Temporal helpers for integration tests: a fresh namespace per test file (with the project's search
 * attributes), so that runners of different tests never take each other's tasks on the fixed task
 * queue names of DESIGN.md.
 */
import { Connection } from '@temporalio/client';
import { msToTs } from '@temporalio/common/lib/time';
import { temporal } from '@temporalio/proto';
import { unique } from './env';

const IndexedValueType = temporal.api.enums.v1.IndexedValueType;

const SEARCH_ATTRIBUTES = {
  BotburrowAgentId: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  BotburrowTrigger: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  BotburrowOutcome: IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
  BotburrowIterations: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  BotburrowTokens: IndexedValueType.INDEXED_VALUE_TYPE_INT,
  BotburrowCostUsd: IndexedValueType.INDEXED_VALUE_TYPE_DOUBLE,
};

/** Registers a new namespace with the search attributes and waits until the server serves it. */
export async function createTestNamespace(address: string, prefix = 'ns'): Promise<string> {
  const namespace = unique(prefix);
  const connection = await Connection.connect({ address });
  try {
    await connection.workflowService.registerNamespace({
      namespace,
      workflowExecutionRetentionPeriod: msToTs(24 * 3600 * 1000),
    });
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        await connection.operatorService.addSearchAttributes({
          namespace,
          searchAttributes: SEARCH_ATTRIBUTES,
        });
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    // The frontend caches namespaces; wait until a visibility query in it succeeds.
    for (;;) {
      try {
        await connection.workflowService.listWorkflowExecutions({
          namespace,
          query: 'BotburrowAgentId = "probe"',
        });
        return namespace;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  } finally {
    await connection.close();
  }
}
