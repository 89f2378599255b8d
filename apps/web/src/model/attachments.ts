/**
 * Files in the web app: the thumbnail an image gets on the sender's device (a canvas, never the
 * server), how a size reads, and a fetched file as a `blob:` URL the page can show or save. The
 * type a blob URL carries is the sender's only for the raster image types an <img> shows; any
 * other file is a plain download (octet-stream), so nothing a sender names as HTML or SVG ever
 * opens as a document of this origin.
 */

import { ATTACHMENT_THUMBNAIL_MAX } from '@parley/core';

/** Image types shown inline (and given a thumbnail). SVG is not one: it can carry script. */
const INLINE_IMAGES = new Set(['image/jpeg', 'image/png', 'image/gif', 'image/webp']);

export const isInlineImage = (type: string): boolean => INLINE_IMAGES.has(type);

/** Longest side of a thumbnail, in pixels. */
const THUMBNAIL_SIDE = 160;

/**
 * A small JPEG of an image file, base64, made here with a canvas; undefined for other files or
 * when the browser cannot decode it (the file is sent without one).
 */
export async function thumbnailOf(file: Blob): Promise<string | undefined> {
  if (!isInlineImage(file.type)) return undefined;
  try {
    const bitmap = await createImageBitmap(file);
    const scale = Math.min(1, THUMBNAIL_SIDE / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(bitmap.width * scale));
    canvas.height = Math.max(1, Math.round(bitmap.height * scale));
    canvas.getContext('2d')?.drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    bitmap.close();
    for (const quality of [0.7, 0.4]) {
      const base64 = canvas.toDataURL('image/jpeg', quality).split(',')[1] ?? '';
      if (base64 && base64.length <= ATTACHMENT_THUMBNAIL_MAX) return base64;
    }
  } catch {
    // Not decodable here: no thumbnail.
  }
  return undefined;
}

/** A file's bytes as a `blob:` URL: the sender's type for inline images, else a download. */
export function blobUrl(bytes: Uint8Array, type: string): string {
  const safe = isInlineImage(type) ? type : 'application/octet-stream';
  return URL.createObjectURL(new Blob([bytes as Uint8Array<ArrayBuffer>], { type: safe }));
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
