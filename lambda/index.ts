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
// Research copies (issue 16): template-src/research-copy.ts lists them.
export { researchPlanBatch, researchCopyChunk, researchSummarize, uploadIngest } from './research/handlers';
