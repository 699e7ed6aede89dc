/**
 * From a path in the parsed value back to the YAML source: the line and column a problem is reported at,
 * following aliases and `<<` merge keys.
 */

import {
  type Document,
  isAlias,
  isMap,
  isNode,
  isScalar,
  isSeq,
  type LineCounter,
  type Node as YamlNode,
} from 'yaml';

/** `<<` (with `merge: true` the parser gives it as a scalar holding a symbol). */
function isMergeKey(key: unknown): boolean {
  if (!isScalar(key)) return false;
  const value = key.value;
  return value === '<<' || (typeof value === 'symbol' && value.description === '<<');
}

export class Locator {
  constructor(
    private readonly doc: Document,
    private readonly lineCounter: LineCounter,
  ) {}

  /**
   * Line and column of the node at `path`: its key (`at: 'key'`) or its value; for a missing field, the
   * mapping that should hold it; for an empty value (`url:`), its key.
   */
  position(path: readonly (string | number)[], at: 'key' | 'value'): { line: number; col: number } {
    let node: unknown = this.doc.contents;
    let key: unknown;
    let deepest: unknown = node;
    for (const segment of path) {
      const next = this.child(node, segment);
      if (!next) {
        return this.start(deepest);
      }
      key = next.key;
      node = next.value;
      deepest = node ?? key;
    }
    if (at === 'key' && isNode(key)) return this.start(key);
    // An empty value (`url:`) and a block collection (it starts on the next line) read best at their key.
    if ((isScalar(node) && node.value === null) || ((isMap(node) || isSeq(node)) && !node.flow)) {
      if (isNode(key)) return this.start(key);
    }
    return this.start(node ?? key ?? deepest);
  }

  private child(node: unknown, segment: string | number): { key?: unknown; value: unknown } | undefined {
    const target = isAlias(node) ? node.resolve(this.doc) : node;
    if (isSeq(target) && typeof segment === 'number') {
      return segment < target.items.length ? { value: target.items[segment] } : undefined;
    }
    if (!isMap(target)) return undefined;
    const pair = target.items.find(
      (item) => isScalar(item.key) && String(item.key.value) === String(segment),
    );
    if (pair) return { key: pair.key, value: pair.value };
    // A key brought in by a `<<` merge: found in the merged mapping(s).
    for (const item of target.items) {
      if (!isMergeKey(item.key)) continue;
      const sources = isSeq(item.value) ? item.value.items : [item.value];
      for (const source of sources) {
        const found = this.child(source, segment);
        if (found) return found;
      }
    }
    return undefined;
  }

  private start(node: unknown): { line: number; col: number } {
    const offset = isNode(node) ? (node as YamlNode).range?.[0] : undefined;
    return this.lineCounter.linePos(offset ?? 0);
  }
}
