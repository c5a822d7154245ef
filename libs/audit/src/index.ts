export * from './canonical';
export * from './chain';
export * from './merkle';
export * from './seal';
export * from './verifier';
export * from './bundle';
export * from './content';
