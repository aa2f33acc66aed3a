import { DICTIONARY_MASKED_VR, DICTIONARY_VR } from './dictionary.generated';

const hex = (tag: number): string => tag.toString(16).padStart(8, '0');

const masks = DICTIONARY_MASKED_VR.map(([mask, vr]) => ({ re: new RegExp(`^${mask.replace(/x/g, '[0-9a-f]')}$`), vr }));

/** The VR of a tag from the PS3.6 dictionary (repeating groups too): 'UN' when
 * unknown, LO for private creators, UL for group lengths. */
export function vrOf(tag: number): string {
  const group = tag >>> 16;
  const element = tag & 0xffff;
  if (element === 0) return 'UL';
  if (group % 2 === 1) return element >= 0x10 && element <= 0xff ? 'LO' : 'UN';
  const key = hex(tag);
  const exact = DICTIONARY_VR.get(key);
  if (exact) return exact;
  for (const m of masks) if (m.re.test(key)) return m.vr;
  return 'UN';
}

/** Whether PS3.6 defines this (even-group) tag. */
export function isKnownTag(tag: number): boolean {
  const key = hex(tag);
  return DICTIONARY_VR.has(key) || masks.some((m) => m.re.test(key));
}
