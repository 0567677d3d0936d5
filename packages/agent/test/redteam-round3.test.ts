// Red team, round 3 (network): a hostile dependency that knows the agent is there tries to make the
// agent judge (or report) one destination while Node dials another, and to reach 127.0.0.2 (a
// loopback address no allowed name resolves to) or send it a datagram or a DNS query by every
// road Node offers. The observers live in the test process: a TCP server and a UDP socket on
// 127.0.0.2 that count what really arrived. Attacks that held are kept as regression tests; the
// ones that got through say so (see the commit messages).
import dgram from 'node:dgram';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AgentEvent,
  appResults,
  cleanup,
  ensureAgentBuilt,
  fixturePath,
  policy,
  runFixture,
} from './harness.js';
import { attackSource, DENY_ALL, FORBIDDEN_HOST, forbiddenServer, type Observer } from './redteam-support.js';

const OBSERVE = policy({
  name: 'redteam3-observe',
  network: 'observe',
  filesystem: 'deny',
  process: 'deny',
  allowedDomains: ['localhost'],
});

let server: Observer;
let udp: dgram.Socket;
let datagrams = 0;
beforeAll(async () => {
  await ensureAgentBuilt();
  server = await forbiddenServer();
  udp = dgram.createSocket('udp4');
  udp.on('message', () => datagrams++);
  await new Promise<void>((resolve) => udp.bind(0, FORBIDDEN_HOST, resolve));
}, 120_000);
afterAll(async () => {
  await server.close();
  udp.close();
});

const HELPERS = `
const dgram = require('node:dgram');
const dns = require('node:dns');
const UDP_PORT = Number(process.env.RT_UDP_PORT);
const results = {};
// not unref'd: a request that never completes must show as pending, not let the process run out of
// work and exit without a report (which is how a hung deny once went unexplained)
const settled = (promise) => Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve({ pending: true }), 2500))]);
const viaCallback = (fn) => settled(new Promise((resolve) => {
  try { fn((error, value) => resolve(error ? { error: error.code || String(error) } : { ok: value === undefined ? true : value })); }
  catch (error) { resolve({ thrown: error.code || String(error) }); }
}));
const viaPromise = async (fn) => { try { return { ok: await fn() }; } catch (error) { return { error: error.code || (error.cause && error.cause.code) || String(error) }; } };
const connectWith = (fn) => settled(new Promise((resolve) => {
  let socket;
  try { socket = fn(); } catch (error) { resolve({ thrown: error.code || String(error) }); return; }
  socket.on('connect', () => { socket.destroy(); resolve({ connected: true }); });
  socket.on('error', (error) => resolve({ error: error.code || String(error) }));
}));
const udpSend = (type, fn) => settled(new Promise((resolve) => {
  const socket = dgram.createSocket(type);
  socket.on('error', (error) => { resolve({ error: error.code || String(error) }); socket.close(); });
  try { fn(socket, (error) => { resolve(error ? { error: error.code || String(error) } : { sent: true }); setTimeout(() => socket.close(), 20); }); }
  catch (error) { resolve({ thrown: error.code || String(error) }); }
}));
const run = async (attacks) => { for (const name of Object.keys(attacks)) results[name] = await attacks[name](); report(results); };
const failingLookup = (hostname, options, callback) => {
  if (typeof options === 'function') callback = options;
  const error = new Error('no such name'); error.code = 'ENOTFOUND'; callback(error);
};
// a raw TCP handle that borrows \`observed\` as its owner (when it still has a handle: under deny it
// was refused) and dials FORBIDDEN:PORT
const dialBorrowing = (observed) => settled(new Promise((resolve) => {
  const { TCP, TCPConnectWrap, constants } = process.binding('tcp_wrap');
  const handle = new TCP(constants.SOCKET);
  const ownerSymbol = observed._handle && Object.getOwnPropertySymbols(observed._handle).find((symbol) => symbol.description === 'owner_symbol');
  if (ownerSymbol) handle[ownerSymbol] = observed;
  const request = new TCPConnectWrap();
  request.oncomplete = (status) => resolve({ status, connected: status === 0 });
  const status = handle.connect(request, FORBIDDEN, PORT);
  if (status !== 0) resolve({ status });
}));
`;

