import { GroupQueue } from './group-queue';

/** A write that holds each group until the test lets it go, recording the groups it was given. */
function heldWrites() {
  const groups: string[][] = [];
  const release: Array<(fail?: Error) => void> = [];
  const write = (items: string[]) => {
    groups.push(items);
    return new Promise<string[]>((resolve, reject) => release.push((fail) => (fail ? reject(fail) : resolve(items.map((i) => `answer ${i}`)))));
  };
  return { groups, release, write };
}

/** Lets pending promise callbacks run. */
const settle = () => new Promise((r) => setImmediate(r));

describe('GroupQueue', () => {
  it('sends the first item at once, and groups the items that arrive while a group is in flight', async () => {
    const w = heldWrites();
    const q = new GroupQueue(w.write, (i) => i, 10);
    const first = q.submit('a');
    await settle();
    expect(w.groups).toEqual([['a']]);
    const rest = ['b', 'c', 'd'].map((i) => q.submit(i));
    await settle();
    expect(w.groups).toEqual([['a']]); // still waiting for the first commit
    w.release[0]();
    expect(await first).toBe('answer a');
    await settle();
    expect(w.groups).toEqual([['a'], ['b', 'c', 'd']]);
    w.release[1]();
    expect(await Promise.all(rest)).toEqual(['answer b', 'answer c', 'answer d']);
    expect(q.stats).toEqual({ items: 4, statements: 2 });
  });

  it('puts a second item of the same key, and items past the maximum, in the next group', async () => {
    const w = heldWrites();
    const q = new GroupQueue(w.write, (i) => i.split('#')[0], 2);
    const all = [q.submit('x'), q.submit('y#1'), q.submit('y#2'), q.submit('z'), q.submit('w')];
    await settle();
    w.release[0]();
    await settle();
    w.release[1]();
    await settle();
    w.release[2]();
    await settle();
    expect(w.groups).toEqual([['x'], ['y#1', 'z'], ['y#2', 'w']]);
    expect(await Promise.all(all)).toEqual(['answer x', 'answer y#1', 'answer y#2', 'answer z', 'answer w']);
  });

  it('rejects every item of a group whose write failed, and goes on with the next group', async () => {
    const w = heldWrites();
    const q = new GroupQueue(w.write, (i) => i, 10);
    const a = q.submit('a');
    await settle();
    const b = q.submit('b');
    const c = q.submit('c');
    w.release[0](new Error('connection lost'));
    await expect(a).rejects.toThrow('connection lost');
    await settle();
    w.release[1]();
    expect(await Promise.all([b, c])).toEqual(['answer b', 'answer c']);
  });
});
