/**
 * Private group 0009 content that third-party senders forward and that
 * dcmtk-based ones never produce: a sequence encoded as UN with undefined
 * length (its items in Implicit VR Little Endian, PS3.5 6.2.2), and a large
 * private value before group 0020. Explicit VR Little Endian bytes, for
 * `TestInstance.privateGroup0009` (tags in ascending order).
 */

function explicit(group: number, element: number, vr: string, value: Buffer, undefinedLength = false): Buffer {
  const long = ['OB', 'OW', 'SQ', 'UN', 'UT'].includes(vr);
  const h = Buffer.alloc(long ? 12 : 8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.write(vr, 4, 'latin1');
  if (long) h.writeUInt32LE(undefinedLength ? 0xffffffff : value.length, 8);
  else h.writeUInt16LE(value.length, 6);
  return Buffer.concat([h, value]);
}

function implicit(group: number, element: number, value: Buffer, undefinedLength = false): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(group, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(undefinedLength ? 0xffffffff : value.length, 4);
  return Buffer.concat([h, value]);
}

/** An item / delimiter tag with a 4-byte length, little endian. */
export function marker(element: number, length = 0): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16LE(0xfffe, 0);
  h.writeUInt16LE(element, 2);
  h.writeUInt32LE(length, 4);
  return h;
}

const text = (s: string): Buffer => Buffer.from(s.length % 2 ? `${s} ` : s, 'latin1');
const CREATOR = explicit(0x0009, 0x0010, 'LO', text('INTEROP TEST'));

/**
 * The body of a UN-undefined-length private sequence: one item with ASCII
 * values (read as Explicit VR they decode to a huge length that skips past
 * group 0020), a decoy Study UID, and an implicit nested sequence of
 * undefined length with an item of its own — so "at any depth" is exercised.
 */
export function unSequenceBody(): Buffer {
  const nested = Buffer.concat([
    implicit(0x0009, 0x1030, Buffer.alloc(0), true),
    marker(0xe000, 0xffffffff),
    implicit(0x0009, 0x1031, text('NESTED PRIVATE TEXT VALUE')),
    marker(0xe00d),
    marker(0xe0dd),
  ]);
  return Buffer.concat([
    marker(0xe000, 0xffffffff),
    implicit(0x0009, 0x1011, text('ABCDEFGHIJKLMNOPQRSTUVWXYZ PRIVATE')),
    nested,
    implicit(0x0020, 0x000d, Buffer.from('9.9.9.99', 'latin1')),
    marker(0xe00d),
    marker(0xe0dd),
  ]);
}

/** Private creator + (0009,1010) UN of undefined length holding `unSequenceBody()`. */
export function unUndefinedLengthSequence(): Buffer {
  return Buffer.concat([CREATOR, explicit(0x0009, 0x1010, 'UN', Buffer.alloc(0), true), unSequenceBody()]);
}

/** Private creator + (0009,1020) OB of `bytes` (a pattern, not zeros) — UIDs come after it. */
export function largePrivateElement(bytes: number): Buffer {
  const value = Buffer.alloc(bytes);
  for (let i = 0; i < bytes; i += 4) value.writeUInt32LE((i * 2654435761) >>> 0, i);
  return Buffer.concat([CREATOR, explicit(0x0009, 0x1020, 'OB', value)]);
}
