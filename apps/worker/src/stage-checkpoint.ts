import { asStoredJson, contentSha256, messageRefs, prefixSegment, responseBlob, textSha256, type ContentMessage, type PrefixSegment } from '@amend/audit';
import type { Constitution } from '@amend/constitution';
import { stageEventType, type AuditEventType, type StageRecord } from '@amend/contracts';
import { pairQuality, type ChatResult, type NextStep, type PlannedCall, type RunSpec, type SampleSpec } from '@amend/pipeline';
import type { SampleChainHead, SamplesRepository, WorkItem } from '@amend/store';
import type { ConstitutionSource } from './ports';

export type CheckpointInput = Parameters<SamplesRepository['checkpoint']>[0];

/** The run as the pipeline sees it, from its row. */
export async function runSpecOf(item: Pick<WorkItem, 'run'>, constitutions: ConstitutionSource): Promise<RunSpec> {
  const r = item.run;
  const ref = { name: r.constitution_name, version: r.constitution_version, sha256: r.constitution_sha256 };
  return {
    id: r.id,
    mode: r.mode,
    rounds: r.rounds,
    seed: r.seed,
    model: r.model,
    feedback_model: r.feedback_model,
    sampling: r.sampling,
    constitution: await constitutions.get(ref.name, ref.version, ref.sha256),
    constitutionRef: ref,
    principles: r.principles ?? null,
    feedback: r.feedback ?? null,
    evaluation: r.evaluation
      ? { role: r.evaluation.role, dimensions: r.evaluation.dimensions ?? null, shared_draft: r.evaluation.shared_draft !== false }
      : null,
  };
}

export function sampleSpecOf(item: Pick<WorkItem, 'sample'>): SampleSpec {
  return {
    id: item.sample.id,
    index: item.sample.idx,
    external_id: item.sample.external_id,
    prompt: item.sample.prompt,
    messages: item.sample.messages ?? null,
    metadata: item.sample.metadata ?? null,
  };
}

const prefixes = new WeakMap<Constitution, PrefixSegment | null>();

/**
 * The constitution's few-shot prefix (system message and example conversations, as the draft call
 * opens with them) as one blob, hashed once per constitution version per process: stored once,
 * named by every call that starts with it.
 */
export function fewShotPrefix(constitution: Constitution): PrefixSegment | null {
  let prefix = prefixes.get(constitution);
  if (prefix === undefined) {
    const messages: ContentMessage[] = [];
    if (constitution.system !== undefined) messages.push({ role: 'system', content: constitution.system });
    for (const example of constitution.examples) for (const m of example.messages) messages.push({ role: m.role, content: m.content });
    prefix = messages.length > 0 ? prefixSegment(messages) : null;
    prefixes.set(constitution, prefix);
  }
  return prefix;
}

/**
 * The checkpoint of a call that succeeded: its stage record with its audit event, the stage that
 * follows it or, when the sample's next step is its pair, the pair with its event, and the
 * conversation's blobs. SampleOrchestrator.applyStage builds every checkpoint here, for the online
 * walk and the batch waves alike.
 */
export function stageCheckpoint(args: {
  item: Pick<WorkItem, 'sample' | 'run'>;
  run: RunSpec;
  call: PlannedCall;
  result: ChatResult;
  record: StageRecord;
  next: NextStep;
  actor: string;
  spend: CheckpointInput['spend'];
  head?: SampleChainHead;
  extra?: Record<string, unknown>;
  /** The event type when it is not the call's own (`draft.shared`: an evaluation's candidate copied the baseline's draft). */
  type?: AuditEventType;
}): CheckpointInput {
  const { item, run, call, result, record, next, actor } = args;
  const pair = next.kind === 'pair' ? next.pair : undefined;
  // The conversation is stored once: the stage record and the event name the messages sent by
  // hash (the few-shot prefix as one blob), the blobs go in with the checkpoint.
  const { messages: sent, ...params } = result.request as { messages?: ContentMessage[] } & Record<string, unknown>;
  const content = messageRefs(sent ?? record.messages, fewShotPrefix(run.constitution));
  // The response body is stored once too, by hash, so that erasing a sample can remove the model's
  // words from the trail's reach without changing an event (docs/audit.md "Erasure").
  // (A draft an evaluation shares was not asked for: it has no body, and says so inline.)
  const response = result.response == null ? null : responseBlob(result.response);
  if (response) content.blobs.push(response);
  return {
    sampleId: item.sample.id,
    runId: item.run.id,
    idx: item.sample.idx,
    record,
    nextStage: next.kind === 'call' ? next.call.stage : 'done',
    event: {
      type: args.type ?? stageEventType(call.stage),
      actor,
      payload: {
        seq: call.seq,
        stage: call.stage,
        round: call.round,
        principle_id: call.principle_id,
        constitution: run.constitutionRef,
        request: { ...params, messages_sha256: content.refs },
        ...(response ? { response_sha256: response.sha256 } : { response: null }),
        // The stage record's text and finish reason as stored, so verify can hold the row to the trail.
        text_sha256: textSha256(record.text),
        finish_reason: record.finish_reason ?? null,
        model: result.model,
        usage: result.usage,
        latency_ms: result.latency_ms,
        attempts: result.attempts,
        simulated: result.simulated,
        ...(record.judgement && { judgement: record.judgement }),
        ...args.extra,
      },
    },
    // The pair is its row; the event names it by the hash of its canonical JSON as stored. Its
    // quality figures are computed here, once, so the API's report never reads the texts again.
    pair: pair && {
      record: pair,
      quality: pairQuality(pair),
      event: { type: 'pair.emitted', actor, payload: { pair_id: pair.id, pair_sha256: contentSha256(asStoredJson(pair)) } },
    },
    spend: args.spend,
    head: args.head,
    content,
  };
}
