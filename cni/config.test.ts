import { CniError, ErrCode, parseConfig, parseEnv, validIfname, versionRequest, versionResult } from './config.js';

const conf = (o: Record<string, unknown> = {}): string => JSON.stringify({
  cniVersion: '1.1.0', name: 'k8ts', type: 'k8ts-cni', ipam: { podCIDR: '10.244.1.0/24' }, ...o,
});
const codeOf = (fn: () => unknown): number | undefined => {
  try { fn(); } catch (e) { if (e instanceof CniError) return e.code; throw e; }
  return undefined;
};
const env = (o: Record<string, string>): Record<string, string> => ({ CNI_COMMAND: 'ADD', CNI_CONTAINERID: 'abc123', CNI_NETNS: '/run/netns/x', CNI_IFNAME: 'eth0', ...o });

describe('parseEnv', () => {
  test('reads the CNI_* variables, CNI_ARGS pairs and CNI_PATH', () => {
    expect(parseEnv(env({ CNI_ARGS: 'K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;IgnoreUnknown=1', CNI_PATH: '/opt/cni/bin:/usr/lib/cni' }))).toEqual({
      command: 'ADD', containerID: 'abc123', netns: '/run/netns/x', ifname: 'eth0',
      args: { K8S_POD_NAMESPACE: 'default', K8S_POD_NAME: 'web-0', IgnoreUnknown: '1' }, path: ['/opt/cni/bin', '/usr/lib/cni'],
    });
  });

  test('rejects bad variables with code 4 and names them all', () => {
    try {
      parseEnv(env({ CNI_CONTAINERID: '-bad', CNI_IFNAME: 'a:b', CNI_NETNS: '' }));
      throw new Error('no error');
    } catch (e) {
      expect(e).toMatchObject({ code: ErrCode.InvalidEnv });
      expect((e as Error).message).toContain('CNI_CONTAINERID="-bad"');
      expect((e as Error).message).toContain('CNI_IFNAME="a:b"');
      expect((e as Error).message).toContain('CNI_NETNS');
    }
    expect(codeOf(() => parseEnv(env({ CNI_COMMAND: 'FROB' })))).toBe(4);
    expect(codeOf(() => parseEnv(env({ CNI_ARGS: 'novalue' })))).toBe(4);
  });

  test('DEL may come without a namespace; VERSION, GC and STATUS need no attachment', () => {
    expect(parseEnv(env({ CNI_COMMAND: 'DEL', CNI_NETNS: '' })).netns).toBe('');
    expect(parseEnv({ CNI_COMMAND: 'VERSION' }).command).toBe('VERSION');
    expect(parseEnv({ CNI_COMMAND: 'GC', CNI_PATH: '/opt/cni/bin' }).command).toBe('GC');
    expect(parseEnv({ CNI_COMMAND: 'STATUS' }).command).toBe('STATUS');
  });

  test('interface names follow the Linux rules the spec repeats', () => {
    expect(validIfname('eth0')).toBe(true);
    expect(validIfname('a'.repeat(15))).toBe(true);
    for (const bad of ['', '.', '..', 'a'.repeat(16), 'a/b', 'a b', 'a:b']) expect(validIfname(bad)).toBe(false);
  });
});

describe('versions', () => {
  test('VERSION echoes the requested cniVersion and lists 1.0.0 and 1.1.0', () => {
    expect(versionResult(versionRequest('{"cniVersion":"1.0.0"}'))).toEqual({ cniVersion: '1.0.0', supportedVersions: ['1.0.0', '1.1.0'] });
    expect(versionRequest('')).toBe('1.1.0');
  });

  test('older and unknown config versions are incompatible (code 1); GC and STATUS need 1.1.0', () => {
    expect(codeOf(() => parseConfig(conf({ cniVersion: '0.4.0' }), 'ADD'))).toBe(ErrCode.IncompatibleVersion);
    expect(codeOf(() => parseConfig(conf({ cniVersion: '2.0.0' }), 'ADD'))).toBe(ErrCode.IncompatibleVersion);
    expect(codeOf(() => parseConfig(conf({ cniVersion: '1.0.0' }), 'GC'))).toBe(ErrCode.IncompatibleVersion);
    expect(codeOf(() => parseConfig(conf({ cniVersion: '1.0.0' }), 'STATUS'))).toBe(ErrCode.IncompatibleVersion);
    expect(parseConfig(conf({ cniVersion: '1.0.0' }), 'ADD').cniVersion).toBe('1.0.0');
  });
});

