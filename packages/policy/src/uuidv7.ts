/**
 * UUIDv7 (RFC 9562 §5.7): 48-bit Unix ms timestamp, then randomness. Ids sort by creation time, which
 * lets the control plane page events by id and dedupe them. Within one millisecond the 12-bit `rand_a`
 * field is a counter (RFC 9562 §6.2, method 1), so ids made by one process are strictly increasing; if
 * the counter overflows, or the clock steps back, we borrow the next millisecond instead of going backwards.
 */

const RANDOM_POOL_BYTES = 256;
let pool: Uint8Array | undefined;
let poolOffset = RANDOM_POOL_BYTES;
let lastMs = -1;
let counter = 0;
let hex: string[] | undefined;

function randomBytes(count: number): Uint8Array {
  if (pool === undefined) pool = new Uint8Array(RANDOM_POOL_BYTES);
  if (poolOffset + count > RANDOM_POOL_BYTES) {
    globalThis.crypto.getRandomValues(pool);
    poolOffset = 0;
  }
  const slice = pool.subarray(poolOffset, poolOffset + count);
  poolOffset += count;
  return slice;
}

/**
 * A new UUIDv7 string, time-ordered and monotonic within this process.
 * @example uuidv7() // '0192f3a4-5b6c-7d8e-9f01-23456789abcd'
 */
export function uuidv7(now: number = Date.now()): string {
  if (!Number.isFinite(now) || now < 0)
    throw new RangeError(`uuidv7: now must be a non-negative time in ms, got ${now}`);
  let ms = Math.floor(now);
  if (ms > lastMs) {
    lastMs = ms;
    // Start low in the 12-bit space (top bit clear) so a burst within one ms rarely overflows.
    counter = randomBytes(1)[0]! << 3;
  } else {
    ms = lastMs;
    counter++;
    if (counter > 0xfff) {
      lastMs++;
      ms = lastMs;
      counter = 0;
    }
  }
  const bytes = new Uint8Array(16);
  bytes.set(randomBytes(8), 8);
  // 48-bit big-endian timestamp; split because bitwise ops are 32-bit.
  const high = Math.floor(ms / 0x1_0000_0000);
  const low = ms >>> 0;
  bytes[0] = (high >>> 8) & 0xff;
  bytes[1] = high & 0xff;
  bytes[2] = low >>> 24;
  bytes[3] = (low >>> 16) & 0xff;
  bytes[4] = (low >>> 8) & 0xff;
  bytes[5] = low & 0xff;
  bytes[6] = 0x70 | (counter >>> 8);
  bytes[7] = counter & 0xff;
  bytes[8] = 0x80 | (bytes[8]! & 0x3f);
  hex ??= Array.from({ length: 256 }, (_, index) => index.toString(16).padStart(2, '0'));
  let out = '';
  for (let index = 0; index < 16; index++) {
    if (index === 4 || index === 6 || index === 8 || index === 10) out += '-';
    out += hex[bytes[index]!];
  }
  return out;
}
