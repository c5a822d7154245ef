export * from './schema';
export * from './errors';
export * from './hash';
export * from './validate';
export * from './loader';
export * from './h4';
export * from './to-yaml';
