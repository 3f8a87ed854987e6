"""A seeded, realistic three-locale catalog (en_US, fr_FR, ar_AE) written as JSON Lines, one product at a time.

Products are drawn in order from one `random.Random(seed)`, so the first K
products of a run of N are exactly the products of a run of K: two sizes
benchmark the same kind of data, and a failing line can be regenerated.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

LOCALES = ("en_US", "fr_FR", "ar_AE")
SCOPES = ("ecommerce", "print")
CURRENCIES = ("EUR", "USD")
Words = tuple[str, str, str]
"""One phrase in en_US, fr_FR and ar_AE, in that order."""


@dataclass(frozen=True, slots=True)
class AttributeDef:
    code: str
    type: str
    labels: Words
    localizable: bool = False
    scopable: bool = False

    def as_input(self) -> dict[str, Any]:
        labels = dict(zip(LOCALES, self.labels, strict=True))
        return {
            "code": self.code,
            "type": self.type,
            "localizable": self.localizable,
            "scopable": self.scopable,
            "labels": labels,
        }


ATTRIBUTES = (
    AttributeDef("name", "TEXT", ("Name", "Nom", "الاسم"), localizable=True),
    AttributeDef("short_description", "TEXTAREA", ("Short description", "Description courte", "وصف مختصر"), True),
    AttributeDef("description", "TEXTAREA", ("Description", "Description", "الوصف"), True, True),
    AttributeDef("meta_title", "TEXT", ("Meta title", "Titre SEO", "عنوان الصفحة"), localizable=True),
    AttributeDef("care_instructions", "TEXTAREA", ("Care", "Entretien", "العناية"), localizable=True),
    AttributeDef("composition", "TEXT", ("Composition", "Composition", "التركيبة"), localizable=True),
    AttributeDef("main_image", "IMAGE", ("Main image", "Image principale", "الصورة الرئيسية"), scopable=True),
    AttributeDef("price", "PRICE", ("Price", "Prix", "السعر")),
    AttributeDef("weight", "METRIC", ("Weight", "Poids", "الوزن")),
    AttributeDef("height", "METRIC", ("Height", "Hauteur", "الارتفاع")),
    AttributeDef("stock", "NUMBER", ("Stock", "Stock", "المخزون")),
    AttributeDef("rating", "NUMBER", ("Rating", "Note", "التقييم")),
    AttributeDef("release_date", "DATE", ("Release date", "Date de sortie", "تاريخ الإصدار")),
    AttributeDef("active", "BOOLEAN", ("Active", "Actif", "نشط")),
    AttributeDef("color", "SELECT", ("Colour", "Couleur", "اللون")),
    AttributeDef("sizes", "MULTISELECT", ("Sizes", "Tailles", "المقاسات")),
    AttributeDef("brand", "SELECT", ("Brand", "Marque", "العلامة التجارية")),
    AttributeDef("ean", "IDENTIFIER", ("EAN", "EAN", "الرمز الشريطي")),
    AttributeDef("supplier_ref", "TEXT", ("Supplier reference", "Référence fournisseur", "مرجع المورد")),
    AttributeDef("datasheet", "FILE", ("Datasheet", "Fiche technique", "ورقة البيانات")),
)

# code -> ((adjective, "made of" phrase), composition)
MATERIALS: dict[str, tuple[Words, Words]] = {
    "cotton": (("cotton", "en coton", "من القطن"), ("100% cotton", "100 % coton", "قطن 100%")),
    "linen": (("linen", "en lin", "من الكتان"), ("100% linen", "100 % lin", "كتان 100%")),
    "wool": (
        ("wool", "en laine", "من الصوف"),
        ("80% wool, 20% polyamide", "80 % laine, 20 % polyamide", "صوف 80%، بولياميد 20%"),
    ),
    "leather": (
        ("leather", "en cuir", "من الجلد"),
        ("Full-grain leather", "Cuir pleine fleur", "جلد طبيعي كامل الحبيبات"),
    ),
    "recycled": (
        ("recycled polyester", "en polyester recyclé", "من البوليستر المعاد تدويره"),
        ("100% recycled polyester", "100 % polyester recyclé", "بوليستر معاد تدويره 100%"),
    ),
    "ceramic": (("ceramic", "en céramique", "من السيراميك"), ("Glazed stoneware", "Grès émaillé", "فخار مزجج")),
    "bamboo": (("bamboo", "en bambou", "من الخيزران"), ("Bamboo and steel", "Bambou et acier", "خيزران وفولاذ")),
}


@dataclass(frozen=True, slots=True)
class Kind:
    """A kind of product; apparel has sizes and care instructions."""

    family: str
    words: Words
    materials: tuple[str, ...]
    apparel: bool = False


KINDS = (
    Kind("shirts", ("shirt", "Chemise", "قميص"), ("cotton", "linen"), apparel=True),
    Kind("tshirts", ("T-shirt", "T-shirt", "تي شيرت"), ("cotton", "recycled", "bamboo"), apparel=True),
    Kind("trousers", ("trousers", "Pantalon", "بنطال"), ("cotton", "linen", "wool"), apparel=True),
    Kind("jackets", ("jacket", "Veste", "سترة"), ("wool", "leather", "recycled"), apparel=True),
    Kind("sneakers", ("sneakers", "Baskets", "حذاء رياضي"), ("leather", "recycled"), apparel=True),
    Kind("bags", ("backpack", "Sac à dos", "حقيبة ظهر"), ("leather", "recycled", "cotton")),
    Kind("lamps", ("desk lamp", "Lampe de bureau", "مصباح مكتب"), ("ceramic", "bamboo")),
    Kind("mugs", ("mug", "Tasse", "كوب"), ("ceramic", "bamboo")),
)
# (option code, en, fr, Arabic with the article, as in "باللون الأزرق")
COLORS = (
    ("red", "red", "rouge", "الأحمر"),
    ("blue", "blue", "bleu", "الأزرق"),
    ("green", "green", "vert", "الأخضر"),
    ("black", "black", "noir", "الأسود"),
    ("white", "white", "blanc", "الأبيض"),
    ("beige", "beige", "beige", "البيج"),
    ("navy", "navy", "bleu marine", "الكحلي"),
)
COLLECTIONS: tuple[Words, ...] = (
    ("Atlas", "Atlas", "أطلس"),
    ("Riviera", "Riviera", "ريفييرا"),
    ("Sahara", "Sahara", "صحارى"),
    ("Medina", "Médina", "مدينة"),
    ("Camargue", "Camargue", "كامارغ"),
    ("Nordic", "Nordique", "نورديك"),
)
SENTENCES: tuple[Words, ...] = (
    (
        "Each piece is checked by hand before shipping.",
        "Chaque pièce est vérifiée à la main avant l'expédition.",
        "تُفحص كل قطعة يدويًا قبل الشحن.",
    ),
    (
        "Made in a certified workshop in Portugal.",
        "Fabriqué dans un atelier certifié au Portugal.",
        "صُنع في ورشة معتمدة في البرتغال.",
    ),
    (
        "Delivered in plastic-free packaging.",
        "Livré dans un emballage sans plastique.",
        "يُسلَّم في تغليف خالٍ من البلاستيك.",
    ),
    ("Two-year warranty.", "Garantie deux ans.", "ضمان لمدة سنتين."),
    ("Designed in Marseille.", "Conçu à Marseille.", "صُمّم في مرسيليا."),
    (
        "Limited series, while stocks last.",
        "Série limitée, dans la limite des stocks disponibles.",
        "إصدار محدود حتى نفاد الكمية.",
    ),
    (
        "The colour may differ slightly from the photo.",
        "La couleur peut légèrement différer de la photo.",
        "قد يختلف اللون قليلًا عن الصورة.",
    ),
)
CARE: tuple[Words, ...] = (
    ("Do not tumble dry.", "Ne pas sécher en machine.", "لا يُجفف في المجفف."),
    ("Iron at low temperature.", "Repasser à basse température.", "يُكوى على درجة حرارة منخفضة."),
    ("Hand wash only.", "Lavage à la main uniquement.", "غسيل يدوي فقط."),
    ("Dry flat in the shade.", "Sécher à plat, à l'ombre.", "يُجفف مسطحًا في الظل."),
)
SIZES = ("XS", "S", "M", "L", "XL", "XXL")
BRANDS = ("maison_exemple", "atelier_sud", "dune_and_co")
SHOP: Words = ("Maison Exemple", "Maison Exemple", "ميزون إكزامبل")
RETURNS: Words = ("Free returns within 30 days.", "Retours gratuits sous 30 jours.", "إرجاع مجاني خلال 30 يومًا.")
FIRST_RELEASE = date(2020, 1, 1)


def write_attributes(path: Path) -> int:
    """Write the 20 attributes; returns how many."""
    with path.open("w", encoding="utf-8") as handle:
        for attribute in ATTRIBUTES:
            handle.write(json.dumps(attribute.as_input(), ensure_ascii=False) + "\n")
    return len(ATTRIBUTES)


def products(count: int, *, seed: int = 20260131) -> Iterator[dict[str, Any]]:
    """The `count` products, one at a time, as import input: {"sku", "family", "enabled", "values": [...]}."""
    rng = random.Random(seed)
    width = max(6, len(str(count)))
    for index in range(1, count + 1):
        yield _product(rng, index, f"SKU-{index:0{width}d}")


def write_products(path: Path, count: int, *, seed: int = 20260131) -> int:
    """Stream `count` products to `path`, one line each, never holding more than one; returns the file's size."""
    with path.open("w", encoding="utf-8") as handle:
        for product in products(count, seed=seed):
            handle.write(json.dumps(product, ensure_ascii=False, separators=(",", ":")) + "\n")
    return path.stat().st_size


