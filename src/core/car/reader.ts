import { readBlockHead, readHeader } from '@ipld/car/decoder';
import type { CID } from '../ids/cid.js';
import { cidText, invalid } from './format.js';

type BytesReader = Parameters<typeof readHeader>[0];

/**
 * @ipld/car's `BytesReader` over a stream, without copying: @ipld/car's own `asyncIterableReader` copies every
 * chunk into a fresh buffer on each read, which costs as much as the disk on a large import. Bytes are copied
 * here only when a small read straddles two chunks; `piece` hands out views of the chunks as they came.
 */
class StreamBytes implements BytesReader {
  readonly #source: AsyncIterator<Uint8Array>;
  #chunks: Uint8Array[] = [];
  /** Offset into `#chunks[0]`. */
  #offset = 0;
  #buffered = 0;
  #pos = 0;
  #ended = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#source = source[Symbol.asyncIterator]();
  }

  get pos(): number {
    return this.#pos;
  }

  async #fill(length: number): Promise<void> {
    while (this.#buffered < length && !this.#ended) {
      const next = await this.#source.next();
      if (next.done) {
        this.#ended = true;
        return;
      }
      if (next.value.length === 0) continue;
      this.#chunks.push(next.value);
      this.#buffered += next.value.length;
    }
  }

  #peek(length: number): Uint8Array {
    const first = this.#chunks[0];
    if (!first || length === 0) return new Uint8Array(0);
    if (first.length - this.#offset >= length) return first.subarray(this.#offset, this.#offset + length);
    const out = new Uint8Array(length);
    let filled = 0;
    let offset = this.#offset;
    for (const chunk of this.#chunks) {
      const take = Math.min(chunk.length - offset, length - filled);
      out.set(chunk.subarray(offset, offset + take), filled);
      filled += take;
      offset = 0;
      if (filled === length) break;
    }
    return out;
  }

  async upTo(length: number): Promise<Uint8Array> {
    await this.#fill(length);
    return this.#peek(Math.min(length, this.#buffered));
  }

  async exactly(length: number, seek = false): Promise<Uint8Array> {
    await this.#fill(length);
    if (this.#buffered < length) throw new Error('Unexpected end of data');
    const out = this.#peek(length);
    if (seek) this.seek(length);
    return out;
  }

  seek(length: number): void {
    this.#pos += length;
    this.#buffered -= length;
    let left = length + this.#offset;
    while (this.#chunks.length > 0 && left >= this.#chunks[0]!.length) {
      left -= this.#chunks[0]!.length;
      this.#chunks.shift();
    }
    this.#offset = left;
  }

  /** At most `max` bytes that are already in one chunk (reading one more when none are), consumed; empty at the end. */
  async piece(max: number): Promise<Uint8Array> {
    await this.#fill(1);
    const first = this.#chunks[0];
    if (!first) return new Uint8Array(0);
    const piece = first.subarray(this.#offset, this.#offset + Math.min(max, first.length - this.#offset));
    this.seek(piece.length);
    return piece;
  }
}

/** One block's framing: its CID and body length; the body is read next, whole or in pieces. */
export interface BlockHead {
  readonly cid: CID;
  readonly length: number;
  /** 0-based position among the blocks. */
  readonly index: number;
  /** Byte offset of the block's section in the file. */
  readonly offset: number;
}

const PIECE = 1024 * 1024;

/**
 * A CARv1 read front to back with @ipld/car's decoder, one block at a time, with bodies streamed in pieces so a
 * block of any size never sits in memory whole. Truncation and malformed framing become `CAR_INVALID` errors that
 * say where the file broke.
 */
export class CarStreamReader {
  readonly #reader: StreamBytes;
  #index = -1;
  #current?: BlockHead;
  #remaining = 0;
  #previous?: CID;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#reader = new StreamBytes(source);
  }

  get position(): number {
    return this.#reader.pos;
  }

  /** Blocks started so far. */
  get blockCount(): number {
    return this.#index + 1;
  }

  async roots(): Promise<CID[]> {
    try {
      const header = await readHeader(this.#reader, 1);
      return header.roots;
    } catch (error) {
      // A source that fails (a missing file, a dropped connection) is not a malformed CAR.
      if ((error as NodeJS.ErrnoException).code !== undefined) throw error;
      throw invalid(`not a CARv1 file: ${(error as Error).message}`);
    }
  }

  /** The next block's head, or undefined at a clean end of file. The previous body must have been read. */
  async next(): Promise<BlockHead | undefined> {
    if (this.#remaining > 0) throw new Error('the previous block body was not read');
    if (this.#current) this.#previous = this.#current.cid;
    this.#current = undefined;
    const offset = this.#reader.pos;
    if ((await this.#reader.upTo(1)).length === 0) return undefined;
    this.#index++;
    let head: { cid: CID; blockLength: number };
    try {
      head = await readBlockHead(this.#reader);
    } catch (error) {
      throw this.#broken(`the header of block #${this.#index} at byte ${offset}`, error as Error);
    }
    this.#current = { cid: head.cid, length: head.blockLength, index: this.#index, offset };
    this.#remaining = head.blockLength;
    return this.#current;
  }

  /** The whole body of the current block (for small blocks; `max` guards against a hostile length). */
  async body(max: number): Promise<Uint8Array> {
    const head = this.#head();
    if (head.length > max) throw invalid(`block ${cidText(head.cid)} (#${head.index}) is ${head.length} bytes; at most ${max} expected here`, { cid: cidText(head.cid) });
    try {
      const bytes = await this.#reader.exactly(head.length, true);
      this.#remaining = 0;
      return new Uint8Array(bytes);
    } catch (error) {
      throw this.#broken(`block ${cidText(head.cid)} (#${head.index})`, error as Error);
    }
  }

  /** The body of the current block in pieces of at most 1 MiB. Must be read to the end. */
  async *pieces(): AsyncGenerator<Uint8Array> {
    const head = this.#head();
    while (this.#remaining > 0) {
      const piece = await this.#reader.piece(Math.min(PIECE, this.#remaining));
      if (piece.length === 0) throw this.#broken(`block ${cidText(head.cid)} (#${head.index})`, new Error('Unexpected end of data'));
      this.#remaining -= piece.length;
      yield piece;
    }
  }

  /** Read and drop the rest of the current block's body. */
  async skip(): Promise<void> {
    for await (const _ of this.pieces()) {
      // drained
    }
  }

  /** What the file ended after, for truncation messages. */
  describeEnd(): string {
    return this.#previous || this.#current ? `after block ${cidText((this.#current ?? { cid: this.#previous! }).cid)} (#${this.#index})` : 'before any block';
  }

  #head(): BlockHead {
    if (!this.#current) throw new Error('no current block');
    return this.#current;
  }

  #broken(where: string, error: Error): Error {
    const truncated = /unexpected end of data/i.test(error.message);
    return truncated
      ? invalid(`truncated: the file ends inside ${where}`, this.#current ? { cid: cidText(this.#current.cid) } : {})
      : invalid(`malformed ${where}: ${error.message}`, this.#current ? { cid: cidText(this.#current.cid) } : {});
  }
}
