import { HubExportController } from './hub/hub-export.controller';
import { HubExportService } from './hub/hub-export.service';
import { DynamicModule, Module } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_INTERCEPTOR, APP_PIPE, DiscoveryModule } from '@nestjs/core';
import { TerminusModule } from '@nestjs/terminus';
import { ZodSerializerInterceptor, ZodValidationPipe } from 'nestjs-zod';
import type { Config } from '@amend/contracts';
import { RuntimeModule } from '@amend/runtime';
import { ErrorBodyFilter } from './errors/error-body.filter';
import { RunsController } from './runs/runs.controller';
import { RunsService } from './runs/runs.service';
import { SamplesController } from './samples/samples.controller';
import { PairsController } from './pairs/pairs.controller';
import { PairsService } from './pairs/pairs.service';
import { PairSearchController } from './pairs/pair-search.controller';
import { PairSearchService } from './pairs/pair-search.service';
import { ConstitutionsController } from './constitutions/constitutions.controller';
import { ConstitutionSyncService } from './constitutions/constitution-sync.service';
import { ConstitutionsService } from './constitutions/constitutions.service';
import { PreviewService } from './constitutions/preview.service';
import { DraftsService } from './constitutions/drafts.service';
import { HealthController } from './health/health.controller';
import { ReadinessService } from './health/readiness.service';
import { SamplesService } from './samples/samples.service';
import { ReviewsController } from './reviews/reviews.controller';
import { ReviewsService } from './reviews/reviews.service';
import { ReviewQueueController } from './reviews/review-queue.controller';
import { ReviewQueueService } from './reviews/review-queue.service';
import { ReportsController } from './reports/reports.controller';
import { ReportsService } from './reports/reports.service';
import { AuthGuard } from './auth/auth.guard';
import { RateLimiter } from './auth/rate-limiter';
import { Authenticator } from './auth/authenticator';
import { RouteTable } from './auth/route-table';
import { KeysController } from './keys/keys.controller';
import { MeController } from './console/me.controller';
import { KeysService } from './keys/keys.service';
import { AuditController } from './audit/audit.controller';
import { AuditService } from './audit/audit.service';
import { EvaluationsController } from './evaluations/evaluations.controller';
import { EvaluationsService } from './evaluations/evaluations.service';
import { ErasureController } from './erasure/erasure.controller';
import { ErasureService } from './erasure/erasure.service';

import { SuggestionsController } from './suggestions/suggestions.controller';
import { SuggestionsService } from './suggestions/suggestions.service';
@Module({})
export class ApiModule {
  static forRoot(config: Config): DynamicModule {
    return {
      module: ApiModule,
      imports: [RuntimeModule.forRoot(config, 'amend-api'), TerminusModule, DiscoveryModule],
      controllers: [
        RunsController,
        SamplesController,
        PairsController,
        PairSearchController,
        ConstitutionsController,
        HealthController,
        ReviewsController,
        ReviewQueueController,
        ReportsController,
        MeController,
        KeysController,
        AuditController,
        EvaluationsController,
        ErasureController,
        SuggestionsController,
        HubExportController,
      ],
      providers: [
        RunsService,
        SamplesService,
        PairsService,
        PairSearchService,
        ReadinessService,
        ReviewsService,
        ReviewQueueService,
        ReportsService,
        ConstitutionSyncService,
        ConstitutionsService,
        PreviewService,
        DraftsService,
        KeysService,
        AuditService,
        EvaluationsService,
        ErasureService,
        SuggestionsService,
        HubExportService,
        RateLimiter,
        Authenticator,
        RouteTable,
        // Every route passes this guard: a key, a role its @Allow lists, the key's rate (auth/).
        { provide: APP_GUARD, useClass: AuthGuard },
        { provide: APP_PIPE, useClass: ZodValidationPipe },
        { provide: APP_INTERCEPTOR, useClass: ZodSerializerInterceptor },
        { provide: APP_FILTER, useClass: ErrorBodyFilter },
      ],
    };
  }
}
