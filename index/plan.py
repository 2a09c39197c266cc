"""What a build must do, decided from the corpus and the live manifest alone (no models, no index
files): which documents are added, changed, removed, unchanged, skipped or duplicates, which
files must be read, and whether anything needs writing at all."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class BuildPlan:
    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[dict] = field(default_factory=list)  # {"name", "reason", ...}: not read this run
    duplicates: list[dict] = field(default_factory=list)  # {"name", "same_as"}
    to_ingest: list[str] = field(default_factory=list)  # names to read, sorted
    up_to_date: bool = False  # the live generation already is this corpus: write nothing


def plan_build(hashes: dict[str, str], skipped: list[dict], old_manifest: dict | None,
               vector_kind_now: str | None = None) -> BuildPlan:
    """`hashes`: sha256 of each readable corpus file by name; `skipped`: files found but not
    readable (listed as they are); `old_manifest`: the live generation's manifest (None: build
    from nothing); `vector_kind_now`: the vector index kind the settings ask for at the live
    generation's size (a change of kind means writing a new generation)."""
    plan = BuildPlan(skipped=list(skipped))
    old = old_manifest or {}
    old_docs: dict[str, dict] = old.get("documents", {})
    old_skipped: dict[str, dict] = {s["name"]: s for s in old.get("skipped", [])}

    # Same bytes under two names: index the first name once, report the other.
    first_by_hash: dict[str, str] = {}
    for name in sorted(hashes):
        h = hashes[name]
        if h in first_by_hash:
            plan.duplicates.append({"name": name, "same_as": first_by_hash[h]})
        else:
            first_by_hash[h] = name
    dup_names = {d["name"] for d in plan.duplicates}

    for name in sorted(hashes):
        if name in dup_names:
            continue
        h = hashes[name]
        before = old_docs.get(name)
        stale = old_skipped.get(name) if old_skipped.get(name, {}).get("sha256") == h else None
        if before is not None and before["sha256"] == h:
            plan.unchanged.append(name)
        elif stale is not None and (before is None or stale.get("kept")):
            plan.skipped.append(stale)  # still unreadable, same bytes: not read again ...
            if stale.get("kept"):
                plan.unchanged.append(name)  # ... and the version indexed before stays
        elif before is not None:
            plan.changed.append(name)
            plan.to_ingest.append(name)
        else:
            plan.added.append(name)
            plan.to_ingest.append(name)
    plan.removed = sorted(n for n in old_docs if n not in hashes or n in dup_names)

    if old_manifest is not None:
        kind_changed = old_manifest.get("vector_index") != vector_kind_now
        skipped_changed = sorted(s["name"] for s in plan.skipped) != sorted(
            n for n, s in old_skipped.items() if "same_as" not in s)
        dup_changed = plan.duplicates != old.get("duplicates", [])
        plan.up_to_date = not (plan.to_ingest or plan.removed or kind_changed or skipped_changed or dup_changed)
    return plan


def alias_skips(skipped: list[dict], duplicates: list[dict]) -> list[dict]:
    """A copy of a skipped file is skipped for the same reason: the entries to add for the copies."""
    why = {s["name"]: s["reason"] for s in skipped}
    return [{"name": d["name"], "reason": why[d["same_as"]], "same_as": d["same_as"]}
            for d in duplicates if d["same_as"] in why and d["name"] not in why]
