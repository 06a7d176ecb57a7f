import { describe, expect, test } from '@jest/globals';
import { Registry } from 'prom-client';
import { KubeletMetrics, NetpluginMetrics } from './metrics.js';

async function sample(r: Registry, name: string): Promise<number | undefined> {
  const line = (await r.metrics()).split('\n').find(l => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('kubelet metrics', () => {
  test('pod start duration runs from first sight to the first Running status; adopted, failed and pending pods are not starts', async () => {
    const r = new Registry();
    let now = 1000;
    const m = new KubeletMetrics(r, 'n1', () => ({ pods: 2, containers: 3 }), () => now);
    m.podSeen('a');
    m.podSeen('b');
    now += 500;
    m.podSeen('a'); // seen again (an update): the first sight counts
    m.podPhase('a', 'Pending');
    now += 1000;
    m.podPhase('a', 'Running');
    m.podPhase('a', 'Running'); // once per pod
    m.podPhase('b', 'Failed');
    m.podPhase('c', 'Running'); // never seen as a start (adopted)
    expect(await sample(r, 'kubelet_pod_start_duration_seconds_count')).toBe(1);
    expect(await sample(r, 'kubelet_pod_start_duration_seconds_sum')).toBe(1.5);
    expect(await sample(r, 'kubelet_running_pods')).toBe(2);
    expect(await sample(r, 'kubelet_running_containers{container_state="running"}')).toBe(3);
    expect(await sample(r, 'kubelet_node_name{node="n1"}')).toBe(1);
  });

  test('a relist is timed and marks the PLEG as seen; netplugin syncs carry their plugin', async () => {
    const r = new Registry();
    const m = new KubeletMetrics(r, 'n1', () => ({ pods: 0, containers: 0 }), () => 42_000);
    m.relisted(0.02);
    expect(await sample(r, 'kubelet_pleg_relist_duration_seconds_count')).toBe(1);
    expect(await sample(r, 'kubelet_pleg_last_seen_seconds')).toBe(42);
    const n = new NetpluginMetrics(r, () => 43_000);
    n.synced('vxlan', 3);
    expect(await sample(r, 'k8ts_netplugin_sync_last_timestamp_seconds{plugin="vxlan"}')).toBe(43);
    expect(await sample(r, 'k8ts_netplugin_sync_duration_seconds_count{plugin="vxlan"}')).toBe(1);
  });
});

describe('the node network metrics address', () => {
  test('--proxy-metrics-bind-address takes HOST:PORT (port 0: none) and names itself when wrong', async () => {
    const { parseAgentArgs } = await import('./cli.js');
    const base = ['--server', 'https://10.0.0.1:6443', '--token', 't'];
    expect(parseAgentArgs([...base, '--proxy-metrics-bind-address', '0.0.0.0:10249']).proxyMetricsBindAddress).toBe('0.0.0.0:10249');
    expect(parseAgentArgs([...base, '--proxy-metrics-bind-address=127.0.0.1:0']).proxyMetricsBindAddress).toBe('127.0.0.1:0');
    expect(parseAgentArgs(base).proxyMetricsBindAddress).toBeUndefined();
    expect(() => parseAgentArgs([...base, '--proxy-metrics-bind-address', 'localhost'])).toThrow('--proxy-metrics-bind-address: invalid bind address "localhost"');
  });
});