interface Outcome {
  results: Record<string, Record<string, unknown>>;
  accepted: number;
  datagrams: number;
  events: AgentEvent[];
}

async function attack(body: string, group: Record<string, unknown> = DENY_ALL): Promise<Outcome> {
  const beforeTcp = server.accepted();
  const beforeUdp = datagrams;
  const run = await runFixture({
    policy: group,
    source: attackSource(`${HELPERS}\n${body}`),
    env: { RT_PORT: String(server.port), RT_UDP_PORT: String(udp.address().port) },
    timeoutMs: 60_000,
  });
  // datagrams in flight reach the observer a moment later
  await new Promise((resolve) => setTimeout(resolve, 100));
  const results = appResults(run)[0] as Record<string, Record<string, unknown>>;
  const outcome = {
    results,
    accepted: server.accepted() - beforeTcp,
    datagrams: datagrams - beforeUdp,
    events: run.events,
  };
  cleanup(run);
  return outcome;
}

/** Every attack refused with ERR_ACCESS_DENIED (or EACCES at a raw binding), nothing arrived. */
function expectAllRefused(outcome: Outcome): void {
  const detail = JSON.stringify(outcome.results);
  expect(outcome.accepted, detail).toBe(0);
  expect(outcome.datagrams, detail).toBe(0);
  for (const name of Object.keys(outcome.results)) {
    const result = outcome.results[name]!;
    expect(result, `${name}: ${JSON.stringify(result)}`).not.toMatchObject({ connected: true });
    expect(result, `${name}: ${JSON.stringify(result)}`).not.toMatchObject({ sent: true });
    expect(JSON.stringify(result), name).toMatch(/ERR_ACCESS_DENIED|EACCES|-13/);
  }
}

// Options whose host/port/path answer differently on a later read, and an array that is not Node's
// normalized form (Node takes such an array as the options object itself, not its first element).
// GOT THROUGH under observe before the fix: the agent read host/port once and reported that value
// (`decoy.invalid`, port 1), Node read again and dialled 127.0.0.2:PORT, which went unreported (the
// address layer does not repeat a judgement the name layer already made under observe). Under deny
// the address layer refused the dial. Fix: the call forms are told apart as Node does (the unmarked
// array, hex port strings), and the address layer judges an observed name's connection at any
// address its lookup did not answer (see the next block), so what Node really dials is reported.
const SECOND_READ_ATTACKS = `
const secondRead = (first, then) => { let reads = 0; return () => (reads++ ? then : first); };
await run({
  hostGetter: () => connectWith(() => {
    const host = secondRead('decoy.invalid', FORBIDDEN);
    return new net.Socket().connect({ get host() { return host(); }, port: PORT, lookup: failingLookup });
  }),
  hostProxy: () => connectWith(() => {
    const host = secondRead('decoy.invalid', FORBIDDEN);
    return new net.Socket().connect(new Proxy({ port: PORT, lookup: failingLookup }, { get: (target, key) => key === 'host' ? host() : target[key] }));
  }),
  portGetter: () => connectWith(() => {
    const port = secondRead(1, PORT);
    return new net.Socket().connect({ host: FORBIDDEN, get port() { return port(); } });
  }),
  pathGetter: () => connectWith(() => {
    const path = secondRead('/tmp/redteam3-decoy.sock', undefined);
    return new net.Socket().connect({ host: FORBIDDEN, port: PORT, get path() { return path(); } });
  }),
  unmarkedArray: () => connectWith(() => {
    const args = [{ host: 'decoy.invalid', port: PORT, lookup: failingLookup }];
    args.host = FORBIDDEN;
    args.port = PORT;
    return new net.Socket().connect(args);
  }),
  hexPortString: () => connectWith(() => new net.Socket().connect('0x' + PORT.toString(16), FORBIDDEN)),
});`;

