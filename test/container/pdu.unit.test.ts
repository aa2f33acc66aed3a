import { expect } from 'chai';
import { buildAbort, buildAssociateAc, buildPData, parseAssociateRq } from '../../container/src/dicom/associate-pdu';
import { encodeResponse, parseCommandSet } from '../../container/src/dicom/command-set';
import { PduReader } from '../../container/src/dicom/pdu-reader';
import { ProtocolError } from '../../container/src/errors';
import { associateRqPdu, userIdentityItem } from '../helpers/raw-peer';

function collect(limits = { maxPDataLength: 16384, maxControlLength: 4096 }) {
  const control: [number, Buffer][] = [];
  const pdvs: { pc: number; cmd: boolean; last: boolean; end: boolean; data: Buffer }[] = [];
  const reader = new PduReader({
    onControlPdu: (t, b) => control.push([t, Buffer.from(b)]),
    onPdvData: (pc, cmd, last, data, end) => pdvs.push({ pc, cmd, last, end, data: Buffer.from(data) }),
  }, limits);
  return { reader, control, pdvs };
}

describe('PDU reader', () => {
  it('streams PDV values as slices across arbitrary chunk boundaries', () => {
    const value = Buffer.alloc(5000, 7);
    const wire = Buffer.concat([buildPData(3, false, value), buildPData(3, true, Buffer.from('cmd!'))]);
    const { reader, pdvs } = collect();
    for (let i = 0; i < wire.length; i += 13) reader.push(wire.subarray(i, i + 13));
    const data = Buffer.concat(pdvs.filter((p) => !p.cmd).map((p) => p.data));
    expect(data.equals(value)).to.equal(true);
    expect(pdvs.filter((p) => p.end).map((p) => [p.pc, p.cmd, p.last])).to.deep.equal([[3, false, true], [3, true, true]]);
    expect(reader.idle).to.equal(true);
  });

  it('assembles a control PDU and parses an A-ASSOCIATE-RQ', () => {
    const { reader, control } = collect();
    const wire = associateRqPdu('STORESCP', 'CT01', [[1, '1.2.840.10008.1.1', ['1.2.840.10008.1.2']]]);
    reader.push(wire.subarray(0, 10));
    reader.push(wire.subarray(10));
    expect(control).to.have.length(1);
    const rq = parseAssociateRq(control[0][1]);
    expect(rq).to.include({ calledAeTitle: 'STORESCP', callingAeTitle: 'CT01', maxPduLength: 16384, implementationClassUid: '1.2.3.4', implementationVersionName: 'RAWPEER' });
    expect(rq.contexts).to.deep.equal([{ id: 1, abstractSyntax: '1.2.840.10008.1.1', transferSyntaxes: ['1.2.840.10008.1.2'] }]);
    const ac = buildAssociateAc(rq, [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }], 131072);
    expect(ac[0]).to.equal(2);
    expect(ac.readUInt32BE(2)).to.equal(ac.length - 6);
    expect(ac.subarray(10, 26).toString('latin1')).to.equal('STORESCP        ');
  });

  /** The User Identity sub-item (0x59) of an A-ASSOCIATE-AC, or undefined. */
  function userIdentityAc(ac: Buffer): Buffer | undefined {
    for (let off = 6 + 68; off + 4 <= ac.length; off += 4 + ac.readUInt16BE(off + 2)) {
      if (ac[off] !== 0x50) continue;
      for (let p = off + 4; p + 4 <= off + 4 + ac.readUInt16BE(off + 2); p += 4 + ac.readUInt16BE(p + 2)) if (ac[p] === 0x59) return ac.subarray(p + 4, p + 4 + ac.readUInt16BE(p + 2));
    }
    return undefined;
  }
  const identity: [string, number, boolean, boolean][] = [
    ['user name, positive response requested', 1, true, true],
    ['user name + passcode, positive response requested', 2, true, true],
    ['user name + passcode, no response requested', 2, false, false],
    ['a SAML assertion (no response we could give)', 4, true, false],
    ['a JSON Web Token (no response we could give)', 5, true, false],
  ];
  for (const [what, type, positive, answered] of identity) {
    it(`User Identity: ${what} ${answered ? 'gets an empty server response' : 'gets no sub-item'}`, () => {
      const wire = associateRqPdu('STORESCP', 'CT01', [[1, '1.2.840.10008.1.1', ['1.2.840.10008.1.2']]], 16384, [userIdentityItem(type, positive, 'alice', 'secret')]);
      const rq = parseAssociateRq(wire.subarray(6));
      expect(rq.userIdentity).to.deep.equal({ type, positiveResponseRequested: positive });
      expect(JSON.stringify(rq)).not.to.contain('secret');
      const sub = userIdentityAc(buildAssociateAc(rq, [{ id: 1, result: 0, transferSyntax: '1.2.840.10008.1.2' }], 131072));
      if (answered) expect(sub).to.deep.equal(Buffer.from([0, 0]));
      else expect(sub).to.equal(undefined);
    });
  }

  const bad: [string, Buffer, string][] = [
    ['an unknown PDU type', Buffer.from([0x09, 0, 0, 0, 0, 4, 0, 0, 0, 0]), 'ERR_PDU_TYPE'],
    ['a P-DATA-TF above the negotiated maximum', Buffer.from([0x04, 0, 0, 1, 0, 0]), 'ERR_PDU_TOO_LARGE'],
    ['a control PDU above its limit', Buffer.from([0x01, 0, 0, 0, 0x20, 0]), 'ERR_PDU_TOO_LARGE'],
    ['a PDV longer than its PDU', Buffer.from([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 9, 1, 0, 0, 0]), 'ERR_PDV_LENGTH'],
    ['a PDV with reserved control bits', Buffer.from([0x04, 0, 0, 0, 0, 8, 0, 0, 0, 4, 1, 0xf0, 0, 0]), 'ERR_PDV_CONTROL'],
    ['a P-DATA-TF too short for a PDV', Buffer.from([0x04, 0, 0, 0, 0, 2, 0, 0]), 'ERR_PDU_LENGTH'],
  ];
  for (const [what, wire, code] of bad) {
    it(`rejects ${what} with ${code}`, () => {
      const { reader } = collect();
      expect(() => reader.push(wire)).to.throw(ProtocolError).with.property('code', code);
    });
  }

  it('rejects A-ASSOCIATE-RQ items that overrun their container', () => {
    const wire = associateRqPdu('A', 'B', [[1, '1.2.840.10008.1.1', ['1.2.840.10008.1.2']]]);
    wire.writeUInt16BE(0xffff, 6 + 68 + 2);
    expect(() => parseAssociateRq(wire.subarray(6))).to.throw(ProtocolError).with.property('code', 'ERR_ASSOCIATE_RQ');
  });

  it('encodes A-ABORT as PS3.8 says', () => {
    expect([...buildAbort(2, 1)]).to.deep.equal([7, 0, 0, 0, 0, 4, 0, 0, 2, 1]);
  });
});

describe('command set', () => {
  it('round-trips a C-STORE-RSP through the parser', () => {
    const rsp = encodeResponse({ commandField: 0x8001, messageIdBeingRespondedTo: 42, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.2', affectedSopInstanceUid: '1.2.3.4.5', status: 0xa700, errorComment: 'storage failed' });
    const parsed = parseCommandSet(rsp);
    expect(parsed).to.include({ commandField: 0x8001, affectedSopClassUid: '1.2.840.10008.5.1.4.1.1.2', affectedSopInstanceUid: '1.2.3.4.5', hasDataset: false });
    expect(rsp.readUInt32LE(8)).to.equal(rsp.length - 12);
  });

  it('rejects a command set that lacks the Command Field', () => {
    const h = Buffer.alloc(10);
    h.writeUInt16LE(0x0110, 2);
    h.writeUInt32LE(2, 4);
    expect(() => parseCommandSet(h)).to.throw(ProtocolError);
  });
});
