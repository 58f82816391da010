/**
 * Hands on the results of reads in the order the reads were sent, whatever order their replies
 * are handled in. Reads of new backlog entries (`>`) go out on one connection, so Redis serves
 * them in send order and each delivers entries newer than the one before; handing them to the
 * writer in that order keeps every key's changes in order. A read takes a ticket right before
 * it is sent and completes it once answered, with undefined when it failed.
 */
export class InOrder<T> {
  private readonly deliver: (value: T) => void;
  private sent = 0;
  private next = 0;
  private readonly done = new Map<number, T | undefined>();

  constructor(deliver: (value: T) => void) {
    this.deliver = deliver;
  }

  take(): number {
    return this.sent++;
  }

  complete(ticket: number, value: T | undefined): void {
    this.done.set(ticket, value);
    while (this.done.has(this.next)) {
      const v = this.done.get(this.next);
      this.done.delete(this.next);
      this.next++;
      if (v !== undefined) this.deliver(v);
    }
  }

  /** Reads sent and not yet handed on. */
  get outstanding(): number {
    return this.sent - this.next;
  }
}
