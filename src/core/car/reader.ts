import { asyncIterableReader, readBlockHead, readHeader } from '@ipld/car/decoder';
import type { CID } from '../ids/cid.js';
import { cidText, invalid } from './format.js';

type BytesReader = ReturnType<typeof asyncIterableReader>;

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
  readonly #reader: BytesReader;
  #index = -1;
  #current?: BlockHead;
  #remaining = 0;
  #previous?: CID;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.#reader = asyncIterableReader(source);
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
      let piece: Uint8Array;
      try {
        piece = await this.#reader.upTo(Math.min(PIECE, this.#remaining));
      } catch (error) {
        throw this.#broken(`block ${cidText(head.cid)} (#${head.index})`, error as Error);
      }
      if (piece.length === 0) throw this.#broken(`block ${cidText(head.cid)} (#${head.index})`, new Error('Unexpected end of data'));
      // Copy: the reader reuses its buffer once we move past it.
      const copy = new Uint8Array(piece);
      this.#reader.seek(piece.length);
      this.#remaining -= piece.length;
      yield copy;
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
