"""Import from an ocStore shop's YML feed (the Yandex Market format ocStore's export modules produce):

    <yml_catalog><shop>
      <categories><category id="12" parentId="1">Горные</category>…</categories>
      <offers><offer id="101" available="true"><name>…</name><price>28500</price>…</offer>…</offers>
    </shop></yml_catalog>

Every offer becomes one product article (`ocstore-product-<offer id>`, the same id the database reader in
`core/kb/ocstore_db.py` gives the product, since ocStore exports its product_id as the offer id), whose text is
what a buyer asks about: the description as plain text, the specs, the price and whether it is in stock.

The feed comes from outside, so it is parsed with defusedxml (a dependency, not an optional speed-up): entity
declarations (the "billion laughs") and external entities are refused rather than expanded, and nothing is ever
fetched — the customary `<!DOCTYPE yml_catalog SYSTEM "shops.dtd">` is accepted and ignored. The encoding is the one
the XML declaration names; expat decodes windows-1251, which many ocStore feeds still use, through Python's codec.

A feed that cannot be read as a catalogue (broken XML, no <offers>, two offers with one id, a category cycle) is
rejected whole with InvalidInput naming the line; an offer that cannot become an article (no name, no price) is
left out and reported in `skipped` with the reason, so the admin sees what to fix in the shop.

The helpers that shape a product's text (`html_to_text`, `product_text`, `format_money`, …) are public because the
database reader builds its articles with them: a product reads the same whichever door it came in by.
"""

from __future__ import annotations

import html
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Sequence
from decimal import Decimal
from html.parser import HTMLParser
from typing import Any

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import DefusedXMLParser

from core.errors import InvalidInput
from core.kb.models import ArticleIn, CategoryIn, KbImport, Skipped

SOURCE = "ocstore-yml"
# Where products without a (known) shop category go; the slug the demo knowledge base uses for products.
PRODUCTS = CategoryIn(slug="products", title="Товары")

_CURRENCY_SIGNS = {"RUB": "₽", "USD": "$", "EUR": "€", "KZT": "₸", "BYN": "Br", "UAH": "₴"}
# YML's ids are "digits and latin letters, up to 20 characters"; we allow a little more but keep slugs valid.
_CATEGORY_ID = re.compile(r"^[0-9A-Za-z_-]{1,50}$")
_OFFER_ID = re.compile(r"^[0-9A-Za-z_.-]{1,80}$")
# After removing spaces and turning a decimal comma into a point: at most 12 digits and 4 decimals.
_PRICE = re.compile(r"^\d{1,12}(?:\.\d{1,4})?$")
_TAG_LIKE = re.compile(r"<[A-Za-z/!]")
_BREAKS = re.compile(r"[\s\ue001\ue002]*[\ue001\ue002][\s\ue001\ue002]*")
# expat's messages (pyexpat.ErrorString) for the mistakes a hand-edited or half-downloaded feed makes, in Russian;
# any other message is shown as expat wrote it.
_XML_ERRORS = {
    "syntax error": "синтаксическая ошибка",
    "no element found": "файл оборвался или пуст: не хватает закрывающих тегов",
    "not well-formed (invalid token)": "недопустимый символ",
    "unclosed token": "незакрытый тег",
    "mismatched tag": "закрывающий тег не совпадает с открывающим",
    "duplicate attribute": "атрибут повторяется",
    "junk after document element": "лишний текст после закрывающего </yml_catalog>",
    "undefined entity": "неизвестная сущность (в XML нет &nbsp; и подобных: пишите &#160; или сам символ)",
    "unclosed CDATA section": "незакрытая секция CDATA",
    "unbound prefix": "префикс пространства имён не объявлен",
    "unknown encoding": "неизвестная кодировка в объявлении <?xml ...?>",
    "encoding specified in XML declaration is incorrect": "кодировка в объявлении <?xml ...?> не совпадает с файлом",
    "XML or text declaration not at start of entity": "объявление <?xml ...?> должно стоять в самом начале файла",
    "reference to invalid character number": "ссылка на недопустимый символ",
}


# --- text shared with the database reader ---------------------------------------------------------------------


