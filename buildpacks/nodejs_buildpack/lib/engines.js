// Checks package.json's engines.node against the node running this script.
// usage: node engines.js PACKAGE_JSON
// Exit 0: no constraint or satisfied; 1: not satisfied; 2: a range this checker does not
// understand. Prints the range on stdout.
'use strict';
const fs = require('fs');

let pkg;
try {
  pkg = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
} catch (e) {
  console.error(`package.json is not valid JSON: ${e.message}`);
  process.exit(3);
}
const range = pkg && pkg.engines && typeof pkg.engines.node === 'string' ? pkg.engines.node.trim() : '';
if (!range) process.exit(0);
console.log(range);

const current = process.versions.node.split('.').map(Number);

function cmp(a, b) {
  for (let i = 0; i < 3; i++) if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}

// "1", "1.2", "1.2.3", "1.x", "*", "v1.2.3-beta" -> [major|null, minor|null, patch|null]
function partial(s) {
  s = s.replace(/^v/, '').replace(/[-+].*$/, '');
  if (s === '' || s === '*' || /^[xX]$/.test(s)) return [null, null, null];
  const parts = s.split('.');
  if (parts.length > 3) throw new Error(`bad version ${s}`);
  const out = [null, null, null];
  for (let i = 0; i < parts.length; i++) {
    if (/^[xX*]$/.test(parts[i])) break;
    if (!/^\d+$/.test(parts[i])) throw new Error(`bad version ${s}`);
    out[i] = Number(parts[i]);
  }
  return out;
}

const zero = (p) => p.map((n) => (n === null ? 0 : n));
// The first version above everything matching partial p.
function bump(p) {
  if (p[0] === null) return null;
  if (p[1] === null) return [p[0] + 1, 0, 0];
  if (p[2] === null) return [p[0], p[1] + 1, 0];
  return null;
}

// One comparator ("^1.2", ">=14", "~3.1.0", "1.x") as a predicate on a version.
function comparator(token) {
  const m = /^(\^|~>?|>=|<=|>|<|=)?\s*(.*)$/.exec(token);
  const op = m[1] || '';
  const p = partial(m[2]);
  const lo = zero(p);
  const ge = (v) => cmp(v, lo) >= 0;
  switch (op) {
    case '':
    case '=': {
      if (p[0] === null) return () => true;
      const hi = bump(p);
      return hi ? (v) => ge(v) && cmp(v, hi) < 0 : (v) => cmp(v, lo) === 0;
    }
    case '^': {
      if (p[0] === null) return () => true;
      let hi;
      if (p[0] > 0 || p[1] === null) hi = [p[0] + 1, 0, 0];
      else if (p[1] > 0 || p[2] === null) hi = [0, p[1] + 1, 0];
      else hi = [0, 0, p[2] + 1];
      return (v) => ge(v) && cmp(v, hi) < 0;
    }
    case '~':
    case '~>': {
      if (p[0] === null) return () => true;
      const hi = p[1] === null ? [p[0] + 1, 0, 0] : [p[0], p[1] + 1, 0];
      return (v) => ge(v) && cmp(v, hi) < 0;
    }
    case '>=':
      return ge;
    case '<':
      return p[0] === null ? () => false : (v) => cmp(v, lo) < 0;
    case '>': {
      if (p[0] === null) return () => false;
      const hi = bump(p);
      return hi ? (v) => cmp(v, hi) >= 0 : (v) => cmp(v, lo) > 0;
    }
    case '<=': {
      if (p[0] === null) return () => true;
      const hi = bump(p);
      return hi ? (v) => cmp(v, hi) < 0 : (v) => cmp(v, lo) <= 0;
    }
  }
  throw new Error(`bad comparator ${token}`);
}

function set(s) {
  s = s.trim();
  const hyphen = /^(\S+)\s+-\s+(\S+)$/.exec(s);
  if (hyphen) {
    const a = comparator('>=' + hyphen[1]);
    const b = comparator('<=' + hyphen[2]);
    return (v) => a(v) && b(v);
  }
  // "> = 1" style gaps: glue operators to their versions first.
  const tokens = s.replace(/(\^|~>?|>=|<=|>|<|=)\s+/g, '$1').split(/\s+/).filter(Boolean);
  const preds = tokens.length ? tokens.map(comparator) : [() => true];
  return (v) => preds.every((p) => p(v));
}

try {
  const sets = range.split('||').map(set);
  process.exit(sets.some((p) => p(current)) ? 0 : 1);
} catch (e) {
  console.error(e.message);
  process.exit(2);
}
