import { Injectable } from '@nestjs/common';
import { PATH_METADATA, METHOD_METADATA } from '@nestjs/common/constants';
import { RequestMethod } from '@nestjs/common';
import { DiscoveryService, MetadataScanner, Reflector } from '@nestjs/core';
import type { ErrorCode } from '@amend/contracts';
import { ACCESS_RULE, type AccessRule } from './access.decorators';
import { ANSWERS } from '../errors/answers.decorator';

export interface RouteEntry {
  method: string;
  /** Express-style path, e.g. /v1/runs/:id/cancel. */
  path: string;
  controller: string;
  handler: string;
  /** Undefined: the route has no rule, and the guard refuses it. */
  rule: AccessRule | undefined;
  /** The error codes the route declares with @Answers. */
  answers: ErrorCode[];
}

function joinPath(...parts: string[]): string {
  const joined = parts
    .flatMap((p) => p.split('/'))
    .filter(Boolean)
    .join('/');
  return `/${joined}`;
}

/**
 * Every route Nest serves with its access rule, read from the controllers Nest discovered: what
 * the role-matrix test walks, so a new route is in the matrix the moment it exists.
 */
@Injectable()
export class RouteTable {
  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly reflector: Reflector,
  ) {}

  routes(): RouteEntry[] {
    const out: RouteEntry[] = [];
    for (const wrapper of this.discovery.getControllers()) {
      const instance = wrapper.instance as object | undefined;
      const type = wrapper.metatype as (new (...args: any[]) => unknown) | undefined;
      if (!instance || !type) continue;
      const base = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, type) ?? '');
      const proto = Object.getPrototypeOf(instance);
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const handler = proto[name];
        const method = Reflect.getMetadata(METHOD_METADATA, handler) as RequestMethod | undefined;
        if (method === undefined) continue;
        const paths = ([] as string[]).concat(Reflect.getMetadata(PATH_METADATA, handler) ?? '');
        const rule = this.reflector.getAllAndOverride<AccessRule | undefined>(ACCESS_RULE, [handler, type]);
        const answers = this.reflector.getAllAndOverride<ErrorCode[] | undefined>(ANSWERS, [handler, type]) ?? [];
        for (const b of base) {
          for (const p of paths) out.push({ method: RequestMethod[method], path: joinPath(b, p), controller: type.name, handler: name, rule, answers });
        }
      }
    }
    return out;
  }
}
