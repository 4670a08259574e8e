/** The KV abilities (WIRE §3, plus the `versions` extension); the client and the service share this one list. */
export const KV_ABILITIES = {
  get: 'tinycloud.kv/get',
  metadata: 'tinycloud.kv/metadata',
  put: 'tinycloud.kv/put',
  del: 'tinycloud.kv/del',
  list: 'tinycloud.kv/list',
  versions: 'tinycloud.kv/versions',
} as const;
