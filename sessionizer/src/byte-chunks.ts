/**
 * Text appended as UTF-8 into fixed-size Buffers (outside the JavaScript heap): an insert body that
 * waits a second for its flush costs the garbage collector nothing, where the same lines as strings
 * would be copied by every young-generation collection and then promoted.
 */
const CHUNK_BYTES = 1 << 20;

export class ByteChunks {
  private readonly full: Buffer[] = [];
  private current: Buffer = Buffer.allocUnsafe(CHUNK_BYTES);
  private used = 0;
  /** Lines appended. */
  count = 0;

  /** Appends `text` and a line feed. */
  appendLine(text: string): void {
    // A UTF-8 byte count is at most 3 per UTF-16 unit; check exactly only when that bound does not fit.
    const room = this.current.length - this.used;
    if (text.length * 3 + 1 > room) {
      const bytes = Buffer.byteLength(text) + 1;
      if (bytes > room) this.next(bytes);
    }
    this.used += this.current.write(text, this.used, 'utf8');
    this.current[this.used++] = 0x0a;
    this.count++;
  }

  /** The bytes appended so far, in order (views, valid until this object is appended to again). */
  chunks(): Buffer[] {
    return this.used === 0 ? [...this.full] : [...this.full, this.current.subarray(0, this.used)];
  }

  private next(atLeast: number): void {
    if (this.used > 0) this.full.push(this.current.subarray(0, this.used));
    this.current = Buffer.allocUnsafe(Math.max(CHUNK_BYTES, atLeast));
    this.used = 0;
  }
}
