// A time series table kept in the browser from the stream: one timestamp
// column (seconds, for uPlot) and one value column per key, all aligned, with
// null where a key had no value. Keeps the last `cap` rows.
export class Table {
  constructor(cap) {
    this.cap = cap;
    this.t = [];
    this.cols = new Map();
    this.version = 0;
  }

  // values: [key, number|null][] for this instant.
  push(time, values) {
    const n = this.t.length;
    this.t.push(time);
    for (const [key, v] of values) {
      let col = this.cols.get(key);
      if (!col) {
        col = new Array(n).fill(null);
        this.cols.set(key, col);
      }
      if (col.length === n) col.push(v ?? null);
    }
    for (const col of this.cols.values()) if (col.length === n) col.push(null);
    // Trim in chunks so the arrays are not shifted on every sample.
    if (this.t.length > this.cap + 60) this.trim(this.t.length - this.cap);
    this.version++;
  }

  trim(drop) {
    this.t.splice(0, drop);
    for (const [key, col] of this.cols) {
      col.splice(0, drop);
      if (col.every((v) => v === null)) this.cols.delete(key);
    }
  }

  keys() {
    return [...this.cols.keys()].sort();
  }

  // [times, ...columns] for uPlot; keys without a column give all-null rows.
  data(keys) {
    return [this.t, ...keys.map((k) => this.cols.get(k) ?? new Array(this.t.length).fill(null))];
  }

  latest(key) {
    const col = this.cols.get(key);
    return col ? col[col.length - 1] : null;
  }
}
