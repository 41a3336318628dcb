"""The fictional company's catalog: seeded products, policies and support procedures."""

from __future__ import annotations

import random
from dataclasses import dataclass, field

COMPANY = "Larkspur Labs"
SERIES = ("Aero", "Terra", "Nova", "Pulse", "Zephyr", "Orbit", "Cinder", "Vale", "Quill", "Brio")
COLORS = ("Slate grey", "Chalk white", "Forest green", "Ocean blue", "Ember red", "Sand beige")
REGIONS = (
    "Germany", "France", "Netherlands", "Spain", "Italy",
    "United Kingdom", "Ireland", "Poland", "Sweden", "Austria",
)  # fmt: skip
PRODUCTS_PER_TYPE = 12


@dataclass(frozen=True)
class AttributeSpec:
    """A numeric or categorical spec a product type has, e.g. Capacity in L."""

    name: str
    unit: str
    choices: tuple[float | str, ...]


@dataclass(frozen=True)
class ProductType:
    """A kind of product: its category, model-code letter, price and weight ranges, specs."""

    name: str
    category: str
    letter: str
    price_range: tuple[int, int]
    weight_range: tuple[float, float]
    attributes: tuple[AttributeSpec, ...]


def _steps(low: float, high: float, step: float) -> tuple[float, ...]:
    count = round((high - low) / step) + 1
    return tuple(round(low + i * step, 2) for i in range(count))


PRODUCT_TYPES = (
    ProductType("Kettle", "Kitchen", "K", (29, 129), (0.8, 1.8), (
        AttributeSpec("Capacity", "L", _steps(1.0, 1.8, 0.1)),
        AttributeSpec("Power", "W", _steps(1500, 3000, 100)))),
    ProductType("Blender", "Kitchen", "B", (49, 299), (2.0, 5.5), (
        AttributeSpec("Power", "W", _steps(500, 1500, 50)),
        AttributeSpec("Jar capacity", "L", _steps(1.0, 2.0, 0.1)))),
    ProductType("Toaster", "Kitchen", "T", (25, 149), (1.2, 3.5), (
        AttributeSpec("Slots", "", (2, 4)),
        AttributeSpec("Power", "W", _steps(800, 1800, 100)))),
    ProductType("Coffee Maker", "Kitchen", "C", (39, 399), (1.5, 6.0), (
        AttributeSpec("Brew capacity", "cups", _steps(4, 12, 1)),
        AttributeSpec("Power", "W", _steps(600, 1500, 50)))),
    ProductType("Headphones", "Audio", "H", (59, 349), (0.2, 0.4), (
        AttributeSpec("Battery life", "hours", _steps(20, 60, 5)),
        AttributeSpec("Driver size", "mm", _steps(30, 50, 2)))),
    ProductType("Speaker", "Audio", "S", (39, 249), (0.4, 2.5), (
        AttributeSpec("Battery life", "hours", _steps(8, 24, 2)),
        AttributeSpec("Output power", "W", _steps(10, 60, 5)))),
    ProductType("Earbuds", "Audio", "E", (29, 229), (0.05, 0.1), (
        AttributeSpec("Battery life", "hours", _steps(5, 10, 1)),
        AttributeSpec("Charging case capacity", "hours", _steps(15, 30, 5)))),
    ProductType("Router", "Networking", "R", (49, 399), (0.4, 1.5), (
        AttributeSpec("Wi-Fi standard", "", ("Wi-Fi 6", "Wi-Fi 6E", "Wi-Fi 7")),
        AttributeSpec("Ethernet ports", "", _steps(2, 8, 1)))),
    ProductType("Mesh Node", "Networking", "M", (79, 299), (0.3, 0.9), (
        AttributeSpec("Coverage", "square metres", _steps(100, 250, 10)),)),
    ProductType("Switch", "Networking", "W", (19, 249), (0.3, 2.0), (
        AttributeSpec("Ethernet ports", "", (5, 8, 16, 24)),)),
    ProductType("Tent", "Outdoor", "N", (89, 599), (1.2, 6.5), (
        AttributeSpec("Sleeps", "persons", _steps(1, 6, 1)),)),
    ProductType("Lantern", "Outdoor", "L", (19, 99), (0.2, 0.9), (
        AttributeSpec("Brightness", "lumens", _steps(200, 1200, 50)),
        AttributeSpec("Battery life", "hours", _steps(10, 60, 5)))),
    ProductType("Backpack", "Outdoor", "P", (49, 279), (0.8, 2.4), (
        AttributeSpec("Volume", "L", _steps(20, 70, 5)),)),
    ProductType("Desk Lamp", "Office", "D", (29, 189), (0.8, 2.5), (
        AttributeSpec("Brightness", "lumens", _steps(300, 1000, 50)),
        AttributeSpec("Color temperature", "K", _steps(2700, 6500, 100)))),
    ProductType("Monitor Arm", "Office", "A", (39, 229), (2.0, 6.0), (
        AttributeSpec("Maximum load", "kg", _steps(5, 15, 1)),)),
    ProductType("Office Chair", "Office", "O", (149, 899), (12.0, 24.0), (
        AttributeSpec("Maximum load", "kg", _steps(100, 150, 5)),)),
    ProductType("Smartwatch", "Fitness", "X", (99, 499), (0.03, 0.08), (
        AttributeSpec("Battery life", "days", _steps(3, 14, 1)),
        AttributeSpec("Water resistance", "m", (30, 50, 100)))),
    ProductType("Treadmill", "Fitness", "Y", (499, 2499), (45.0, 110.0), (
        AttributeSpec("Maximum speed", "km/h", _steps(12, 20, 1)),)),
    ProductType("Yoga Mat", "Fitness", "G", (19, 119), (0.8, 2.5), (
        AttributeSpec("Thickness", "mm", _steps(3, 8, 1)),)),
)  # fmt: skip

