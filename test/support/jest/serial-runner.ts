import TestRunner from 'jest-runner';

/**
 * The runner of the `serial` project: its files run one at a time in the main process. For the
 * specs that kill and restart processes, or measure while they work. `npm run test:jest` gives
 * them a jest of their own beside the other projects (scripts/test-jest.sh).
 */
export default class SerialRunner extends TestRunner {
  override readonly isSerial = true;
}