describe('red team round 3: what is judged is what Node dials', () => {
  it('under observe, every connection that reached 127.0.0.2 is reported with that address and port', async () => {
    const outcome = await attack(SECOND_READ_ATTACKS, OBSERVE);
    const reported = outcome.events.filter(
      (event) => event.operation === 'connect' && event.target === `${FORBIDDEN_HOST}:${server.port}`,
    );
    // each attack dials at most once; a connection nobody reported is a blind spot (repeats of one
    // target are aggregated into one event with a count)
    const detail = JSON.stringify({ results: outcome.results, events: outcome.events });
    expect(outcome.accepted, detail).toBeGreaterThan(0);
    expect(
      reported.reduce((sum, event) => sum + (event.count ?? 1), 0),
      detail,
    ).toBe(outcome.accepted);
  });

  it('under deny, none of them reaches 127.0.0.2', async () => {
    expectAllRefused(await attack(SECOND_READ_ATTACKS));
  });
});

// An observed name dialled at an address it does not resolve to: a custom `lookup` (TCP, and a
// dgram socket's `lookup` option), and a raw handle that borrows the observed socket as its owner.
// GOT THROUGH under observe before the fix: the event named the decoy (\`decoy.invalid\`, or the
// observed \`localhost.localdomain\`-like name) and the address layer, trusting an observed intent,
// let 127.0.0.2 through unreported. Fix: the system resolver's answers for observed names are kept
// (they grant nothing), and an observed connection or datagram to any other address is judged and
// reported at the address layer.
const OBSERVED_NAME_ELSEWHERE = `
const lookupTo = (address) => (hostname, options, callback) => {
  if (typeof options === 'function') { callback = options; options = {}; }
  return options && options.all ? callback(null, [{ address, family: 4 }]) : callback(null, address, 4);
};
await run({
  customLookup: () => connectWith(() => net.connect({ host: 'decoy.invalid', port: PORT, lookup: lookupTo(FORBIDDEN) })),
  rawHandleBorrowingTheObservedSocket: () => {
    const observed = net.connect({ host: 'decoy.invalid', port: 9, lookup: lookupTo('127.0.0.1') });
    observed.on('error', () => {});
    return dialBorrowing(observed);
  },
  udpCustomLookup: () => udpSend({ type: 'udp4', lookup: lookupTo(FORBIDDEN) }, (socket, done) => socket.send('x', UDP_PORT, 'decoy.invalid', done)),
});`;

describe('red team round 3: an observed name dialled elsewhere', () => {
  it('under observe, the address really used is reported', async () => {
    const outcome = await attack(OBSERVED_NAME_ELSEWHERE, OBSERVE);
    const detail = JSON.stringify({ results: outcome.results, events: outcome.events });
    expect(outcome.accepted + outcome.datagrams, detail).toBeGreaterThan(0);
    const tcp = outcome.events.filter((event) => event.target === `${FORBIDDEN_HOST}:${server.port}`);
    const udpEvents = outcome.events.filter(
      (event) => event.target === `${FORBIDDEN_HOST}:${udp.address().port}`,
    );
    // two TCP attacks and one UDP one, each reaching 127.0.0.2 once: each reported at that address
    expect(
      tcp.reduce((sum, event) => sum + (event.count ?? 1), 0),
      detail,
    ).toBe(outcome.accepted);
    expect(udpEvents.length, detail).toBe(outcome.datagrams > 0 ? 1 : 0);
    for (const event of [...tcp, ...udpEvents]) expect(event.details?.host).toBe('decoy.invalid');
  });

  it('under deny, none of them gets through', async () => {
    expectAllRefused(await attack(OBSERVED_NAME_ELSEWHERE));
  });
});

