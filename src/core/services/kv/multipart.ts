import { TinyCloudError } from '../../errors.js';

/**
 * A streaming `multipart/form-data` reader (RFC 7578 / RFC 2046 §5.1). Parts come one at a time and each body
 * streams through: nothing but a delimiter's worth of bytes is held back, so a batch of large values never
 * sits in memory. A part's body must be read (or abandoned) before asking for the next part; whatever was not
 * read is skipped.
 */
export interface MultipartPart {
  /** The `name` parameter of `Content-Disposition: form-data`. */
  name: string;
  filename?: string;
  /** Part headers, names lower-case. */
  headers: Record<string, string>;
  body: AsyncIterable<Uint8Array>;
}

export interface MultipartLimits {
  /** Most parts accepted; one more is a 400. */
  maxParts?: number;
  /** Largest header block of one part. */
  maxHeaderBytes?: number;
}

const CRLF = Buffer.from('\r\n');
const HEADER_END = Buffer.from('\r\n\r\n');

const malformed = (why: string) => new TinyCloudError('BAD_REQUEST', `Malformed multipart body: ${why}`);

/** The boundary of a `multipart/form-data` content type, or undefined when the type is something else. */
export function multipartBoundary(contentType: string | undefined): string | undefined {
  if (!contentType) return undefined;
  const [type, ...params] = splitParams(contentType);
  if (type?.toLowerCase() !== 'multipart/form-data') return undefined;
  const boundary = params.find((p) => p.name === 'boundary')?.value;
  if (!boundary || boundary.length > 70 || !/^[0-9A-Za-z'()+_,\-./:=? ]*[0-9A-Za-z'()+_,\-./:=?]$/.test(boundary)) {
    throw new TinyCloudError('BAD_REQUEST', 'multipart/form-data needs a valid boundary parameter');
  }
  return boundary;
}

interface Param {
  name: string;
  value: string;
}

/** `type; a=b; c="d \" e"` → `['type', {name:'a',value:'b'}, …]` (names lower-cased). */
function splitParams(header: string): [string | undefined, ...Param[]] {
  const semicolon = header.indexOf(';');
  const head = (semicolon < 0 ? header : header.slice(0, semicolon)).trim();
  const params: Param[] = [];
  const pattern = /;\s*([^\s=;]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))/gy;
  const rest = semicolon < 0 ? '' : header.slice(semicolon);
  let match: RegExpExecArray | null;
  while ((match = pattern.exec(rest)) !== null) {
    const value = match[2] !== undefined ? match[2].replace(/\\(.)/g, '$1') : (match[3] ?? '').trim();
    params.push({ name: match[1]!.toLowerCase(), value });
  }
  return [head || undefined, ...params];
}

/** Pulls chunks from a source into one growing buffer, on demand. */
class Reader {
  buffer: Buffer;
  ended = false;
  readonly #iterator: AsyncIterator<Uint8Array | string>;

  constructor(source: AsyncIterable<Uint8Array | string>, initial: Buffer) {
    this.#iterator = source[Symbol.asyncIterator]();
    this.buffer = initial;
  }

  /** Append the next chunk; false once the source is exhausted. */
  async more(): Promise<boolean> {
    if (this.ended) return false;
    const next = await this.#iterator.next();
    if (next.done) {
      this.ended = true;
      return false;
    }
    const chunk = typeof next.value === 'string' ? Buffer.from(next.value) : next.value;
    this.buffer = this.buffer.length === 0 ? Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength) : Buffer.concat([this.buffer, chunk]);
    return true;
  }

  async need(bytes: number): Promise<boolean> {
    while (this.buffer.length < bytes) if (!(await this.more())) return false;
    return true;
  }
}

/**
 * Read the parts of a multipart body. The reader holds back at most one delimiter's length of a part's
 * bytes; `maxParts` and `maxHeaderBytes` bound everything else it buffers.
 */
