import { Controller, Get, Param } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import { Store } from '@amend/store';
import { ApiError } from '../errors/api-error';

@ApiTags('constitutions')
@Controller('v1/constitutions')
export class ConstitutionsController {
  constructor(private readonly store: Store) {}

  @Get()
  async list() {
    const all = await this.store.constitutions.all();
    const byName = new Map<string, typeof all>();
    for (const c of all) byName.set(c.name, [...(byName.get(c.name) ?? []), c]);
    return {
      constitutions: [...byName.entries()].map(([name, versions]) => ({
        name,
        latest: [...versions].reverse().find((v) => !v.deprecated_at)?.version ?? null,
        versions: versions.map((v) => ({
          version: v.version,
          sha256: v.sha256,
          title: v.title,
          published_at: v.published_at.toISOString(),
          deprecated: !!v.deprecated_at,
        })),
      })),
    };
  }

  @Get(':name/:version')
  async get(@Param('name') name: string, @Param('version') version: string) {
    const c = await this.store.constitutions.resolve(name, version === 'latest' ? undefined : version);
    if (!c) throw new ApiError(404, 'constitution_not_found', `no constitution ${name}@${version}`);
    return { name: c.name, version: c.version, sha256: c.sha256, published_by: c.published_by, published_at: c.published_at.toISOString(), content: c.content };
  }
}
