import { DynamicModule, Module } from '@nestjs/common';
import type { Config } from '@amend/contracts';
import { RuntimeModule } from '@amend/runtime';
import { SampleOrchestrator } from './sample-orchestrator';
import { SampleWorker } from './sample-worker';
import { Reconciler } from './reconciler';
import { WorkerMetrics } from './worker-metrics';
import { SpendMeter } from './spend-meter';
import { LabelGuard } from './label-guard';
import { BatchCoordinator } from './batch-coordinator';
import { SuggestionEngine } from './suggestion-engine';
import { SuggestionWorker } from './suggestion-worker';

@Module({})
export class WorkerModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: WorkerModule,
      imports: [RuntimeModule.forRoot(config, 'amend-worker')],
      providers: [SampleOrchestrator, SampleWorker, Reconciler, WorkerMetrics, SpendMeter, LabelGuard, BatchCoordinator, SuggestionEngine, SuggestionWorker],
    };
  }
}
