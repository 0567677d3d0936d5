import type { PolicyGroup as NormalisedPolicyGroup } from '@appdefender/policy';
import type { PolicyGroup } from '../api/types.js';

type ListField = 'allowedDomains' | 'allowedPaths' | 'allowedCommands';

/** The editor's state: the group's fields, with lists edited as text, one entry a line. */
export type PolicyForm = Omit<NormalisedPolicyGroup, ListField> & Record<ListField, string>;

export const EMPTY_FORM: PolicyForm = {
  name: '',
  description: '',
  network: 'observe',
  filesystem: 'observe',
  process: 'observe',
  terminateOnDeny: false,
  allowCloudProviderTraffic: false,
  allowedDomains: '',
  allowedPaths: '',
  allowedCommands: '',
};

function listOf(value: string[] | string | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : value.split(',').map((entry) => entry.trim());
}

export function formFromGroup(group: PolicyGroup): PolicyForm {
  return {
    name: group.name,
    description: group.description ?? '',
    network: group.network ?? 'observe',
    filesystem: group.filesystem ?? 'observe',
    process: group.process ?? 'observe',
    terminateOnDeny: group.terminateOnDeny ?? false,
    allowCloudProviderTraffic: group.allowCloudProviderTraffic ?? false,
    allowedDomains: listOf(group.allowedDomains).join('\n'),
    allowedPaths: listOf(group.allowedPaths).join('\n'),
    allowedCommands: listOf(group.allowedCommands).join('\n'),
  };
}

/** Domains may be written one a line or comma-separated (the contract accepts both). */
export function splitDomains(text: string): string[] {
  return text
    .split(/[\n,]/)
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

/** Paths and commands are one a line: a comma is a legal character in both. */
export function splitLines(text: string): string[] {
  return text
    .split('\n')
    .map((entry) => entry.trim())
    .filter((entry) => entry.length > 0);
}

export function groupFromForm(form: PolicyForm): PolicyGroup {
  return {
    name: form.name.trim(),
    description: form.description,
    network: form.network,
    filesystem: form.filesystem,
    process: form.process,
    terminateOnDeny: form.terminateOnDeny,
    allowCloudProviderTraffic: form.allowCloudProviderTraffic,
    allowedDomains: splitDomains(form.allowedDomains),
    allowedPaths: splitLines(form.allowedPaths),
    allowedCommands: splitLines(form.allowedCommands),
  };
}

export interface FieldIssue {
  message: string;
  /** The list entry the issue is about (`allowedDomains[2]` → 2), when it is about one. */
  index: number | null;
  suggestion?: string | undefined;
}

/**
 * Groups issues by top-level field: `allowedDomains[2]` and `allowedDomains` both land under
 * `allowedDomains`, so each message can be shown next to the control it is about.
 */
export function issuesByField(
  issues: readonly { field: string; message: string; suggestion?: string | undefined }[],
): Map<string, FieldIssue[]> {
  const byField = new Map<string, FieldIssue[]>();
  for (const issue of issues) {
    const match = /^([A-Za-z]+)(?:\[(\d+)\])?/.exec(issue.field);
    const field = match?.[1] ?? '';
    const index = match?.[2] !== undefined ? Number(match[2]) : null;
    const list = byField.get(field) ?? [];
    list.push({ message: issue.message, index, suggestion: issue.suggestion });
    byField.set(field, list);
  }
  return byField;
}

/** How an allowedDomains entry matches, in words, from its syntax (contract §1). */
export function describeDomainEntry(entry: string): string {
  const value = entry.trim().toLowerCase();
  if (/^\d{1,3}(\.\d{1,3}){3}$/.test(value) || value.includes(':')) return 'this address only';
  if (value.startsWith('*.')) return `names ending with ${value.slice(1)}`;
  if (value.endsWith('.*')) return `names starting with ${value.slice(0, -1)}`;
  if (value.startsWith('.')) return `${value.slice(1)} and its subdomains`;
  return `names containing “${value}”`;
}
