import { forestRow } from './eval-commands';

describe('the ASCII forest plot row', () => {
  it('marks 0.5 with |, the interval with - and the win rate with o on a 0..1 axis of 41 cells', () => {
    // Cell i stands for i/40: 0.5 is cell 20, 0.25 cell 10, 0.75 cell 30.
    const row = forestRow(0.25, 0.75, 0.75);
    expect(row).toHaveLength(43);
    const cells = row.slice(1, -1);
    expect(cells.indexOf('o')).toBe(30);
    expect(cells[20]).toBe('+');
    expect(cells.slice(10, 20)).toBe('-'.repeat(10));
    expect(cells.slice(0, 10).trim()).toBe('');
    expect(cells.slice(31).trim()).toBe('');
  });

  it('keeps the 0.5 mark plain when the interval does not reach it', () => {
    const cells = forestRow(0.6, 0.7, 0.8).slice(1, -1);
    expect(cells[20]).toBe('|');
    expect(cells.indexOf('o')).toBe(28);
  });
});
