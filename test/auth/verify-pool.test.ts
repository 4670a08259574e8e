import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { generateEd25519Key, signEd25519 } from '../../src/core/auth/ed25519.js';
import { Ed25519VerifyPool } from '../../src/core/auth/verify-pool.js';

const alice = generateEd25519Key();
const bob = generateEd25519Key();

function signed(size = 600) {
  const message = randomBytes(size);
  return { message, signature: signEd25519(alice.secretKey, message) };
}

describe('Ed25519 verify pool', () => {
  const pools: Ed25519VerifyPool[] = [];
  const pool = (threads: number) => {
    const p = new Ed25519VerifyPool(threads);
    pools.push(p);
    return p;
  };
  afterEach(async () => {
    await Promise.all(pools.splice(0).map((p) => p.close()));
  });

  it('accepts a valid signature and refuses a tampered message, a tampered signature and the wrong key', async () => {
    const p = pool(1);
    const { message, signature } = signed();
    const tamperedMessage = Buffer.from(message);
    tamperedMessage[0]! ^= 1;
    const tamperedSignature = Buffer.from(signature);
    tamperedSignature[63]! ^= 0x10;
    expect(await p.verify(alice.publicKey, message, signature)).toBe(true);
    expect(await p.verify(alice.publicKey, tamperedMessage, signature)).toBe(false);
    expect(await p.verify(alice.publicKey, message, tamperedSignature)).toBe(false);
    expect(await p.verify(bob.publicKey, message, signature)).toBe(false);
  });

  it('refuses keys and signatures of the wrong length, and a key that is no curve point, without throwing', async () => {
    const p = pool(1);
    const { message, signature } = signed();
    expect(await p.verify(alice.publicKey.subarray(1), message, signature)).toBe(false);
    expect(await p.verify(alice.publicKey, message, signature.subarray(1))).toBe(false);
    expect(await p.verify(new Uint8Array(32).fill(0xff), message, signature)).toBe(false);
  });

  it('answers every job of a burst larger than one batch, across threads, each with its own verdict', async () => {
    const p = pool(2);
    const jobs = Array.from({ length: 300 }, (_, i) => {
      const { message, signature } = signed(i % 7 === 0 ? 0 : 100 + i);
      return { message, signature, valid: i % 3 !== 0 };
    });
    const verdicts = await Promise.all(
      jobs.map(({ message, signature, valid }) => p.verify(valid ? alice.publicKey : bob.publicKey, message, signature)),
    );
    expect(verdicts).toEqual(jobs.map((j) => j.valid));
  });

  it('verifies on the caller thread once closed, including jobs queued before close', async () => {
    const p = pool(1);
    const { message, signature } = signed();
    const queued = p.verify(alice.publicKey, message, signature);
    await p.close();
    expect(await queued).toBe(true);
    expect(await p.verify(alice.publicKey, message, signature)).toBe(true);
    expect(await p.verify(bob.publicKey, message, signature)).toBe(false);
  });
});
