/**
 * Draws the app's icons (a white speech bubble on Parley's blue) as PNG files in public/icons, and
 * the favicon as public/favicon.ico (an ICO holding a PNG). Run by hand after changing the drawing
 * (`node apps/web/scripts/draw-icons.mjs`); its output is checked in. Only node:zlib: a PNG is a
 * signature, an IHDR, a deflated IDAT of filtered rows and an IEND, each chunk with its CRC-32.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32, deflateSync } from 'node:zlib';

const PUBLIC = join(dirname(fileURLToPath(import.meta.url)), '..', 'public');
const BLUE = [0x1f, 0x5f, 0x8b];
const WHITE = [0xff, 0xff, 0xff];

/**
 * Coverage of each shape at (x, y) in a unit square. `inset` shrinks the bubble towards the centre
 * (a maskable icon keeps it inside the central 80% circle); `rounded` cuts the background's corners.
 */
function sample(x, y, { inset, rounded }) {
  if (rounded) {
    const r = 0.22;
    const cx = Math.min(Math.max(x, r), 1 - r);
    const cy = Math.min(Math.max(y, r), 1 - r);
    if ((x - cx) ** 2 + (y - cy) ** 2 > r * r) return 'none';
  }
  const u = 0.5 + (x - 0.5) / inset;
  const v = 0.5 + (y - 0.5) / inset;
  // The bubble: an ellipse, and a tail from its lower left.
  const inEllipse = ((u - 0.5) / 0.34) ** 2 + ((v - 0.46) / 0.26) ** 2 <= 1;
  const inTail = v >= 0.6 && v <= 0.82 && u >= 0.26 && u <= 0.42 && u - 0.26 <= (0.82 - v) * 0.75;
  return inEllipse || inTail ? 'bubble' : 'background';
}

/** RGBA pixels, 4×4 supersampled so the edges are smooth. */
function draw(size, options) {
  const pixels = Buffer.alloc(size * size * 4);
  const n = 4;
  for (let py = 0; py < size; py++) {
    for (let px = 0; px < size; px++) {
      let bubble = 0;
      let covered = 0;
      for (let sy = 0; sy < n; sy++) {
        for (let sx = 0; sx < n; sx++) {
          const s = sample((px + (sx + 0.5) / n) / size, (py + (sy + 0.5) / n) / size, options);
          if (s !== 'none') covered++;
          if (s === 'bubble') bubble++;
        }
      }
      const t = covered === 0 ? 0 : bubble / covered;
      const at = (py * size + px) * 4;
      for (let c = 0; c < 3; c++) pixels[at + c] = Math.round(BLUE[c] * (1 - t) + WHITE[c] * t);
      pixels[at + 3] = Math.round((255 * covered) / (n * n));
    }
  }
  return pixels;
}

function chunk(type, data) {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(data.length, 0);
  head.write(type, 4, 'ascii');
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(Buffer.concat([head.subarray(4), data])) >>> 0, 0);
  return Buffer.concat([head, data, crc]);
}

function png(size, pixels) {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 6, 0, 0, 0], 8); // 8 bits per channel, RGBA, deflate, no filter method, no interlace
  const rows = Buffer.alloc(size * (size * 4 + 1));
  for (let y = 0; y < size; y++) {
    rows[y * (size * 4 + 1)] = 0; // filter: none
    pixels.copy(rows, y * (size * 4 + 1) + 1, y * size * 4, (y + 1) * size * 4);
  }
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    chunk('IHDR', ihdr),
    chunk('IDAT', deflateSync(rows, { level: 9 })),
    chunk('IEND', Buffer.alloc(0)),
  ]);
}

/** An ICO file holding one PNG image (allowed since Windows Vista, read by every browser). */
function ico(size, image) {
  const header = Buffer.alloc(22);
  header.writeUInt16LE(0, 0);
  header.writeUInt16LE(1, 2); // icon
  header.writeUInt16LE(1, 4); // one image
  header[6] = size;
  header[7] = size;
  header.writeUInt16LE(1, 10); // colour planes
  header.writeUInt16LE(32, 12); // bits per pixel
  header.writeUInt32LE(image.length, 14);
  header.writeUInt32LE(22, 18);
  return Buffer.concat([header, image]);
}

mkdirSync(join(PUBLIC, 'icons'), { recursive: true });
const regular = { inset: 1, rounded: true };
for (const size of [192, 512]) {
  writeFileSync(join(PUBLIC, 'icons', `icon-${size}.png`), png(size, draw(size, regular)));
}
writeFileSync(
  join(PUBLIC, 'icons', 'maskable-512.png'),
  png(512, draw(512, { inset: 0.72, rounded: false })),
);
writeFileSync(join(PUBLIC, 'icons', 'apple-touch-icon.png'), png(180, draw(180, regular)));
writeFileSync(join(PUBLIC, 'favicon.ico'), ico(32, png(32, draw(32, regular))));
