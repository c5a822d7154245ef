import { toErrorResponse } from './error-body.filter';

/** Postgres errors as pg raises them: a SQLSTATE `code` and a `severity`. */
function pgError(code: string, message: string) {
  return Object.assign(new Error(message), { code, severity: 'ERROR' });
}

describe('the error filter, for errors Postgres raises', () => {
  it.each([
    ['22003', 'value "2147483648" is out of range for type integer'],
    ['22P02', 'invalid input syntax for type uuid: "x"'],
    ['22007', 'invalid input syntax for type timestamp with time zone: "Invalid Date"'],
    ['22008', 'timestamp out of range'],
    ['2201X', 'OFFSET must not be negative'],
    ['2201W', 'LIMIT must not be negative'],
    ['22021', 'invalid byte sequence for encoding "UTF8": 0x00'],
    ['22P05', 'unsupported Unicode escape sequence'],
  ])('answers the data exception %s, caused by a request value, with 422 and the error body', (code, message) => {
    const { status, body } = toErrorResponse(pgError(code, message));
    expect(status).toBe(422);
    expect(body.error).toMatchObject({ code: 'invalid_value', details: { sqlstate: code, reason: message } });
    expect(body.error.message.length).toBeGreaterThan(0);
  });

  it('keeps errors no request value causes as 500 (division by zero, a broken constraint) and an unreachable database as 503', () => {
    expect(toErrorResponse(pgError('22012', 'division by zero')).status).toBe(500);
    expect(toErrorResponse(pgError('23502', 'null value in column "run_id" violates not-null constraint')).status).toBe(500);
    expect(toErrorResponse(Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' })).status).toBe(503);
    // A code without a severity is not from Postgres: no 422 for a socket error that happens to look like one.
    expect(toErrorResponse(Object.assign(new Error('x'), { code: '22003' })).status).toBe(500);
  });
});
