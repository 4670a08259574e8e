/**
 * The exact source text of a top-level member of a JSON object. Intel signs the bytes of `tcbInfo` and
 * `enclaveIdentity` as they appear in the PCS response, so they must be cut out, never re-serialised.
 */
export function rawJsonMember(text: string, key: string): string {
  JSON.parse(text); // reject malformed input before scanning it
  let i = skipWs(text, 0);
  if (text[i] !== '{') throw new Error('not a JSON object');
  i = skipWs(text, i + 1);
  while (i < text.length && text[i] !== '}') {
    const keyEnd = endOfValue(text, i);
    const name = JSON.parse(text.slice(i, keyEnd)) as string;
    i = skipWs(text, keyEnd);
    if (text[i] !== ':') throw new Error('malformed JSON object');
    const start = skipWs(text, i + 1);
    const end = endOfValue(text, start);
    if (name === key) return text.slice(start, end);
    i = skipWs(text, end);
    if (text[i] === ',') i = skipWs(text, i + 1);
  }
  throw new Error(`JSON has no "${key}" member`);
}

function skipWs(text: string, i: number): number {
  while (i < text.length && ' \t\r\n'.includes(text[i])) i++;
  return i;
}

/** Index just past the JSON value starting at `i` (input already known to be valid JSON). */
function endOfValue(text: string, i: number): number {
  if (text[i] === '"') {
    for (let j = i + 1; j < text.length; j++) {
      if (text[j] === '\\') j++;
      else if (text[j] === '"') return j + 1;
    }
    throw new Error('unterminated string');
  }
  if (text[i] === '{' || text[i] === '[') {
    let depth = 0;
    for (let j = i; j < text.length; j++) {
      const ch = text[j];
      if (ch === '"') j = endOfValue(text, j) - 1;
      else if (ch === '{' || ch === '[') depth++;
      else if (ch === '}' || ch === ']') {
        depth--;
        if (depth === 0) return j + 1;
      }
    }
    throw new Error('unterminated container');
  }
  let j = i;
  while (j < text.length && !',}] \t\r\n'.includes(text[j])) j++;
  return j;
}
