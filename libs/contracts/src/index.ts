export * from './chat';
export * from './errors';
export * from './limits';
export * from './runs';
export * from './pairs';
export * from './config';
export * from './constitutions';
