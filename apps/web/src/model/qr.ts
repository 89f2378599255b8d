/**
 * QR codes for linking devices and comparing safety numbers, with `qr` (Paul Miller's encoder and
 * decoder; no BarcodeDetector in the Chromium we test on). The image is an SVG as a data: URL,
 * which the strict CSP allows for images (`img-src 'self' data: blob:`); no inline style or script.
 */

import encodeQR from 'qr';
import decodeQR from 'qr/decode.js';

/** An <img> source showing `text` as a QR code, dark on a white background with a quiet zone. */
export function qrImageUrl(text: string): string {
  const svg = encodeQR(text, 'svg', { ecc: 'medium', border: 4 });
  // The SVG leaves the light modules transparent: a dark page behind them would defeat scanners.
  const opaque = svg.replace('>', '><rect width="100%" height="100%" fill="#fff"/>');
  return `data:image/svg+xml;charset=utf-8,${encodeURIComponent(opaque)}`;
}

/** The text of a QR code in one camera frame, or undefined when this frame shows none. */
export function readQr(frame: ImageData): string | undefined {
  try {
    return decodeQR(frame);
  } catch {
    // No code in this frame (or not readable yet): the camera loop tries the next one.
    return undefined;
  }
}
