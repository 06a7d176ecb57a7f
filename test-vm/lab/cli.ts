// `k8ts lab up|down|load|exec|list`: flag parsing for the multi-node lab (lab.ts does the work).
import { parseArgs } from 'node:util';
import { cniPlugins, LabError, networkModes, proxyModes, type LabCni, type LabNetwork, type LabProxy } from './plan.js';

export const labUsage = `Usage: k8ts lab <command> [flags]

A real multi-node k8ts cluster on this machine: one network namespace per node, cabled by veth to
an underlay switch (a bridge in a namespace of its own); node 1 runs \`k8ts server\`, the others
\`k8ts agent\` and \`k8ts proxy\`. Nothing is added to the host's own network namespace.

  up   [--name NAME] [--nodes 3] [--network vxlan|routed|bridge-local] [--proxy nftables|iptables]
       [--cni k8ts|reference] [--kubeconfig FILE] [--no-test-image] [--server-arg FLAG]...
                       build it; returns once every node is Ready. Loads the test image
                       (docker.io/k8ts/busybox:test) on every node unless --no-test-image.
                       --cni k8ts (default): k8ts-cni, installed in the lab's folder;
                       --cni reference: Debian's bridge (ptp when routed) + host-local;
                       --server-arg: one more flag for node 1's \`k8ts server\` (repeatable,
                       e.g. --server-arg=--node-monitor-grace-period=3s)
  add-node [--name NAME]            a node joins: the next nI namespace, cabled, with its agent
                       and proxy; returns once it is Ready (with the test image unless --no-test-image)
  stop-node [--name NAME] NODE      kill a node's agent and proxy (its heartbeats stop; its
                       containers stay until \`down\`), as a machine that went away
  load [--name NAME] IMAGE.tar...   import image archives on every node (like kind load)
  exec [--name NAME] NODE -- CMD... run a command in a node's network namespace (NODE: n2, 2 or
                       the Node name; KUBECONFIG points at the lab's API there)
  down [--name NAME]   remove every process, container, namespace, link, rule, mount and file of
                       the lab (also after a crash: the state is in /var/lib/k8ts-lab/NAME/lab.json)
  list                 the labs that exist
  conformance [--matrix] [--network N] [--proxy P] [--nodes 3] [--focus RE] [--skip RE] [--json FILE]
                       \`k8ts conformance\` on a fresh lab, torn down after; --matrix: on one
                       fresh lab per mode (vxlan, routed × nftables, iptables), one after another,
                       then one matrix (rows: checks, columns: modes). Exits 1 if any check fails.

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
          options: { name: { type: 'string' }, nodes: { type: 'string' }, network: { type: 'string' }, proxy: { type: 'string' }, cni: { type: 'string' }, kubeconfig: { type: 'string' }, 'no-test-image': { type: 'boolean' }, timeout: { type: 'string' }, 'server-arg': { type: 'string', multiple: true } },
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
          ...(values['server-arg'] ? { serverArgs: values['server-arg'] } : {}),
        }, print);
        return 0;
      }
      case 'add-node': {
        const { values } = parseArgs({ args: rest, strict: true, options: { name: { type: 'string' }, 'no-test-image': { type: 'boolean' } } });
        await lab.labAddNode(values.name ?? 'lab', print, values['no-test-image'] ? { loadTestImage: false } : {});
        return 0;
      }
      case 'stop-node': {
        const { values, positionals } = parseArgs({ args: rest, strict: true, allowPositionals: true, options: { name: { type: 'string' } } });
        if (positionals.length !== 1) throw new LabError('stop-node needs one NODE (n2, n3, …)');
        print(`${lab.labStopNode(values.name ?? 'lab', positionals[0]!).name}: agent and proxy stopped`);
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
      case 'conformance': {
        const { values } = parseArgs({
          args: rest, strict: true,
          options: { matrix: { type: 'boolean' }, network: { type: 'string' }, proxy: { type: 'string' }, nodes: { type: 'string' }, focus: { type: 'string' }, skip: { type: 'string' }, json: { type: 'string' } },
        });
        const { labConformance, matrixModes } = await import('./conformance.js');
        if (values.matrix && (values.network || values.proxy)) throw new LabError('--matrix runs every mode: drop --network and --proxy');
        const network = values.network ?? 'vxlan';
        if (!(networkModes as readonly string[]).includes(network)) throw new LabError(`invalid --network "${network}": ${networkModes.join(', ')}`);
        const proxy = values.proxy ?? 'nftables';
        if (!(proxyModes as readonly string[]).includes(proxy)) throw new LabError(`invalid --proxy "${proxy}": ${proxyModes.join(', ')}`);
        let focus: RegExp | undefined, skip: RegExp | undefined;
        try {
          if (values.focus) focus = new RegExp(values.focus);
          if (values.skip) skip = new RegExp(values.skip);
        } catch (err) {
          throw new LabError((err as Error).message);
        }
        const m = await labConformance({
          modes: values.matrix ? matrixModes : [{ network: network as LabNetwork, proxy: proxy as LabProxy }],
          nodes: Number(values.nodes ?? '3'), out: print,
          ...(focus ? { focus } : {}), ...(skip ? { skip } : {}), ...(values.json ? { json: values.json } : {}),
        });
        return m.failed ? 1 : 0;
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
