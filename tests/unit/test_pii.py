import pytest

from raygate.goldset import load_goldset
from raygate.telemetry.pii import find_pii, leaked_pii, redact


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("write to maria.lopez7@example.com today", "email"),
        ("call +1 202 555 0147", "phone"),
        ("call (202) 555-0147", "phone"),
        ("card 4111 1111 1111 1111", "card"),
        ("card 4111-1111-1111-1111", "card"),
        ("ssn 123-45-6789", "ssn"),
        ("iban DE89370400440532013000", "iban"),
        ("iban GB82 WEST 1234 5698 7654 32", "iban"),
        ("call +14155552671 today", "phone"),
        ("ring +49 (0)30 1234567", "phone"),
        ("call me on 2025550147", "phone"),
        ("my mobile is 555-0147", "phone"),
        ("iban de89370400440532013000", "iban"),
        ("from 203.0.113.9", "ip"),
        ("from 2001:db8::8a2e:370:7334", "ip"),
        ("from fe80::1", "ip"),
        ("key sk-live-abcdefghijklmnopqrstuvwx", "api_key"),
        ("aws AKIAABCDEFGHIJKLMNOP", "api_key"),
        ("key sk-proj-Ab3dEf6hIj9lMn0pQr_sTuVwXyZ-12345", "api_key"),  # OpenAI's today
        ("key sk-ant-api03-AbCdEfGhIjKlMnOpQrStUvWx0123-AA", "api_key"),  # Anthropic's
        ("slack xoxb-1234567890-abcdefghijkl", "api_key"),
        ("hf hf_abcdefghijklmnopqrstuvwxyzABCDEFGH", "api_key"),
        ("Authorization: Bearer 0a1b2c3d4e5f6a7b8c9d", "api_key"),
        ("call me on 07700 900123", "phone"),  # a UK mobile: five digits, then six
    ],
)
def test_each_kind_is_detected(text, kind):
    assert [m.kind for m in find_pii(text)] == [kind]


def test_a_number_named_a_phone_is_redacted_without_the_word_naming_it():
    said = "Call me at 555-0147 or text 2025550147."
    assert redact(said) == "Call me at [PHONE] or text [PHONE]."


@pytest.mark.parametrize(
    "text",
    [
        "iban DE89370400440532013001",  # fails mod 97
        "ip 999.1.1.1",
        "price 1234567, date 2024-05-01, $2,255.97, 1.7 L, 08:00 to 20:00, K-210",
        "ordered 2024-01-15 10:30, shipped 16.01.2024 09:15:00",
        "order number 12345678, 1234567890 units",
        "std::vector and a::b, loopback ::1, at 10:30:45, mac 00:1B:44:11:3A:B7",
        "pip install sk-learn-style-estimators, the bearer of bad news, ZIP 90210",
    ],
)
def test_lookalikes_are_not_pii(text):
    assert find_pii(text) == []


@pytest.mark.parametrize(
    "text", ["card 4111 1111 1111 1112", "card 5500-0000-0000-0005", "card 4000123412341234567"]
)
def test_card_shaped_numbers_are_cards_even_when_luhn_fails(text):
    assert [m.kind for m in find_pii(text)] == ["card"]
    assert "[CARD]" in redact(text)


def test_never_issued_ssn_areas_are_not_ssns():
    assert "ssn" not in {m.kind for m in find_pii("ssn 666-45-6789 or 900-12-3456")}


def test_redaction_replaces_values_with_their_kind():
    text = "I am at a.b@example.com, card 4111 1111 1111 1111."
    assert redact(text) == "I am at [EMAIL], card [CARD]."


def test_leaks_compare_digits_without_separators_and_email_without_case():
    source = "card 4111 1111 1111 1111, mail A.B@example.com, ip 203.0.113.9"
    leaks = leaked_pii(source, "Card 4111-1111-1111-1111 for a.b@EXAMPLE.com")
    assert sorted(m.kind for m in leaks) == ["card", "email"]
    assert leaked_pii(source, "I don't know.") == []


def test_every_pii_gold_query_carries_detectable_pii_and_no_other_does():
    for row in load_goldset("dev").rows:
        assert bool(find_pii(row.query)) == (row.category == "pii"), row.query
