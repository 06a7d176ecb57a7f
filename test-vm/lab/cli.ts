// `k8ts lab up|down|load|exec|list`: flag parsing for the multi-node lab (lab.ts does the work).
import { parseArgs } from 'node:util';
import { cniPlugins, LabError, networkModes, proxyModes, type LabCni, type LabNetwork, type LabProxy } from './plan.js';

export const labUsage = `Usage: k8ts lab <command> [flags]

A real multi-node k8ts cluster on this machine: one network namespace per node, cabled by veth to
an underlay switch (a bridge in a namespace of its own); node 1 runs \`k8ts server\`, the others
\`k8ts agent\` and \`k8ts proxy\`. Nothing is added to the host's own network namespace.

  up   [--name NAME] [--nodes 3] [--network vxlan|routed|bridge-local] [--proxy nftables|iptables]
       [--cni k8ts|reference] [--kubeconfig FILE] [--no-test-image]
                       build it; returns once every node is Ready. Loads the test image
                       (docker.io/k8ts/busybox:test) on every node unless --no-test-image.
                       --cni k8ts (default): k8ts-cni, installed in the lab's folder;
                       --cni reference: Debian's bridge (ptp when routed) + host-local
  load [--name NAME] IMAGE.tar...   import image archives on every node (like kind load)
  exec [--name NAME] NODE -- CMD... run a command in a node's network namespace (NODE: n2, 2 or
                       the Node name; KUBECONFIG points at the lab's API there)
  down [--name NAME]   remove every process, container, namespace, link, rule, mount and file of
                       the lab (also after a crash: the state is in /var/lib/k8ts-lab/NAME/lab.json)
  list                 the labs that exist

NAME defaults to "lab". State and logs: /var/lib/k8ts-lab/NAME.
`;

export async function runLab(argv: string[]): Promise<number> {
  const [verb, ...rest] = argv;
  const print = (s: string) => process.stdout.write(`${s}\n`);
  try {
    const lab = await import('./lab.js');
    switch (verb) {
      case 'up': {
        const { values } = parseArgs({
          args: rest, strict: true, allowPositionals: false,
          options: { name: { type: 'string' }, nodes: { type: 'string' }, network: { type: 'string' }, proxy: { type: 'string' }, cni: { type: 'string' }, kubeconfig: { type: 'string' }, 'no-test-image': { type: 'boolean' }, timeout: { type: 'string' } },
        });
        const network = values.network ?? 'vxlan';
        if (!(networkModes as readonly string[]).includes(network)) throw new LabError(`invalid --network "${network}": ${networkModes.join(', ')}`);
        const proxy = values.proxy ?? 'nftables';
        if (!(proxyModes as readonly string[]).includes(proxy)) throw new LabError(`invalid --proxy "${proxy}": ${proxyModes.join(', ')}`);
        const cni = values.cni ?? 'k8ts';
        if (!(cniPlugins as readonly string[]).includes(cni)) throw new LabError(`invalid --cni "${cni}": ${cniPlugins.join(', ')}`);
        const nodes = Number(values.nodes ?? '3');
        await lab.labUp({
          name: values.name ?? 'lab', nodes, network: network as LabNetwork, proxy: proxy as LabProxy, cni: cni as LabCni,
          ...(values.kubeconfig ? { kubeconfig: values.kubeconfig } : {}),
          ...(values['no-test-image'] ? { loadTestImage: false } : {}),
          ...(values.timeout ? { timeoutMs: Number(values.timeout) * 1000 } : {}),
        }, print);
        return 0;
      }
      case 'down': {
        const { values } = parseArgs({ args: rest, strict: true, options: { name: { type: 'string' } } });
        await lab.labDown(values.name ?? 'lab', print);
        return 0;
      }
      case 'load': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { name: { type: 'string' } } });
        if (positionals.length === 0) throw new LabError('load needs one or more IMAGE.tar files');
        await lab.labLoad(values.name ?? 'lab', positionals, print);
        return 0;
      }
      case 'exec': {
        const dash = rest.indexOf('--');
        const head = dash < 0 ? rest : rest.slice(0, dash);
        const cmd = dash < 0 ? [] : rest.slice(dash + 1);
        const { values, positionals } = parseArgs({ args: head, strict: true, allowPositionals: true, options: { name: { type: 'string' } } });
        const [node, ...more] = positionals;
        if (!node) throw new LabError('exec needs a NODE (n1, n2, …)');
        return await lab.labExec(values.name ?? 'lab', node, [...more, ...cmd]);
      }
      case 'list': {
        for (const s of lab.listLabs()) print(`${s.plan.name}\t${s.plan.nodes_.length} nodes\t${s.plan.network}\t${s.plan.subnet}\t${s.kubeconfig ?? ''}`);
        return 0;
      }
      case undefined: case 'help': case '--help': case '-h':
        process.stdout.write(labUsage);
        return verb === undefined ? 2 : 0;
      default:
        throw new LabError(`unknown lab command "${verb}"`);
    }
  } catch (err) {
    process.stderr.write(`k8ts lab: ${err instanceof Error ? err.message : String(err)}\n`);
    if (err instanceof LabError || (err as { code?: string }).code?.startsWith('ERR_PARSE_ARGS')) return 2;
    return 1;
  }
}
