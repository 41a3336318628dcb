"""Render the catalog as corpus documents: one title line, then 'Field: value' facts and prose."""

from __future__ import annotations

from raygate.goldset.catalog import (
    CATEGORIES,
    COMPANY,
    PRODUCT_TYPES,
    REGIONS,
    Catalog,
    Product,
    format_price,
    format_weight,
)

# Policies that hold for every category and region, with fixed figures.
GENERAL_POLICIES = (
    ("pol-price-match", "Price match policy", {"Price match window": "14 days",
        "Eligible sellers": "authorised retailers in the same country"}),
    ("pol-loyalty", "Loyalty program", {"Points per euro": "2 points",
        "Reward value": "100 points equal a 5 euro voucher"}),
    ("pol-gift-cards", "Gift cards", {"Validity": "5 years", "Minimum value": "10 euro"}),
    ("pol-bulk", "Bulk orders", {"Minimum quantity": "10 units", "Bulk discount": "8%"}),
    ("pol-trade-in", "Trade-in program", {"Trade-in credit": "up to 30% of the new price",
        "Accepted condition": "working devices only"}),
    ("pol-privacy", "Privacy policy", {"Data retention": "24 months",
        "Data export": "within 30 days of a request"}),
    ("pol-support-hours", "Customer support hours", {"Phone support": "08:00 to 20:00 CET",
        "Chat support": "24 hours a day"}),
)  # fmt: skip


def render_corpus(catalog: Catalog) -> list[dict[str, str]]:
    """Every document of the knowledge base, in a fixed order."""
    docs = [_product_doc(p) for p in catalog.products]
    docs += _category_policy_docs(catalog)
    docs += [_shipping_doc(region, catalog) for region in REGIONS]
    docs.append(_student_doc(catalog))
    docs += [_doc(doc_id, title, "policy", facts, []) for doc_id, title, facts in GENERAL_POLICIES]
    docs += _procedure_docs(catalog)
    return docs


def _doc(doc_id: str, title: str, kind: str, facts: dict[str, str], prose: list[str]):
    lines = [title, *(f"{k}: {v}" for k, v in facts.items()), *prose]
    return {"id": doc_id, "title": title, "kind": kind, "text": "\n".join(lines)}


def _product_doc(p: Product) -> dict[str, str]:
    facts = {
        "Category": p.ptype.category,
        "Price": format_price(p.price_cents),
        "Weight": format_weight(p.weight_g),
        "Warranty": f"{p.warranty_years} year{'s' if p.warranty_years > 1 else ''}",
        "Color": p.color,
        "Release year": str(p.release_year),
        **p.specs,
    }
    prose = [
        f"The {p.name} is a {p.ptype.name.lower()} from the {p.series} series by {COMPANY}.",
        f"Returns and warranty claims follow the {p.ptype.category} product policies.",
    ]
    return _doc(p.doc_id, p.name, "product", facts, prose)


def _category_policy_docs(catalog: Catalog) -> list[dict[str, str]]:
    docs = []
    for cat in CATEGORIES:
        slug = cat.lower()
        docs.append(
            _doc(
                f"pol-return-{slug}",
                f"Return policy for {cat} products",
                "policy",
                {
                    "Return window": f"{catalog.return_days[cat]} days",
                    "Restocking fee": f"{catalog.restocking_pct[cat]}%",
                    "Refund method": "the original payment method",
                },
                ["Items must be returned with all accessories and the proof of purchase."],
            )
        )
        docs.append(
            _doc(
                f"pol-warranty-{slug}",
                f"Warranty claims for {cat} products",
                "policy",
                {
                    "Repair turnaround": f"{catalog.repair_days[cat]} business days",
                    "Claim channel": "the support portal or any authorised retailer",
                },
                ["A claim needs the serial number and a short description of the fault."],
            )
        )
    return docs


def _shipping_doc(region: str, catalog: Catalog) -> dict[str, str]:
    standard, express, fee = catalog.shipping[region]
    slug = region.lower().replace(" ", "-")
    return _doc(
        f"pol-ship-{slug}",
        f"Shipping to {region}",
        "policy",
        {
            "Standard delivery": f"{standard} business days",
            "Express delivery": f"{express} business day{'s' if express > 1 else ''}",
            "Express fee": f"${fee}.00",
        },
        ["Orders placed before 14:00 local time leave the warehouse the same day."],
    )


def _student_doc(catalog: Catalog) -> dict[str, str]:
    return _doc(
        "pol-student",
        "Student discount",
        "policy",
        {
            "Student discount": f"{catalog.student_discount_pct}%",
            "Eligibility": "students with a valid student card",
        },
        ["The student discount applies to the list price of any single product."],
    )


def _procedure_docs(catalog: Catalog) -> list[dict[str, str]]:
    docs = []
    for ptype in PRODUCT_TYPES:
        slug = ptype.name.lower().replace(" ", "-")
        noun = ptype.name.lower()
        docs.append(
            _doc(
                f"proc-reset-{slug}",
                f"Reset procedure for the {ptype.name}",
                "procedure",
                {
                    "Applies to": f"all {ptype.name} models",
                    "Reset time": f"{catalog.reset_minutes[ptype.name]} minutes",
                    "Tools needed": "a paperclip"
                    if ptype.category in ("Audio", "Networking")
                    else "none",
                },
                [
                    f"Step 1: Switch the {noun} off and unplug it.",
                    "Step 2: Hold the reset button for ten seconds.",
                    f"Step 3: Switch the {noun} on again and wait for the status light.",
                ],
            )
        )
        docs.append(
            _doc(
                f"proc-power-{slug}",
                f"Troubleshooting: {ptype.name} does not power on",
                "procedure",
                {"Applies to": f"all {ptype.name} models", "First check": "the power outlet"},
                [
                    f"Try another outlet, then check the cable of the {noun} for damage.",
                    "If it still does not power on, file a warranty claim.",
                ],
            )
        )
        docs.append(
            _doc(
                f"proc-care-{slug}",
                f"Care and cleaning of the {ptype.name}",
                "procedure",
                {"Applies to": f"all {ptype.name} models", "Cleaning interval": "every 3 months"},
                [f"Wipe the {noun} with a dry cloth; never use solvents."],
            )
        )
    return docs
