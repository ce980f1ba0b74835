#!/usr/bin/env python3
"""The house rules, checked from the code itself (docs/design.md, "Source layout").

    check-layers.py includes SRC_DIR
        Every quoted include names its folder from the repository root, and points down the
        layers or within its own room: a room may include only the rooms RULES gives it. The
        build runs this before compiling (target 'layers'), so a wrong dependency fails the build.

    check-layers.py links SRC_DIR BUILD_DIR
        Reads the symbols of every object file of our rooms (nm) and fails when two source files
        depend on each other in a circle, however long: a function defined in one file and called
        in a second that, directly or through others, calls back into the first. Run by ctest
        ('layers-links') after the build, so that it sees what the compiler really linked.

Both print one line per finding, 'path:line: what', and exit 1 when there is any.
"""
import os
import re
import subprocess
import sys

# Who may include whom. A room is a folder; core/ has seven. Order is the map, ground floor first.
RULES = {
    "core/base": [],
    "core/crypto": ["core/base"],
    "core/codec": ["core/base"],
    "core/store": ["core/base"],
    "core/repo": ["core/base", "core/crypto", "core/codec", "core/store"],
    "core/erase": ["core/base", "core/store"],
    "core/evidence": ["core/base", "core/crypto"],
    "policies": ["core/base", "core/crypto", "core/codec", "core/store", "core/repo"],
    "catalog": ["core/base", "core/crypto"],
    "restore": ["core/base", "core/crypto", "core/codec", "core/store", "core/repo"],
    "agents": ["core/base", "core/crypto", "core/codec", "core/store", "core/repo",
               "core/erase"],
    "orchestrator": ["core/base", "core/crypto", "core/codec", "core/store", "core/repo",
                     "core/erase", "core/evidence", "policies", "catalog"],
    "cli": ["core/base", "core/crypto", "core/codec", "core/store", "core/repo", "core/erase",
            "core/evidence", "policies", "catalog", "restore"],
}
ROOMS = sorted(RULES, key=len, reverse=True)  # core/base before core
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"')


def room_of(path):
    for room in ROOMS:
        if path == room or path.startswith(room + "/"):
            return room
    return None


def sources(src):
    out = []
    for room in RULES:
        top = os.path.join(src, room)
        for dirpath, _, names in os.walk(top):
            for n in names:
                if n.endswith((".c", ".h")):
                    out.append(os.path.relpath(os.path.join(dirpath, n), src))
    return sorted(set(out))


def check_includes(src):
    problems = []
    files = sources(src)
    for f in files:
        mine = room_of(f)
        with open(os.path.join(src, f), encoding="utf-8", errors="replace") as fh:
            for lineno, line in enumerate(fh, 1):
                m = INCLUDE.match(line)
                if not m:
                    continue
                target = m.group(1)
                where = "%s:%d" % (f, lineno)
                if not os.path.isfile(os.path.join(src, target)):
                    problems.append('%s: "%s" does not name a file from the repository root '
                                    '(write "room/file.h")' % (where, target))
                    continue
                theirs = room_of(target)
                if theirs is None:
                    problems.append('%s: "%s" is in no room of the house' % (where, target))
                elif theirs != mine and theirs not in RULES[mine]:
                    allowed = ", ".join(RULES[mine]) or "nothing outside itself"
                    problems.append('%s: %s/ may not include "%s" (%s/ is above it or beside '
                                    'it); %s/ may use: %s' % (where, mine, target, theirs, mine,
                                                              allowed))
    return problems, len(files)


def cycles(graph):
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on, stack, out = {}, {}, set(), [], []
    counter = [0]
    for root in sorted(graph):
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, it = work[-1]
            advanced = False
            for nxt in it:
                if nxt not in index:
                    index[nxt] = low[nxt] = counter[0]
                    counter[0] += 1
                    stack.append(nxt)
                    on.add(nxt)
                    work.append((nxt, iter(sorted(graph.get(nxt, ())))))
                    advanced = True
                    break
                if nxt in on:
                    low[node] = min(low[node], index[nxt])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                comp = []
                while True:
                    w = stack.pop()
                    on.discard(w)
                    comp.append(w)
                    if w == node:
                        break
                if len(comp) > 1:
                    out.append(sorted(comp))
    return out


def check_links(src, build):
    objects = {}
    for dirpath, _, names in os.walk(build):
        for n in names:
            if not n.endswith(".c.o"):
                continue
            path = os.path.join(dirpath, n)
            # CMake names an object after its source, relative to the folder of the CMakeLists
            # that built it ('..' written '__'): <folder>/CMakeFiles/<target>.dir/<source>.o
            m = re.search(r"^(.*?)/?CMakeFiles/[^/]+\.dir/(.*)\.o$",
                          os.path.relpath(path, build))
            if not m:
                continue
            rest = "/".join(".." if part == "__" else part for part in m.group(2).split("/"))
            rel = os.path.normpath(os.path.join(m.group(1), rest))
            if room_of(rel) is None or not os.path.isfile(os.path.join(src, rel)):
                continue  # tests, fuzzers, tools; or the object of a file since moved
            # The same source built for two targets, or an older build's object: the newest.
            if rel not in objects or os.path.getmtime(path) > os.path.getmtime(objects[rel]):
                objects[rel] = path
    if not objects:
        return ["%s: no object files of ours found: build first" % build], 0
    defined, undefined = {}, {}
    for rel, path in objects.items():
        out = subprocess.run(["nm", "--defined-only", "-g", path], capture_output=True,
                             text=True, check=True).stdout
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3 and parts[1] in "TDBRC":
                defined.setdefault(parts[2], rel)
        out = subprocess.run(["nm", "--undefined-only", path], capture_output=True, text=True,
                             check=True).stdout
        undefined[rel] = {l.split()[-1] for l in out.splitlines() if l.strip()}
    graph = {rel: set() for rel in objects}
    why = {}
    for rel, syms in undefined.items():
        for s in syms:
            owner = defined.get(s)
            if owner and owner != rel:
                graph[rel].add(owner)
                why.setdefault((rel, owner), s)
    problems = []
    for comp in cycles(graph):
        members = set(comp)
        ties = ["%s -> %s (%s)" % (a, b, why[(a, b)]) for a in comp for b in sorted(graph[a])
                if b in members]
        problems.append("%s: depends on itself through a circle of files: %s" % (comp[0],
                                                                                   "; ".join(ties)))
    return problems, len(objects)


def main(argv):
    if len(argv) == 3 and argv[1] == "includes":
        problems, n = check_includes(argv[2])
        what = "includes of %d files" % n
    elif len(argv) == 4 and argv[1] == "links":
        problems, n = check_links(argv[2], argv[3])
        what = "links between %d object files" % n
    else:
        print(__doc__, file=sys.stderr)
        return 2
    for p in problems:
        print(p, file=sys.stderr)
    if problems:
        print("check-layers: %d problem(s) in the %s (rules: cmake/check-layers.py)"
              % (len(problems), what), file=sys.stderr)
        return 1
    print("check-layers: %s point one way" % what)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
