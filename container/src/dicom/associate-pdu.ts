import { ProtocolError } from '../errors';
import { APPLICATION_CONTEXT, IMPLEMENTATION_CLASS_UID, IMPLEMENTATION_VERSION_NAME, PduType } from './uids';

/** A presentation context proposed in an A-ASSOCIATE-RQ. */
export interface ProposedContext {
  readonly id: number;
  readonly abstractSyntax: string;
  readonly transferSyntaxes: readonly string[];
}

/** The parts of an A-ASSOCIATE-RQ (PS3.8 9.3.2) the SCP uses. */
export interface AssociateRq {
  readonly protocolVersion: number;
  readonly calledAeTitle: string;
  readonly callingAeTitle: string;
  readonly applicationContext: string;
  readonly contexts: readonly ProposedContext[];
  readonly maxPduLength: number;
  readonly implementationClassUid: string;
  readonly implementationVersionName: string;
  /** Raw 16-byte AE fields, echoed back in the A-ASSOCIATE-AC. */
  readonly rawCalled: Buffer;
  readonly rawCalling: Buffer;
  readonly asyncOpsProposed: boolean;
  /** User Identity Negotiation sub-item (PS3.7 D.3.3.7), when proposed; the identity itself is not kept. */
  readonly userIdentity?: { readonly type: number; readonly positiveResponseRequested: boolean };
}

/** Presentation context result values (PS3.8 9.3.3.2). */
export const ContextResult = Object.freeze({
  Acceptance: 0,
  UserRejection: 1,
  NoReason: 2,
  AbstractSyntaxNotSupported: 3,
  TransferSyntaxesNotSupported: 4,
});

export interface ContextDecision {
  readonly id: number;
  readonly result: number;
  readonly transferSyntax: string;
}

function uid(buf: Buffer, start: number, end: number): string {
  let e = end;
  while (e > start && (buf[e - 1] === 0 || buf[e - 1] === 0x20)) e--;
  return buf.toString('latin1', start, e);
}

function ae(buf: Buffer): string {
  return buf.toString('latin1').trim();
}

/** Parses the variable field of an A-ASSOCIATE-RQ. Throws `ProtocolError` on malformed items. */
export function parseAssociateRq(body: Buffer): AssociateRq {
  if (body.length < 68) throw new ProtocolError(`A-ASSOCIATE-RQ too short (${body.length} bytes)`, 'ERR_ASSOCIATE_RQ');
  const protocolVersion = body.readUInt16BE(0);
  const rawCalled = Buffer.from(body.subarray(4, 20));
  const rawCalling = Buffer.from(body.subarray(20, 36));
  let applicationContext = '';
  const contexts: ProposedContext[] = [];
  let maxPduLength = 0;
  let implementationClassUid = '';
  let implementationVersionName = '';
  let asyncOpsProposed = false;
  let userIdentity: AssociateRq['userIdentity'];
  let off = 68;
  const item = (at: number, limit: number): { type: number; start: number; end: number } => {
    if (at + 4 > limit) throw new ProtocolError('A-ASSOCIATE-RQ item header truncated', 'ERR_ASSOCIATE_RQ');
    const end = at + 4 + body.readUInt16BE(at + 2);
    if (end > limit) throw new ProtocolError(`A-ASSOCIATE-RQ item 0x${body[at].toString(16)} overruns its container`, 'ERR_ASSOCIATE_RQ');
    return { type: body[at], start: at + 4, end };
  };
  while (off < body.length) {
    const it = item(off, body.length);
    if (it.type === 0x10) {
      applicationContext = uid(body, it.start, it.end);
    } else if (it.type === 0x20) {
      if (it.end - it.start < 4) throw new ProtocolError('presentation context item too short', 'ERR_ASSOCIATE_RQ');
      const id = body[it.start];
      let abstractSyntax = '';
      const transferSyntaxes: string[] = [];
      let sub = it.start + 4;
      while (sub < it.end) {
        const s = item(sub, it.end);
        if (s.type === 0x30) abstractSyntax = uid(body, s.start, s.end);
        else if (s.type === 0x40) transferSyntaxes.push(uid(body, s.start, s.end));
        sub = s.end;
      }
      contexts.push({ id, abstractSyntax, transferSyntaxes });
    } else if (it.type === 0x50) {
      let sub = it.start;
      while (sub < it.end) {
        const s = item(sub, it.end);
        if (s.type === 0x51 && s.end - s.start >= 4) maxPduLength = body.readUInt32BE(s.start);
        else if (s.type === 0x52) implementationClassUid = uid(body, s.start, s.end);
        else if (s.type === 0x53) asyncOpsProposed = true;
        else if (s.type === 0x55) implementationVersionName = body.toString('latin1', s.start, s.end).trim();
        else if (s.type === 0x58 && s.end - s.start >= 2) userIdentity = { type: body[s.start], positiveResponseRequested: body[s.start + 1] === 1 };
        sub = s.end;
      }
    }
    off = it.end;
  }
  return {
    protocolVersion,
    calledAeTitle: ae(rawCalled),
    callingAeTitle: ae(rawCalling),
    applicationContext,
    contexts,
    maxPduLength,
    implementationClassUid,
    implementationVersionName,
    rawCalled,
    rawCalling,
    asyncOpsProposed,
    userIdentity,
  };
}

