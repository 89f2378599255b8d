/**
 * Test support for the web app's camera: Chromium's fake capture device plays a Y4M file
 * (`--use-file-for-fake-video-capture`), so a QR code the test wants "held up to the camera" is
 * written as one uncompressed frame — the code encoded with `qr`, black modules on white, centred.
 * The device reads the file each time a page opens the camera, so one path serves a whole run.
 */

import { writeFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import encodeQR from 'qr';
import decodeQR from 'qr/decode.js';

export const FRAME = { width: 640, height: 480 } as const;

/** The Chromium flags that make `path` the camera, with every permission prompt accepted. */
export function fakeCameraArgs(path: string): string[] {
  return [
    '--use-fake-device-for-media-stream',
    '--use-fake-ui-for-media-stream',
    `--use-file-for-fake-video-capture=${path}`,
  ];
}

/**
 * Writes one Y4M frame (4:2:0, full range) showing `text` as a QR code, or a blank white frame
 * when `text` is undefined (what the camera shows before a test holds a code up).
 */
export function writeCameraFrame(path: string, text: string | undefined): void {
  const { width, height } = FRAME;
  const luma = new Uint8Array(width * height).fill(255);
  if (text !== undefined) {
    const modules = encodeQR(text, 'raw', { border: 4 });
    const scale = Math.floor((Math.min(width, height) - 20) / modules.length);
    const left = Math.floor((width - modules.length * scale) / 2);
    const top = Math.floor((height - modules.length * scale) / 2);
    for (const [y, row] of modules.entries()) {
      for (const [x, dark] of row.entries()) {
        if (!dark) continue;
        for (let dy = 0; dy < scale; dy++) {
          const start = (top + y * scale + dy) * width + left + x * scale;
          luma.fill(0, start, start + scale);
        }
      }
    }
  }
  const chroma = new Uint8Array((width / 2) * (height / 2)).fill(128);
  writeFileSync(
    path,
    Buffer.concat([
      Buffer.from(`YUV4MPEG2 W${width} H${height} F30:1 Ip A1:1 C420jpeg\nFRAME\n`),
      luma,
      chroma,
      chroma,
    ]),
  );
}

/**
 * Reads the QR code an <img> on the page shows, as a camera would: the image is drawn on a
 * white canvas in the page and its pixels decoded here with `qr`.
 */
export async function readQrOnScreen(page: Page, selector: string): Promise<string> {
  const size = 360;
  const pixels = await page.locator(selector).evaluate(async (img: HTMLImageElement, side) => {
    await img.decode();
    const canvas = document.createElement('canvas');
    canvas.width = side;
    canvas.height = side;
    const context = canvas.getContext('2d')!;
    context.fillStyle = '#fff';
    context.fillRect(0, 0, side, side);
    context.drawImage(img, 0, 0, side, side);
    return Array.from(context.getImageData(0, 0, side, side).data);
  }, size);
  return decodeQR({ width: size, height: size, data: Uint8Array.from(pixels) });
}
