import type { AgentEvent, CreateEventInput, EventValidationResult, Operation } from './types.js';

/** The event `target` of an operation (contract §2). */
export function describeTarget(_op: Operation): string {
  throw new Error('not implemented yet');
}

/** Builds an event for a non-grant decision. */
export function createEvent(_input: CreateEventInput): AgentEvent {
  throw new Error('not implemented yet');
}

/** Validates an event received over the wire (server ingest). */
export function validateEvent(_input: unknown): EventValidationResult {
  throw new Error('not implemented yet');
}
