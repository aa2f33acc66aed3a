import { ContextResult, type AssociateRq, type ContextDecision } from '../dicom/associate-pdu';
import { ACCEPTED_TRANSFER_SYNTAXES, APPLICATION_CONTEXT, EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE, isStorageSopClass, VERIFICATION_SOP_CLASS } from '../dicom/uids';

/** The association settings the policy reads. */
export interface PolicyConfig {
  readonly aeTitle: string;
  readonly requireCalledAeTitle: boolean;
  readonly allowedCallingAeTitles: readonly string[];
  readonly supportedSopClassUids: readonly string[];
  readonly maximumAssociations: number;
}

/** A-ASSOCIATE-RJ fields (PS3.8 9.3.4) and a label for logs and metrics. */
export interface Rejection {
  readonly kind: 'reject';
  readonly result: 1 | 2;
  readonly source: 1 | 2 | 3;
  readonly reason: number;
  readonly label: 'called-ae-not-recognized' | 'calling-ae-not-recognized' | 'local-limit-exceeded' | 'application-context-not-supported' | 'protocol-version-not-supported';
}

export interface Acceptance {
  readonly kind: 'accept';
  readonly contexts: readonly ContextDecision[];
}

/** Too many associations (PS3.8 9.3.4: rejected-transient, service-provider (presentation), local-limit-exceeded). */
export const LOCAL_LIMIT_EXCEEDED: Rejection = { kind: 'reject', result: 2, source: 3, reason: 2, label: 'local-limit-exceeded' };

const VERIFICATION_SYNTAXES = [IMPLICIT_LE, EXPLICIT_LE, EXPLICIT_BE];

/** Decides one presentation context: the first proposed transfer syntax we accept wins. */
export function decideContext(pc: AssociateRq['contexts'][number], cfg: PolicyConfig): ContextDecision {
  const reject = (result: number): ContextDecision => ({ id: pc.id, result, transferSyntax: IMPLICIT_LE });
  if (pc.abstractSyntax === VERIFICATION_SOP_CLASS) {
    const ts = pc.transferSyntaxes.find((t) => VERIFICATION_SYNTAXES.includes(t));
    return ts ? { id: pc.id, result: ContextResult.Acceptance, transferSyntax: ts } : reject(ContextResult.TransferSyntaxesNotSupported);
  }
  const supported = cfg.supportedSopClassUids.length > 0 ? cfg.supportedSopClassUids.includes(pc.abstractSyntax) : isStorageSopClass(pc.abstractSyntax);
  if (!supported) return reject(ContextResult.AbstractSyntaxNotSupported);
  const ts = pc.transferSyntaxes.find((t) => ACCEPTED_TRANSFER_SYNTAXES.has(t));
  return ts ? { id: pc.id, result: ContextResult.Acceptance, transferSyntax: ts } : reject(ContextResult.TransferSyntaxesNotSupported);
}

/**
 * The association acceptance policy (docs/conformance.md): AE titles, the
 * association limit, then per presentation context.
 */
export function decideAssociation(rq: AssociateRq, cfg: PolicyConfig, activeAssociations: number): Rejection | Acceptance {
  if ((rq.protocolVersion & 1) === 0) return { kind: 'reject', result: 1, source: 2, reason: 2, label: 'protocol-version-not-supported' };
  if (rq.applicationContext !== APPLICATION_CONTEXT) return { kind: 'reject', result: 1, source: 1, reason: 2, label: 'application-context-not-supported' };
  if (cfg.requireCalledAeTitle && rq.calledAeTitle !== cfg.aeTitle) return { kind: 'reject', result: 1, source: 1, reason: 7, label: 'called-ae-not-recognized' };
  if (cfg.allowedCallingAeTitles.length > 0 && !cfg.allowedCallingAeTitles.includes(rq.callingAeTitle)) {
    return { kind: 'reject', result: 1, source: 1, reason: 3, label: 'calling-ae-not-recognized' };
  }
  if (activeAssociations >= cfg.maximumAssociations) return LOCAL_LIMIT_EXCEEDED;
  return { kind: 'accept', contexts: rq.contexts.map((pc) => decideContext(pc, cfg)) };
}
