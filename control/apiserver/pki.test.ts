import YAML from 'yaml';
import { caHashOf, renderKubeconfig, servingSans } from './pki.js';

describe('servingSans', () => {
  it('covers loopback, the kubernetes Service names and ClusterIP, host IPs and extras', () => {
    expect(servingSans({ serviceCidr: '10.43.0.0/16', extraSans: ['API.example.com', '203.0.113.7', '::ffff:1.2.3.4'] }, ['192.0.2.10'])).toEqual({
      dns: ['api.example.com', 'kubernetes', 'kubernetes.default', 'kubernetes.default.svc', 'kubernetes.default.svc.cluster.local', 'localhost'],
      ips: ['10.43.0.1', '127.0.0.1', '192.0.2.10', '203.0.113.7', '::1', '::ffff:102:304'],
    });
  });

  it('uses the first address of any service network', () => {
    expect(servingSans({ serviceCidr: '10.96.0.0/12' }, []).ips).toContain('10.96.0.1');
    expect(servingSans({ serviceCidr: 'fd00:43::/112' }, []).ips).toContain('fd00:43::1');
  });
});

describe('renderKubeconfig', () => {
  it('names cluster, user and context after the context name', () => {
    const doc = YAML.parse(renderKubeconfig('https://10.0.0.1:6443', 'CA', 'C', 'K', 'lab')) as { 'current-context': string; contexts: unknown[] };
    expect(doc['current-context']).toBe('lab');
    expect(doc.contexts).toEqual([{ name: 'lab', context: { cluster: 'lab', user: 'lab' } }]);
  });
});

describe('caHashOf', () => {
  it('is the hex SHA-256 of the PEM text', () => {
    expect(caHashOf('')).toBe('e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
});
