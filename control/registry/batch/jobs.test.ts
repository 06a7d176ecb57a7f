import { deepCopy, type KubeObject } from '../../../api/object.js';
import type { RegistryContext } from '../types.js';
import { jobs } from './jobs.js';

const ctx: RegistryContext = { serviceCIDR: '10.43.0.0/16', clusterCIDR: '10.42.0.0/16', nodePortRange: { min: 30000, max: 32767 }, now: () => new Date('2026-01-01T00:10:00Z') };
const messages = (errs: { message(): string }[]) => errs.map(e => e.message());

function job(spec: Record<string, unknown> = {}, labels?: Record<string, string>): KubeObject {
  return {
    apiVersion: 'batch/v1', kind: 'Job',
    metadata: { name: 'pi', namespace: 'default', uid: 'abc-123', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: {
      template: { ...(labels ? { metadata: { labels } } : {}), spec: { restartPolicy: 'Never', containers: [{ name: 'pi', image: 'perl:5.34' }] } },
      ...spec,
    },
  };
}

/** The apiserver's create order: uid set, prepareForCreate, then applyDefaults. */
function created(obj: KubeObject): KubeObject {
  jobs.prepareForCreate!(obj);
  jobs.applyDefaults!(obj, ctx);
  return obj;
}

describe('jobs defaulting', () => {
  it('defaults completions and parallelism to 1, backoffLimit 6 and the modes', () => {
    const j = created(job());
    const s = j.spec as Record<string, unknown>;
    expect([s.completions, s.parallelism, s.backoffLimit, s.completionMode, s.suspend, s.manualSelector, s.podReplacementPolicy])
      .toEqual([1, 1, 6, 'NonIndexed', false, false, 'TerminatingOrFailed']);
  });

  it('leaves completions unset for a work queue with parallelism', () => {
    const s = created(job({ parallelism: 3 })).spec as Record<string, unknown>;
    expect(s.completions).toBeUndefined();
    expect(s.parallelism).toBe(3);
  });

  it('generates the selector and template labels from the uid and name', () => {
    const j = created(job());
    const s = j.spec as { selector: unknown; template: { metadata: { labels: Record<string, string> } } };
    expect(s.selector).toEqual({ matchLabels: { 'batch.kubernetes.io/controller-uid': 'abc-123' } });
    expect(s.template.metadata.labels).toEqual({
      'job-name': 'pi', 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': 'abc-123', 'batch.kubernetes.io/controller-uid': 'abc-123',
    });
    expect(j.metadata!.labels).toBeUndefined();
    expect(jobs.validate(j, ctx)).toEqual([]);
  });

  it('copies template labels to an unlabelled job, generated ones included, as upstream', () => {
    const j = created(job({}, { app: 'pi' }));
    expect(j.metadata!.labels).toEqual({
      app: 'pi', 'job-name': 'pi', 'batch.kubernetes.io/job-name': 'pi', 'controller-uid': 'abc-123', 'batch.kubernetes.io/controller-uid': 'abc-123',
    });
  });

  it('does not generate anything with manualSelector', () => {
    const j = created(job({ manualSelector: true, selector: { matchLabels: { app: 'pi' } } }, { app: 'pi' }));
    expect((j.spec as Record<string, unknown>).selector).toEqual({ matchLabels: { app: 'pi' } });
    expect(jobs.validate(j, ctx)).toEqual([]);
  });
});

describe('jobs validation', () => {
  it('requires restartPolicy OnFailure or Never (the pod default Always is refused)', () => {
    const j = job();
    delete ((j.spec as { template: { spec: Record<string, unknown> } }).template.spec).restartPolicy;
    created(j);
    expect(messages(jobs.validate(j, ctx))).toEqual(['spec.template.spec.restartPolicy: Required value: valid values: "OnFailure", "Never"']);
  });

  it('refuses a manual-looking selector without manualSelector', () => {
    const j = created(job({ selector: { matchLabels: { app: 'pi' } } }, { app: 'pi' }));
    expect(messages(jobs.validate(j, ctx))).toEqual([
      'spec.template.metadata.labels[controller-uid]: Required value: abc-123',
      'spec.template.metadata.labels[job-name]: Required value: pi',
      'spec.template.metadata.labels[batch.kubernetes.io/controller-uid]: Required value: abc-123',
      'spec.template.metadata.labels[batch.kubernetes.io/job-name]: Required value: pi',
      'spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"pi"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: `selector` not auto-generated',
    ]);
  });

  it('requires a selector matching the template with manualSelector', () => {
    const j = created(job({ manualSelector: true, selector: { matchLabels: { app: 'x' } } }, { app: 'pi' }));
    expect(messages(jobs.validate(j, ctx))).toEqual(['spec.template.metadata.labels: Invalid value: map[string]string{"app":"pi"}: `selector` does not match template `labels`']);
  });

  it('checks counts, completion mode and indexed host names', () => {
    const j = created(job({ parallelism: -1, backoffLimit: -2, completionMode: 'Sometimes' }));
    expect(messages(jobs.validate(j, ctx))).toEqual([
      'spec.parallelism: Invalid value: -1: must be greater than or equal to 0',
      'spec.backoffLimit: Invalid value: -2: must be greater than or equal to 0',
      'spec.completionMode: Unsupported value: "Sometimes": supported values: "NonIndexed", "Indexed"',
    ]);
    const idx = created(job({ completionMode: 'Indexed', completions: 3, backoffLimitPerIndex: 1 }));
    expect(jobs.validate(idx, ctx)).toEqual([]);
    const perIndex = created(job({ backoffLimitPerIndex: 1 }));
    expect(messages(jobs.validate(perIndex, ctx))).toEqual(['spec.backoffLimitPerIndex: Invalid value: 1: requires indexed completion mode']);
  });

  it('keeps the template, completions and selector immutable', () => {
    const old = created(job());
    old.status = { startTime: '2026-01-01T00:00:00Z' };
    const next = deepCopy(old);
    (next.spec as { template: { spec: { containers: { image: string }[] } } }).template.spec.containers[0]!.image = 'perl:5.36';
    (next.spec as Record<string, unknown>).completions = 2;
    const errs = messages(jobs.validateUpdate(next, old, ctx));
    expect(errs.some(m => m.startsWith('spec.completions: Invalid value: 2: field is immutable'))).toBe(true);
    expect(errs.some(m => m.startsWith('spec.template: Invalid value: ') && m.endsWith(': field is immutable'))).toBe(true);
    const parallel = deepCopy(old);
    (parallel.spec as Record<string, unknown>).parallelism = 5;
    expect(jobs.validateUpdate(parallel, old, ctx)).toEqual([]);
  });

  it('lets a suspended job that never started change its node selector', () => {
    const old = created(job({ suspend: true }));
    const next = deepCopy(old);
    (next.spec as { template: { spec: Record<string, unknown> } }).template.spec.nodeSelector = { disk: 'ssd' };
    expect(jobs.validateUpdate(next, old, ctx)).toEqual([]);
  });
});

describe('jobs table', () => {
  it('has the 1.28+ columns', () => {
    expect(jobs.tableColumns.map(c => c.name)).toEqual(['Name', 'Status', 'Completions', 'Duration', 'Age', 'Containers', 'Images', 'Selector']);
  });

  it('shows a running job with its duration so far', () => {
    const j = created(job());
    j.status = { startTime: '2026-01-01T00:09:30Z', active: 1 };
    expect(jobs.tableRow(j, ctx.now())).toEqual(['pi', 'Running', '0/1', '30s', '10m', 'pi', 'perl:5.34', 'batch.kubernetes.io/controller-uid=abc-123']);
  });

  it('shows Complete and the start-to-completion duration', () => {
    const j = created(job());
    j.status = { startTime: '2026-01-01T00:00:00Z', completionTime: '2026-01-01T00:00:07Z', succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
    expect(jobs.tableRow(j, ctx.now()).slice(1, 4)).toEqual(['Complete', '1/1', '7s']);
  });

  it('shows work queues, suspension, failure and termination', () => {
    const q = created(job({ parallelism: 4 }));
    expect(jobs.tableRow(q, ctx.now()).slice(1, 4)).toEqual(['Running', '0/1 of 4', '']);
    q.status = { conditions: [{ type: 'Suspended', status: 'True' }] };
    expect(jobs.tableRow(q, ctx.now())[1]).toBe('Suspended');
    q.metadata!.deletionTimestamp = '2026-01-01T00:09:00Z';
    expect(jobs.tableRow(q, ctx.now())[1]).toBe('Terminating');
    q.status = { conditions: [{ type: 'Failed', status: 'True' }] };
    expect(jobs.tableRow(q, ctx.now())[1]).toBe('Failed');
  });
});

describe('jobs field selectors', () => {
  it('offers status.successful, as upstream', () => {
    const j = created(job());
    j.status = { succeeded: 2 };
    expect(jobs.fieldSelectorAttributes!(j)).toEqual({ 'status.successful': '2' });
  });
});

describe('jobs from kubectl', () => {
  it('accepts what `kubectl create job` sends once the server has set the uid', () => {
    const body = JSON.parse(`{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"pi","namespace":"default","creationTimestamp":null},
      "spec":{"template":{"metadata":{"creationTimestamp":null},"spec":{"containers":[{"name":"pi","image":"perl","resources":{}}],"restartPolicy":"Never"}}},"status":{}}`) as KubeObject;
    body.metadata!.uid = 'u-9';
    created(body);
    expect(jobs.validate(body, ctx)).toEqual([]);
    expect((body.spec as Record<string, unknown>).selector).toEqual({ matchLabels: { 'batch.kubernetes.io/controller-uid': 'u-9' } });
  });
});
