import type { Principle } from '@amend/constitution';
import type { PairFormat, PairRecord, StageRecord } from '@amend/contracts';
import * as pipeline from './index';
import type { ChatResult, PlannedCall, RunSpec, SampleSpec } from './index';

// The worker and the API are written against these signatures; a change here is a breaking change.
const api: {
  planNextCall: (run: RunSpec, sample: SampleSpec, done: StageRecord[]) => PlannedCall | null;
  recordCall: (call: PlannedCall, result: ChatResult) => StageRecord;
  isLastCall: (run: RunSpec, call: PlannedCall) => boolean;
  samplePrinciple: (principles: Principle[], seed: number, sampleIndex: number, round: number) => Principle;
  assemblePair: (run: RunSpec, sample: SampleSpec, records: StageRecord[], pairId: string) => PairRecord;
  formatPair: (pair: PairRecord, format: PairFormat) => object;
  toSft: (pair: PairRecord) => object;
  callsPerSample: (run: Pick<RunSpec, 'rounds'>) => number;
} = {
  planNextCall: pipeline.planNextCall,
  recordCall: pipeline.recordCall,
  isLastCall: pipeline.isLastCall,
  samplePrinciple: pipeline.samplePrinciple,
  assemblePair: pipeline.assemblePair,
  formatPair: pipeline.formatPair,
  toSft: pipeline.toSft,
  callsPerSample: pipeline.callsPerSample,
};

describe('@amend/pipeline entry point', () => {
  it('exports the domain functions the worker and the API call', () => {
    const names = Object.keys(api) as (keyof typeof api)[];
    for (const name of names) expect([name, typeof pipeline[name]]).toEqual([name, 'function']);
    expect(typeof pipeline.PipelineError).toBe('function');
  });
});