CATEGORIES = tuple(dict.fromkeys(t.category for t in PRODUCT_TYPES))


@dataclass(frozen=True)
class Product:
    """One product with its facts in display form ("$49.00", "1.2 kg")."""

    doc_id: str
    name: str
    ptype: ProductType
    series: str
    price_cents: int
    weight_g: int
    warranty_years: int
    color: str
    release_year: int
    specs: dict[str, str] = field(hash=False)


@dataclass(frozen=True)
class Catalog:
    """Everything the corpus says, in structured form, so gold answers are exact."""

    products: tuple[Product, ...]
    return_days: dict[str, int]
    restocking_pct: dict[str, int]
    repair_days: dict[str, int]
    shipping: dict[str, tuple[int, int, int]]  # region -> (standard days, express days, fee $)
    reset_minutes: dict[str, int]
    student_discount_pct: int


def format_price(cents: int) -> str:
    return f"${cents // 100:,}.{cents % 100:02d}"


def format_weight(grams: int) -> str:
    return f"{grams / 1000:.2f}".rstrip("0").rstrip(".") + " kg"


def format_spec(spec: AttributeSpec, value: float | str) -> str:
    text = f"{value:g}" if isinstance(value, float | int) else value
    return f"{text} {spec.unit}".strip()


def build_catalog(rng: random.Random) -> Catalog:
    """Draw every product and policy figure from rng; same seed, same catalog."""
    products = tuple(_draw_products(rng))
    return Catalog(
        products=products,
        return_days={c: rng.choice((14, 30, 45, 60)) for c in CATEGORIES},
        restocking_pct={c: rng.choice((0, 5, 10, 15)) for c in CATEGORIES},
        repair_days={c: rng.randint(5, 20) for c in CATEGORIES},
        shipping={
            r: (rng.randint(2, 7), rng.randint(1, 2), rng.choice((9, 12, 15, 19))) for r in REGIONS
        },
        reset_minutes={t.name: rng.choice((2, 5, 10, 15, 20)) for t in PRODUCT_TYPES},
        student_discount_pct=rng.choice((10, 15, 20)),
    )


def _draw_products(rng: random.Random):
    for ptype in PRODUCT_TYPES:
        numbers = rng.sample(range(100, 1000, 10), PRODUCTS_PER_TYPE)
        for number in numbers:
            series = rng.choice(SERIES)
            code = f"{ptype.letter}-{number}"
            specs = {s.name: format_spec(s, rng.choice(s.choices)) for s in ptype.attributes}
            low_w, high_w = ptype.weight_range
            yield Product(
                doc_id=f"prod-{ptype.letter.lower()}{number}",
                name=f"{series} {ptype.name} {code}",
                ptype=ptype,
                series=series,
                price_cents=rng.randint(*ptype.price_range) * 100 + rng.choice((0, 49, 90, 99)),
                weight_g=round(rng.uniform(low_w, high_w) * 1000 / 10) * 10,
                warranty_years=rng.choice((1, 2, 2, 3, 5)),
                color=rng.choice(COLORS),
                release_year=rng.randint(2019, 2026),
                specs=specs,
            )
