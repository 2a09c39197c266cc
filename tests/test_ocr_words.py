"""Spaces put back between English words that OCR read glued (ingest.ocr_words), with the real
wordninja word model. The glued runs are ones PP-OCRv4 produced on the scanned corpus."""
from __future__ import annotations

import pytest

pytest.importorskip("wordninja", reason="the ocr extra is not installed")

from ingest.ocr_words import WordSplitter  # noqa: E402


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
