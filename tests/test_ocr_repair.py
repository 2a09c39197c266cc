"""Spaces put back between English words that OCR read glued (ingest.ocr_repair), with the real
wordninja word model. The glued runs are ones PP-OCRv4 produced on the scanned corpus."""
from __future__ import annotations

import pytest

pytest.importorskip("wordninja", reason="the ocr extra is not installed")

from ingest.ocr_repair import WordSplitter, repair_heading_numbers  # noqa: E402


@pytest.fixture(scope="module")
def splitter():
    return WordSplitter(["The plurilateral track. Plurilateral talks; plurilateral rules.",
                         "WeChat Pay and WeChat mini programs; WeChat users."])


@pytest.mark.parametrize("glued, words", [
    ("Dilemmaunder", "Dilemma under"),
    ("theGlobalMultilateralFramework", "the Global Multilateral Framework"),
    ("GovernancewithaCompositeMechanism", "Governance with a Composite Mechanism"),
    ("onITUStrategicPlanfor", "on ITU Strategic Plan for"),
    ("thePeople", "the People"),  # wordninja's own list holds "thepeople"
    ("ofkeyrules", "of key rules"),
    ("Governmentand", "Government and"),
    ("enrichedandextended", "enriched and extended"),
    ("PlurilateralGovernance", "Plurilateral Governance"),  # a word of the document, not of the list
    ("theNationalInternetInformationOfficereleased", "the National Internet Information Officereleased"),
])
def test_glued_words_are_split(splitter, glued, words):
    assert splitter.split_run(glued) == words


@pytest.mark.parametrize("word", [
    "cybersecurity", "blockchain", "Paperless", "Inclusiveness", "digitalization",  # not in the list
    "plurilateral", "WeChat",  # words of the document
    "LinkedIn", "McDonald", "YouTube", "iPhone", "COVID", "UNCTAD", "Huangming", "governance",
])
def test_words_stay_whole(splitter, word):
    assert splitter.split_run(word) == word


def test_fix_works_on_running_text(splitter):
    text = ("Contribution by thePeople'sRepublic of China (2018)onITUStrategicPlanfor2020-2023; "
            "国际电信联盟（ITU）的theUnited Nations agency, e-commerce and cross-border data.")
    assert splitter.fix(text) == (
        "Contribution by the People's Republic of China (2018)on ITU Strategic Plan for2020-2023; "
        "国际电信联盟（ITU）的the United Nations agency, e-commerce and cross-border data.")


def test_misread_heading_numbers_are_repaired_in_sequence():
    """As PP-OCRv4 read the contents page of the 2022 white paper: "II." as "lIl.", "III." as
    "Ill.", "(iii)" as "(ili)", "With" as "with", the space after "(ii)" dropped."""
    page1 = "I. Background\n(i) Characteristics\n(ii) Concept\nlIl. New Circumstances\n(i) With the deepening"
    page2 = ("(ii)With the positive\n(ili) with growing importance\nIll. Continuous Development\n"
             "(i) The connotation\n(ili) The exploration\nlV. Mechanisms\nChapter 4:Bilateral rules")
    assert repair_heading_numbers([page1, page2]) == [
        "I. Background\n(i) Characteristics\n(ii) Concept\nII. New Circumstances\n(i) With the deepening",
        "(ii) With the positive\n(iii) With growing importance\nIII. Continuous Development\n"
        "(i) The connotation\n(ii) The exploration\nIV. Mechanisms\nChapter 4: Bilateral rules"]


def test_lines_that_only_look_like_misread_numbers_are_kept():
    text = "1. Funding\n(1) the first item, which continues\nIl faut. Le texte\nlll\nAl Gore spoke.\nIV. Mechanisms"
    assert repair_heading_numbers([text]) == [text]


def test_a_misread_character_in_a_heading_is_matched_to_its_contents_entry():
    """OCR read 匮 as 遗 in the body heading; the contents page has it right, and the heading
    takes the contents' spelling (as the text layer has it)."""
    from ingest.sections import _misread_entry
    from ingest.headings import skeleton

    entries = ["（四）经济合作组织：以塑造共同知识助推数字税收治理", "（五）小结：共识匮乏导致多边框架举步维艰"]
    outline = {skeleton(e): e for e in entries}
    assert _misread_entry(skeleton("（五）小结：共识遗乏导致多边框架举步维艰"), outline) == entries[1]
    assert _misread_entry(skeleton("（五）小结：意见分歧导致多边框架举步维艰"), outline) is None  # 4 differ
    assert _misread_entry(skeleton("（六）小结：共识匮乏导致多边框架举步维艰"), outline) is None  # another number