// A getter that Node triggers after the agent read the options (\`localAddress\`, read before
// \`host\`) and that rewrites \`host\` through \`this\`: planted on Object.prototype, or on the options'
// class. Node then dials 127.0.0.2, which the address layer reports under observe and refuses under
// deny. And a raw handle borrowing an observed socket to dial the observed address at another
// port: before, the address layer skipped it (same address as the observed name), so the event
// named the wrong port; an observed connection now covers its own port only.
describe('red team round 3: rewriting the judged options, another port on an observed address', () => {
  const REWRITES = `
const rewrite = { get() { if (this.host === 'decoy.invalid') this.host = FORBIDDEN; return undefined; }, set(value) { Object.defineProperty(this, 'localAddress', { value, writable: true, configurable: true, enumerable: true }); }, configurable: true };
await run({
  objectPrototypeGetter: async () => {
    Object.defineProperty(Object.prototype, 'localAddress', rewrite);
    try { return await connectWith(() => new net.Socket().connect({ host: 'decoy.invalid', port: PORT, lookup: failingLookup })); }
    finally { delete Object.prototype.localAddress; }
  },
  classGetter: () => {
    class Options {}
    Object.defineProperty(Options.prototype, 'localAddress', rewrite);
    const options = Object.assign(new Options(), { host: 'decoy.invalid', port: PORT, lookup: failingLookup });
    return connectWith(() => new net.Socket().connect(options));
  },
  rawHandleOtherPort: () => {
    const observed = net.connect({ host: FORBIDDEN, port: 1 });
    observed.on('error', () => {});
    return dialBorrowing(observed);
  },
});`;

  it('under observe, every connection that reached 127.0.0.2 is reported at its own port', async () => {
    const outcome = await attack(REWRITES, OBSERVE);
    const detail = JSON.stringify({ results: outcome.results, events: outcome.events });
    expect(outcome.accepted, detail).toBe(3);
    const atPort = outcome.events.filter((event) => event.target === `${FORBIDDEN_HOST}:${server.port}`);
    expect(
      atPort.reduce((sum, event) => sum + (event.count ?? 1), 0),
      detail,
    ).toBe(outcome.accepted);
  });

  it('under deny, none of them gets through', async () => {
    expectAllRefused(await attack(REWRITES));
  });
});

// A raw handle that borrows another socket's owner_symbol, then is refused: the combined fixture
// above never finished under deny because of it. HUNG before the fix: the tcp_wrap hook took the
// owner for the socket making the dial, destroyed that socket (on the next tick, or once the agent's
// own resolution of the allowed names settled) and told the raw caller the dial was under way
// (status 0), so the caller's request never completed and, with nothing else to wait for, the
// process ran out of work without a word. Same in the pipe_wrap hook. Fix: the owner is failed only
// when the handle is its own (its `_handle`, or the TCP/Pipe under a TLSSocket's TLSWrap); any other
// refused dial is answered on the caller's own request (status EACCES, or its oncomplete when the
// dial waited), and the borrowed socket is left alone.
describe('red team round 3: a refused raw handle that borrows a socket is answered on its own request', () => {
  it('under deny, while the allowed names are being resolved and after, TCP and pipe, TLS still fails its own socket', async () => {
    const outcome = await attack(`
const tls = require('node:tls');
const { tcpServer } = require(${JSON.stringify(fixturePath('net-helpers.cjs'))});
const outcomeOf = (socket) => new Promise((resolve) => {
  socket.on('connect', () => { socket.destroy(); resolve('connected'); });
  socket.on('error', (error) => resolve(error.code || String(error)));
});
const pipeBorrowing = (observed) => settled(new Promise((resolve) => {
  const { Pipe, PipeConnectWrap, constants } = process.binding('pipe_wrap');
  const handle = new Pipe(constants.SOCKET);
  const ownerSymbol = Object.getOwnPropertySymbols(observed._handle).find((symbol) => symbol.description === 'owner_symbol');
  handle[ownerSymbol] = observed;
  const request = new PipeConnectWrap();
  request.oncomplete = (status) => resolve({ status, connected: status === 0 });
  const status = handle.connect(request, '/tmp/redteam3-nothing.sock');
  if (status !== 0) resolve({ status });
}));
const local = await tcpServer('127.0.0.1');
const borrowingAnAllowedSocket = async (dial) => {
  const observed = net.connect({ host: 'localhost', port: local.port, family: 4 });
  const own = outcomeOf(observed);
  const borrowed = await dial(observed);
  return { ...borrowed, borrowedSocket: await settled(own) };
};
await run({
  // the first network operation: the agent's own resolution of the allowed names is still out, so
  // the refused dial waits for it
  tcpWhileAllowedNamesPending: () => {
    const observed = net.connect({ host: FORBIDDEN, port: 1 });
    observed.on('error', () => {});
    return dialBorrowing(observed);
  },
  tcpAfterwards: () => borrowingAnAllowedSocket(dialBorrowing),
  pipe: () => borrowingAnAllowedSocket(pipeBorrowing),
  tlsAtAnAddress: () => settled(outcomeOf(tls.connect({ host: 'localhost', port: PORT, lookup: lookupTo(FORBIDDEN) }))),
});
local.close();`);
    expect(outcome.accepted).toBe(0);
    expect(outcome.results).toEqual({
      tcpWhileAllowedNamesPending: { status: -13, connected: false },
      tcpAfterwards: { status: -13, borrowedSocket: 'connected' },
      pipe: { status: -13, borrowedSocket: 'connected' },
      tlsAtAnAddress: 'ERR_ACCESS_DENIED',
    });
  });
});

