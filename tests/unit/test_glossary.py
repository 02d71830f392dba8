"""The glossary is the single source of bilingual labels."""

from pathlib import Path

from ipabs import glossary


def test_docs_glossary_is_generated_from_the_terms_table():
    doc = Path(__file__).resolve().parents[2] / "docs" / "glossary.md"
    assert doc.read_text(encoding="utf-8") == glossary.glossary_markdown(), (
        "docs/glossary.md is stale: run `python -m ipabs.glossary > docs/glossary.md`"
    )


def test_every_term_has_a_chinese_and_an_english_label():
    for key, (zh, en) in glossary.TERMS.items():
        assert zh.strip() and en.strip(), key
        assert key == key.strip()


def test_label_falls_back_to_the_key_for_unknown_terms():
    assert glossary.label("senior", "zh") == "优先级"
    assert glossary.label("senior", "en") == "senior"
    assert glossary.label("no_such_term", "zh") == "no_such_term"
