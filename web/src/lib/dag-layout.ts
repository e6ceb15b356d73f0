/**
 * Layered layout of an expression's operation DAG for SVG: literals on the bottom row, every
 * operation one row above its highest input, the root on top.
 *
 * Horizontal order is the in-order
 * walk of the expression (left operand before right), so the picture reads like the source:
 * leaves take consecutive slots and each operation sits centred over its inputs. A final sweep
 * per row pushes nodes apart, which only matters if the plan shares a sub-result (a true DAG).
 * Pure and deterministic; the page recomputes it only when the set of operations changes.
 */
import type { OperandView } from '@expressionist/core';

/** The part of an OperationView the layout needs. */
export interface LayoutInput {
  id: number;
  a: OperandView;
  b: OperandView;
}

export interface LayoutOptions {
  opWidth: number;
  opHeight: number;
  litWidth: number;
  litHeight: number;
  /** Horizontal gap between neighbouring slots. */
  gapX: number;
  /** Vertical gap between rows. */
  gapY: number;
  padding: number;
  /** Draw literal operands as leaf boxes (off in the compact view). */
  literals: boolean;
}

export const FULL_LAYOUT: LayoutOptions = {
  opWidth: 116,
  opHeight: 58,
  litWidth: 72,
  litHeight: 26,
  gapX: 14,
  gapY: 36,
  padding: 16,
  literals: true,
};

export const COMPACT_LAYOUT: LayoutOptions = {
  opWidth: 10,
  opHeight: 10,
  litWidth: 0,
  litHeight: 0,
  gapX: 4,
  gapY: 14,
  padding: 6,
  literals: false,
};

export type LayoutNode =
  | {
      kind: 'op';
      key: string;
      id: number;
      layer: number;
      x: number;
      y: number;
      w: number;
      h: number;
    }
  | {
      kind: 'lit';
      key: string;
      value: string;
      layer: 0;
      x: number;
      y: number;
      w: number;
      h: number;
    };

export interface LayoutEdge {
  key: string;
  /** Key of the input node (below). */
  from: string;
  /** Key of the consuming operation (above). */
  to: string;
  x1: number;
  y1: number;
  x2: number;
  y2: number;
}

export interface DagLayout {
  nodes: LayoutNode[];
  edges: LayoutEdge[];
  width: number;
  height: number;
  /** Number of rows including the literal row when literals are drawn. */
  layers: number;
}

interface Placed {
  key: string;
  layer: number;
  /** Horizontal centre in slot units. */
  slot: number;
  node: { kind: 'op'; id: number } | { kind: 'lit'; value: string };
}

