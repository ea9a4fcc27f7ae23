// The reference decoder of seatmap.v2's binary seat events (docs/protocol.md, "seatmap.v2"):
// a snapshot or a delta arrives as one binary WebSocket message; everything else (replies,
// hold events) is JSON text as in seatmap.v1. The decoded events have the v1 shape, except
// that a delta names each seat by its index in the show's seat list:
//   {type:'snapshot', show, seq, seats:'eepb...', hold}
//   {type:'delta', show, from, seq, seats:[[index, 'p'], ...]}
// Pure: no DOM, so the pages and the Node tests share it.

const LETTERS = ['e', 'p', 'b'];
const SNAPSHOT = 0x53; // 'S'
const DELTA = 0x44; // 'D'
const PACKED = 0;
const RUNS = 1;

export const WIRE_V2 = 'seatmap.v2';

class Reader {
  constructor(bytes) {
    this.b = bytes;
    this.i = 0;
  }

  byte() {
    if (this.i >= this.b.length) throw new Error('seatmap.v2: message cut short');
    return this.b[this.i++];
  }

  // An unsigned LEB128 varint; exact up to 2^53 (seqs are far below).
  varint() {
    let v = 0;
    let scale = 1;
    for (;;) {
      const c = this.byte();
      v += (c & 0x7f) * scale;
      if (!(c & 0x80)) return v;
      scale *= 128;
      if (scale > 2 ** 56) throw new Error('seatmap.v2: varint too long');
    }
  }

  bytes(n) {
    if (this.i + n > this.b.length) throw new Error('seatmap.v2: message cut short');
    const out = this.b.subarray(this.i, this.i + n);
    this.i += n;
    return out;
  }
}

const text = new TextDecoder();

function letter(code) {
  const l = LETTERS[code];
  if (!l) throw new Error('seatmap.v2: bad seat state');
  return l;
}

function decodeStates(r, n, encoding) {
  const out = new Array(n);
  if (encoding === PACKED) {
    const b = r.bytes(Math.ceil(n / 4));
    for (let i = 0; i < n; i++) out[i] = letter((b[i >> 2] >> ((i & 3) * 2)) & 3);
  } else if (encoding === RUNS) {
    let i = 0;
    while (i < n) {
      const v = r.varint();
      const len = Math.floor(v / 4) + 1;
      if (len > n - i) throw new Error('seatmap.v2: run past the last seat');
      out.fill(letter(v % 4), i, i + len);
      i += len;
    }
  } else {
    throw new Error('seatmap.v2: unknown snapshot encoding');
  }
  return out.join('');
}

/** Decodes one binary message (ArrayBuffer, Uint8Array or Node Buffer). Throws on a bad one. */
export function decodeSeatEvent(data) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const r = new Reader(bytes);
  const kind = r.byte();
  const show = text.decode(r.bytes(r.byte()));
  if (kind === SNAPSHOT) {
    const seq = r.varint();
    const n = r.varint();
    const seats = decodeStates(r, n, r.byte());
    const holdLen = r.varint();
    const hold = holdLen ? JSON.parse(text.decode(r.bytes(holdLen))) : null;
    return { type: 'snapshot', show, seq, seats, hold };
  }
  if (kind === DELTA) {
    const from = r.varint();
    const seq = from + r.varint();
    const count = r.varint();
    const seats = new Array(count);
    let prev = -1;
    for (let k = 0; k < count; k++) {
      const v = r.varint();
      prev += Math.floor(v / 4) + 1;
      seats[k] = [prev, letter(v % 4)];
    }
    if (r.i !== bytes.length) throw new Error('seatmap.v2: bytes after the delta');
    return { type: 'delta', show, from, seq, seats };
  }
  throw new Error('seatmap.v2: not a seat event');
}
