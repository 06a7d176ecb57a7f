// `k8ts proxy --dry-run --proxy-mode ipvs`: what IPVS mode would program (ipvsadm-save text, the
// addresses of kube-ipvs0, the nf_tables table), then what a sync would change in the kernel now,
// read from a dump — or, on a kernel without IPVS, a line saying so.
import { describeOp } from '../../kernel/ipvs/encode.js';
import { IpvsError, IpvsSocket } from '../../kernel/ipvs/socket.js';
import { listDeviceAddrs } from '../../kernel/ipvs/device.js';
import { withRtnl } from '../../kernel/rtnl/index.js';
import { renderNft } from '../../kernel/nftables/render.js';
import type { ProxyState } from '../nftables/compile.js';
import { compileIpvs } from './compile.js';
import { observedServices, planIpvs } from './plan.js';
import { renderIpvsadm } from './render.js';

export async function dryRunIpvs(state: ProxyState, netns: string | undefined, write: (s: string) => void, scheduler?: string): Promise<void> {
  const want = compileIpvs(state, scheduler ? { scheduler } : {});
  write(renderIpvsadm(want));
  write(`# kube-ipvs0 addresses: ${want.bindAddrs.join(' ') || 'none'}\n`);
  write(renderNft(want.ruleset));
  const where = netns ? ` (netns ${netns})` : '';
  let sock: IpvsSocket;
  try {
    sock = await IpvsSocket.open(netns);
  } catch (e) {
    if (e instanceof IpvsError && e.code === 'NoIpvs') { write(`# ${e.message}\n`); return; }
    throw e;
  }
  try {
    const list = [];
    for (const vs of await sock.listServices()) list.push({ vs, dests: await sock.listDests(vs) });
    const bound = await withRtnl(netns, (r) => listDeviceAddrs(r));
    const plan = planIpvs(want, { services: observedServices(list), boundAddrs: bound }, state.nodeIPs);
    const n = plan.ops.length + plan.bind.length + plan.unbind.length;
    write(`# IPVS changes a sync would make${where}: ${n ? n : 'none'}\n`);
    for (const a of plan.bind) write(`bind ${a}/32 dev kube-ipvs0\n`);
    for (const o of plan.ops) write(`${describeOp(o)}\n`);
    for (const a of plan.unbind) write(`unbind ${a}/32 dev kube-ipvs0\n`);
  } finally {
    sock.close();
  }
}
