/*
 * Stand-ins for the Node built-ins that libs/constitution's loader imports (files, paths, hashing).
 * The console uses only its YAML parser and the validator, which need none of them.
 */
function unavailable(name: string): never {
  throw new Error(`${name} is not available in the browser`);
}
export const readFileSync = (..._: unknown[]) => unavailable('readFileSync');
export const readdirSync = (..._: unknown[]) => unavailable('readdirSync');
export const statSync = (..._: unknown[]) => unavailable('statSync');
export const existsSync = (..._: unknown[]) => unavailable('existsSync');
export const basename = (..._: unknown[]) => unavailable('basename');
export const dirname = (..._: unknown[]) => unavailable('dirname');
export const extname = (..._: unknown[]) => unavailable('extname');
export const join = (..._: unknown[]) => unavailable('join');
export const relative = (..._: unknown[]) => unavailable('relative');
export const resolve = (..._: unknown[]) => unavailable('resolve');
export const sep = '/';
export const createHash = (..._: unknown[]) => unavailable('createHash');
export default {};
