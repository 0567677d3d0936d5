/** A UUIDv7 string: time-ordered, monotonic within a millisecond. */
export function uuidv7(_now?: number): string {
  throw new Error('not implemented yet');
}
