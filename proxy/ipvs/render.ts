// The IPVS state as `ipvsadm-save -n` prints it (and `ipvsadm --restore` reads it): for
// `k8ts proxy --dry-run --proxy-mode ipvs`, and as the input of the ipvsadm anchor in the bench. Pure.
import type { IpvsState } from './compile.js';

const FLAG = { TCP: '-t', UDP: '-u', SCTP: '--sctp-service' } as const;

export function renderIpvsadm(st: Pick<IpvsState, 'services'>): string {
  const out: string[] = [];
  for (const { vs, dests } of st.services.values()) {
    const key = `${FLAG[vs.protocol]} ${vs.address}:${vs.port}`;
    out.push(`-A ${key} -s ${vs.scheduler}${vs.flags & 1 ? ` -p ${vs.timeout}` : ''}`);
    for (const d of dests) out.push(`-a ${key} -r ${d.address}:${d.port} -m -w ${d.weight}`);
  }
  return out.length ? `${out.join('\n')}\n` : '';
}
