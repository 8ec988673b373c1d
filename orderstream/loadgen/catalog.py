"""The shop's fixed catalog: products, customers and currency conversion. Pure, no IO.

Every product and customer is a pure function of its index (not of the run's seed), so
runs with different seeds share one catalog and a product always has the same price.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

PRODUCT_COUNT = 200

_CATEGORIES = ("books", "electronics", "home", "garden", "toys", "fashion", "sports", "beauty")
_ADJECTIVES = ("Classic", "Compact", "Deluxe", "Eco", "Ultra", "Smart", "Vintage", "Pro", "Mini")
_NOUNS = ("Lamp", "Kettle", "Backpack", "Speaker", "Notebook", "Jacket", "Puzzle", "Blender",
          "Headphones", "Sneakers", "Planter", "Mug", "Drone", "Novel", "Serum", "Tent")
_FIRST = ("Ada", "Ben", "Chloe", "Dong-hyun", "Emma", "Felix", "Grace", "Hiro", "Ines", "Jonas",
          "Kim", "Lea", "Mateo", "Noor", "Olga", "Priya", "Quentin", "Rosa", "Sven", "Yuna")
_LAST = ("Smith", "Kim", "Garcia", "Muller", "Tanaka", "Rossi", "Dubois", "Nowak", "Park",
         "Jensen", "Silva", "Brown", "Lee", "Novak", "Sato", "Martin")


@dataclass(frozen=True)
class Currency:
    code: str
    per_usd: Decimal  # units of this currency per US dollar (a fixed demo rate)
    decimals: int  # minor-unit digits (KRW and JPY have none)

    @property
    def quantum(self) -> Decimal:
        return Decimal(1).scaleb(-self.decimals)

    def from_usd(self, usd: Decimal) -> Decimal:
        """``usd`` converted and rounded to this currency's minor unit."""
        return (usd * self.per_usd).quantize(self.quantum, rounding=ROUND_HALF_EVEN)


CURRENCIES: dict[str, Currency] = {
    c.code: c
    for c in (
        Currency("USD", Decimal("1"), 2),
        Currency("EUR", Decimal("0.92"), 2),
        Currency("GBP", Decimal("0.79"), 2),
        Currency("KRW", Decimal("1350"), 0),
        Currency("JPY", Decimal("150"), 0),
    )
}


def currency(code: str) -> Currency:
    """The conversion for ``code``; a contract currency without a table entry trades 1:1."""
    return CURRENCIES.get(code) or Currency(code, Decimal("1"), 2)


@dataclass(frozen=True)
class Product:
    index: int
    sku: str
    name: str
    category: str
    price: Decimal  # list price in USD; orders convert it to their currency


@dataclass(frozen=True)
class Customer:
    index: int
    email: str
    name: str


def product(index: int) -> Product:
    rng = random.Random(f"orderstream-product-{index}")
    # log-uniform list prices between about 2 and 400 dollars, ending in .99
    dollars = math.floor(math.exp(rng.uniform(math.log(3), math.log(400))))
    name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)}"
    return Product(
        index=index,
        sku=f"LG-{index:05d}",
        name=name,
        category=rng.choice(_CATEGORIES),
        price=Decimal(dollars) - Decimal("0.01"),
    )


def customer(index: int) -> Customer:
    first = _FIRST[index % len(_FIRST)]
    last = _LAST[(index // len(_FIRST)) % len(_LAST)]
    return Customer(index=index, email=f"customer{index:06d}@shop.example", name=f"{first} {last}")
