/**
 * The one Lambda bundle of the import workflow. Each function's handler is
 * `index.<exportName>` (template-src/import-workflow.ts lists them).
 */
export {
  validateBatch,
  startImportJob,
  checkImportStatus,
  recordResults,
  recordFailure,
  triggerStateMachine,
  sweepOrphanBatches,
} from './handlers';
