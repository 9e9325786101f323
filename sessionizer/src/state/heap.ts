/** A binary min-heap of deadlines (event time) for visitor states. */
export interface Timer<T> {
  at: number;
  item: T;
}

export class TimerHeap<T> {
  private readonly a: Timer<T>[] = [];

  get size(): number {
    return this.a.length;
  }

  peek(): Timer<T> | undefined {
    return this.a[0];
  }

  push(at: number, item: T): void {
    const a = this.a;
    a.push({ at, item });
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if ((a[p] as Timer<T>).at <= (a[i] as Timer<T>).at) break;
      [a[p], a[i]] = [a[i] as Timer<T>, a[p] as Timer<T>];
      i = p;
    }
  }

  pop(): Timer<T> | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && (a[l] as Timer<T>).at < (a[m] as Timer<T>).at) m = l;
        if (r < a.length && (a[r] as Timer<T>).at < (a[m] as Timer<T>).at) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i] as Timer<T>, a[m] as Timer<T>];
        i = m;
      }
    }
    return top;
  }

  clear(): void {
    this.a.length = 0;
  }
}