export async function* readMultipart(
  source: AsyncIterable<Uint8Array | string>,
  boundary: string,
  limits: MultipartLimits = {},
): AsyncGenerator<MultipartPart> {
  const maxParts = limits.maxParts ?? 1000;
  const maxHeaderBytes = limits.maxHeaderBytes ?? 16 * 1024;
  const delimiter = Buffer.from(`\r\n--${boundary}`);
  // A leading CRLF lets the first boundary line (which has none before it) match the same delimiter.
  const reader = new Reader(source, Buffer.from(CRLF));

  // Skip the preamble, keeping only a possible partial delimiter at the end of the buffer.
  for (;;) {
    const at = reader.buffer.indexOf(delimiter);
    if (at >= 0) {
      reader.buffer = reader.buffer.subarray(at + delimiter.length);
      break;
    }
    reader.buffer = reader.buffer.subarray(Math.max(0, reader.buffer.length - delimiter.length + 1));
    if (!(await reader.more())) throw malformed('no opening boundary');
  }

  let count = 0;
  for (;;) {
    // After a delimiter: `--` closes the body; otherwise optional padding and CRLF open a part.
    if (!(await reader.need(2))) throw malformed('unexpected end after a boundary');
    if (reader.buffer[0] === 0x2d && reader.buffer[1] === 0x2d) return;
    let lineEnd: number;
    while ((lineEnd = reader.buffer.indexOf(CRLF)) < 0) {
      if (reader.buffer.length > 256) throw malformed('garbage after a boundary');
      if (!(await reader.more())) throw malformed('unexpected end after a boundary');
    }
    if (!/^[ \t]*$/.test(reader.buffer.subarray(0, lineEnd).toString('latin1'))) throw malformed('garbage after a boundary');
    reader.buffer = reader.buffer.subarray(lineEnd + 2);

    if (++count > maxParts) throw new TinyCloudError('BAD_REQUEST', `Too many parts: at most ${maxParts}`);
    const headers = await readHeaders(reader, maxHeaderBytes);
    const disposition = headers['content-disposition'];
    const [kind, ...params] = disposition ? splitParams(disposition) : [undefined];
    if (kind?.toLowerCase() !== 'form-data') throw malformed('a part without Content-Disposition: form-data');
    const name = params.find((p) => p.name === 'name')?.value;
    if (name === undefined) throw malformed('a part without a name');
    const filename = params.find((p) => p.name === 'filename')?.value;

    let done = false;
    /** The next slice of this part's body, or undefined at its end. */
    const nextSlice = async (): Promise<Buffer | undefined> => {
      while (!done) {
        const at = reader.buffer.indexOf(delimiter);
        if (at >= 0) {
          const last = reader.buffer.subarray(0, at);
          reader.buffer = reader.buffer.subarray(at + delimiter.length);
          done = true;
          return last.length > 0 ? last : undefined;
        }
        const safe = reader.buffer.length - delimiter.length + 1;
        if (safe > 0) {
          const out = reader.buffer.subarray(0, safe);
          reader.buffer = reader.buffer.subarray(safe);
          return out;
        }
        if (!(await reader.more())) throw malformed('unexpected end inside a part');
      }
      return undefined;
    };
    async function* body(): AsyncGenerator<Uint8Array> {
      for (let slice = await nextSlice(); slice !== undefined; slice = await nextSlice()) yield slice;
    }
    yield { name, ...(filename !== undefined && { filename }), headers, body: body() };
    // Skip whatever the consumer left unread.
    while ((await nextSlice()) !== undefined);
  }
}

async function readHeaders(reader: Reader, maxBytes: number): Promise<Record<string, string>> {
  let end: number;
  // A part with no headers at all starts directly with the blank line.
  if (!(await reader.need(2))) throw malformed('unexpected end in part headers');
  if (reader.buffer[0] === 0x0d && reader.buffer[1] === 0x0a) {
    reader.buffer = reader.buffer.subarray(2);
    return {};
  }
  while ((end = reader.buffer.indexOf(HEADER_END)) < 0) {
    if (reader.buffer.length > maxBytes) throw new TinyCloudError('BAD_REQUEST', 'Multipart part headers too large');
    if (!(await reader.more())) throw malformed('unexpected end in part headers');
  }
  if (end > maxBytes) throw new TinyCloudError('BAD_REQUEST', 'Multipart part headers too large');
  const block = reader.buffer.subarray(0, end).toString('utf8');
  reader.buffer = reader.buffer.subarray(end + HEADER_END.length);
  const headers: Record<string, string> = {};
  for (const line of block.split('\r\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0 || /^[ \t]/.test(line)) throw malformed('bad part header line');
    const name = line.slice(0, colon).trim().toLowerCase();
    if (!/^[!#$%&'*+.^_`|~0-9a-z-]+$/.test(name)) throw malformed('bad part header name');
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  return headers;
}