def _product(rng: random.Random, index: int, sku: str) -> dict[str, Any]:
    kind = rng.choice(KINDS)
    material, composition = MATERIALS[rng.choice(kind.materials)]
    color = rng.choice(COLORS)
    names = _names(kind.words, material, color, rng.choice(COLLECTIONS))
    values = list(_localized(rng, names, kind, material, composition, sku))
    values += _technical(rng, index, sku, color[0], kind.apparel)
    return {"sku": sku, "family": kind.family, "enabled": rng.random() < 0.95, "values": values}


def _names(kind: Words, material: Words, color: tuple[str, str, str, str], collection: Words) -> Words:
    """Names word-ordered as each language orders them; French colour as 'coloris' so it needs no agreement."""
    english = f"{collection[0]} {color[1]} {material[0]} {kind[0]}"
    french = f"{kind[1]} {collection[1]} {material[1]}, coloris {color[2]}"
    arabic = f"{kind[2]} {collection[2]} {material[2]} باللون {color[3]}"
    return english[0].upper() + english[1:], french, arabic


def _localized(
    rng: random.Random, names: Words, kind: Kind, material: Words, composition: Words, sku: str
) -> Iterator[dict[str, Any]]:
    sentences = rng.sample(SENTENCES, rng.randint(2, 4))
    care = rng.sample(CARE, 2) if kind.apparel and rng.random() < 0.8 else []
    shorts: Words = (
        f"{material[0].capitalize()} {kind.words[0]}, made for everyday comfort.",
        f"{kind.words[1]} {material[1]} : le confort au quotidien, sans compromis.",
        f"{kind.words[2]} {material[2]}، لراحة تدوم طوال اليوم.",
    )
    for column, locale in enumerate(LOCALES):
        body = " ".join(sentence[column] for sentence in sentences)
        yield _value("name", names[column], locale)
        yield _value("short_description", shorts[column], locale)
        yield _value("description", f"{names[column]}. {body} {RETURNS[column]}", locale, "ecommerce")
        yield _value("description", f"{names[column]} — {sku}. {sentences[0][column]}", locale, "print")
        yield _value("meta_title", f"{names[column]} | {SHOP[column]}", locale)
        yield _value("composition", composition[column], locale)
        if care:
            yield _value("care_instructions", " ".join(line[column] for line in care), locale)


