import { Flags } from '@oclif/core';
import { ClientError, clientConfigDir, NodeClient, ownerKeySource, SessionStore, usageError, type ClientErrorKind, type OwnerKeySource } from '../../core/client/index.js';
import { TinyCloudCommand } from './base.js';
import { EXIT } from './exit-codes.js';
import { promptHidden } from './prompt.js';

const EXIT_OF_KIND: Readonly<Record<ClientErrorKind, number>> = {
  usage: EXIT.USAGE,
  auth: EXIT.AUTH,
  'not-found': EXIT.NOT_FOUND,
  server: EXIT.SERVER,
  failure: EXIT.FAILURE,
};

/** Flags of every command that talks to a node as someone. */
export const nodeFlag = Flags.string({ summary: 'Node URL, e.g. http://127.0.0.1:8000.', env: 'TINYCLOUD_NODE', helpValue: 'URL' });

export const ownerFlags = {
  'owner-key': Flags.string({
    summary: 'Owner key: a file with a hex private key or an encrypted JSON keystore (default: $TINYCLOUD_ETH_KEY).',
    helpValue: 'FILE',
  }),
  'chain-id': Flags.integer({ summary: 'EIP-155 chain id of the owner account.', default: 1, min: 1 }),
};

/**
 * Commands built on `core/client`: a `ClientError` becomes one line plus a hint, and the exit code of its kind
 * (2 usage, 3 auth, 4 not found, 5 server or network). Under --json the error is `{error: {code, message, hint?,
 * missing?, status?}}` on stdout.
 */
export abstract class ClientCommand extends TinyCloudCommand {
  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (!(error instanceof ClientError)) return super.catch(error);
    const exit = EXIT_OF_KIND[error.kind];
    if (this.jsonEnabled()) {
      this.logJson({
        error: {
          code: error.code,
          message: error.message,
          ...(error.hint && { hint: error.hint }),
          ...(error.missing && { missing: error.missing }),
          ...(error.status !== undefined && { status: error.status }),
        },
      });
      this.exit(exit);
    }
    this.error(error.message, { exit, code: error.code, ...(error.hint && { suggestions: [error.hint] }) });
  }

  /** Human-readable notes go to stderr, so stdout carries only the result (a token, a value, keys). */
  protected note(message: string): void {
    if (!this.jsonEnabled()) this.logToStderr(message);
  }

  protected node(url: string | undefined): NodeClient {
    if (!url) throw usageError('Missing --node URL', 'Pass --node http://host:port, or set TINYCLOUD_NODE.');
    return new NodeClient(url);
  }

  protected sessions(): SessionStore {
    return new SessionStore(clientConfigDir(process.env));
  }

  /** The owner key from --owner-key or TINYCLOUD_ETH_KEY; a keystore passphrase is asked only when needed. */
  protected async owner(file: string | undefined, stdinIsData = false): Promise<OwnerKeySource> {
    return ownerKeySource({
      file,
      envKey: process.env.TINYCLOUD_ETH_KEY,
      passphrase: async () => {
        const fromEnv = process.env.TINYCLOUD_KEYSTORE_PASSWORD;
        if (fromEnv !== undefined) return fromEnv;
        if (!process.stdin.isTTY || stdinIsData) {
          throw usageError(`${file} is encrypted and there is no terminal to ask for its passphrase`, 'Set TINYCLOUD_KEYSTORE_PASSWORD.');
        }
        return promptHidden(`Passphrase for ${file}: `);
      },
    });
  }
}
