import { CarBlockIterator } from '@ipld/car/iterator';
import * as dagCbor from '@ipld/dag-cbor';
import { carHeader, decodeManifest, encodeManifest, sectionHead, type Manifest } from '../../src/core/car/format.js';
import { blake3 } from '../../src/core/ids/blake3.js';
import { CID, DAG_CBOR_CODEC, RAW_CODEC, cidOfDigest } from '../../src/core/ids/cid.js';

export interface Block {
  cid: CID;
  bytes: Uint8Array;
}

/** A space export taken apart: its manifest and the blocks after it, in file order (small test files only). */
export async function readCar(bytes: Uint8Array): Promise<{ manifest: Manifest; blocks: Block[] }> {
  const iterator = await CarBlockIterator.fromIterable((async function* () {
    yield bytes;
  })());
  const [root] = await iterator.getRoots();
  const blocks: Block[] = [];
  for await (const block of iterator) blocks.push({ cid: block.cid as unknown as CID, bytes: block.bytes });
  const [first, ...rest] = blocks;
  return { manifest: decodeManifest(first!.bytes, root as unknown as CID), blocks: rest };
}

/** Put a (forged) export back together, with a manifest recomputed for it. */
export async function writeCar(manifest: Manifest, blocks: Block[]): Promise<Buffer> {
  const root = await encodeManifest(manifest);
  const parts: Uint8Array[] = [await carHeader(root.cid), sectionHead(root.cid, root.bytes.length), root.bytes];
  for (const block of blocks) parts.push(sectionHead(block.cid, block.bytes.length), block.bytes);
  return Buffer.concat(parts);
}

export const rawBlock = async (bytes: Uint8Array): Promise<Block> => ({ cid: cidOfDigest(await blake3(bytes), RAW_CODEC), bytes });
export const cborBlock = async (bytes: Uint8Array): Promise<Block> => ({ cid: cidOfDigest(await blake3(bytes), DAG_CBOR_CODEC), bytes });

/** Decode a DAG-CBOR block (epoch, note). */
export const decoded = <T>(block: Block): T => dagCbor.decode(block.bytes) as T;
