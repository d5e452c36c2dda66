"""The entry page's "verify in your browser" check, in a real browser (Web Crypto SHA-256)."""

import pytest

from ledgerproject.ledger.tests.test_checkpoint_support import (
    append_notes,
    checkpoint_now,
    note_model,
    signing_key,  # noqa: F401  (fixture)
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("signing_key")]


def test_the_entry_page_verifies_its_proof_in_the_browser_and_catches_a_tampered_one(page, login, bob):
    append_notes(11)
    checkpoint = checkpoint_now(note_model())
    login(bob)
    page.goto("/ledgers/testnotes/entries/6/")
    assert checkpoint.root_hash in page.text_content("[data-testid=checkpoint-root]")
    page.click("[data-testid=verify-proof]")
    result = page.locator("[data-testid=verify-result]")
    result.filter(has_text="erified").wait_for()
    assert result.get_attribute("data-outcome") == "verified", result.text_content()
    assert result.text_content().startswith("Verified")
    # Chromium has Ed25519 in Web Crypto (since 137), so the signature is checked too.
    assert "(signature checked)" in result.text_content()

    page.reload()
    page.evaluate(
        """() => {
            const source = document.getElementById("proof-data");
            const data = JSON.parse(source.textContent);
            const first = data.proof.audit_path[0];
            data.proof.audit_path[0] = (first[0] === "0" ? "1" : "0") + first.slice(1);
            source.textContent = JSON.stringify(data);
        }"""
    )
    page.click("[data-testid=verify-proof]")
    result.filter(has_text="NOT verified").wait_for()
    assert result.get_attribute("data-outcome") == "failed"
    assert "signed root" in result.text_content()

    page.reload()
    page.evaluate(
        """() => {
            const source = document.getElementById("proof-data");
            const data = JSON.parse(source.textContent);
            data.checkpoint.timestamp = "2000-01-01T00:00:00.000000Z";
            source.textContent = JSON.stringify(data);
        }"""
    )
    page.click("[data-testid=verify-proof]")
    result.filter(has_text="NOT verified").wait_for()
    assert "signature does not verify" in result.text_content()
