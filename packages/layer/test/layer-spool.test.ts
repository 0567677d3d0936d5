/**
 * The event spool end to end in the local Lambda (real aws-lambda-ric, real agent, real control
 * plane): small bounds, so the spool rotates while the control plane is up and overflows while it
 * is down. Every event the agent made is in ES_EVENT_FILE (the ground truth: the spool itself is
 * rotated away and deleted); each one either reached the control plane exactly once or was among
 * the oldest undelivered ones dropped while it was down, and the drops are counted on the function.
 */
import * as fs from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { eventIdsIn, eventually, freshDir, startFunction, useLayerAndControlPlane } from './harness.js';

const setup = useLayerAndControlPlane();

describe('spool bounds across a control plane outage', () => {
  it('rotates while delivering, drops only the oldest undelivered events when full, delivers the rest exactly once, and reports the drops', async () => {
    // Prepare: bounds a few events wide (an event line is a few hundred bytes)
    const licenseKey = await setup.plane.temporaryKey();
    const eventFile = join(freshDir('event-file'), 'events.ndjson');
    const fn = await startFunction({
      layerDir: setup.layerDir,
      env: {
        ES_API_URL: setup.plane.url,
        ES_LICENSE_KEY: licenseKey,
        ES_POLICY_GROUP_NAME: 'observeAll.ability',
        ES_EVENT_FILE: eventFile,
        ES_SPOOL_MAX_BYTES: '6000',
        ES_SPOOL_ROTATE_BYTES: '3000',
        ES_SPOOL_ROTATE_GRACE_MS: '50',
      },
    });
    const writes = freshDir('spool-writes');
    let invocations = 0;
    const invoke = async () => {
      const result = await fn.lambda.invoke({ write: join(writes, `${invocations++}.txt`) });
      expect(result.status).toBe('success');
      return result;
    };
    const stored = async () =>
      (await setup.plane.storedEvents(licenseKey)).map((event) => event.id as string);
    let rotatedSeen = 0;
    const noteRotation = () => {
      if (fs.existsSync(join(fn.runtimeDir, 'events.ndjson.rotated'))) rotatedSeen++;
    };

    // Act 1: control plane up; every invocation's events are delivered before it ends
    for (let index = 0; index < 30; index++) {
      await invoke();
      noteRotation();
      if (index % 10 === 9) await new Promise((resolve) => setTimeout(resolve, 80)); // grace passes
    }
    const before = eventIdsIn(eventFile);
    expect(before.length).toBeGreaterThanOrEqual(30);
    expect(await stored()).toEqual(before);

    // Act 2: control plane down; far more than ES_SPOOL_MAX_BYTES is spooled
    await setup.plane.down();
    for (let index = 0; index < 40; index++) {
      const result = await invoke();
      // the end-of-invocation flush does not wait for an unreachable control plane
      expect(result.postRuntimeDurationMs).toBeLessThan(1500);
      await new Promise((resolve) => setTimeout(resolve, 25)); // retries come due meanwhile
    }
    const duringOutage = eventIdsIn(eventFile).slice(before.length);
    expect(duringOutage.length).toBeGreaterThanOrEqual(40);
    expect((await stored()).length).toBe(before.length);

    // Act 3: back up; invoke until the backlog is through (delivery waits out its backoff)
    await setup.plane.up();
    await eventually(
      'the backlog delivered after the outage',
      async () => {
        await invoke();
        const all = eventIdsIn(eventFile);
        const dropped = Number((await setup.plane.functions(licenseKey))[0]?.droppedEvents ?? 0);
        return dropped > 0 && (await stored()).length + dropped === all.length;
      },
      20_000,
    );
    for (let index = 0; index < 10; index++) await invoke(); // and delivery goes on as usual
    await fn.lambda.shutdown();

    // Assess: what was not delivered is the oldest of what waited while delivery could not happen
    // (the outage, and the backoff after it, during which the bound kept dropping the oldest):
    // one run of events starting with the outage's first; everything before and after it arrived.
    const all = eventIdsIn(eventFile);
    const received = await stored();
    const dropped = Number((await setup.plane.functions(licenseKey))[0]?.droppedEvents);
    expect(received.length + dropped).toBe(all.length);
    expect(dropped).toBeGreaterThan(0);
    const receivedSet = new Set(received);
    expect(receivedSet.size).toBe(received.length);
    const missing = all.filter((id) => !receivedSet.has(id));
    expect(missing).toEqual(all.slice(before.length, before.length + dropped));
    // each id reached the server once (a retry after a lost answer would show here as 2)
    expect(received.filter((id) => setup.plane.sentIds.get(id) !== 1)).toEqual([]);

    // the drops were also said in the function log, and the spool did not keep what it delivered
    const logs = fn.lambda.logs.join('\n');
    expect(logs).toContain(`${dropped} events dropped so far`);
    expect(logs).toMatch(
      new RegExp(`shutdown \\(spindown\\): \\d+ events delivered, ${dropped} dropped, 0 bytes undelivered`),
    );
    expect(rotatedSeen).toBeGreaterThan(0);
    const spoolBytes = ['events.ndjson', 'events.ndjson.rotated']
      .map((name) => join(fn.runtimeDir, name))
      .filter((path) => fs.existsSync(path))
      .reduce((sum, path) => sum + fs.statSync(path).size, 0);
    expect(spoolBytes).toBeLessThan(fs.statSync(eventFile).size / 4);
  }, 120_000);
});
