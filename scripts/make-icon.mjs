#!/usr/bin/env node
// Draws media/icon.png (128x128, the Marketplace icon): a block of tokens being denoised, committed
// ones filled and masked ones outlined, and the bar where EDIT stopped the block. Deterministic, so
// the committed PNG is what this script writes (`node scripts/make-icon.mjs`). PNG by hand with
// node:zlib: 30 lines, where an image library would be a dependency for one file.
import { writeFileSync } from "node:fs";
import { deflateSync } from "node:zlib";

const N = 128;
const px = new Uint8Array(N * N * 4);
const hex = (h) => [parseInt(h.slice(1, 3), 16), parseInt(h.slice(3, 5), 16), parseInt(h.slice(5, 7), 16), 255];
const BG = hex("#1e1e2e"), DONE = hex("#4ec9b0"), MASK = hex("#6c7086"), STOP = hex("#f9a825");
const set = (x, y, c) => px.set(c, 4 * (y * N + x));
const inRounded = (x, y, x0, y0, x1, y1, r) => {
  const cx = Math.min(Math.max(x, x0 + r), x1 - r), cy = Math.min(Math.max(y, y0 + r), y1 - r);
  return (x - cx) ** 2 + (y - cy) ** 2 <= r * r && x >= x0 && x <= x1 && y >= y0 && y <= y1;
};
// Which of the 4x4 token cells are committed (1) or still masked (0), row by row.
const GRID = [[1, 1, 1, 1], [1, 1, 0, 1], [1, 0, 1, 0], [0, 1, 0, 0]];
for (let y = 0; y < N; y++) {
  for (let x = 0; x < N; x++) {
    if (!inRounded(x + 0.5, y + 0.5, 0, 0, N, N, 22)) continue; // transparent corners
    set(x, y, BG);
    for (let r = 0; r < 4; r++) {
      for (let c = 0; c < 4; c++) {
        const x0 = 14 + c * 22, y0 = 20 + r * 22;
        if (!inRounded(x + 0.5, y + 0.5, x0, y0, x0 + 17, y0 + 17, 4)) continue;
        const inner = inRounded(x + 0.5, y + 0.5, x0 + 3, y0 + 3, x0 + 14, y0 + 14, 2);
        if (GRID[r][c]) set(x, y, DONE);
        else if (!inner) set(x, y, MASK);
      }
    }
    if (inRounded(x + 0.5, y + 0.5, 104, 14, 112, 114, 4)) set(x, y, STOP);
  }
}
const crcTable = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});
const crc32 = (buf) => {
  let c = 0xffffffff;
  for (const b of buf) c = crcTable[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
};
const chunk = (type, data) => {
  const len = Buffer.alloc(4), crc = Buffer.alloc(4), td = Buffer.concat([Buffer.from(type, "ascii"), data]);
  len.writeUInt32BE(data.length);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
};
const ihdr = Buffer.alloc(13);
ihdr.writeUInt32BE(N, 0);
ihdr.writeUInt32BE(N, 4);
ihdr.set([8, 6, 0, 0, 0], 8); // 8-bit RGBA
const raw = Buffer.alloc(N * (N * 4 + 1));
for (let y = 0; y < N; y++) Buffer.from(px.buffer, y * N * 4, N * 4).copy(raw, y * (N * 4 + 1) + 1);
const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw, { level: 9 })), chunk("IEND", Buffer.alloc(0))]);
writeFileSync(new URL("../media/icon.png", import.meta.url), png);
console.log(`media/icon.png: ${png.length} bytes`);
