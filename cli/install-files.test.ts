import { describe, expect, test } from '@jest/globals';
import { kernelModules, layout, renderConfig, renderEnv, renderKillall, renderModules, renderSysctls, renderUninstall, renderUnit } from './install-files.js';
import { configToArgv, parseConfigFile } from './config-file.js';

describe('install files', () => {
  test('the units keep containers across restarts and come back after a crash', () => {
    for (const role of ['server', 'agent'] as const) {
      const unit = renderUnit(role, layout('/'));
      for (const line of ['KillMode=process', 'Delegate=yes', 'Restart=always', 'LimitNOFILE=1048576', `ExecStart=/opt/k8ts/bin/k8ts ${role}\n`, `EnvironmentFile=-/etc/k8ts/k8ts-${role}.env`, 'WantedBy=multi-user.target']) {
        expect(unit).toContain(line);
      }
      for (const m of kernelModules) expect(unit).toContain(`ExecStartPre=-/sbin/modprobe ${m}\n`);
    }
  });

  test('an install root relocates every path, and the unit names its config file', () => {
    const l = layout('/tmp/r/');
    expect([l.installDir, l.config, l.unit('agent'), l.killall, l.defaultDataDir]).toEqual([
      '/tmp/r/opt/k8ts', '/tmp/r/etc/k8ts/config.yaml', '/tmp/r/etc/systemd/system/k8ts-agent.service', '/tmp/r/usr/local/bin/k8ts-killall.sh', '/tmp/r/var/lib/k8ts',
    ]);
    expect(renderUnit('agent', l)).toContain('ExecStart=/tmp/r/opt/k8ts/bin/k8ts agent --config /tmp/r/etc/k8ts/config.yaml\n');
    expect(renderUninstall(l)).toContain("exec /tmp/r/opt/k8ts/bin/k8ts uninstall --root '/tmp/r' \"$@\"");
    expect(renderUninstall(layout('/'))).toContain('exec /opt/k8ts/bin/k8ts uninstall "$@"');
  });

  test('config.yaml reads back as the flags install was given', () => {
    const text = renderConfig('agent', { server: 'https://10.0.0.1:6443', 'token-file': '/etc/k8ts/token', 'node-labels': ['a=1', 'b=2'], 'disable-x': true });
    expect(text.startsWith('# k8ts agent configuration')).toBe(true);
    expect(configToArgv(parseConfigFile(text, 'f'))).toEqual(['--server=https://10.0.0.1:6443', '--token-file=/etc/k8ts/token', '--node-labels=a=1,b=2', '--disable-x']);
    expect(parseConfigFile(renderConfig('server', {}), 'f')).toEqual({});
  });

  test('the env file quotes values', () => {
    expect(renderEnv('server', { K8TS_TOKEN: 'a b"c' })).toContain('K8TS_TOKEN="a b\\"c"\n');
  });

  test('sysctls and modules the data plane needs', () => {
    expect(renderSysctls()).toContain('net.ipv4.ip_forward = 1\n');
    expect(renderSysctls()).toContain('net.bridge.bridge-nf-call-iptables = 1\n');
    expect(renderModules().split('\n')).toEqual(expect.arrayContaining(['br_netfilter', 'overlay', 'vxlan', 'nf_tables', 'ip_vs', 'ip_vs_rr']));
  });

  test('killall is scoped to its own dirs, and host-wide only for a real install', () => {
    const test = renderKillall({ dataDirs: ['/tmp/r/var/lib/k8ts'], runDirs: ['/run/k8ts-0123456789'], hostWide: false });
    expect(test).toContain("data_dirs='/tmp/r/var/lib/k8ts'");
    expect(test).toContain("run_dirs='/run/k8ts-0123456789'");
    expect(test).toContain('host_wide=0');
    expect(renderKillall({ dataDirs: [], runDirs: [], hostWide: true })).toContain('host_wide=1');
  });
});
