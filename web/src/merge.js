// JSON Merge Patch (RFC 7396), applied without mutating the target: only the
// objects on the path of a change are copied, everything else keeps its
// identity. Components compare props by identity, so a card whose part of the
// state did not change is not re-rendered.

function isObject(v) {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function sameArray(a, b) {
  if (!Array.isArray(a) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

// Returns the patched document: `target` itself when the patch changes nothing.
export function mergePatch(target, patch) {
  if (!isObject(patch)) {
    // Arrays and scalars replace; an equal array of scalars keeps the old one.
    if (Array.isArray(patch) && sameArray(target, patch)) return target;
    return patch;
  }
  const base = isObject(target) ? target : {};
  let out = base === target ? null : base;
  for (const key in patch) {
    const value = patch[key];
    if (value === null) {
      if (key in base) {
        out ??= { ...base };
        delete out[key];
      }
      continue;
    }
    const current = base[key];
    const next = mergePatch(current, value);
    if (next !== current || !(key in base)) {
      out ??= { ...base };
      out[key] = next;
    }
  }
  return out ?? target;
}