// Not a bypass, a failure that changed shape: a dgram send/connect with an address that is not a
// string (a String object) made in the first milliseconds, while the agent's own resolution of the
// allowed names is out. The agent judged dgram's default address instead, deferred the call until
// the resolution settled, and dgram's synchronous ERR_INVALID_ARG_TYPE then escaped from that later
// callback: an uncaught exception ended the process (without the agent the caller catches it).
describe('red team round 3: invalid dgram arguments keep their synchronous throw', () => {
  it('a String object address throws at the call, as without the agent', async () => {
    const outcome = await attack(`
await run({
  sendStringObject: () => udpSend('udp4', (socket, done) => socket.send('a', UDP_PORT, new String(FORBIDDEN), done)),
  connectStringObject: () => udpSend('udp4', (socket, done) => socket.connect(UDP_PORT, new String(FORBIDDEN), done)),
});`);
    expect(outcome.datagrams).toBe(0);
    expect(outcome.results).toEqual({
      sendStringObject: { thrown: 'ERR_INVALID_ARG_TYPE' },
      connectStringObject: { thrown: 'ERR_INVALID_ARG_TYPE' },
    });
  });
});

describe('red team round 3: attacks that held (regression)', () => {
  it('TCP argument shapes, happy eyeballs and lookups answering several addresses', async () => {
    const outcome = await attack(`
const lookupAll = (addresses) => (hostname, options, callback) => {
  if (typeof options === 'function') { callback = options; options = {}; }
  const list = addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  return options && options.all ? callback(null, list) : callback(null, list[0].address, list[0].family);
};
await run({
  markedArray: () => connectWith(() => new net.Socket().connect(net._normalizeArgs([{ host: FORBIDDEN, port: PORT }]))),
  twoArguments: () => connectWith(() => net.connect(PORT, FORBIDDEN)),
  spacedPort: () => connectWith(() => net.connect({ host: FORBIDDEN, port: ' ' + PORT + ' ' })),
  trailingDot: () => connectWith(() => net.connect({ host: FORBIDDEN + '.', port: PORT })),
  localAddress: () => connectWith(() => net.connect({ host: FORBIDDEN, port: PORT, localAddress: '127.0.0.1' })),
  autoSelectDeniedSecond: () => connectWith(() => net.connect({ host: 'localhost', port: PORT, autoSelectFamily: true, autoSelectFamilyAttemptTimeout: 10, lookup: lookupAll(['::1', FORBIDDEN]) })),
  autoSelectDeniedFirst: () => connectWith(() => net.connect({ host: 'localhost', port: PORT, autoSelectFamily: true, lookup: lookupAll([FORBIDDEN, '127.0.0.1']) })),
  // a C string ends at the NUL: getaddrinfo would see '127.0.0.2' while the name matches 'localhost'
  nulInName: () => connectWith(() => net.connect({ host: FORBIDDEN + '\\0.localhost', port: PORT })),
  nulInLookup: () => viaCallback((done) => dns.lookup(FORBIDDEN + '\\0localhost', done)),
  familyHint: () => connectWith(() => net.connect({ host: 'localhost', port: PORT, family: 4, hints: dns.ADDRCONFIG, lookup: lookupAll([FORBIDDEN]) })),
});`);
    expectAllRefused(outcome);
  });

  it.each([
    ['a name-only allow list', DENY_ALL],
    [
      'an exact IP entry (127.0.0.1)',
      policy({
        name: 'redteam3-ip',
        network: 'deny',
        filesystem: 'deny',
        process: 'deny',
        allowedDomains: ['127.0.0.1'],
      }),
    ],
  ])('IP spellings of 127.0.0.2 against %s', async (_label, group) => {
    const spellings = [
      '::ffff:127.0.0.2',
      '[::ffff:7f00:2]',
      '::ffff:7f00:2',
      '0x7f.0.0.2',
      '0177.0.0.2',
      '2130706434',
      '127.2',
      '127.000.000.002',
      '64:ff9b::7f00:2',
      '2002:7f00:0002::',
      '::127.0.0.2',
      '0',
      '0.0.0.0',
      '::',
    ];
    const outcome = await attack(
      `
const attacks = {};
for (const host of ${JSON.stringify(spellings)}) attacks[host] = () => connectWith(() => net.connect({ host, port: PORT }));
await run(attacks);`,
      group,
    );
    expectAllRefused(outcome);
  });

  it('http createConnection / agent:false / Host header, http2 createConnection, fetch with its own undici dispatcher', async () => {
    const outcome = await attack(`
const http = require('node:http');
const http2 = require('node:http2');
const request = (options) => settled(new Promise((resolve) => {
  try {
    const req = http.request(options, (res) => { res.resume(); resolve({ connected: true }); });
    req.on('error', (error) => resolve({ error: error.code || String(error) }));
    req.end();
  } catch (error) { resolve({ thrown: error.code || String(error) }); }
}));
await run({
  createConnection: () => request({ host: 'localhost', port: PORT, createConnection: () => net.connect(PORT, FORBIDDEN) }),
  agentFalseHostHeader: () => request({ host: FORBIDDEN, port: PORT, agent: false, setHost: false, headers: { host: 'localhost' } }),
  http2CreateConnection: () => settled(new Promise((resolve) => {
    const session = http2.connect('http://localhost:' + PORT, { createConnection: () => net.connect(PORT, FORBIDDEN) });
    session.on('error', (error) => resolve({ error: error.code }));
    session.socket?.on?.('error', (error) => resolve({ error: error.code }));
    setTimeout(() => { session.destroy(); resolve({ error: 'no error but ERR_ACCESS_DENIED expected from the socket' }); }, 1500).unref();
  })),
  fetchOwnDispatcher: () => viaPromise(async () => {
    // the first fetch installs Node's bundled undici's global dispatcher, whose class the app borrows
    await fetch('http://localhost:1/').catch(() => {});
    const Agent = globalThis[Symbol.for('undici.globalDispatcher.1')].constructor;
    const dispatcher = new Agent({ connect: (options, callback) => {
      const socket = net.connect(PORT, FORBIDDEN);
      socket.on('connect', () => callback(null, socket));
      socket.on('error', (error) => callback(error));
    } });
    await fetch('http://localhost:' + PORT + '/', { dispatcher });
    return 'fetched';
  }),
});`);
    // http2: the session may report the socket's error only as a generic close; the server is the judge
    expect(outcome.accepted, JSON.stringify(outcome.results)).toBe(0);
    for (const name of ['createConnection', 'agentFalseHostHeader', 'fetchOwnDispatcher']) {
      expect(JSON.stringify(outcome.results[name]), name).toMatch(/ERR_ACCESS_DENIED/);
    }
  });

  it('UDP: Buffer arrays, connect-then-send, broadcast, IPv4-mapped, numeric alias, scope ids, multicast, a custom lookup, the raw binding', async () => {
    const outcome = await attack(`
await run({
  bufferArray: () => udpSend('udp4', (socket, done) => socket.send([Buffer.from('a')], UDP_PORT, FORBIDDEN, done)),
  offsetLength: () => udpSend('udp4', (socket, done) => socket.send(Buffer.from('b'), 0, 1, UDP_PORT, FORBIDDEN, done)),
  connectThenSend: () => udpSend('udp4', (socket, done) => socket.connect(UDP_PORT, FORBIDDEN, (error) => error ? done(error) : socket.send('c', done))),
  broadcast: () => udpSend('udp4', (socket, done) => socket.bind(0, () => { socket.setBroadcast(true); socket.send('d', UDP_PORT, '255.255.255.255', done); })),
  mapped: () => udpSend('udp6', (socket, done) => socket.send('e', UDP_PORT, '::ffff:127.0.0.2', done)),
  numeric: () => udpSend('udp4', (socket, done) => socket.send('f', UDP_PORT, '2130706434', done)),
  scopeId: () => udpSend('udp6', (socket, done) => socket.send('g', UDP_PORT, 'fe80::1%lo', done)),
  multicast: () => udpSend({ type: 'udp4', reuseAddr: true }, (socket, done) => socket.bind(0, () => { socket.addMembership('239.1.2.3'); socket.send('h', UDP_PORT, '239.1.2.3', done); })),
  customLookup: () => udpSend({ type: 'udp4', lookup: (host, options, callback) => callback(null, FORBIDDEN, 4) }, (socket, done) => socket.send('i', UDP_PORT, 'localhost', done)),
  rawBinding: () => settled(new Promise((resolve) => {
    const { UDP, SendWrap } = process.binding('udp_wrap');
    const request = new SendWrap();
    request.oncomplete = (status) => resolve({ status });
    const status = new UDP().send(request, [Buffer.from('j')], 1, UDP_PORT, FORBIDDEN, false);
    if (status !== 0) resolve({ status });
  })),
});`);
    expectAllRefused(outcome);
  });

  it('DNS: a Resolver (with options, subclassed) pointed at 127.0.0.2, rrtype argument, lookupService, cancel, raw c-ares', async () => {
    const outcome = await attack(`
await run({
  promisesResolverWithOptions: () => viaPromise(async () => {
    const resolver = new dns.promises.Resolver({ tries: 1, timeout: 200 });
    resolver.setServers([FORBIDDEN + ':' + UDP_PORT]);
    return resolver.resolveTxt('exfil.invalid');
  }),
  subclassedResolver: () => viaCallback((done) => {
    class Mine extends dns.Resolver {}
    const resolver = new Mine();
    resolver.setServers([FORBIDDEN + ':' + UDP_PORT]);
    resolver.resolve4('exfil.invalid', done);
  }),
  globalSetServers: () => viaCallback((done) => { dns.setServers([FORBIDDEN + ':' + UDP_PORT]); done(); }),
  resolveWithRrtype: () => viaCallback((done) => dns.resolve('exfil.invalid', 'TXT', done)),
  lookupService: () => viaCallback((done) => dns.lookupService(FORBIDDEN, PORT, done)),
  cancelRace: () => viaCallback((done) => { const resolver = new dns.Resolver(); resolver.resolveTxt('exfil.invalid', done); resolver.cancel(); }),
  rawChannel: () => viaCallback((done) => {
    const cares = process.binding('cares_wrap');
    // (timeout, tries) on Node 20, (timeout, tries, maxTimeout) on Node 22: a wrong count aborts
    const channel = Number(process.versions.node.split('.')[0]) >= 22 ? new cares.ChannelWrap(200, 1, 0) : new cares.ChannelWrap(200, 1);
    const setStatus = channel.setServers([[4, FORBIDDEN, UDP_PORT]]);
    const request = new cares.QueryReqWrap();
    request.oncomplete = () => done(null, { setStatus, completed: true });
    const queryStatus = channel.queryTxt(request, 'exfil.invalid');
    if (queryStatus !== 0) done(null, { setStatus, queryStatus });
  }),
});`);
    expectAllRefused(outcome);
  });

  it('Unix sockets: a path under /tmp and an abstract socket', async () => {
    const outcome = await attack(`
await run({
  tmpSocket: () => connectWith(() => net.connect({ path: '/tmp/redteam3-nothing.sock' })),
  abstractSocket: () => connectWith(() => net.connect({ path: '\\0redteam3-abstract' })),
});`);
    expectAllRefused(outcome);
  });
});