def _technical(rng: random.Random, index: int, sku: str, color: str, apparel: bool) -> list[dict[str, Any]]:
    cents = rng.randrange(499, 25_000)
    grams = rng.randrange(80, 4_000)
    values = [
        _value("main_image", f"images/{sku.lower()}/web.jpg", scope="ecommerce"),
        _value("main_image", f"images/{sku.lower()}/print.tif", scope="print"),
        _value("price", {"EUR": _money(cents), "USD": _money(cents * 108 // 100)}),
        _value("weight", {"amount": f"{grams // 1000}.{grams % 1000:03d}", "unit": "KILOGRAM"}),
        _value("height", {"amount": str(rng.randrange(5, 120)), "unit": "CENTIMETER"}),
        _value("stock", rng.randrange(0, 500)),
        _value("release_date", (FIRST_RELEASE + timedelta(days=rng.randrange(2_400))).isoformat()),
        _value("active", rng.random() < 0.9),
        _value("color", color),
        _value("brand", rng.choice(BRANDS)),
        _value("ean", _ean13(index)),
        _value("supplier_ref", f"SUP-{rng.randrange(16**6):06X}-{rng.choice('ABCDEFGH')}"),
        _value("datasheet", f"datasheets/{sku.lower()}.pdf"),
    ]
    if rng.random() < 0.6:
        values.append(_value("rating", round(rng.uniform(2.5, 5.0), 1)))
    if apparel:
        start = rng.randrange(0, 3)
        values.append(_value("sizes", list(SIZES[start : start + rng.randint(2, 4)])))
    return values


def _value(attribute: str, data: Any, locale: str | None = None, scope: str | None = None) -> dict[str, Any]:
    return {"attribute": attribute, "locale": locale, "scope": scope, "data": data}


def _money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


def _ean13(index: int) -> str:
    """A valid EAN-13 (GS1 prefix 370, France) whose check digit a channel would accept."""
    body = f"370{index:09d}"
    total = sum(int(digit) * (3 if position % 2 else 1) for position, digit in enumerate(body))
    return body + str((10 - total % 10) % 10)
