import { describe, expect, it } from 'vitest';
import { InOrder } from '../../runtime/backlog/in-order.ts';

describe('InOrder', () => {
  it('hands results on in ticket order, whatever order they complete in', () => {
    const out: string[] = [];
    const order = new InOrder<string>((v) => out.push(v));
    const [a, b, c] = [order.take(), order.take(), order.take()];
    order.complete(c, 'c');
    order.complete(b, 'b');
    expect(out).toEqual([]);
    expect(order.outstanding).toBe(3);
    order.complete(a, 'a');
    expect(out).toEqual(['a', 'b', 'c']);
    expect(order.outstanding).toBe(0);
  });

  it('passes over a failed read (undefined) without holding the ones after it', () => {
    const out: number[] = [];
    const order = new InOrder<number>((v) => out.push(v));
    const [a, b, c] = [order.take(), order.take(), order.take()];
    order.complete(b, 2);
    order.complete(a, undefined);
    expect(out).toEqual([2]);
    order.complete(c, 3);
    expect(out).toEqual([2, 3]);
  });
});
