export * from './folder';
export * from './push';
