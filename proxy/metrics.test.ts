import { describe, expect, test } from '@jest/globals';
import type { EndpointSlice } from 'kubernetes-types/discovery/v1.js';
import { Registry } from 'prom-client';
import type { Ruleset } from '../kernel/nftables/types.js';
import type { IptablesRuleset } from './iptables/compile.js';
import type { IpvsState } from './ipvs/compile.js';
import { countIptables, countNftables, LAST_CHANGE_TRIGGER_TIME, ProxyMetrics, triggerTimeOf } from './metrics.js';

const slice = (trigger?: string): EndpointSlice => ({
  addressType: 'IPv4', endpoints: [],
  metadata: { name: 's', namespace: 'default', ...(trigger ? { annotations: { [LAST_CHANGE_TRIGGER_TIME]: trigger } } : {}) },
});

const nft: Ruleset = {
  family: 'ip', table: 'k8ts-proxy',
  chains: [{ name: 'services', rules: [{ text: 'a', exprs: [] }, { text: 'b', exprs: [] }] }, { name: 'svc-x', rules: [{ text: 'c', exprs: [] }] }],
  sets: [{ name: 'cluster-ips', key: ['ipv4_addr'], elements: [{ key: ['10.43.0.1'] }] }],
  fragments: [{ id: 'default/x:http', elements: { 'cluster-ips': [{ key: ['10.43.0.2'] }, { key: ['10.43.0.3'] }] } }],
};

/** The value of one sample in the registry's text output. */
async function sample(r: Registry, name: string): Promise<number | undefined> {
  const line = (await r.metrics()).split('\n').find(l => l.startsWith(`${name} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
}

describe('proxy metrics', () => {
  test('triggerTimeOf reads the EndpointSlice controller\'s annotation and ignores a missing or bad one', () => {
    expect(triggerTimeOf(slice('2026-11-27T01:00:00Z'))).toBe(Date.parse('2026-11-27T01:00:00Z'));
    expect(triggerTimeOf(slice())).toBeUndefined();
    expect(triggerTimeOf(slice('yesterday'))).toBeUndefined();
  });

  test('countNftables counts chains, rules, sets and the elements of sets and fragments', () => {
    expect(countNftables(nft)).toEqual({ chain: 2, rule: 3, set: 1, element: 3 });
  });

  test('countIptables counts rules per table: statics, jumps, per-service chain lines and shared rules', () => {
    const rs: IptablesRuleset = {
      baseKey: 'k',
      statics: [{ table: 'nat', name: 'KUBE-POSTROUTING', rules: ['-j RETURN', '-j MASQUERADE'] }, { table: 'filter', name: 'KUBE-FORWARD', rules: ['-j ACCEPT'] }],
      jumps: [{ table: 'nat', from: 'PREROUTING', to: 'KUBE-SERVICES', comment: '', extra: '' }],
      fragments: new Map([['x', { id: 'x', keys: [], chains: new Map([['KUBE-SVC-X', '-A KUBE-SVC-X -j KUBE-SEP-A\n-A KUBE-SVC-X -j KUBE-SEP-B'], ['KUBE-SEP-A', '-A KUBE-SEP-A -j DNAT']]), shared: [{ table: 'nat', chain: 'KUBE-SERVICES', rule: '-d 10.43.0.2' }] }]]),
    };
    expect(Object.fromEntries(countIptables(rs))).toEqual({ nat: 2 + 1 + 3 + 1, filter: 1 });
  });

  test('a sync sets the duration histogram, the last-sync time and the rule counts of its mode', async () => {
    const r = new Registry();
    let now = 1_000_000;
    const m = new ProxyMetrics(r, () => now);
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBe(0);
    now += 5000;
    m.synced({ mode: 'nftables', ruleset: nft, totalMs: 3 });
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_duration_seconds_count')).toBe(1);
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_duration_seconds_sum')).toBeCloseTo(0.003);
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_last_timestamp_seconds')).toBe(1005);
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_nftables_objects{type="rule"}')).toBe(3);
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_iptables_total{table="nat"}')).toBeUndefined();
    const ipvs: IpvsState = { services: new Map([['TCP 10.43.0.2:80', { vs: {} as never, dests: [{} as never, {} as never] }]]), bindAddrs: [], ruleset: nft, conflicts: [] };
    m.synced({ mode: 'ipvs', ruleset: ipvs, totalMs: 1 });
    expect(await sample(r, 'kubeproxy_sync_proxy_rules_ipvs_servers{kind="real"}')).toBe(2);
  });

  test('network programming latency runs from the trigger time to the end of the first sync that began after the slice was seen', async () => {
    const r = new Registry();
    let now = Date.parse('2026-11-27T01:00:00Z');
    const m = new ProxyMetrics(r, () => now);
    m.sliceChanged(slice('2026-11-27T00:59:00Z')); // before the proxy started: the initial list, skipped
    m.sliceChanged(slice());
    now += 1000;
    m.sliceChanged(slice('2026-11-27T01:00:00.500Z')); // seen at +1 s
    now += 10;
    m.sliceChanged(slice('2026-11-27T01:00:01.005Z')); // seen during the sync below: waits for the next
    now += 20;
    m.synced({ mode: 'nftables', ruleset: nft, totalMs: 25 }); // began at +1.005 s, ended at +1.030 s
    expect(await sample(r, 'kubeproxy_network_programming_duration_seconds_count')).toBe(1);
    expect(await sample(r, 'kubeproxy_network_programming_duration_seconds_sum')).toBeCloseTo(0.53);
    now += 100;
    m.synced({ mode: 'nftables', ruleset: nft, totalMs: 5 });
    expect(await sample(r, 'kubeproxy_network_programming_duration_seconds_count')).toBe(2);
    expect(await sample(r, 'kubeproxy_network_programming_duration_seconds_sum')).toBeCloseTo(0.53 + 0.125);
  });
});
