// Optional BGP for routed mode, as calico distributes its routes: each node runs Debian's BIRD 2
// with a full iBGP mesh to every other node (their addresses from the Node objects), announces its
// own pod block and installs the blocks it learns into the main table. Pure: the config text.
//
// Design notes. BIRD only announces and learns: the blackhole for our own block stays the routed
// applier's (protocol 107), and the static route BIRD announces is never exported to the kernel.
// Learned routes go into the kernel with BIRD's protocol (`proto bird`, 12), which the routed
// planner does not own, so the two never fight; in BGP mode the planner simply wants no peer
// routes of its own. Imports are limited to blocks inside the cluster CIDR other than our own, so
// a misconfigured peer cannot steer anything else on the node. Rejected: BIRD's `direct` protocol
// and dynamic neighbours — explicit neighbours from the Node objects are what calico's confd
// writes, and a changed set is a `birdc configure` away.
import { parseCidr } from '../../api/cidr.js';

export const DEFAULT_BGP_ASN = 64512;
/** The kernel's RTPROT_BIRD: the protocol of the routes BIRD installs. */
export const RTPROT_BIRD = 12;

export interface BirdInput {
  readonly routerId: string;
  readonly asn: number;
  readonly podCidr: string;
  readonly clusterCidr: string;
  readonly peers: readonly { readonly name: string; readonly ip: string }[];
}

/** A BIRD protocol name from a node name: letters, digits and underscores, unique per input. */
function protoName(name: string, used: Set<string>): string {
  const base = `node_${name.replace(/[^A-Za-z0-9]/g, '_')}`.slice(0, 60);
  let n = base;
  for (let i = 2; used.has(n); i++) n = `${base}_${i}`;
  used.add(n);
  return n;
}

export function compileBirdConfig(input: BirdInput): string {
  const cluster = parseCidr(input.clusterCidr);
  const own = parseCidr(input.podCidr);
  if (cluster.family !== 4 || own.family !== 4) throw new TypeError('BGP needs IPv4 cluster and pod CIDRs');
  const used = new Set<string>();
  const peers = [...input.peers].sort((a, b) => a.name.localeCompare(b.name)).map((p) =>
    `protocol bgp ${protoName(p.name, used)} from k8ts_mesh {\n  description "${p.name.replace(/"/g, '')}";\n  neighbor ${p.ip} as ${input.asn};\n}`);
  return `# Written by k8ts (routed mode, BGP). Do not edit: it is rewritten on every change.
router id ${input.routerId};

protocol device {
  scan time 10;
}

# Announced to the peers, never installed here (the blackhole is the routed applier's).
protocol static k8ts_block {
  ipv4;
  route ${input.podCidr} blackhole;
}

protocol kernel k8ts_kernel {
  ipv4 {
    import none;
    export where source = RTS_BGP;
  };
  learn off;
  persist off;
}

template bgp k8ts_mesh {
  local as ${input.asn};
  direct;
  hold time 30;
  connect delay time 1;
  connect retry time 2;
  error wait time 1, 10;
  ipv4 {
    import where net ~ [ ${input.clusterCidr}+ ] && net != ${input.podCidr} && !(net ~ [ ${input.podCidr}+ ]);
    export where proto = "k8ts_block";
    next hop self;
  };
}
${peers.length ? `\n${peers.join('\n\n')}\n` : ''}`;
}
