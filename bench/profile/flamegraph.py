#!/usr/bin/env python3
"""A flame graph (SVG) from `perf script` output, with its folded stacks beside it.

Usage: perf script -i perf.data | bench/profile/flamegraph.py --title T --svg out.svg [--folded out.txt]

Each sample's stack (leaf first in perf's output) becomes one root-to-leaf path; the width of a
frame is the share of samples that passed through it. C++ names lose their template arguments
and parameter lists so the frames stay readable; the full stack counts are in --folded. Colours
say where the time goes: our code green, OpenSSL red, SQLite blue, the kernel orange, the C
library and allocator grey, the rest (Boost, the C++ library) yellow.
"""
import argparse
import collections
import html
import re
import sys

ROW = 16
WIDTH = 1200
PAD = 10
MIN_WIDTH = 0.5  # frames narrower than this many pixels are not drawn

COLOURS = [
    ("permiso", "#8fd18f"),
    ("libcrypto", "#f08a7e"),
    ("libssl", "#f08a7e"),
    ("sqlite", "#8fb8e8"),
    ("kernel", "#f5b26b"),
    ("libc", "#c8c8c8"),
    ("tcmalloc", "#c8c8c8"),
    ("vdso", "#c8c8c8"),
]
OTHER = "#f2dc6b"


def strip_nested(name, opening, closing):
    """Drops every bracketed part of `name` (templates, parameter lists), nested or not."""
    out, depth = [], 0
    for ch in name:
        if ch == opening:
            depth += 1
        elif ch == closing and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(ch)
    return "".join(out)


def short_name(symbol):
    if symbol.startswith("operator"):  # operator() and operator new keep their brackets
        return symbol
    name = strip_nested(symbol, "<", ">")
    name = strip_nested(name, "(", ")")
    name = name.replace("[abi:cxx11]", "")
    return name.strip() or symbol


def frame_of(line):
    """'  7f12 symbol+0x1f (/usr/lib/libcrypto.so.3)' -> ('symbol', 'libcrypto')."""
    parts = line.strip().split(None, 1)
    if len(parts) < 2:
        return None
    rest = parts[1]
    dso = ""
    m = re.search(r"\(([^()]*)\)$", rest)
    if m:
        dso = m.group(1)
        rest = rest[: m.start()].strip()
    rest = re.sub(r"\+0x[0-9a-f]+$", "", rest)
    if rest == "[unknown]":
        rest = "[unknown " + dso.rsplit("/", 1)[-1] + "]"
    return short_name(rest), dso


def colour(name, dso):
    lib = dso.rsplit("/", 1)[-1]
    if "kernel" in dso:
        return dict(COLOURS)["kernel"]
    if lib.startswith("permiso") or lib.startswith("mt5"):  # our binaries: our code or templates
        return dict(COLOURS)["permiso"] if name.startswith("permiso::") else OTHER
    for needle, c in COLOURS:
        if needle in lib:
            return c
    return OTHER


def rooted(frames, root):
    """Root first, starting at the outermost frame matching `root` when one does: the same work
    then stacks up as one tower whichever thread (main or pool) ran it."""
    stack = list(reversed(frames))
    if root:
        for i, name in enumerate(stack):
            if root.search(name):
                return tuple(stack[i:])
    return tuple(stack)


def fold(lines, root=None):
    """Folded stacks: {('root', …, 'leaf'): samples}, and each frame's colour."""
    stacks, colours, frames = collections.Counter(), {}, []
    for line in lines:
        if not line.strip():
            if frames:
                stacks[rooted(frames, root)] += 1
                frames = []
            continue
        if not line[0].isspace():  # a sample's header line
            frames = []
            continue
        f = frame_of(line)
        if f:
            frames.append(f[0])
            colours.setdefault(f[0], colour(f[0], f[1]))
    if frames:
        stacks[rooted(frames, root)] += 1
    return stacks, colours


def tree(stacks):
    root = {"n": 0, "kids": collections.OrderedDict()}
    for stack, n in sorted(stacks.items()):
        node = root
        node["n"] += n
        for name in stack:
            node = node["kids"].setdefault(name, {"n": 0, "kids": collections.OrderedDict()})
            node["n"] += n
    return root


def depth_of(node):
    return 1 + max((depth_of(k) for k in node["kids"].values()), default=0)


def render(root, colours, title):
    total = root["n"] or 1
    scale = (WIDTH - 2 * PAD) / total
    height = (depth_of(root) + 2) * ROW + 3 * PAD
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="11">',
        f'<rect width="{WIDTH}" height="{height}" fill="#ffffff"/>',
        f'<text x="{WIDTH / 2}" y="{PAD + 12}" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
    ]

    def draw(node, name, x, level):
        w = node["n"] * scale
        if w < MIN_WIDTH:
            return
        y = height - PAD - (level + 1) * ROW
        share = 100.0 * node["n"] / total
        label = f"{name} ({share:.1f}%, {node['n']} samples)"
        out.append(f"<g><title>{html.escape(label)}</title>")
        out.append(
            f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{ROW - 1}" '
            f'fill="{colours.get(name, OTHER)}" rx="2"/>'
        )
        chars = int((w - 4) / 6.6)
        if chars >= 3:
            text = name if len(name) <= chars else name[: chars - 2] + ".."
            out.append(f'<text x="{x + 2:.1f}" y="{y + ROW - 4}">{html.escape(text)}</text>')
        out.append("</g>")
        for kid_name, kid in node["kids"].items():
            draw(kid, kid_name, x, level + 1)
            x += kid["n"] * scale

    x = PAD
    for name, kid in root["kids"].items():
        draw(kid, name, x, 0)
        x += kid["n"] * scale
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--title", default="CPU flame graph")
    ap.add_argument("--svg", required=True)
    ap.add_argument("--folded")
    ap.add_argument("--root", help="regex: start each stack at the outermost frame matching it")
    args = ap.parse_args()
    stacks, colours = fold(sys.stdin, re.compile(args.root) if args.root else None)
    if not stacks:
        sys.exit("flamegraph: no samples with stacks in the input (record with --call-graph)")
    if args.folded:
        with open(args.folded, "w") as f:
            for stack, n in stacks.most_common():
                f.write(";".join(stack) + f" {n}\n")
    with open(args.svg, "w") as f:
        f.write(render(tree(stacks), colours, args.title))
    print(f"flamegraph: {sum(stacks.values())} samples, {len(stacks)} distinct stacks -> {args.svg}")


if __name__ == "__main__":
    main()
