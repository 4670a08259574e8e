import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import path from 'node:path';
import { getAddress, Wallet } from 'ethers';
import { didKeyFromEd25519, didKeyVerificationMethod } from '../auth/did.js';
import { ed25519KeyFromSeed, generateEd25519Key, type Ed25519KeyPair } from '../auth/ed25519.js';
import { ClientError, usageError } from './errors.js';

/** An Ed25519 did:key that signs UCANs (a session key, or a delegate's own key). */
export interface DidKeySigner {
  readonly did: string;
  /** `did:key:X#X`: the UCAN `iss`. */
  readonly verificationMethod: string;
  readonly keyPair: Ed25519KeyPair;
}

export function didKeySigner(keyPair: Ed25519KeyPair): DidKeySigner {
  const did = didKeyFromEd25519(keyPair.publicKey);
  return { did, verificationMethod: didKeyVerificationMethod(did), keyPair };
}

export const newDidKey = (): DidKeySigner => didKeySigner(generateEd25519Key());

/**
 * The key file `tinycloud delegate keygen` writes: an Ed25519 JWK (RFC 8037: `kty`, `crv`, `x`, `d` in
 * unpadded base64url) with the did:key beside it, so the file says whose it is.
 */
export interface DidKeyFile {
  readonly did: string;
  readonly kty: 'OKP';
  readonly crv: 'Ed25519';
  readonly x: string;
  readonly d: string;
}

export function didKeyFileOf(signer: DidKeySigner): DidKeyFile {
  return {
    did: signer.did,
    kty: 'OKP',
    crv: 'Ed25519',
    x: Buffer.from(signer.keyPair.publicKey).toString('base64url'),
    d: Buffer.from(signer.keyPair.secretKey).toString('base64url'),
  };
}

/** Write `text` to `file` with mode 0600 (parents 0700), atomically; refuses to replace a file unless `overwrite`. */
export async function writePrivateFile(file: string, text: string, overwrite = false): Promise<void> {
  await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
  if (!overwrite) {
    const handle = await open(file, 'wx', 0o600).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'EEXIST') throw usageError(`${file} already exists`, 'Choose another file, or delete it first.');
      throw usageError(`Cannot create ${file}: ${error.message}`);
    });
    try {
      await handle.writeFile(text);
    } finally {
      await handle.close();
    }
    return;
  }
  const temp = `${file}.${process.pid}.${Date.now()}.tmp`;
  const handle = await open(temp, 'w', 0o600);
  try {
    await handle.writeFile(text);
  } finally {
    await handle.close();
  }
  await chmod(temp, 0o600);
  await rename(temp, file);
}

export async function writeDidKeyFile(file: string, signer: DidKeySigner, overwrite = false): Promise<void> {
  await writePrivateFile(file, `${JSON.stringify(didKeyFileOf(signer), null, 2)}\n`, overwrite);
}

/** Read a key file written by `delegate keygen` (an Ed25519 JWK; the `did` member, when present, must match). */
export async function readDidKeyFile(file: string): Promise<DidKeySigner> {
  const text = await readFile(file, 'utf8').catch((error: Error) => {
    throw usageError(`Cannot read key file ${file}: ${error.message}`);
  });
  return parseDidKeyFile(text, file);
}

export function parseDidKeyFile(text: string, file = 'key file'): DidKeySigner {
  let json: Partial<DidKeyFile>;
  try {
    json = JSON.parse(text) as Partial<DidKeyFile>;
  } catch {
    throw usageError(`${file} is not a key file (expected the JSON that tinycloud delegate keygen writes)`);
  }
  if (json.kty !== 'OKP' || json.crv !== 'Ed25519' || typeof json.d !== 'string') {
    throw usageError(`${file} is not an Ed25519 JWK (kty OKP, crv Ed25519, d)`);
  }
  const seed = Buffer.from(json.d, 'base64url');
  if (seed.length !== 32) throw usageError(`${file}: d must be a 32-byte Ed25519 seed`);
  const signer = didKeySigner(ed25519KeyFromSeed(seed));
  if (json.did !== undefined && json.did !== signer.did) throw usageError(`${file}: its did does not match its key`);
  if (json.x !== undefined && json.x !== Buffer.from(signer.keyPair.publicKey).toString('base64url')) {
    throw usageError(`${file}: x does not match d`);
  }
  return signer;
}

