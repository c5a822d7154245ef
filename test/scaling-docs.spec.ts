import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseAllDocuments } from 'yaml';
import { ConfigSchema } from '@amend/contracts';
import { ROOT } from './support/stack';

/** The Kubernetes manifests of docs/scaling.md parse, name what exists, and agree with each other. */
const dir = join(ROOT, 'deploy/k8s');
const docs = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml'))
  .flatMap((f) =>
    parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
      expect(d.errors).toEqual([]);
      return { file: f, doc: d.toJS() as any };
    }),
  );
const byKind = (kind: string) => docs.filter((d) => d.doc.kind === kind).map((d) => d.doc);

describe('deploy/k8s', () => {
  it('has Deployments for the API and the worker, a KEDA ScaledObject, PodDisruptionBudgets and the migrate Job', () => {
    expect(
      byKind('Deployment')
        .map((d) => d.metadata.name)
        .sort(),
    ).toEqual(['amend-api', 'amend-worker']);
    expect(byKind('ScaledObject')).toHaveLength(1);
    expect(
      byKind('PodDisruptionBudget')
        .map((d) => d.spec.selector.matchLabels.component)
        .sort(),
    ).toEqual(['api', 'worker']);
    expect(byKind('Job').map((d) => d.metadata.name)).toEqual(['amend-migrate']);
  });

  it('every environment value is one the service accepts, and the queue prefix is a Redis Cluster hash tag', () => {
    for (const d of byKind('Deployment')) {
      const env = Object.fromEntries(d.spec.template.spec.containers[0].env.map((e: any) => [e.name, e.value]));
      expect(env.QUEUE_PREFIX).toBe('{amend}');
      expect(ConfigSchema.safeParse(env).success).toBe(true);
    }
  });

  it('KEDA scales the worker Deployment on the queue depth gauge Amend exports, for its prefix', () => {
    const [so] = byKind('ScaledObject');
    expect(so.spec.scaleTargetRef.name).toBe('amend-worker');
    const trigger = so.spec.triggers[0];
    expect(trigger.type).toBe('prometheus');
    expect(trigger.metadata.query).toContain('amend_queue_jobs{queue="{amend}"');
    expect(Number(trigger.metadata.threshold)).toBeGreaterThan(0);
    const source = readFileSync(join(ROOT, 'libs/runtime/src/metrics.ts'), 'utf8');
    expect(source).toContain("name: 'amend_queue_jobs'");
  });

  it('the commands name compiled entry points that the build makes', () => {
    for (const d of [...byKind('Deployment'), ...byKind('Job').map((j) => ({ spec: { template: j.spec.template } }))]) {
      const cmd: string[] = d.spec.template.spec.containers[0].command;
      const entry = cmd[cmd.length - 1];
      expect(entry).toMatch(/^dist\/(apps|scripts)\/.+\.js$/);
      const source = join(ROOT, entry.replace(/^dist\//, '').replace(/\.js$/, '.ts'));
      expect(() => readFileSync(source)).not.toThrow();
    }
  });
});
