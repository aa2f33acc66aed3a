import { expect } from 'chai';
import { constants } from 'dcmjs-dimse';
import { ContextResult, type AssociateRq } from '../../container/src/dicom/associate-pdu';
import { ACCEPTED_TRANSFER_SYNTAXES, isStorageSopClass } from '../../container/src/dicom/uids';
import { decideAssociation, type PolicyConfig } from '../../container/src/scp/association-policy';

const CT = '1.2.840.10008.5.1.4.1.1.2';
const MR = '1.2.840.10008.5.1.4.1.1.4';
const FIND = '1.2.840.10008.5.1.4.1.2.2.1';
const VERIFY = '1.2.840.10008.1.1';
const ILE = '1.2.840.10008.1.2';
const ELE = '1.2.840.10008.1.2.1';
const JPEG = '1.2.840.10008.1.2.4.50';
const MPEG4 = '1.2.840.10008.1.2.4.102';

const cfg: PolicyConfig = { aeTitle: 'STORESCP', requireCalledAeTitle: false, allowedCallingAeTitles: [], supportedSopClassUids: [], maximumAssociations: 2 };

function rq(over: Partial<AssociateRq> = {}): AssociateRq {
  return {
    protocolVersion: 1,
    calledAeTitle: 'STORESCP',
    callingAeTitle: 'CT01',
    applicationContext: '1.2.840.10008.3.1.1.1',
    contexts: [
      { id: 1, abstractSyntax: VERIFY, transferSyntaxes: [ILE] },
      { id: 3, abstractSyntax: CT, transferSyntaxes: [JPEG, ELE] },
      { id: 5, abstractSyntax: FIND, transferSyntaxes: [ILE] },
      { id: 7, abstractSyntax: MR, transferSyntaxes: [MPEG4] },
    ],
    maxPduLength: 16384,
    implementationClassUid: '1.2.3',
    implementationVersionName: 'X',
    rawCalled: Buffer.alloc(16),
    rawCalling: Buffer.alloc(16),
    asyncOpsProposed: false,
    ...over,
  };
}

describe('association policy', () => {
  it('accepts storage and verification contexts and rejects the others per context', () => {
    const d = decideAssociation(rq(), cfg, 0);
    expect(d.kind).to.equal('accept');
    if (d.kind !== 'accept') return;
    expect(d.contexts).to.deep.equal([
      { id: 1, result: ContextResult.Acceptance, transferSyntax: ILE },
      { id: 3, result: ContextResult.Acceptance, transferSyntax: JPEG },
      { id: 5, result: ContextResult.AbstractSyntaxNotSupported, transferSyntax: ILE },
      { id: 7, result: ContextResult.TransferSyntaxesNotSupported, transferSyntax: ILE },
    ]);
  });

  it('rejects a wrong called AE title only when required', () => {
    expect(decideAssociation(rq({ calledAeTitle: 'OTHER' }), cfg, 0).kind).to.equal('accept');
    const d = decideAssociation(rq({ calledAeTitle: 'OTHER' }), { ...cfg, requireCalledAeTitle: true }, 0);
    expect(d).to.include({ kind: 'reject', result: 1, source: 1, reason: 7, label: 'called-ae-not-recognized' });
  });

  it('rejects a calling AE title outside a non-empty allow-list', () => {
    const allow = { ...cfg, allowedCallingAeTitles: ['MR02', 'CT01'] };
    expect(decideAssociation(rq(), allow, 0).kind).to.equal('accept');
    expect(decideAssociation(rq({ callingAeTitle: 'EVIL' }), allow, 0)).to.include({ result: 1, source: 1, reason: 3, label: 'calling-ae-not-recognized' });
  });

  it('rejects transiently at the association limit', () => {
    expect(decideAssociation(rq(), cfg, 1).kind).to.equal('accept');
    expect(decideAssociation(rq(), cfg, 2)).to.include({ result: 2, source: 3, reason: 2, label: 'local-limit-exceeded' });
  });

  it('limits storage to SUPPORTED_SOP_CLASS_UIDS when set, but always accepts verification', () => {
    const d = decideAssociation(rq(), { ...cfg, supportedSopClassUids: [MR] }, 0);
    if (d.kind !== 'accept') throw new Error('rejected');
    expect(d.contexts.find((c) => c.id === 1)?.result).to.equal(ContextResult.Acceptance);
    expect(d.contexts.find((c) => c.id === 3)?.result).to.equal(ContextResult.AbstractSyntaxNotSupported);
  });

  it('rejects an unknown application context and protocol version', () => {
    expect(decideAssociation(rq({ applicationContext: '1.2.3' }), cfg, 0)).to.include({ reason: 2, label: 'application-context-not-supported' });
    expect(decideAssociation(rq({ protocolVersion: 2 }), cfg, 0)).to.include({ source: 2, label: 'protocol-version-not-supported' });
  });

  it('treats every storage class dcmjs-dimse knows as a storage SOP class, and query classes as not', () => {
    for (const uid of Object.values(constants.StorageClass)) expect(isStorageSopClass(uid as string), uid as string).to.equal(true);
    expect(isStorageSopClass(FIND)).to.equal(false);
    expect(isStorageSopClass(VERIFY)).to.equal(false);
  });

  it('accepts exactly the transfer syntaxes HealthImaging imports', () => {
    expect([...ACCEPTED_TRANSFER_SYNTAXES.keys()]).to.include.members([ILE, ELE, '1.2.840.10008.1.2.1.99', '1.2.840.10008.1.2.2', JPEG, '1.2.840.10008.1.2.4.70', '1.2.840.10008.1.2.4.80', '1.2.840.10008.1.2.4.90', '1.2.840.10008.1.2.4.201', '1.2.840.10008.1.2.5']);
    expect(ACCEPTED_TRANSFER_SYNTAXES.has(MPEG4)).to.equal(false);
    expect(ACCEPTED_TRANSFER_SYNTAXES.has('1.2.840.10008.1.2.1.98')).to.equal(false);
  });
});
