import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import type { OperandView } from '@expressionist/core';
import {
  COMPACT_LAYOUT,
  FULL_LAYOUT,
  layoutDag,
  type DagLayout,
  type LayoutInput,
  type LayoutNode,
} from '../src/lib/dag-layout';

type Tree =
  { kind: 'lit'; value: string } | { kind: 'bin'; op: '+' | '-' | '*' | '/'; a: Tree; b: Tree };

const treeArb = fc.letrec<{ node: Tree; leaf: Tree; bin: Tree }>((tie) => ({
  node: fc.oneof({ depthSize: 'small', withCrossShrink: true }, tie('leaf'), tie('bin')),
  leaf: fc.integer({ min: 0, max: 999 }).map((n): Tree => ({ kind: 'lit', value: String(n) })),
  bin: fc
    .record({ op: fc.constantFrom('+', '-', '*', '/'), a: tie('node'), b: tie('node') })
    .map((r): Tree => ({ kind: 'bin', op: r.op as '+' | '-' | '*' | '/', a: r.a, b: r.b })),
})).node;

/** Plans a tree the way the orchestrator numbers operations: inputs before consumers. */
function toOps(tree: Tree): { ops: LayoutInput[]; literals: string[] } {
  const ops: LayoutInput[] = [];
  const literals: string[] = [];
  const visit = (node: Tree): OperandView => {
    if (node.kind === 'lit') {
      literals.push(node.value);
      return { kind: 'lit', value: node.value };
    }
    const a = visit(node.a);
    const b = visit(node.b);
    const id = ops.length;
    ops.push({ id, a, b });
    return { kind: 'op', id };
  };
  visit(tree);
  return { ops, literals };
}

function overlaps(p: LayoutNode, q: LayoutNode): boolean {
  return p.x < q.x + q.w && q.x < p.x + p.w && p.y < q.y + q.h && q.y < p.y + p.h;
}

function assertWellFormed(layout: DagLayout): void {
  const { nodes } = layout;
  for (let i = 0; i < nodes.length; i += 1) {
    const n = nodes[i]!;
    expect(n.x).toBeGreaterThanOrEqual(0);
    expect(n.y).toBeGreaterThanOrEqual(0);
    expect(n.x + n.w).toBeLessThanOrEqual(layout.width + 1e-9);
    expect(n.y + n.h).toBeLessThanOrEqual(layout.height + 1e-9);
    for (let j = i + 1; j < nodes.length; j += 1) {
      if (overlaps(n, nodes[j]!)) {
        throw new Error(`nodes ${n.key} and ${nodes[j]!.key} overlap`);
      }
    }
  }
  // Every edge runs from an input below to its consumer above.
  for (const edge of layout.edges) expect(edge.y1).toBeGreaterThan(edge.y2);
}

describe('layoutDag', () => {
  it('lays out (2+3)*4 - 10/4 with the root on top and literals on the bottom row', () => {
    const ops: LayoutInput[] = [
      { id: 0, a: { kind: 'lit', value: '2' }, b: { kind: 'lit', value: '3' } },
      { id: 1, a: { kind: 'op', id: 0 }, b: { kind: 'lit', value: '4' } },
      { id: 2, a: { kind: 'lit', value: '10' }, b: { kind: 'lit', value: '4' } },
      { id: 3, a: { kind: 'op', id: 1 }, b: { kind: 'op', id: 2 } },
    ];
    const layout = layoutDag(ops, FULL_LAYOUT);
    assertWellFormed(layout);
    const root = layout.nodes.find((n) => n.key === 'op:3')!;
    expect(Math.min(...layout.nodes.map((n) => n.y))).toBe(root.y);
    const lits = layout.nodes.filter((n) => n.kind === 'lit');
    expect(lits).toHaveLength(5);
    const litRow = new Set(lits.map((n) => n.y));
    expect(litRow.size).toBe(1);
    expect(Math.max(...layout.nodes.map((n) => n.y))).toBe(lits[0]!.y);
    // Source order left to right: 2 3 4 10 4.
    const sorted = [...lits].sort((p, q) => p.x - q.x);
    expect(sorted.map((n) => (n.kind === 'lit' ? n.value : ''))).toEqual([
      '2',
      '3',
      '4',
      '10',
      '4',
    ]);
    expect(layout.edges).toHaveLength(8); // two inputs per operation
    expect(layout.layers).toBe(4);
  });

  it('gives non-overlapping positions for any expression tree (full and compact)', () => {
    fc.assert(
      fc.property(treeArb, (tree) => {
        const { ops, literals } = toOps(tree);
        const full = layoutDag(ops, FULL_LAYOUT);
        assertWellFormed(full);
        expect(full.nodes.filter((n) => n.kind === 'op')).toHaveLength(ops.length);
        if (ops.length > 0) {
          const lits = full.nodes.filter((n) => n.kind === 'lit').sort((p, q) => p.x - q.x);
          expect(lits.map((n) => (n.kind === 'lit' ? n.value : ''))).toEqual(literals);
        }
        const compact = layoutDag(ops, COMPACT_LAYOUT);
        assertWellFormed(compact);
        expect(compact.nodes).toHaveLength(ops.length);
      }),
      { numRuns: 300 },
    );
  });

  it('separates nodes of a plan that shares a sub-result', () => {
    const ops: LayoutInput[] = [
      { id: 0, a: { kind: 'lit', value: '1' }, b: { kind: 'lit', value: '2' } },
      { id: 1, a: { kind: 'op', id: 0 }, b: { kind: 'lit', value: '3' } },
      { id: 2, a: { kind: 'lit', value: '4' }, b: { kind: 'op', id: 0 } },
      { id: 3, a: { kind: 'op', id: 1 }, b: { kind: 'op', id: 2 } },
    ];
    assertWellFormed(layoutDag(ops, FULL_LAYOUT));
    assertWellFormed(layoutDag(ops, COMPACT_LAYOUT));
  });

  it('handles a long left-deep chain without recursion limits', () => {
    const ops: LayoutInput[] = [
      { id: 0, a: { kind: 'lit', value: '1' }, b: { kind: 'lit', value: '2' } },
    ];
    for (let id = 1; id < 20_000; id += 1) {
      ops.push({ id, a: { kind: 'op', id: id - 1 }, b: { kind: 'lit', value: String(id) } });
    }
    const layout = layoutDag(ops, COMPACT_LAYOUT);
    expect(layout.nodes).toHaveLength(20_000);
    expect(layout.layers).toBe(20_001);
  });

  it('returns an empty picture for an expression without operations', () => {
    const layout = layoutDag([], FULL_LAYOUT);
    expect(layout.nodes).toEqual([]);
    expect(layout.edges).toEqual([]);
  });
});
