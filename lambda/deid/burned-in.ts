/**
 * Instances likely to carry text burned into the pixels (PS3.15 E.3.1 Clean
 * Pixel Data Option is not implemented): Burned In Annotation YES, or a SOP
 * class / modality that is usually a screen or camera image.
 */
const SOP_CLASSES = new Set([
  '1.2.840.10008.5.1.4.1.1.6.1', // Ultrasound Image
  '1.2.840.10008.5.1.4.1.1.6.2', // Enhanced US Volume
  '1.2.840.10008.5.1.4.1.1.3.1', // Ultrasound Multi-frame Image
  '1.2.840.10008.5.1.4.1.1.6', // Ultrasound Image (retired)
  '1.2.840.10008.5.1.4.1.1.3', // Ultrasound Multi-frame Image (retired)
  '1.2.840.10008.5.1.4.1.1.7', // Secondary Capture Image
  '1.2.840.10008.5.1.4.1.1.7.1', // Multi-frame Single Bit SC
  '1.2.840.10008.5.1.4.1.1.7.2', // Multi-frame Grayscale Byte SC
  '1.2.840.10008.5.1.4.1.1.7.3', // Multi-frame Grayscale Word SC
  '1.2.840.10008.5.1.4.1.1.7.4', // Multi-frame True Color SC
  '1.2.840.10008.5.1.4.1.1.77.1.1', // VL Endoscopic Image
  '1.2.840.10008.5.1.4.1.1.77.1.1.1', // Video Endoscopic Image
  '1.2.840.10008.5.1.4.1.1.77.1.4', // VL Photographic Image
  '1.2.840.10008.5.1.4.1.1.77.1.4.1', // Video Photographic Image
]);
const MODALITIES = new Set(['US', 'ES', 'XC']);

export function likelyBurnedIn(sopClassUid: string, modality: string, burnedInAnnotation: string): boolean {
  return burnedInAnnotation.trim().toUpperCase() === 'YES' || SOP_CLASSES.has(sopClassUid) || MODALITIES.has(modality.trim().toUpperCase());
}
