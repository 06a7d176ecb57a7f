// `k8ts conformance [--kubeconfig F] [--focus RE] [--skip RE] [--junit F] [--json F] [--image I]
// [--cluster-domain D] [--keep-namespace] [--list]`: the network conformance suite against any
// cluster the kubeconfig reaches. Exits 1 when a check fails, 2 on bad flags.
import { homedir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clientFromKubeconfig } from '../api/client/https.js';
import { selectChecks } from './check.js';
import { allChecks, runConformance } from './run.js';

const usage = `usage: k8ts conformance [--kubeconfig FILE] [--focus REGEX] [--skip REGEX] [--junit FILE] [--json FILE]
                        [--image IMAGE] [--cluster-domain DOMAIN] [--keep-namespace] [--list]`;

export async function runConformanceCli(argv: readonly string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        kubeconfig: { type: 'string' }, focus: { type: 'string' }, skip: { type: 'string' },
        junit: { type: 'string' }, json: { type: 'string' }, image: { type: 'string' },
        'cluster-domain': { type: 'string' }, 'keep-namespace': { type: 'boolean' }, list: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
    }));
  } catch (err) {
    console.error(`k8ts conformance: ${(err as Error).message}\n${usage}`);
    return 2;
  }
  if (values.help) { console.log(usage); return 0; }
  let focus: RegExp | undefined, skip: RegExp | undefined;
  try {
    if (values.focus) focus = new RegExp(values.focus);
    if (values.skip) skip = new RegExp(values.skip);
  } catch (err) {
    console.error(`k8ts conformance: ${(err as Error).message}`);
    return 2;
  }
  const selection = { ...(focus ? { focus } : {}), ...(skip ? { skip } : {}) };
  if (values.list) {
    for (const c of selectChecks(allChecks, selection)) console.log(`${c.area.padEnd(8)} ${c.name.padEnd(36)} ${c.upstream}`);
    return 0;
  }
  const kubeconfig = values.kubeconfig ?? process.env.KUBECONFIG ?? join(homedir(), '.kube', 'config');
  let conn;
  try {
    conn = clientFromKubeconfig(kubeconfig, { userAgent: 'k8ts-conformance' });
  } catch (err) {
    console.error(`k8ts conformance: cannot use kubeconfig ${kubeconfig}: ${(err as Error).message}`);
    return 2;
  }
  try {
    const summary = await runConformance({
      client: conn.client, transport: conn.transport, ...selection,
      ...(values.junit ? { junit: values.junit } : {}), ...(values.json ? { json: values.json } : {}),
      ...(values.image ? { image: values.image } : {}), ...(values['cluster-domain'] ? { clusterDomain: values['cluster-domain'] } : {}),
      ...(values['keep-namespace'] ? { keepNamespace: true } : {}),
      out: line => console.log(line),
    });
    return summary.results.some(r => r.outcome === 'failed') ? 1 : 0;
  } catch (err) {
    console.error(`k8ts conformance: ${(err as Error).message}`);
    return 1;
  } finally {
    conn.transport.close();
  }
}
