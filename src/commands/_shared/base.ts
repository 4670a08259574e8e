import { Command } from '@oclif/core';
import { ConfigError } from '../../core/config/load.js';
import { isTinyCloudError } from '../../core/errors.js';
import { EXIT, exitCodeForStatus } from './exit-codes.js';

/**
 * Every command speaks JSON (`--json` prints the value `run()` returns) and turns engine errors into one
 * clear line and a meaningful exit code.
 */
export abstract class TinyCloudCommand extends Command {
  static override enableJsonFlag = true;

  /** Human output only: silent under --json so stdout stays parseable. */
  protected say(message: string): void {
    if (!this.jsonEnabled()) this.log(message);
  }

  protected override async catch(error: Error & { exitCode?: number; oclif?: { exit?: number } }): Promise<unknown> {
    if (error instanceof ConfigError) {
      return this.fail(error.problems.join('\n'), EXIT.FAILURE, 'CONFIG_INVALID');
    }
    if (isTinyCloudError(error)) {
      const code = error.code === 'CONFLICT' ? EXIT.FAILURE : exitCodeForStatus(error.status);
      return this.fail(error.message, code, error.code);
    }
    return super.catch(error);
  }

  protected fail(message: string, exit: number, code = 'ERROR'): never {
    if (this.jsonEnabled()) {
      this.logJson({ error: { code, message } });
      this.exit(exit);
    }
    this.error(message, { exit, code });
  }
}
