// A small routed lab in network namespaces for integration tests and benchmarks: a "node"
// namespace that routes between a "client" and N "backend" namespaces, each on its own veth pair.
//
//   client 10.0.0.2/24 ── 10.0.0.1 [node] 10.128.i.1 ── 10.128.i.2/24 backend-i   (i = 1..N)
//
// Every name carries a random suffix, nothing touches the root namespace (veth pairs are created
// inside the node namespace and their peers moved), and `destroy` removes everything even after a
// partial set-up. Backends can run a TCP server that answers with its own name.
import { randomBytes } from 'node:crypto';
import { createNetns, deleteNetns, execInNetns, spawnInNetns, type NetnsProcess } from './netns.js';

export interface Lab {
  readonly node: string;
  readonly client: string;
  readonly backends: readonly string[];
  readonly clientIP: string;
  readonly nodeClientIP: string;
  backendIP(i: number): string;
  /** Starts `node -e` TCP servers on every backend: `port` answers the namespace name, `port + 1` the peer address. */
  startServers(port: number): Promise<void>;
  /** Connects `count` times from the client (or `from`) to addr:port; returns each answer or `ERR:<code>`. */
  connectMany(addr: string, port: number, count: number, timeoutMs?: number, from?: string): Promise<string[]>;
  destroy(): Promise<void>;
}

// Port p answers the backend's name; port p+1 answers the client address it sees (masquerade tests).
const SERVER = `const n=process.argv[1],p=+process.argv[2],net=require('net');
net.createServer(s=>{s.on('error',()=>{});s.end(n)}).listen(p,'0.0.0.0');
net.createServer(s=>{s.on('error',()=>{});s.end(s.remoteAddress)}).listen(p+1,'0.0.0.0')`;
const CLIENT = `const net=require('net');const [h,p,c,t]=process.argv.slice(1).map((x,i)=>i?+x:x);const out=[];
(async()=>{for(let i=0;i<c;i++){out.push(await new Promise(r=>{let d='';const s=net.connect({host:h,port:p});
const tm=setTimeout(()=>{s.destroy();r('ERR:TIMEOUT')},t);s.on('data',x=>d+=x);s.on('end',()=>{clearTimeout(tm);r(d)});
s.on('error',e=>{clearTimeout(tm);r('ERR:'+e.code)})}))}console.log(JSON.stringify(out))})()`;

export async function createLab(backendCount: number): Promise<Lab> {
  const id = randomBytes(3).toString('hex');
  const node = `k8ts-t-${id}-node`;
  const client = `k8ts-t-${id}-cli`;
  const backends = Array.from({ length: backendCount }, (_, i) => `k8ts-t-${id}-b${i + 1}`);
  const created: string[] = [];
  const servers: NetnsProcess[] = [];
  const backendIP = (i: number): string => `10.128.${i}.2`;
  const lab: Lab = {
    node, client, backends, clientIP: '10.0.0.2', nodeClientIP: '10.0.0.1', backendIP,
    async startServers(port) {
      backends.forEach((b) => servers.push(spawnInNetns(b, process.execPath, ['-e', SERVER, b, String(port)])));
      for (let i = 1; i <= backends.length; i++) {
        for (let tries = 0; ; tries++) {
          const [r] = await lab.connectMany(backendIP(i), port, 1, 500);
          if (r === backends[i - 1]) break;
          if (tries > 50) throw new Error(`backend ${backends[i - 1]} did not start: ${r}`);
          await new Promise((res) => setTimeout(res, 50));
        }
      }
    },
    async connectMany(addr, port, count, timeoutMs = 2000, from = client) {
      const out = await execInNetns(from, process.execPath, ['-e', CLIENT, addr, String(port), String(count), String(timeoutMs)]);
      return JSON.parse(out) as string[];
    },
    async destroy() {
      await Promise.all(servers.map((s) => s.stop().catch(() => undefined)));
      for (const ns of created.reverse()) await deleteNetns(ns).catch(() => undefined);
    },
  };
  try {
    for (const ns of [node, client, ...backends]) { await createNetns(ns); created.push(ns); }
    const sh = (ns: string, args: string[]): Promise<string> => execInNetns(ns, 'ip', args);
    await execInNetns(node, 'sysctl', ['-qw', 'net.ipv4.ip_forward=1']);
    await sh(node, ['link', 'add', 'to-cli', 'type', 'veth', 'peer', 'name', 'eth0', 'netns', client]);
    await sh(node, ['addr', 'add', '10.0.0.1/24', 'dev', 'to-cli']);
    await sh(node, ['link', 'set', 'to-cli', 'up']);
    await sh(client, ['addr', 'add', '10.0.0.2/24', 'dev', 'eth0']);
    await sh(client, ['link', 'set', 'eth0', 'up']);
    await sh(client, ['route', 'add', 'default', 'via', '10.0.0.1']);
    for (let i = 1; i <= backendCount; i++) {
      const b = backends[i - 1]!;
      await sh(node, ['link', 'add', `to-b${i}`, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', b]);
      await sh(node, ['addr', 'add', `10.128.${i}.1/24`, 'dev', `to-b${i}`]);
      await sh(node, ['link', 'set', `to-b${i}`, 'up']);
      await sh(b, ['addr', 'add', `${backendIP(i)}/24`, 'dev', 'eth0']);
      await sh(b, ['link', 'set', 'eth0', 'up']);
      await sh(b, ['route', 'add', 'default', 'via', `10.128.${i}.1`]);
    }
    // A default route, as every real node has one: traffic to a ClusterIP without a DNAT must
    // still reach the forward hook, where the no-endpoints reject lives.
    if (backendCount > 0) await sh(node, ['route', 'add', 'default', 'via', backendIP(1)]);
  } catch (e) {
    await lab.destroy();
    throw e;
  }
  return lab;
}
