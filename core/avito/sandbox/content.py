"""The shop's content: items from the demo knowledge base, buyer names and texts, seller replies, prices."""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from pathlib import Path

_ROOT = Path(__file__).resolve().parents[3]
KB_PATH = _ROOT / "core" / "demo" / "kb.json"
# Buyer texts come from the training examples; tests/data/intents_labelled.jsonl is held out and must not leak.
EXAMPLES_PATH = _ROOT / "graphs" / "offline" / "intent_examples.jsonl"

_PRICE = re.compile(r"Цена(?: за комплект)? ([\d\s ]+)₽")

_NAMES = (
    "Алексей Мария Дмитрий Анна Сергей Елена Иван Ольга Андрей Наталья Михаил Татьяна Артём Екатерина Никита "
    "Юлия Павел Ирина Роман Светлана Егор Дарья Тимур Алсу Рустам Гульнара Ильдар Лейсан Владимир Ксения"
)
FIRST_NAMES = _NAMES.split()
LAST_INITIALS = "АБВГДЕЗИКЛМНОПРСТФХШ"

SELLER_REPLIES = [
    "Здравствуйте! Да, в наличии.",
    "Добрый день! Можно забрать сегодня до 20:00.",
    "Здравствуйте! Доставка по Казани 400 ₽, от 30 000 ₽ бесплатно.",
    "Да, можно оплатить картой или переводом.",
    "Спасибо за интерес! Подскажите, на какой рост подбираете?",
]


@dataclass(frozen=True, slots=True)
class Product:
    title: str
    price: int
    description: str


@functools.cache
def demo_products() -> tuple[Product, ...]:
    """The demo shop's goods: articles of the ``products`` category whose text names a price."""
    kb = json.loads(KB_PATH.read_text(encoding="utf-8"))
    products = []
    for article in kb["articles"]:
        if article["category"] != "products":
            continue
        match = _PRICE.search(article["text"])
        if match:
            price = int(re.sub(r"\D", "", match.group(1)))
            products.append(Product(article["title"], price, article["text"]))
    return tuple(products)


@functools.cache
def buyer_texts() -> dict[str, tuple[str, ...]]:
    """intent → example texts, minus the bot-facing intents a buyer would not open with."""
    by_intent: dict[str, list[str]] = {}
    for line in EXAMPLES_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            by_intent.setdefault(row["intent"], []).append(row["text"])
    return {intent: tuple(texts) for intent, texts in by_intent.items()}


def price_string(price: int) -> str:
    return f"{price:,}".replace(",", " ") + " ₽"