/** Computes node rectangles and edge segments for `ops`. */
export function layoutDag(ops: readonly LayoutInput[], options: LayoutOptions): DagLayout {
  const byId = new Map<number, LayoutInput>();
  for (const op of ops) byId.set(op.id, op);

  const inputsOf = (op: LayoutInput): OperandView[] => [op.a, op.b];
  const consumed = new Set<number>();
  for (const op of ops) {
    for (const input of inputsOf(op)) {
      if (input.kind === 'op' && byId.has(input.id)) consumed.add(input.id);
    }
  }

  // Layer = 1 + highest op input (literal inputs count 0), computed without recursion so a
  // deep chain cannot overflow the stack.
  const layerOf = new Map<number, number>();
  const computeLayer = (rootId: number): void => {
    const stack: number[] = [rootId];
    const inProgress = new Set<number>([rootId]);
    while (stack.length > 0) {
      const id = stack[stack.length - 1]!;
      if (layerOf.has(id)) {
        stack.pop();
        inProgress.delete(id);
        continue;
      }
      const op = byId.get(id)!;
      let pending = false;
      let layer = 1;
      for (const input of inputsOf(op)) {
        if (input.kind !== 'op' || !byId.has(input.id)) continue;
        const inner = layerOf.get(input.id);
        if (inner !== undefined) layer = Math.max(layer, inner + 1);
        else if (!inProgress.has(input.id)) {
          // Not known yet: compute the input first. (An input already in progress would be a
          // cycle, which a plan never has; it is ignored rather than looped on.)
          stack.push(input.id);
          inProgress.add(input.id);
          pending = true;
        }
      }
      if (!pending) {
        layerOf.set(id, layer);
        stack.pop();
        inProgress.delete(id);
      }
    }
  };
  for (const op of ops) computeLayer(op.id);

  // In-order walk from each root (operations nobody consumes), left operand first.
  const roots = ops.filter((op) => !consumed.has(op.id)).sort((x, y) => x.id - y.id);
  const placed = new Map<string, Placed>();
  const edges: { from: string; to: string }[] = [];
  let nextSlot = 0;

  const place = (rootId: number): void => {
    type Frame = { op: LayoutInput; next: number; childSlots: number[] };
    const onStack = new Set<number>([rootId]);
    const stack: Frame[] = [{ op: byId.get(rootId)!, next: 0, childSlots: [] }];
    while (stack.length > 0) {
      const frame = stack[stack.length - 1]!;
      const { op } = frame;
      const key = `op:${op.id}`;
      const inputs = inputsOf(op);
      if (frame.next < inputs.length) {
        const input = inputs[frame.next]!;
        if (input.kind === 'op' && byId.has(input.id)) {
          const child = placed.get(`op:${input.id}`);
          if (!child && !onStack.has(input.id)) {
            // Descend first; this input is looked at again once the child is placed.
            onStack.add(input.id);
            stack.push({ op: byId.get(input.id)!, next: 0, childSlots: [] });
            continue;
          }
          if (child) {
            frame.childSlots.push(child.slot);
            edges.push({ from: child.key, to: key });
          }
        } else if (input.kind === 'lit' && options.literals) {
          // Literal leaves take the next free slot at their place in the walk: source order.
          const litKey = `lit:${op.id}:${frame.next === 0 ? 'a' : 'b'}`;
          const slot = nextSlot++;
          placed.set(litKey, {
            key: litKey,
            layer: 0,
            slot,
            node: { kind: 'lit', value: input.value },
          });
          frame.childSlots.push(slot);
          edges.push({ from: litKey, to: key });
        }
        frame.next += 1;
        continue;
      }
      const slots = frame.childSlots;
      const slot = slots.length > 0 ? (Math.min(...slots) + Math.max(...slots)) / 2 : nextSlot++;
      placed.set(key, {
        key,
        layer: layerOf.get(op.id) ?? 1,
        slot,
        node: { kind: 'op', id: op.id },
      });
      onStack.delete(op.id);
      stack.pop();
    }
  };
  for (const root of roots) place(root.id);
  // Anything unreachable from a root (a cycle in malformed data) still gets drawn.
  for (const op of ops) if (!placed.has(`op:${op.id}`)) place(op.id);

  // Slots are as wide as a literal box; operation boxes are wider, so rows of operations keep
  // a larger minimum distance between centres (in slot units).
  const slotWidth = (options.literals ? options.litWidth : options.opWidth) + options.gapX;
  separateRows(placed, (p) =>
    p.node.kind === 'op' ? (options.opWidth + options.gapX) / slotWidth : 1,
  );

  let maxLayer = 0;
  for (const p of placed.values()) maxLayer = Math.max(maxLayer, p.layer);
  const rowHeight = options.opHeight + options.gapY;
  const rows = maxLayer + 1;
  const rowTop = (layer: number): number => options.padding + (maxLayer - layer) * rowHeight;

  const rects = new Map<string, { x: number; y: number; w: number; h: number }>();
  let minX = Infinity;
  let maxX = -Infinity;
  for (const p of placed.values()) {
    const cx = p.slot * slotWidth;
    const w = p.node.kind === 'op' ? options.opWidth : options.litWidth;
    const h = p.node.kind === 'op' ? options.opHeight : options.litHeight;
    const y = p.node.kind === 'op' ? rowTop(p.layer) : rowTop(0) + (options.opHeight - h) / 2;
    const rect = { x: cx - w / 2, y, w, h };
    rects.set(p.key, rect);
    minX = Math.min(minX, rect.x);
    maxX = Math.max(maxX, rect.x + w);
  }
  // Shift so the leftmost box starts at the padding.
  const shift = Number.isFinite(minX) ? options.padding - minX : 0;
  const nodes: LayoutNode[] = [];
  for (const p of placed.values()) {
    const rect = rects.get(p.key)!;
    rect.x += shift;
    if (p.node.kind === 'op') {
      nodes.push({ kind: 'op', key: p.key, id: p.node.id, layer: p.layer, ...rect });
    } else {
      nodes.push({ kind: 'lit', key: p.key, value: p.node.value, layer: 0, ...rect });
    }
  }

  const layoutEdges: LayoutEdge[] = edges.map(({ from, to }) => {
    const a = rects.get(from)!;
    const b = rects.get(to)!;
    return {
      key: `${from}>${to}`,
      from,
      to,
      x1: a.x + a.w / 2,
      y1: a.y,
      x2: b.x + b.w / 2,
      y2: b.y + b.h,
    };
  });

  const contentWidth = Number.isFinite(minX) ? maxX - minX : 0;
  const width = options.padding * 2 + contentWidth;
  const height =
    placed.size === 0 ? options.padding * 2 : options.padding * 2 + rows * rowHeight - options.gapY;
  return { nodes, edges: layoutEdges, width, height, layers: placed.size === 0 ? 0 : rows };
}

/**
 * Within each row, keeps neighbouring centres at least `minGap(node)` slots apart, pushing to
 * the right. For a tree the walk already guarantees it for literals; operation rows can need it.
 */
function separateRows(placed: Map<string, Placed>, minGap: (p: Placed) => number): void {
  const rows = new Map<number, Placed[]>();
  for (const p of placed.values()) {
    const row = rows.get(p.layer);
    if (row) row.push(p);
    else rows.set(p.layer, [p]);
  }
  for (const row of rows.values()) {
    row.sort((x, y) => x.slot - y.slot);
    for (let i = 1; i < row.length; i += 1) {
      const previous = row[i - 1]!;
      const current = row[i]!;
      const min = previous.slot + Math.max(minGap(previous), minGap(current));
      if (current.slot < min) current.slot = min;
    }
  }
}
