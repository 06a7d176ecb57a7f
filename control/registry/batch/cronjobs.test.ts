import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { cronjobs } from './cronjobs.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T01:00:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

function cronjob(spec: Record<string, unknown> = {}): KubeObject {
  const obj: KubeObject = {
    apiVersion: 'batch/v1', kind: 'CronJob',
    metadata: { name: 'backup', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      schedule: '0 3 * * *',
      jobTemplate: { spec: { template: { spec: { restartPolicy: 'OnFailure', containers: [{ name: 'b', image: 'busybox' }] } } } },
      ...spec,
    },
  };
  cronjobs.applyDefaults!(obj, ctx);
  return obj;
}

describe('cronjobs defaulting', () => {
  it('defaults Allow, suspend false and the history limits, and not the job defaults', () => {
    const s = cronjob().spec as Record<string, unknown>;
    expect([s.concurrencyPolicy, s.suspend, s.successfulJobsHistoryLimit, s.failedJobsHistoryLimit]).toEqual(['Allow', false, 3, 1]);
    const js = (s.jobTemplate as { spec: Record<string, unknown> }).spec;
    expect(js.backoffLimit).toBeUndefined();
    expect((js.template as { spec: Record<string, unknown> }).spec.dnsPolicy).toBe('ClusterFirst');
  });
});

describe('cronjobs validation', () => {
  it('accepts a valid cron job', () => {
    expect(cronjobs.validate(cronjob({ timeZone: 'Europe/Paris' }), ctx)).toEqual([]);
  });

  it('reports schedule parse errors and TZ in the schedule', () => {
    expect(messages(cronjobs.validate(cronjob({ schedule: '61 * * * *' }), ctx))).toEqual(['spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61']);
    expect(messages(cronjobs.validate(cronjob({ schedule: 'CRON_TZ=UTC * * * * *' }), ctx))).toEqual(['spec.schedule: Invalid value: "CRON_TZ=UTC * * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead']);
    expect(messages(cronjobs.validate(cronjob({ schedule: '' }), ctx))).toEqual(['spec.schedule: Required value']);
  });

  it('keeps an old TZ= schedule updatable but not together with timeZone', () => {
    const old = cronjob({ schedule: 'TZ=UTC 0 * * * *' });
    const same = deepCopy(old);
    (same.spec as Record<string, unknown>).suspend = true;
    expect(cronjobs.validateUpdate(same, old, ctx)).toEqual([]);
    const both = deepCopy(old);
    (both.spec as Record<string, unknown>).timeZone = 'UTC';
    expect(messages(cronjobs.validateUpdate(both, old, ctx))).toEqual(['spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use both timeZone field and TZ or CRON_TZ in schedule']);
  });

  it('validates the time zone', () => {
    expect(messages(cronjobs.validate(cronjob({ timeZone: 'Europe/Pariss' }), ctx))).toEqual(['spec.timeZone: Invalid value: "Europe/Pariss": unknown time zone Europe/Pariss']);
    expect(messages(cronjobs.validate(cronjob({ timeZone: 'Local' }), ctx))).toEqual(['spec.timeZone: Invalid value: "Local": timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones']);
    expect(messages(cronjobs.validate(cronjob({ timeZone: '' }), ctx))).toEqual(['spec.timeZone: Invalid value: "": timeZone must be nil or non-empty string']);
  });

  it('checks concurrency policy, history limits, name length and the job template', () => {
    const c = cronjob({ concurrencyPolicy: 'Sometimes', failedJobsHistoryLimit: -1 });
    c.metadata!.name = 'a'.repeat(53);
    (c.spec as { jobTemplate: { spec: Record<string, unknown> } }).jobTemplate.spec.selector = { matchLabels: { a: 'b' } };
    expect(messages(cronjobs.validate(c, ctx))).toEqual([
      'spec.concurrencyPolicy: Unsupported value: "Sometimes": supported values: "Allow", "Forbid", "Replace"',
      'spec.jobTemplate.spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"a":"b"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` will be auto-generated',
      'spec.failedJobsHistoryLimit: Invalid value: -1: must be greater than or equal to 0',
      `metadata.name: Invalid value: "${'a'.repeat(53)}": must be no more than 52 characters`,
    ]);
  });

  it('requires a job restart policy of OnFailure or Never', () => {
    const c = cronjob();
    (c.spec as { jobTemplate: { spec: { template: { spec: Record<string, unknown> } } } }).jobTemplate.spec.template.spec.restartPolicy = 'Always';
    expect(messages(cronjobs.validate(c, ctx))).toEqual(['spec.jobTemplate.spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']);
  });
});

describe('cronjobs table', () => {
  it('prints schedule, time zone, suspend, active and last schedule', () => {
    const c = cronjob({ timeZone: 'Europe/Paris' });
    c.status = { active: [{ name: 'backup-1' }], lastScheduleTime: '2026-01-01T00:55:00Z' };
    expect(cronjobs.tableColumns.map(c => c.name)).toEqual(['Name', 'Schedule', 'Timezone', 'Suspend', 'Active', 'Last Schedule', 'Age', 'Containers', 'Images', 'Selector']);
    expect(cronjobs.tableRow(c, ctx.now())).toEqual(['backup', '0 3 * * *', 'Europe/Paris', 'False', 1, '5m', '60m', 'b', 'busybox', '<none>']);
    const bare = cronjob();
    expect(cronjobs.tableRow(bare, ctx.now()).slice(2, 6)).toEqual(['<none>', 'False', 0, '<none>']);
  });
});

describe('cronjobs from kubectl', () => {
  it('accepts what `kubectl create cronjob` sends', () => {
    const body = JSON.parse(`{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"hello","namespace":"default","creationTimestamp":null},
      "spec":{"schedule":"*/1 * * * *","jobTemplate":{"metadata":{"name":"hello","creationTimestamp":null},"spec":{"template":{"metadata":{"creationTimestamp":null},
      "spec":{"containers":[{"name":"hello","image":"busybox","resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}`) as KubeObject;
    cronjobs.prepareForCreate!(body);
    cronjobs.applyDefaults!(body, ctx);
    expect(cronjobs.validate(body, ctx)).toEqual([]);
  });
});
