import { describe, expect, it } from 'vitest';
import { ByteChunks } from '../src/byte-chunks.ts';

const text = (b: ByteChunks) => Buffer.concat(b.chunks()).toString('utf8');

describe('ByteChunks', () => {
  it('hold the appended lines in order as UTF-8, each ended by a line feed', () => {
    const b = new ByteChunks();
    expect(b.chunks()).toEqual([]);
    b.appendLine('a\tb');
    b.appendLine('ünïcødé 日本語 🎉');
    b.appendLine('');
    expect(text(b)).toBe('a\tb\nünïcødé 日本語 🎉\n\n');
    expect(b.count).toBe(3);
  });

  it('spill into new chunks at the chunk size, also for a line larger than a chunk, losing no byte', () => {
    const b = new ByteChunks();
    const lines: string[] = [];
    for (let i = 0; i < 5000; i++) lines.push(`${i}\t${'é'.repeat(i % 700)}\t🎉`);
    lines.push('x'.repeat(3 << 20));
    lines.push('after the big one');
    for (const l of lines) b.appendLine(l);
    expect(b.chunks().length).toBeGreaterThan(2);
    expect(text(b)).toBe(`${lines.join('\n')}\n`);
    expect(b.count).toBe(lines.length);
  });
});
