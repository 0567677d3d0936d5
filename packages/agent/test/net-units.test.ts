// Pure helpers of the network hooks, table-driven.
import { describe, expect, it } from 'vitest';
import { bindingQueries, parseServer, resolverMethods } from '../src/hooks/dns.js';
import { resolvableAllowedNames } from '../src/network/address-learning.js';

describe('resolvableAllowedNames', () => {
  it.each([
    [['api.stripe.com'], ['api.stripe.com']],
    [['.stripe.com'], ['stripe.com']],
    [['stripe', '*.example.com', 'lambda.*'], []],
    [['localhost'], ['localhost']],
    [['127.0.0.1', '::1', '10.0.0.0/8'], []],
    [['a.b', 'a.b', '.a.b'], ['a.b']],
  ])('%j → %j', (entries, expected) => {
    expect(resolvableAllowedNames(entries)).toEqual(expected);
  });
});

describe('parseServer (dns.setServers entries)', () => {
  it.each([
    ['1.2.3.4', { ip: '1.2.3.4', port: 53 }],
    ['1.2.3.4:5353', { ip: '1.2.3.4', port: 5353 }],
    ['[::1]:53', { ip: '::1', port: 53 }],
    ['[::1]', { ip: '::1', port: 53 }],
    ['not a server', undefined],
  ])('%s', (server, expected) => {
    expect(parseServer(server)).toEqual(expected);
  });
});

describe('DNS query methods a newer Node adds are hooked too', () => {
  it('takes every resolve*/query* method of the prototypes, with its record type', () => {
    class FutureResolver {
      resolveTlsa() {}
      resolveTxt() {}
      getServers() {}
    }
    class FutureChannel {
      queryTlsa() {}
      setServers() {}
    }
    expect(resolverMethods(FutureResolver.prototype)).toMatchObject({
      resolveTlsa: 'TLSA',
      resolveTxt: 'TXT',
    });
    expect(resolverMethods(FutureResolver.prototype)).not.toHaveProperty('getServers');
    expect(bindingQueries(FutureChannel.prototype)).toMatchObject({ queryTlsa: 'TLSA', queryTxt: 'TXT' });
    expect(bindingQueries(FutureChannel.prototype)).not.toHaveProperty('setServers');
  });
});