function pdu(type: number, body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(6 + body.length);
  out[0] = type;
  out[1] = 0;
  out.writeUInt32BE(body.length, 2);
  body.copy(out, 6);
  return out;
}

function itemOf(type: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h[0] = type;
  h.writeUInt16BE(value.length, 2);
  return Buffer.concat([h, value]);
}

const ascii = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Builds an A-ASSOCIATE-AC for `rq` with the given context decisions and our maximum PDU length. */
export function buildAssociateAc(rq: AssociateRq, decisions: readonly ContextDecision[], maxPduLength: number): Buffer {
  const fixed = Buffer.alloc(68);
  fixed.writeUInt16BE(1, 0);
  rq.rawCalled.copy(fixed, 4);
  rq.rawCalling.copy(fixed, 20);
  const parts: Buffer[] = [fixed, itemOf(0x10, ascii(APPLICATION_CONTEXT))];
  for (const d of decisions) {
    const head = Buffer.from([d.id, 0, d.result, 0]);
    parts.push(itemOf(0x21, Buffer.concat([head, itemOf(0x40, ascii(d.transferSyntax))])));
  }
  const maxLen = Buffer.alloc(4);
  maxLen.writeUInt32BE(maxPduLength, 0);
  const user = [itemOf(0x51, maxLen), itemOf(0x52, ascii(IMPLEMENTATION_CLASS_UID))];
  if (rq.asyncOpsProposed) user.push(itemOf(0x53, Buffer.from([0, 1, 0, 1])));
  user.push(itemOf(0x55, ascii(IMPLEMENTATION_VERSION_NAME)));
  // A positive User Identity response when one is asked for and PS3.7 D.3.3.7 lets it be
  // empty (user name, user name + passcode). Kerberos / SAML / JWT would need a server
  // ticket, assertion or token we cannot give: no response, the requestor decides.
  if (rq.userIdentity?.positiveResponseRequested && (rq.userIdentity.type === 1 || rq.userIdentity.type === 2)) user.push(itemOf(0x59, Buffer.alloc(2)));
  parts.push(itemOf(0x50, Buffer.concat(user)));
  return pdu(PduType.AssociateAc, Buffer.concat(parts));
}

/** A-ASSOCIATE-RJ (PS3.8 9.3.4): result 1 permanent / 2 transient, source, reason. */
export function buildAssociateRj(result: number, source: number, reason: number): Buffer {
  return pdu(PduType.AssociateRj, Buffer.from([0, result, source, reason]));
}

export function buildReleaseRp(): Buffer {
  return pdu(PduType.ReleaseRp, Buffer.alloc(4));
}

/** A-ABORT: source 0 service-user, 2 service-provider; reason (provider) 0 not specified, 1 unrecognized PDU, 2 unexpected PDU, 4 unrecognized parameter, 5 unexpected parameter, 6 invalid parameter value. */
export function buildAbort(source: number, reason: number): Buffer {
  return pdu(PduType.Abort, Buffer.from([0, 0, source, reason]));
}

/** One P-DATA-TF PDU carrying one complete PDV. */
export function buildPData(pcId: number, isCommand: boolean, value: Buffer): Buffer {
  const out = Buffer.allocUnsafe(12 + value.length);
  out[0] = PduType.PData;
  out[1] = 0;
  out.writeUInt32BE(6 + value.length, 2);
  out.writeUInt32BE(2 + value.length, 6);
  out[10] = pcId;
  out[11] = (isCommand ? 1 : 0) | 2;
  value.copy(out, 12);
  return out;
}