class _TextExtractor(HTMLParser):
    """HTML → plain text for retrieval: tags dropped, entities decoded, paragraphs and list items kept as lines.

    Script, style and similar elements lose their content too: a shop's description may carry a counter or a
    widget, and neither belongs in what the bot quotes to a buyer.
    """

    _PARAGRAPH = frozenset(
        {"p", "div", "section", "article", "header", "footer", "aside", "main", "nav", "blockquote", "pre", "hr"}
        | {"h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "dl", "table", "thead", "tbody", "tfoot", "figure"}
        | {"figcaption", "address", "form", "fieldset", "details", "summary"}
    )
    _LINE_AFTER = frozenset({"tr", "dt", "dd", "caption"})  # a line break after the element, none before
    _HIDDEN = frozenset({"script", "style", "noscript", "template", "iframe", "object", "svg", "head", "title"})
    # Private-use characters mark breaks until the text is assembled, so that the whitespace between tags
    # (`</li>\n  <li>`) cannot turn into blank lines: a run of marks and spaces becomes its strongest break.
    CELL, LINE, PARAGRAPH = "\ue000", "\ue001", "\ue002"

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag == "li":
            self.parts.append(self.LINE + "- ")
        elif tag in ("td", "th"):
            self.parts.append(self.CELL)
        elif tag == "br":
            self.parts.append(self.LINE)
        else:
            self._break(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in self._HIDDEN:  # <br/>, <hr/>: the tag's break; a self-closed <script/> hides nothing
            self.handle_starttag(tag, attrs)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._LINE_AFTER:
            self.parts.append(self.LINE)
        elif tag != "li":  # the next item or the end of the list breaks the line
            self._break(tag)

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            # HTML whitespace, newlines included, is one space; only tags make line breaks.
            self.parts.append(re.sub(r"\s+", " ", data))

    def _break(self, tag: str) -> None:
        if tag in self._PARAGRAPH:
            self.parts.append(self.PARAGRAPH)

    def text(self) -> str:
        """The collected text with each run of break marks resolved: a paragraph mark or two line breaks in a row
        (`<br><br>`, how many shop editors separate paragraphs) make a paragraph, anything else one line break."""

        def resolve(run: re.Match[str]) -> str:
            marks = run.group()
            return "\n\n" if self.PARAGRAPH in marks or marks.count(self.LINE) > 1 else "\n"

        return _BREAKS.sub(resolve, "".join(self.parts))


def _assemble(text: str) -> str:
    """Trims every line, joins table cells with " | " and leaves at most one blank line between paragraphs."""
    lines: list[str] = []
    for raw in text.split("\n"):
        cells = (re.sub(r"\s+", " ", cell).strip() for cell in raw.split(_TextExtractor.CELL))
        line = " | ".join(cell for cell in cells if cell)
        if line or (lines and lines[-1]):
            lines.append(line)
    return "\n".join(lines).strip()


def html_to_text(markup: str) -> str:
    """A description (HTML, or plain text with line breaks) as plain text with paragraph breaks kept."""
    if not markup.strip():
        return ""
    if not _TAG_LIKE.search(markup):
        # Plain text: its own newlines are the structure. Entities are still decoded (feeds double-escape).
        return _assemble(html.unescape(markup.replace("\r\n", "\n").replace("\r", "\n")))
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    return _assemble(parser.text())


def plain(value: str | None) -> str:
    """A one-line value (a name, a vendor) with entities decoded and whitespace collapsed."""
    return " ".join(html_to_text(value or "").split())


def format_money(amount: Decimal, currency: str) -> str:
    """28500 → «28 500 ₽», 1290.5 → «1 290,50 ₽»: how a Russian shop writes prices."""
    whole, _, cents = f"{amount.quantize(Decimal('0.01')):.2f}".partition(".")
    grouped = f"{int(whole):,}".replace(",", " ")
    number = grouped if cents == "00" else f"{grouped},{cents}"
    return f"{number} {_CURRENCY_SIGNS.get(currency, currency)}"


def price_value(amount: Decimal) -> int | float:
    """The price for `meta` (JSON): an int when whole, as the UI and the bot compare numbers, not strings."""
    return int(amount) if amount == amount.to_integral_value() else float(amount)


def availability_text(available: bool, status: str | None = None) -> str:
    """«В наличии», «Нет в наличии» or «Нет в наличии (Предзаказ)» with the shop's own stock status."""
    if available:
        return "В наличии"
    if status and status.strip().lower() not in {"нет в наличии", "out of stock"}:
        return f"Нет в наличии ({status.strip()})"
    return "Нет в наличии"


def product_text(
    *,
    description: str,
    specs: Sequence[tuple[str, str]],
    price: Decimal,
    currency: str,
    availability: str,
    old_price: Decimal | None = None,
    notes: str = "",
) -> str:
    """The article text of one product: description, «Характеристики», notes, price and stock, as paragraphs."""
    parts = [description] if description else []
    if specs:
        parts.append("Характеристики:\n" + "\n".join(f"{name}: {value}" for name, value in specs))
    if notes:
        parts.append(notes)
    price_line = f"Цена: {format_money(price, currency)}"
    if old_price is not None and old_price > price:
        price_line += f" (без скидки {format_money(old_price, currency)})"
    parts.append(f"{price_line}\n{availability}")
    return "\n\n".join(parts)


def unique(values: Iterable[str | None]) -> list[str]:
    """Non-empty values, stripped, without case-insensitive repeats, in their first order (tags, pictures)."""
    seen: set[str] = set()
    result: list[str] = []
    for value in values:
        value = (value or "").strip()
        if value and value.casefold() not in seen:
            seen.add(value.casefold())
            result.append(value)
    return result


def category_slug(category_id: int | str) -> str:
    """`oc-cat-12`: the same slug for a category whether it came from the feed or from the database."""
    return f"oc-cat-{str(category_id).lower()}"


# --- XML --------------------------------------------------------------------------------------------------------


class _LineTreeBuilder:
    """A TreeBuilder target that remembers the line each element starts on, for messages that name the line."""

    def __init__(self) -> None:
        self._builder = ET.TreeBuilder()
        self.lines: dict[int, int] = {}  # id(element) → line; the elements live as long as the tree
        self.parser: Any = None

    def start(self, tag: str, attrs: dict[str, str]) -> ET.Element:
        element = self._builder.start(tag, attrs)
        expat = getattr(self.parser, "parser", None)  # the pure-Python XMLParser defusedxml uses keeps expat here
        self.lines[id(element)] = getattr(expat, "CurrentLineNumber", 0)
        return element

    def end(self, tag: str) -> ET.Element:
        return self._builder.end(tag)

    def data(self, data: str) -> None:
        self._builder.data(data)

    def close(self) -> ET.Element:
        return self._builder.close()


def _parse_xml(data: bytes) -> tuple[ET.Element, dict[int, int]]:
    target = _LineTreeBuilder()
    parser = DefusedXMLParser(target=target)  # forbids entity declarations and external references
    target.parser = parser
    try:
        parser.feed(data)
        root = parser.close()
    except ET.ParseError as exc:
        line, column = exc.position
        reason = str(exc).split(":")[0]
        advice = "Исправьте это место и загрузите файл снова."
        if "invalid token" in reason and not _declares_encoding(data) and not _is_utf8(data):
            advice = (
                "Файл не в кодировке UTF-8: если он в windows-1251, первая строка должна сообщать об этом: "
                '<?xml version="1.0" encoding="windows-1251"?>.'
            )
        raise InvalidInput(
            f"Фид YML — некорректный XML: строка {line}, столбец {column + 1}: "
            f"{_XML_ERRORS.get(reason, reason)}. {advice}"
        ) from None
    except DefusedXmlException:
        raise InvalidInput(
            "Фид YML объявляет XML-сущности или внешние ссылки (<!ENTITY ...>), а такие файлы не принимаются "
            "из соображений безопасности. Уберите эти объявления из <!DOCTYPE>: фиду YML они не нужны."
        ) from None
    return root, target.lines


def _declares_encoding(data: bytes) -> bool:
    return re.match(rb"^\s*<\?xml[^>]*encoding=", data[:200]) is not None


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def _text(element: ET.Element, tag: str) -> str:
    return plain(element.findtext(tag))


def _inner_markup(element: ET.Element) -> str:
    """The content of <description>: its text (CDATA is already text here) plus any child elements as markup."""
    return (element.text or "") + "".join(ET.tostring(child, encoding="unicode") for child in element)


def _price(raw: str) -> Decimal | None:
    normalized = re.sub(r"[\s\u00a0\u202f]", "", raw).replace(",", ".")
    return Decimal(normalized) if _PRICE.fullmatch(normalized) else None


def _currency(raw: str) -> str:
    code = raw.strip().upper()
    return "RUB" if code == "RUR" else code  # YML still uses the pre-1998 code for the rouble


# --- the feed ---------------------------------------------------------------------------------------------------


class _Category:
    __slots__ = ("id", "line", "name", "parent")

    def __init__(self, category_id: str, name: str, parent: str | None, line: int) -> None:
        self.id, self.name, self.parent, self.line = category_id, name, parent, line


def _read_categories(shop: ET.Element, lines: dict[int, int]) -> dict[str, _Category]:
    categories: dict[str, _Category] = {}
    container = shop.find("categories")
    for element in container.findall("category") if container is not None else []:
        line = lines.get(id(element), 0)
        category_id = (element.get("id") or "").strip()
        if not _CATEGORY_ID.fullmatch(category_id):
            raise InvalidInput(
                f"<category> в строке {line}: id «{category_id}» не подходит — нужно 1–50 латинских букв, цифр, "
                "_ или -. Исправьте id категории."
            )
        key = category_id.lower()
        if key in categories:
            raise InvalidInput(
                f'<category id="{category_id}"> встречается дважды (строки {categories[key].line} и {line}). '
                "Оставьте одну категорию с этим id."
            )
        name = plain(element.text)
        if not name:
            raise InvalidInput(f'<category id="{category_id}"> в строке {line}: нет названия. Впишите его.')
        parent = (element.get("parentId") or "").strip().lower() or None
        categories[key] = _Category(key, name, parent, line)
    return categories


def category_paths(parents: dict[str, str | None], names: dict[str, str], where: str) -> dict[str, list[str]]:
    """Each category's names from the root down («Велосипеды», «Горные»).

    A parent that is not listed (a disabled or unexported category) ends the path there; a cycle is a broken
    catalogue and is rejected, naming one category on it (`where` formats the message's subject).
    """
    paths: dict[str, list[str]] = {}
    for start in names:
        chain: list[str] = []
        current: str | None = start
        while current is not None and current in names:
            if current in chain:
                raise InvalidInput(
                    f"{where.format(id=start)}: родительские категории образуют цикл ({' → '.join(chain)}). "
                    "Укажите у одной из них другого родителя."
                )
            chain.append(current)
            current = parents.get(current)
        paths[start] = [names[c] for c in reversed(chain)]
    return paths


def parse_yml(data: bytes) -> KbImport:
    """Parses a YML feed into product articles and categories; see the module docstring for the rules."""
    root, lines = _parse_xml(data)
    if root.tag != "yml_catalog":
        raise InvalidInput(
            f"Это не фид YML: корневой элемент — <{root.tag}>, а должен быть <yml_catalog>. "
            "Загрузите YML-выгрузку (формат Яндекс Маркета) из ocStore."
        )
    shop = root.find("shop")
    if shop is None:
        raise InvalidInput("В фиде YML нет элемента <shop> внутри <yml_catalog>. Проверьте, что файл выгружен целиком.")
    offers = shop.find("offers")
    if offers is None:
        raise InvalidInput(
            f"В элементе <shop> (строка {lines.get(id(shop), 0)}) нет элемента <offers>, то есть нет товаров. "
            "Проверьте настройки YML-выгрузки в ocStore."
        )

    categories = _read_categories(shop, lines)
    paths = category_paths(
        {c.id: c.parent for c in categories.values()},
        {c.id: c.name for c in categories.values()},
        '<category id="{id}">',
    )
    default_currency = "RUB"
    for currency in shop.iterfind("currencies/currency"):
        if (currency.get("rate") or "").strip() == "1" and currency.get("id"):
            default_currency = _currency(currency.get("id", ""))
            break

    articles: list[ArticleIn] = []
    skipped: list[Skipped] = []
    used_categories: set[str] = set()
    seen: dict[str, int] = {}
    for index, offer in enumerate(offers.findall("offer"), 1):
        line = lines.get(id(offer), 0)
        offer_id = (offer.get("id") or "").strip()
        if not _OFFER_ID.fullmatch(offer_id):
            problem = (
                "у <offer> нет атрибута id. Добавьте id товара."
                if not offer_id
                else f"id «{offer_id}» не подходит — нужно 1–80 латинских букв, цифр, _ . или -. Исправьте id товара."
            )
            skipped.append(Skipped(f"offer #{index}", f"Строка {line}: {problem}"))
            continue
        if offer_id in seen:
            raise InvalidInput(
                f'<offer id="{offer_id}"> встречается дважды (строки {seen[offer_id]} и {line}). '
                "По id товар узнаётся при повторной загрузке, поэтому id товаров должны быть разными."
            )
        seen[offer_id] = line
        result = _offer(offer, offer_id, line, categories, paths, default_currency)
        if isinstance(result, Skipped):
            skipped.append(result)
            continue
        articles.append(result)
        used_categories.add(result.category or "")

    category_list: list[CategoryIn] = []
    for category in categories.values():  # in feed order, only those an article uses
        slug = category_slug(category.id)
        if slug in used_categories:
            category_list.append(CategoryIn(slug=slug, title=" / ".join(paths[category.id])))
    if PRODUCTS.slug in used_categories:
        category_list.append(PRODUCTS)
    return KbImport(source=SOURCE, categories=category_list, articles=articles, skipped=skipped)


def _offer(
    offer: ET.Element,
    offer_id: str,
    line: int,
    categories: dict[str, _Category],
    paths: dict[str, list[str]],
    default_currency: str,
) -> ArticleIn | Skipped:
    external_id = f"ocstore-product-{offer_id}"
    vendor = _text(offer, "vendor")
    model = _text(offer, "model")
    name = _text(offer, "name")
    if not name and model:  # the "vendor.model" offer type: the name is assembled from its parts
        name = " ".join(unique([_text(offer, "typePrefix"), vendor, model]))
    if not name:
        return Skipped(
            external_id, f"Строка {line}: нет <name> (и нет <model>, чтобы составить название). Добавьте название."
        )
    raw_price = _text(offer, "price")
    if not raw_price:
        return Skipped(external_id, f"Строка {line}: у «{name}» нет <price>. Укажите цену.")
    price = _price(raw_price)
    if price is None:
        return Skipped(
            external_id, f"Строка {line}: у «{name}» цена «{raw_price}» — это не число. Укажите цену числом."
        )
    if price <= 0:
        return Skipped(
            external_id,
            f"Строка {line}: у «{name}» цена 0, а товары с ценой по запросу не загружаются. Укажите цену.",
        )
    old_price = _price(_text(offer, "oldprice"))
    currency = _currency(_text(offer, "currencyId") or default_currency)
    available = (offer.get("available") or "true").strip().lower() not in {"false", "0", "no"}

    category_id = _text(offer, "categoryId").lower()
    category = categories.get(category_id)
    category_names = paths[category.id] if category else []
    slug = category_slug(category.id) if category else PRODUCTS.slug  # always a valid SLUG, see _CATEGORY_ID

    description_element = offer.find("description")
    description = html_to_text(_inner_markup(description_element)) if description_element is not None else ""
    specs: list[tuple[str, str]] = []
    if vendor:
        specs.append(("Производитель", vendor))
    if model:
        specs.append(("Модель", model))
    if country := _text(offer, "country_of_origin"):
        specs.append(("Страна производства", country))
    for param in offer.findall("param"):
        param_name = plain(param.get("name"))
        value = plain(param.text)
        unit = plain(param.get("unit"))
        if param_name and value and param_name.casefold() not in {n.casefold() for n, _ in specs}:
            specs.append((param_name, f"{value} {unit}" if unit else value))
    if _text(offer, "manufacturer_warranty").lower() == "true":
        specs.append(("Гарантия производителя", "есть"))

    pictures = unique(plain(p.text) for p in offer.findall("picture"))
    meta: dict[str, Any] = {"price": price_value(price), "currency": currency, "available": available}
    if old_price is not None and old_price > price:
        meta["old_price"] = price_value(old_price)
    if url := _text(offer, "url"):
        meta["url"] = url
    if pictures:
        meta["pictures"] = pictures
    if vendor:
        meta["vendor"] = vendor
    return ArticleIn(
        external_id=external_id,
        title=name,
        text=product_text(
            description=description,
            specs=specs,
            price=price,
            currency=currency,
            availability=availability_text(available),
            old_price=old_price,
            notes=_text(offer, "sales_notes"),
        ),
        category=slug,
        tags=unique([vendor, *category_names, model]),
        meta=meta,
    )