describe('parseConfig', () => {
  test('defaults: bridge mode on cni0, MTU 1500, hairpin on, gateway .1, pool .2–.254', () => {
    const c = parseConfig(conf(), 'ADD');
    expect(c).toMatchObject({
      name: 'k8ts', type: 'k8ts-cni', mode: 'bridge', bridge: 'cni0', mtu: 1500, hairpinMode: true,
      ipam: { dataDir: '/var/lib/k8ts/cni/networks', range: { subnet: '10.244.1.0/24', gateway: '10.244.1.1', rangeStart: '10.244.1.2', rangeEnd: '10.244.1.254' } },
    });
  });

  test('host-local style ranges with one range are accepted; several are unsupported (code 2)', () => {
    const c = parseConfig(conf({ ipam: { ranges: [[{ subnet: '10.9.0.0/16', rangeStart: '10.9.1.10', rangeEnd: '10.9.1.20', gateway: '10.9.0.1' }]] } }), 'ADD');
    expect(c.ipam.range).toEqual({ subnet: '10.9.0.0/16', rangeStart: '10.9.1.10', rangeEnd: '10.9.1.20', gateway: '10.9.0.1' });
    expect(codeOf(() => parseConfig(conf({ ipam: { ranges: [[{ subnet: '10.9.0.0/16' }], [{ subnet: '10.8.0.0/16' }]] } }), 'ADD'))).toBe(ErrCode.UnsupportedField);
    expect(codeOf(() => parseConfig(conf({ ipam: { type: 'host-local', podCIDR: '10.9.0.0/16' } }), 'ADD'))).toBe(ErrCode.UnsupportedField);
  });

  test('invalid values are code 7 with every problem in the details', () => {
    try {
      parseConfig(conf({ mode: 'vxlan', mtu: 100, ipam: { podCIDR: '10.244.1.5/24' } }), 'ADD');
      throw new Error('no error');
    } catch (e) {
      expect(e).toMatchObject({ code: ErrCode.InvalidConfig });
      const d = (e as CniError).details;
      expect(d).toContain('"mode" must be "bridge" or "routed", not "vxlan"');
      expect(d).toContain('"mtu" must be an integer in 576..65535, not 100');
      expect(d).toContain('has host bits set (network is 10.244.1.0/24)');
    }
    expect(codeOf(() => parseConfig(conf({ ipam: { podCIDR: '10.244.1.0/31' } }), 'ADD'))).toBe(7);
    expect(codeOf(() => parseConfig(conf({ ipam: { podCIDR: '10.244.1.0/24', rangeStart: '10.245.0.1' } }), 'ADD'))).toBe(7);
    expect(codeOf(() => parseConfig(conf({ name: '' }), 'ADD'))).toBe(7);
    expect(codeOf(() => parseConfig(conf({ ipam: undefined }), 'ADD'))).toBe(7);
  });

  test('undecodable input is code 6', () => {
    expect(codeOf(() => parseConfig('{not json', 'ADD'))).toBe(ErrCode.Decode);
    expect(codeOf(() => parseConfig('[]', 'ADD'))).toBe(ErrCode.Decode);
    expect(codeOf(() => parseConfig(conf({ prevResult: 'x' }), 'DEL'))).toBe(ErrCode.Decode);
  });

  test('CHECK requires prevResult; GC reads the valid attachments', () => {
    expect(codeOf(() => parseConfig(conf(), 'CHECK'))).toBe(ErrCode.InvalidConfig);
    const prevResult = { cniVersion: '1.1.0', ips: [{ address: '10.244.1.2/24', interface: 2 }] };
    expect(parseConfig(conf({ prevResult }), 'CHECK').prevResult).toEqual(prevResult);
    const gc = parseConfig(conf({ 'cni.dev/valid-attachments': [{ containerID: 'a', ifname: 'eth0', extra: 1 }] }), 'GC');
    expect(gc.validAttachments).toEqual([{ containerID: 'a', ifname: 'eth0' }]);
    expect(codeOf(() => parseConfig(conf({ 'cni.dev/valid-attachments': [{ containerID: 'a' }] }), 'GC'))).toBe(7);
  });
});
