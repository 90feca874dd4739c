"""The knowledge-base JSON format (`shared/samples/kb.sample.json`):

    {"categories": [{"slug": "delivery", "title": "Доставка"}],
     "articles":   [{"id": "d1", "category": "delivery", "title": "…", "text": "…", "tags": ["…"]}]}

A bad file is rejected whole, with the line (for broken JSON) or the element (`articles[3] (id "d4").title`)
at fault, so the admin can fix it and import again; nothing is half-imported.
"""

from __future__ import annotations

import re

import msgspec

from core.errors import InvalidInput
from core.kb.models import SLUG, ArticleIn, CategoryIn, KbImport

MAX_TEXT = 50_000
MAX_TITLE = 300


class _Category(msgspec.Struct, forbid_unknown_fields=True):
    slug: str
    title: str


class _Article(msgspec.Struct, forbid_unknown_fields=False):
    id: str | int
    title: str
    text: str
    category: str | None = None
    tags: list[str] = []
    avito_item_ids: list[int] = []


class _File(msgspec.Struct):
    articles: list[_Article]
    categories: list[_Category] = []


def _line_col(data: bytes, message: str) -> str:
    match = re.search(r"byte (\d+)", message)
    if not match:
        return message
    offset = int(match.group(1))
    head = data[:offset]
    line = head.count(b"\n") + 1
    column = offset - (head.rfind(b"\n") + 1) + 1
    return f"строка {line}, столбец {column} ({message.split(' (byte')[0]})"


def _element(path: str, articles: list[object] | None) -> str:
    """`$.articles[3].title` → `articles[3] (id "d4").title`, naming the article the admin will look for."""
    path = path.removeprefix("$.")
    match = re.match(r"articles\[(\d+)\]", path)
    if match and articles is not None:
        index = int(match.group(1))
        if index < len(articles) and isinstance(articles[index], dict) and "id" in articles[index]:  # type: ignore[operator]
            article_id = articles[index]["id"]  # type: ignore[index]
            path = path.replace(match.group(0), f'{match.group(0)} (id "{article_id}")', 1)
    return path


def parse_json(data: bytes) -> KbImport:
    try:
        raw = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        raise InvalidInput(
            f"Файл не является корректным JSON: {_line_col(data, str(exc))}. Исправьте это место и загрузите снова."
        ) from None
    if not isinstance(raw, dict):
        raise InvalidInput('В файле должен быть JSON-объект с полем "articles" (и, по желанию, "categories").')
    try:
        parsed = msgspec.convert(raw, _File)
    except msgspec.ValidationError as exc:
        message, _, path = str(exc).partition(" - at `")
        where = _element(path.rstrip("`"), raw.get("articles")) if path else "корне файла"
        raise InvalidInput(f"Ошибка в {where}: {message}. Исправьте файл и загрузите снова.") from None

    categories: list[CategoryIn] = []
    seen_slugs: set[str] = set()
    for i, category in enumerate(parsed.categories):
        where = f'categories[{i}] (slug "{category.slug}")'
        if not SLUG.match(category.slug):
            raise InvalidInput(f"{where}: slug — это 1–63 символа a-z, 0-9, _ и -, начиная с буквы или цифры.")
        if category.slug in seen_slugs:
            raise InvalidInput(f"{where}: такой slug встречается дважды.")
        if not category.title.strip():
            raise InvalidInput(f"{where}: пустое название.")
        seen_slugs.add(category.slug)
        categories.append(CategoryIn(slug=category.slug, title=category.title.strip()))

    articles: list[ArticleIn] = []
    seen_ids: set[str] = set()
    for i, article in enumerate(parsed.articles):
        external_id = str(article.id).strip()
        where = f'articles[{i}] (id "{external_id}")'
        if not external_id or len(external_id) > 200:
            raise InvalidInput(f"articles[{i}]: id должен быть длиной от 1 до 200 символов.")
        if external_id in seen_ids:
            raise InvalidInput(
                f"{where}: такой id встречается дважды, а по id статьи обновляются при повторном импорте."
            )
        if not article.title.strip() or len(article.title) > MAX_TITLE:
            raise InvalidInput(f"{where}: название должно быть длиной от 1 до {MAX_TITLE} символов.")
        if not article.text.strip():
            raise InvalidInput(f"{where}: пустой текст.")
        if len(article.text) > MAX_TEXT:
            raise InvalidInput(f"{where}: текст длиннее {MAX_TEXT} символов — разделите статью на несколько.")
        seen_ids.add(external_id)
        articles.append(
            ArticleIn(
                external_id=external_id,
                title=article.title.strip(),
                text=article.text.strip(),
                category=article.category,
                tags=[t.strip() for t in article.tags if t.strip()],
                avito_item_ids=article.avito_item_ids,
            )
        )
    return KbImport(source="json", categories=categories, articles=articles)
