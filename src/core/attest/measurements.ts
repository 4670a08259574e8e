import { toHex } from './bytes.js';
import type { Quote } from './quote.js';

export interface TdMeasurements {
  mrTd: string;
  rtmr0: string;
  rtmr1: string;
  rtmr2: string;
  rtmr3: string;
  reportData: string;
  mrConfigId: string;
  mrOwner: string;
  mrOwnerConfig: string;
  tdAttributes: string;
  xfam: string;
  teeTcbSvn: string;
  mrSeam: string;
  mrSignerSeam: string;
  seamAttributes: string;
  teeTcbSvn2?: string;
  mrServiceTd?: string;
}

export interface SgxMeasurements {
  mrEnclave: string;
  mrSigner: string;
  reportData: string;
  isvProdId: number;
  isvSvn: number;
  attributes: string;
}

export type Measurements = TdMeasurements | SgxMeasurements;

export function measurementsOf(quote: Quote): Measurements {
  if (quote.body.kind === 'sgx') {
    const e = quote.body.enclave;
    return {
      mrEnclave: toHex(e.mrEnclave),
      mrSigner: toHex(e.mrSigner),
      reportData: toHex(e.reportData),
      isvProdId: e.isvProdId,
      isvSvn: e.isvSvn,
      attributes: toHex(e.attributes),
    };
  }
  const td = quote.body.td;
  const m: TdMeasurements = {
    mrTd: toHex(td.mrTd),
    rtmr0: toHex(td.rtmr[0]),
    rtmr1: toHex(td.rtmr[1]),
    rtmr2: toHex(td.rtmr[2]),
    rtmr3: toHex(td.rtmr[3]),
    reportData: toHex(td.reportData),
    mrConfigId: toHex(td.mrConfigId),
    mrOwner: toHex(td.mrOwner),
    mrOwnerConfig: toHex(td.mrOwnerConfig),
    tdAttributes: toHex(td.tdAttributes),
    xfam: toHex(td.xfam),
    teeTcbSvn: toHex(td.teeTcbSvn),
    mrSeam: toHex(td.mrSeam),
    mrSignerSeam: toHex(td.mrSignerSeam),
    seamAttributes: toHex(td.seamAttributes),
  };
  if (td.teeTcbSvn2) m.teeTcbSvn2 = toHex(td.teeTcbSvn2);
  if (td.mrServiceTd) m.mrServiceTd = toHex(td.mrServiceTd);
  return m;
}
