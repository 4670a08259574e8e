/** Every check a verification reports, by stable name: a failure names exactly what failed. */
export const CHECK_NAMES = [
  'quote-format',
  'tee-type',
  'quote-signature',
  'qe-report-signature',
  'qe-report-data',
  'pck-chain',
  'root-ca-crl',
  'pck-crl',
  'tcb-info-signature',
  'qe-identity-signature',
  'certificate-validity',
  'collateral-time',
  'tcb-info-match',
  'qe-identity',
  'tdx-module',
  'tcb-level',
  'td-attributes',
] as const;

export type CheckName = (typeof CHECK_NAMES)[number];

export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

export class CheckList {
  readonly items: Check[] = [];

  add(name: string, ok: boolean, detail: string): boolean {
    this.items.push({ name, ok, detail });
    return ok;
  }

  /** Run a check whose own failure (a parse error) is a failed check, not a crash. */
  run(name: string, fn: () => { ok: boolean; detail: string }): boolean {
    try {
      const r = fn();
      return this.add(name, r.ok, r.detail);
    } catch (e) {
      return this.add(name, false, e instanceof Error ? e.message : String(e));
    }
  }

  get ok(): boolean {
    return this.items.length > 0 && this.items.every((c) => c.ok);
  }

  failed(name: string): boolean {
    return this.items.some((c) => c.name === name && !c.ok);
  }
}
