import { describe, expect, it } from 'vitest';
import type { PolicyGroup } from '../api/types.js';
import {
  describeDomainEntry,
  formFromGroup,
  groupFromForm,
  issuesByField,
  splitDomains,
} from './policy-form.js';

describe('policy form', () => {
  it('round-trips a group through the editor state', () => {
    const group: PolicyGroup = {
      name: 'payments',
      description: 'Stripe only',
      network: 'deny',
      filesystem: 'observe',
      process: 'grant',
      terminateOnDeny: true,
      allowCloudProviderTraffic: false,
      allowedDomains: ['stripe', '*.example.com'],
      allowedPaths: ['/tmp/cache/'],
      allowedCommands: ['/usr/bin/git'],
    };
    expect(groupFromForm(formFromGroup(group))).toEqual(group);
  });

  it('accepts domains one a line or comma-separated, and a comma-separated string from the API', () => {
    expect(splitDomains('stripe, *.example.com\n\n lambda.* ,')).toEqual([
      'stripe',
      '*.example.com',
      'lambda.*',
    ]);
    expect(formFromGroup({ name: 'x', allowedDomains: 'a.com, b.com' }).allowedDomains).toBe('a.com\nb.com');
  });

  it('defaults missing modes to observe', () => {
    expect(formFromGroup({ name: 'x' })).toMatchObject({
      network: 'observe',
      filesystem: 'observe',
      process: 'observe',
    });
  });

  it('groups issues by top-level field with the entry index', () => {
    const grouped = issuesByField([
      { field: 'allowedDomains[2]', message: 'is not a host name' },
      { field: 'allowedDomains', message: 'too many entries' },
      { field: 'network', message: 'must be one of grant, observe, deny' },
      { field: 'body.name', message: 'is required' },
    ]);
    expect(grouped.get('allowedDomains')).toEqual([
      { message: 'is not a host name', index: 2, suggestion: undefined },
      { message: 'too many entries', index: null, suggestion: undefined },
    ]);
    expect(grouped.get('network')?.[0]?.message).toBe('must be one of grant, observe, deny');
    expect(grouped.get('body')?.[0]?.message).toBe('is required');
  });

  it.each([
    ['stripe', 'names containing “stripe”'],
    ['*.stripe.com', 'names ending with .stripe.com'],
    ['lambda.*', 'names starting with lambda.'],
    ['.stripe.com', 'stripe.com and its subdomains'],
    ['203.0.113.7', 'this address only'],
  ])('describes %s as %s', (entry, expected) => {
    expect(describeDomainEntry(entry)).toBe(expected);
  });
});
