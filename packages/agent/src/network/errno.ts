import { constants } from 'node:os';

/**
 * What a binding-level hook returns for a denied raw call: libuv's negative errno for "permission
 * denied", which Node's own callers turn into an ordinary EACCES error. (Calls through Node's public
 * APIs are failed earlier, by the public hooks, with ERR_ACCESS_DENIED.)
 */
export const UV_EACCES = -(constants.errno.EACCES ?? 13);