/** An Ethereum account that signs EIP-191 messages: the space owner. */
export interface OwnerSigner {
  /** EIP-55. */
  readonly address: string;
  /** 65 bytes `r‖s‖v`. */
  signMessage(message: string): Promise<Uint8Array>;
}

/**
 * Where the owner's key comes from. The address is known without unlocking (a keystore names its address), so a
 * cached session is found without a passphrase; `unlock` decrypts only when a signature is needed.
 */
export interface OwnerKeySource {
  readonly address: string;
  /** `env`, a hex key `file`, or an encrypted `keystore`. */
  readonly origin: 'env' | 'file' | 'keystore';
  unlock(): Promise<OwnerSigner>;
}

function walletSigner(wallet: Wallet): OwnerSigner {
  return {
    address: wallet.address,
    signMessage: async (message) => Buffer.from((await wallet.signMessage(message)).slice(2), 'hex'),
  };
}

function walletFromHex(text: string, where: string): Wallet {
  const hex = text.trim().replace(/^0x/i, '');
  if (!/^[0-9a-fA-F]{64}$/.test(hex)) {
    throw usageError(`${where} is not a 32-byte hex private key`, 'Use 64 hex digits (0x optional), or an encrypted JSON keystore file.');
  }
  try {
    return new Wallet(`0x${hex}`);
  } catch (error) {
    throw usageError(`${where} is not a valid secp256k1 private key: ${(error as Error).message}`);
  }
}

export interface OwnerKeyOptions {
  /** `--owner-key FILE`: a hex private key, or an ethers/Web3 Secret Storage JSON keystore. Wins over `envKey`. */
  readonly file?: string;
  /** `TINYCLOUD_ETH_KEY`: a hex private key. */
  readonly envKey?: string;
  /** Asked only when a keystore has to be decrypted. */
  readonly passphrase: () => Promise<string>;
}

/** Resolve the owner's Ethereum key from a file or the environment, or explain how to provide one. */
export async function ownerKeySource(options: OwnerKeyOptions): Promise<OwnerKeySource> {
  if (options.file) {
    const file = options.file;
    const text = await readFile(file, 'utf8').catch((error: Error) => {
      throw usageError(`Cannot read owner key ${file}: ${error.message}`);
    });
    if (!text.trimStart().startsWith('{')) {
      const wallet = walletFromHex(text, file);
      return { address: wallet.address, origin: 'file', unlock: async () => walletSigner(wallet) };
    }
    let address: string;
    try {
      const json = JSON.parse(text) as { address?: unknown };
      if (typeof json.address !== 'string') throw new Error('no address');
      address = getAddress(json.address.startsWith('0x') ? json.address : `0x${json.address}`);
    } catch {
      throw usageError(`${file} is neither a hex private key nor an encrypted JSON keystore with an address`);
    }
    return {
      address,
      origin: 'keystore',
      unlock: async () => {
        const password = await options.passphrase();
        const wallet = await Wallet.fromEncryptedJson(text, password).catch((error: Error) => {
          throw new ClientError('auth', 'KEYSTORE_LOCKED', `Cannot decrypt ${file}: ${/password/i.test(error.message) ? 'wrong passphrase' : error.message}`);
        });
        if (wallet.address !== address) throw usageError(`${file} decrypts to ${wallet.address}, not its stated address ${address}`);
        return walletSigner(new Wallet(wallet.privateKey));
      },
    };
  }
  if (options.envKey) {
    const wallet = walletFromHex(options.envKey, 'TINYCLOUD_ETH_KEY');
    return { address: wallet.address, origin: 'env', unlock: async () => walletSigner(wallet) };
  }
  throw usageError(
    'No owner key: this needs the space owner\'s Ethereum key',
    'Set TINYCLOUD_ETH_KEY to a hex private key, or pass --owner-key FILE (hex key or encrypted JSON keystore).',
  );
}
