import { GroupCommit, type Batchable } from './group-commit';

interface Request extends Batchable {
  readonly name: string;
}

const request = (name: string, stream: string, eventIds: string[] = [name]): Request => ({ name, stream, eventIds });

/** A runner whose batches finish only when the test says so, recording what it was given. */
function heldRunner() {
  const batches: string[][] = [];
  const releases: (() => void)[] = [];
  const run = (batch: Request[]) => {
    batches.push(batch.map((item) => item.name));
    return new Promise<void>((resolve) => releases.push(resolve));
  };
  const releaseNext = async () => {
    releases.shift()!();
    await new Promise((resolve) => setImmediate(resolve));
  };
  return { batches, run, releaseNext, inFlight: () => releases.length };
}

describe('GroupCommit', () => {
  it('when idle, then a request leaves at once, alone; those arriving meanwhile leave together in the next batch', async () => {
    const runner = heldRunner();
    const commit = new GroupCommit<Request>({ inFlightMax: 1, requestsMax: 10, eventsMax: 100 }, runner.run);
    commit.add(request('a', 's1'));
    expect(runner.batches).toEqual([['a']]);
    for (const name of ['b', 'c', 'd']) commit.add(request(name, `s-${name}`));
    expect(runner.batches).toHaveLength(1);
    await runner.releaseNext();
    expect(runner.batches).toEqual([['a'], ['b', 'c', 'd']]);
    await runner.releaseNext();
    await commit.idle();
  });

  it('when more arrive than a batch takes, then batches are bounded by requests and by events, in arrival order', async () => {
    const runner = heldRunner();
    const commit = new GroupCommit<Request>({ inFlightMax: 1, requestsMax: 2, eventsMax: 3 }, runner.run);
    commit.add(request('first', 's0'));
    commit.add(request('a', 'sa'));
    commit.add(request('b', 'sb'));
    commit.add(request('c', 'sc'));
    commit.add(request('big', 'sbig', ['x1', 'x2', 'x3']));
    commit.add(request('huge', 'shuge', ['y1', 'y2', 'y3', 'y4']));
    for (let index = 0; index < 4; index++) await runner.releaseNext();
    expect(runner.batches).toEqual([['first'], ['a', 'b'], ['c'], ['big'], ['huge']]);
    await runner.releaseNext();
    await commit.idle();
  });

  it('when requests share a stream or an event id, then they never travel together nor at once, and keep their order', async () => {
    const runner = heldRunner();
    const commit = new GroupCommit<Request>({ inFlightMax: 3, requestsMax: 10, eventsMax: 100 }, runner.run);
    commit.add(request('s-1', 'same'));
    commit.add(request('s-2', 'same'));
    commit.add(request('id-1', 'other-1', ['shared']));
    commit.add(request('id-2', 'other-2', ['shared']));
    commit.add(request('free', 'free'));
    expect(runner.batches).toEqual([['s-1'], ['id-1'], ['free']]);
    expect(runner.inFlight()).toBe(3);
    await runner.releaseNext();
    expect(runner.batches[3]).toEqual(['s-2']);
    await runner.releaseNext();
    expect(runner.batches[4]).toEqual(['id-2']);
    for (let index = 0; index < 3; index++) await runner.releaseNext();
    await commit.idle();
    expect(runner.batches.flat().sort()).toEqual(['free', 'id-1', 'id-2', 's-1', 's-2']);
  });

  it('when bounds are not positive integers, then it refuses to start', () => {
    expect(() => new GroupCommit<Request>({ inFlightMax: 0, requestsMax: 1, eventsMax: 1 }, async () => undefined)).toThrow(RangeError);
    expect(() => new GroupCommit<Request>({ inFlightMax: 1, requestsMax: 1.5, eventsMax: 1 }, async () => undefined)).toThrow(RangeError);
  });
});
