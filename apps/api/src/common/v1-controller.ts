import { applyDecorators, Controller } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';

/**
 * A controller of the versioned REST API: its OpenAPI tag, the bearer key every one of its routes
 * takes (AuthGuard; `@Allow` names the roles), and its path under `/v1`.
 */
export function V1Controller(tag: string, path = ''): ClassDecorator {
  return applyDecorators(ApiTags(tag), ApiBearerAuth(), Controller(path ? `v1/${path}` : 'v1'));
}
