/** The workflow bundle entry: every workflow the runners and the maintenance worker execute. */
export { activationWorkflow, cancelSignal, inboxUpdatedSignal, statusQuery } from './activation';
export { skillSyncWorkflow } from './skill-sync';
