// A crash never loses an acknowledged write: `k8ts server` on the embedded SQLite store is killed
// with SIGKILL in the middle of a burst of concurrent creates, restarted on the same data dir, and
// every create that was answered 201 must be there, with its content; the store must still serve
// writes afterwards.
import { jest } from '@jest/globals';
import { TestServer } from './harness.js';

jest.setTimeout(180_000);

const server = new TestServer();
beforeAll(async () => { await server.start(); });
afterAll(async () => { await server.stop(); });

interface ConfigMapList { items: { metadata: { name: string }; data: Record<string, string> }[] }

describe('durability of acknowledged writes', () => {
  for (const round of [1, 2, 3]) {
    it(`keeps every acknowledged create across kill -9 (round ${round})`, async () => {
      const ns = `crash-${round}`;
      expect((await server.request('POST', '/api/v1/namespaces', { metadata: { name: ns } })).status).toBe(201);
      const acknowledged = new Map<string, string>();
      let stopWriting = false;
      const writer = async (w: number) => {
        for (let i = 0; !stopWriting; i++) {
          const name = `w${w}-${i}`;
          const value = `${round}:${w}:${i}:${'x'.repeat(i % 50)}`;
          try {
            const r = await server.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name }, data: { value } });
            if (r.status === 201) acknowledged.set(name, value);
          } catch {
            return; // the server is gone
          }
        }
      };
      const writers = Array.from({ length: 8 }, (_, w) => writer(w));
      await new Promise(r => setTimeout(r, 600 + Math.floor(Math.random() * 900)));
      await server.kill('SIGKILL');
      stopWriting = true;
      await Promise.all(writers);
      expect(acknowledged.size).toBeGreaterThan(50);

      await server.start();
      const list = (await server.request('GET', `/api/v1/namespaces/${ns}/configmaps`)).body as ConfigMapList;
      const stored = new Map(list.items.map(i => [i.metadata.name, i.data.value]));
      const missing = [...acknowledged].filter(([name, value]) => stored.get(name) !== value).map(([name]) => name);
      expect(missing).toEqual([]);
      // Still writable after the crash.
      expect((await server.request('POST', `/api/v1/namespaces/${ns}/configmaps`, { metadata: { name: 'after' }, data: { ok: 'yes' } })).status).toBe(201);
    });
  }
});
