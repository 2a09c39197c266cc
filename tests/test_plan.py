"""The build plan, from the corpus and the live manifest alone: no model, no index files."""
from __future__ import annotations

from index.plan import alias_skips, plan_build

H = {n: f"{n}-sha" for n in ("a.pdf", "b.pdf", "c.md")}


def manifest(docs: dict[str, str], skipped: list[dict] | None = None, duplicates: list[dict] | None = None,
             vector_index: str = "flat") -> dict:
    return {"documents": {n: {"sha256": h, "chunks": 1} for n, h in docs.items()}, "skipped": skipped or [],
            "duplicates": duplicates or [], "vector_index": vector_index}


def test_first_build_adds_everything_in_name_order():
    plan = plan_build({"c.md": "3", "a.pdf": "1"}, [], None, "flat")
    assert plan.added == plan.to_ingest == ["a.pdf", "c.md"]
    assert not (plan.changed or plan.removed or plan.unchanged or plan.up_to_date)


def test_added_changed_removed_unchanged():
    old = manifest({"a.pdf": "a.pdf-sha", "b.pdf": "old", "gone.md": "x"})
    plan = plan_build(H, [], old, "flat")
    assert plan.unchanged == ["a.pdf"] and plan.changed == ["b.pdf"] and plan.added == ["c.md"]
    assert plan.removed == ["gone.md"] and plan.to_ingest == ["b.pdf", "c.md"] and not plan.up_to_date


def test_same_corpus_is_up_to_date_unless_the_vector_kind_changes():
    old = manifest(H)
    assert plan_build(H, [], old, "flat").up_to_date
    plan = plan_build(H, [], old, "hnsw")  # crossing hnsw_above: rewrite, read nothing
    assert not plan.up_to_date and plan.to_ingest == [] and plan.unchanged == sorted(H)


def test_duplicates_are_indexed_once_and_a_new_copy_of_an_indexed_file_is_a_change():
    hashes = {"a.pdf": "same", "copy of a.pdf": "same", "c.md": "c"}
    plan = plan_build(hashes, [], None, "flat")
    assert plan.duplicates == [{"name": "copy of a.pdf", "same_as": "a.pdf"}]
    assert plan.added == ["a.pdf", "c.md"]
    old = manifest({"a.pdf": "same", "c.md": "c"})
    plan = plan_build(hashes, [], old, "flat")
    assert plan.to_ingest == [] and not plan.up_to_date  # the duplicate list changed: a new manifest
    old = manifest({"a.pdf": "same", "c.md": "c"}, duplicates=plan.duplicates)
    assert plan_build(hashes, [], old, "flat").up_to_date
    # an indexed name whose bytes now duplicate another file's is removed as a document
    old = manifest({"a.pdf": "same", "copy of a.pdf": "other"})
    assert plan_build(hashes, [], old, "flat").removed == ["copy of a.pdf"]


def test_unreadable_file_is_not_read_again_until_its_bytes_change():
    broken = {"name": "b.pdf", "reason": "damaged PDF", "sha256": "b.pdf-sha"}
    old = manifest({"a.pdf": "a.pdf-sha", "c.md": "c.md-sha"}, skipped=[broken])
    plan = plan_build(H, [], old, "flat")
    assert plan.skipped == [broken] and "b.pdf" not in plan.to_ingest and plan.up_to_date
    plan = plan_build({**H, "b.pdf": "new bytes"}, [], old, "flat")
    assert plan.added == ["b.pdf"] and plan.to_ingest == ["b.pdf"] and plan.skipped == []


def test_a_broken_new_version_keeps_the_old_one():
    kept = {"name": "b.pdf", "reason": "damaged PDF; the version indexed before stays", "sha256": "b.pdf-sha",
            "kept": True}
    old = manifest({"a.pdf": "a.pdf-sha", "b.pdf": "older", "c.md": "c.md-sha"}, skipped=[kept])
    plan = plan_build(H, [], old, "flat")
    assert plan.skipped == [kept] and "b.pdf" in plan.unchanged and plan.to_ingest == [] and plan.up_to_date


def test_files_found_but_unreadable_are_listed_and_a_new_one_means_a_new_manifest():
    found = [{"name": "locked.pdf", "reason": "cannot read: Permission denied"}]
    old = manifest(H)
    plan = plan_build(H, found, old, "flat")
    assert plan.skipped == found and plan.to_ingest == [] and not plan.up_to_date
    assert plan_build(H, found, manifest(H, skipped=found), "flat").up_to_date


def test_alias_skips_follow_the_file_they_copy():
    skipped = [{"name": "b.pdf", "reason": "damaged PDF"}]
    dups = [{"name": "b copy.pdf", "same_as": "b.pdf"}, {"name": "a copy.pdf", "same_as": "a.pdf"}]
    assert alias_skips(skipped, dups) == [{"name": "b copy.pdf", "reason": "damaged PDF", "same_as": "b.pdf"}]
