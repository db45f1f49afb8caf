"""Splits grouped into Spark partitions by size: largest first, each onto
the partition with the fewest bytes so far (ties: the lowest index), the
way `runtime plan` estimates its workers' balance. Pure, no Spark."""


def group_splits(splits, partitions):
    """`splits`: dicts of `runtime plan --json` (`id`, `size_hint`).
    Returns at most `partitions` non-empty lists of splits, each in plan
    order (largest first)."""
    if partitions < 1:
        raise ValueError("partitions must be at least 1")
    order = sorted(range(len(splits)), key=lambda i: (-size_of(splits[i]), i))
    n = min(partitions, len(splits))
    groups = [[] for _ in range(n)]
    loads = [0] * n
    for i in order:
        p = min(range(n), key=lambda g: (loads[g], g))
        groups[p].append(i)
        loads[p] += size_of(splits[i])
    return [[splits[i] for i in sorted(g)] for g in groups if g]


def size_of(split):
    for key in ("size_hint", "length"):
        v = split.get(key)
        if isinstance(v, int):
            return v
    return 0
