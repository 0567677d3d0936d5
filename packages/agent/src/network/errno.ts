/**
 * What a binding-level hook returns for a denied raw call: libuv's negative errno for "permission
 * denied" (EACCES is 13 on Linux, where Lambda runs, and on macOS), which Node's own callers turn
 * into an ordinary EACCES error. (Calls through Node's public APIs are failed earlier, by the public
 * hooks, with ERR_ACCESS_DENIED.) A constant, so the agent does not load node:os at start.
 */
export const UV_EACCES = -13;
