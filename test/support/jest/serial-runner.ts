import TestRunner from 'jest-runner';

/**
 * The runner of the `serial` project: its files run one at a time in the main process, and never
 * beside the parallel projects' files (jest awaits one runner's files before the next runner's).
 * For the specs that kill and restart processes, or measure while they work.
 */
export default class SerialRunner extends TestRunner {
  override readonly isSerial = true;
}
