"""Import from a live ocStore (OpenCart 3) database: its categories, enabled products and information pages.

    read_database("mysql://avibot:…@shop.example.ru:3306/shop", prefix="oc_")

Products become articles `ocstore-product-<product_id>`, the same ids and the same text as from the shop's YML
feed (`core/kb/ocstore_yml.py` builds both), filed under their ocStore category (`oc-cat-<id>`, ocStore's
`main_category` first) or under `products`. Information pages (delivery, payment, returns, about…) become
`ocstore-info-<information_id>`, filed by keywords in their title. Only what the storefront shows is read: enabled
products and pages, in one language — the store's default (`config_language`) unless one is asked for.

OpenCart stores descriptions and names HTML-escaped (`&lt;p&gt;`, `&quot;`), so they are unescaped once before
the HTML becomes text.

The reader only SELECTs: a read-only MySQL user is all it needs (GRANT SELECT ON shop.* TO avibot@…). The table
prefix goes into SQL identifiers, so it is checked against `^[a-z0-9_]{0,20}$` before any query; every value goes
through query parameters. A server that cannot be reached raises ServiceError naming the host, never the password;
a database that is not an ocStore one (missing tables, another prefix, unknown language) raises InvalidInput naming
the table.

PyMySQL is synchronous: async code calls `read_database` in a worker thread (`asyncio.to_thread`).
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from decimal import Decimal
from typing import Any
from urllib.parse import unquote, urlsplit

import pymysql
import pymysql.cursors

from core.errors import InvalidInput, ServiceError
from core.kb.models import ArticleIn, CategoryIn, KbImport, Skipped
from core.kb.ocstore_yml import (
    PRODUCTS,
    availability_text,
    category_paths,
    category_slug,
    html_to_text,
    plain,
    price_value,
    product_text,
    unique,
)

SOURCE = "ocstore-db"
PREFIX = re.compile(r"^[a-z0-9_]{0,20}$")
TABLES = (
    "category",
    "category_description",
    "information",
    "information_description",
    "language",
    "manufacturer",
    "product",
    "product_description",
    "product_to_category",
    "setting",
    "stock_status",
)

# Information pages by the first keyword found in their title («Доставка и оплата» is delivery, «Оплата и
# доставка» payment). The titles match the demo knowledge base, because importing a category renames it.
INFO_CATEGORIES = {
    "delivery": "Доставка",
    "payment": "Оплата",
    "returns": "Возврат и гарантия",
    "pickup": "Самовывоз и адрес",
    "about": "О магазине и документы",
}
_INFO_KEYWORDS = {
    "delivery": ("доставк", "delivery", "shipping"),
    "payment": ("оплат", "payment"),
    "returns": ("возврат", "гарант", "обмен", "return", "refund", "warranty"),
    "pickup": ("контакт", "адрес", "самовывоз", "contact", "address", "pickup", "pick-up"),
}
# Stock statuses that a shop which does not count stock uses to say "in stock" when quantity is 0; the storefront
# shows the status then, so a buyer reads «В наличии».
_IN_STOCK = {"в наличии", "есть в наличии", "in stock"}


def info_category(title: str) -> str:
    """The category slug of an information page, by the keyword that comes first in its title; else `about`."""
    lowered = title.lower()
    best, best_at = "about", len(lowered) + 1
    for slug, keywords in _INFO_KEYWORDS.items():
        for keyword in keywords:
            at = lowered.find(keyword)
            if 0 <= at < best_at:
                best, best_at = slug, at
    return best


def _shown_prefix(prefix: str) -> str:
    return f"«{prefix}»" if prefix else "пустой (без префикса)"


class _Dsn:
    """`mysql://user:password@host:port/dbname`, percent-decoded. Its repr never shows the password."""

    def __init__(self, dsn: str) -> None:
        def bad(problem: str) -> InvalidInput:
            return InvalidInput(
                f"Адрес базы ocStore указан неверно: {problem}. "
                "Укажите его в виде mysql://user:password@host:3306/dbname"
            )

        try:
            parts = urlsplit(dsn.strip())
            port = parts.port or 3306
        except ValueError:
            raise bad("порт — не число") from None
        if parts.scheme not in {"mysql", "mariadb", "mysql+pymysql"}:
            raise bad(
                f"он начинается с {parts.scheme}://, а не с mysql://" if parts.scheme else "в начале нет mysql://"
            )
        self.host = parts.hostname or ""
        self.port = port
        self.user = unquote(parts.username or "")
        self.password = unquote(parts.password or "")
        self.database = unquote(parts.path.lstrip("/"))
        if not self.host or not self.user or not self.database or "/" in self.database:
            raise bad("нужны сервер, пользователь и имя базы")

    @property
    def where(self) -> str:
        return f"база «{self.database}» на {self.host}:{self.port}, пользователь «{self.user}»"

    def __repr__(self) -> str:
        return f"<_Dsn {self.where}>"


def _reason(exc: pymysql.MySQLError, password: str) -> str:
    """The server's or driver's message without the error code, and without the password should it appear."""
    message = str(exc.args[1]) if len(exc.args) > 1 else str(exc)
    return message.replace(password, "***") if password else message


class _Reader:
    """One read of one database: a connection, a consistent snapshot and the queries, named by the table."""

    def __init__(self, conn: pymysql.connections.Connection, dsn: _Dsn, prefix: str) -> None:
        self.conn, self.dsn, self.prefix = conn, dsn, prefix

    def table(self, name: str) -> str:
        return f"`{self.prefix}{name}`"  # the prefix matched PREFIX, so this is a safe identifier

    def rows(self, sql: str, params: Sequence[Any] = (), *, what: str) -> list[dict[str, Any]]:
        """`what` names what is read, for the message should it fail: «таблицу oc_setting» (accusative)."""
        try:
            with self.conn.cursor(pymysql.cursors.DictCursor) as cursor:
                cursor.execute(sql, tuple(params) if params else None)  # None: no %-formatting at all
                return list(cursor.fetchall())
        except pymysql.MySQLError as exc:
            code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
            if code >= 2000:  # client-side: the connection broke or timed out
                raise ServiceError(
                    f"Соединение с базой ocStore прервалось ({self.dsn.where}): {_reason(exc, self.dsn.password)}. "
                    "Повторите импорт; если ошибка не уходит, проверьте сеть и сервер базы."
                ) from None
            raise InvalidInput(
                f"Не удалось прочитать {what} ({self.dsn.where}): {_reason(exc, self.dsn.password)}. "
                "Проверьте, что это база ocStore 3 / OpenCart 3 и что у пользователя есть право SELECT на неё."
            ) from None

    def check_tables(self) -> set[str]:
        """Fails early, listing what is missing, when the prefix or the database is wrong; returns the columns
        of product_to_category (ocStore adds `main_category` to OpenCart's)."""
        found = {
            r["name"].lower()
            for r in self.rows(
                "SELECT table_name AS name FROM information_schema.tables WHERE table_schema = DATABASE()",
                what="список таблиц",
            )
        }
        missing = [self.prefix + t for t in TABLES if self.prefix + t not in found]
        if missing:
            prefixes = sorted(n.removesuffix("product_description") for n in found if n.endswith("product_description"))
            shown = ", ".join(_shown_prefix(p) for p in prefixes)
            if len(prefixes) == 1:
                hint = f" Таблицы ocStore в этой базе — с префиксом {shown}: укажите его."
            elif prefixes:
                hint = f" Таблицы ocStore в этой базе — с префиксами {shown}: укажите нужный."
            else:
                hint = " Укажите префикс таблиц вашего магазина."
            raise InvalidInput(
                f"В базе ocStore ({self.dsn.where}) нет {'таблицы' if len(missing) == 1 else 'таблиц'} "
                f"{', '.join(missing)}. Сейчас указан префикс {_shown_prefix(self.prefix)}.{hint}"
            )
        return {
            r["name"].lower()
            for r in self.rows(
                "SELECT column_name AS name FROM information_schema.columns "
                "WHERE table_schema = DATABASE() AND table_name = %s",
                [self.prefix + "product_to_category"],
                what=f"столбцы таблицы {self.prefix}product_to_category",
            )
        }

    def settings(self) -> dict[str, str]:
        rows = self.rows(
            f"SELECT `key`, `value` FROM {self.table('setting')} "
            "WHERE store_id = 0 AND `key` IN ('config_language', 'config_currency')",
            what=f"таблицу {self.prefix}setting",
        )
        return {r["key"]: (r["value"] or "").strip() for r in rows}

    def language(self, wanted: int | None, config_code: str) -> dict[str, Any]:
        languages = self.rows(
            f"SELECT language_id, code, name FROM {self.table('language')} ORDER BY language_id",
            what=f"таблицу {self.prefix}language",
        )
        if not languages:
            raise InvalidInput(
                f"Таблица {self.prefix}language пуста ({self.dsn.where}): в магазине не установлен ни один язык. "
                "Проверьте, что это база рабочего магазина ocStore."
            )
        if wanted is not None:
            for language in languages:
                if language["language_id"] == wanted:
                    return language
            known = ", ".join(f"{r['language_id']} ({r['code']})" for r in languages)
            raise InvalidInput(
                f"В таблице {self.prefix}language нет языка с language_id {wanted}; есть {known}. Укажите один из них."
            )
        for language in languages:
            if config_code and (language["code"] or "").lower() == config_code.lower():
                return language
        return languages[0]  # no (or a stale) config_language: the first language installed


def _connect(dsn: _Dsn) -> pymysql.connections.Connection:
    try:
        return pymysql.connect(
            host=dsn.host,
            port=dsn.port,
            user=dsn.user,
            password=dsn.password,
            database=dsn.database,
            charset="utf8mb4",
            connect_timeout=10,
            read_timeout=120,
            write_timeout=120,
            autocommit=False,
        )
    except pymysql.MySQLError as exc:
        raise ServiceError(
            f"Не удалось подключиться к базе ocStore ({dsn.where}): {_reason(exc, dsn.password)}. "
            "Проверьте адрес, порт, пользователя и пароль и что сервер принимает подключения с этой машины."
        ) from None


def read_database(dsn: str, prefix: str = "oc_", language_id: int | None = None) -> KbImport:
    """Reads an ocStore database into a KbImport (nothing is written anywhere); see the module docstring."""
    if not PREFIX.fullmatch(prefix):
        raise InvalidInput(f"Префикс таблиц «{prefix}» не подходит: нужно 0–20 символов a-z, 0-9 и _ (например, oc_).")
    target = _Dsn(dsn)
    conn = _connect(target)
    try:
        reader = _Reader(conn, target, prefix)
        # One snapshot for all queries (on InnoDB), so a product edited mid-read is seen either before or after.
        reader.rows("START TRANSACTION WITH CONSISTENT SNAPSHOT", what="согласованный снимок данных")
        return _read(reader, language_id)
    finally:
        try:
            conn.rollback()
            conn.close()
        except pymysql.MySQLError:
            pass  # the connection is already gone; nothing was written


def _read(reader: _Reader, language_id: int | None) -> KbImport:
    link_columns = reader.check_tables()
    settings = reader.settings()
    language = reader.language(language_id, settings.get("config_language", ""))
    lang = language["language_id"]
    currency = (settings.get("config_currency") or "RUB").upper()

    categories = reader.rows(
        f"SELECT c.category_id, c.parent_id, c.status, cd.name FROM {reader.table('category')} c "
        f"LEFT JOIN {reader.table('category_description')} cd "
        "ON cd.category_id = c.category_id AND cd.language_id = %s "
        "ORDER BY c.sort_order, c.category_id",
        [lang],
        what=f"таблицы {reader.prefix}category и {reader.prefix}category_description",
    )
    names = {str(c["category_id"]): plain(c["name"]) or f"Категория {c['category_id']}" for c in categories}
    parents = {str(c["category_id"]): str(c["parent_id"]) if c["parent_id"] else None for c in categories}
    paths = category_paths(parents, names, f"Таблица {reader.prefix}category, category_id {{id}}")
    enabled = {str(c["category_id"]) for c in categories if c["status"] == 1}

    main = ", main_category" if "main_category" in link_columns else ", 0 AS main_category"
    product_categories: dict[int, list[tuple[int, str]]] = {}
    for link in reader.rows(
        f"SELECT product_id, category_id{main} FROM {reader.table('product_to_category')}",
        what=f"таблицу {reader.prefix}product_to_category",
    ):
        if str(link["category_id"]) in enabled:
            product_categories.setdefault(link["product_id"], []).append(
                (int(link["main_category"] or 0), str(link["category_id"]))
            )

    products = reader.rows(
        "SELECT p.product_id, p.model, p.sku, p.quantity, p.price, m.name AS manufacturer, "
        "ss.name AS stock_status, pd.name, pd.description, pd.tag, pd.meta_description "
        f"FROM {reader.table('product')} p "
        f"LEFT JOIN {reader.table('product_description')} pd "
        "ON pd.product_id = p.product_id AND pd.language_id = %s "
        f"LEFT JOIN {reader.table('manufacturer')} m ON m.manufacturer_id = p.manufacturer_id "
        f"LEFT JOIN {reader.table('stock_status')} ss "
        "ON ss.stock_status_id = p.stock_status_id AND ss.language_id = %s "
        "WHERE p.status = 1 ORDER BY p.sort_order, p.product_id",
        [lang, lang],
        what=(
            f"таблицы {reader.prefix}product, {reader.prefix}product_description, {reader.prefix}manufacturer "
            f"и {reader.prefix}stock_status"
        ),
    )
    pages = reader.rows(
        "SELECT i.information_id, d.title, d.description, d.meta_description, d.meta_keyword "
        f"FROM {reader.table('information')} i "
        f"LEFT JOIN {reader.table('information_description')} d "
        "ON d.information_id = i.information_id AND d.language_id = %s "
        "WHERE i.status = 1 ORDER BY i.sort_order, i.information_id",
        [lang],
        what=f"таблицы {reader.prefix}information и {reader.prefix}information_description",
    )

    articles: list[ArticleIn] = []
    skipped: list[Skipped] = []
    used: set[str] = set()
    language_name = f"{language['code']} (language_id {lang})"
    for row in products:
        links = product_categories.get(row["product_id"], [])
        # ocStore's main category, else the deepest one (the most specific), else the lowest id.
        chosen = max(links, key=lambda link: (link[0], len(paths[link[1]]), -int(link[1])), default=None)
        result = _product(row, chosen[1] if chosen else None, paths, currency, language_name)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            articles.append(result)
            used.add(result.category or "")
    for row in pages:
        result = _page(row, language_name)
        if isinstance(result, Skipped):
            skipped.append(result)
        else:
            articles.append(result)
            used.add(result.category or "")

    category_list = [
        CategoryIn(slug=category_slug(c["category_id"]), title=" / ".join(paths[str(c["category_id"])]))
        for c in categories
        if category_slug(c["category_id"]) in used
    ]
    if PRODUCTS.slug in used:
        category_list.append(PRODUCTS)
    category_list += [CategoryIn(slug=slug, title=title) for slug, title in INFO_CATEGORIES.items() if slug in used]
    return KbImport(source=SOURCE, categories=category_list, articles=articles, skipped=skipped)


def _unescaped_text(value: str | None) -> str:
    """OpenCart's stored HTML (`&lt;p&gt;…`) as plain text."""
    return html_to_text(html.unescape(value or ""))


def _product(
    row: dict[str, Any], category_id: str | None, paths: dict[str, list[str]], currency: str, language: str
) -> ArticleIn | Skipped:
    external_id = f"ocstore-product-{row['product_id']}"
    name = plain(row["name"])
    if not name:
        return Skipped(
            external_id,
            f"product_id {row['product_id']}: нет названия на языке {language}. Заполните название товара в ocStore.",
        )
    price = Decimal(row["price"] or 0)
    if price <= 0:
        return Skipped(
            external_id,
            f"product_id {row['product_id']} «{name}»: цена 0, а товары с ценой по запросу не загружаются. "
            "Укажите цену в ocStore.",
        )
    quantity = int(row["quantity"] or 0)
    status = plain(row["stock_status"])
    available = quantity > 0 or status.lower() in _IN_STOCK
    vendor = plain(row["manufacturer"])
    model = plain(row["model"])
    sku = plain(row["sku"])
    description = _unescaped_text(row["description"]) or _unescaped_text(row["meta_description"])
    specs = [
        (label, value) for label, value in (("Производитель", vendor), ("Модель", model), ("Артикул", sku)) if value
    ]
    shop_tags = plain(row["tag"]).split(",")

    meta: dict[str, Any] = {"price": price_value(price), "currency": currency, "available": available}
    meta["quantity"] = quantity
    if not available and status:
        meta["stock_status"] = status
    for key, value in (("vendor", vendor), ("model", model), ("sku", sku)):
        if value:
            meta[key] = value
    return ArticleIn(
        external_id=external_id,
        title=name,
        text=product_text(
            description=description,
            specs=specs,
            price=price,
            currency=currency,
            availability=availability_text(available, status),
        ),
        category=category_slug(category_id) if category_id else PRODUCTS.slug,
        tags=unique([vendor, *(paths[category_id] if category_id else []), model, *shop_tags]),
        meta=meta,
    )


def _page(row: dict[str, Any], language: str) -> ArticleIn | Skipped:
    external_id = f"ocstore-info-{row['information_id']}"
    title = plain(row["title"])
    if not title:
        return Skipped(
            external_id,
            f"information_id {row['information_id']}: нет заголовка на языке {language}. "
            "Заполните заголовок страницы в ocStore.",
        )
    text = _unescaped_text(row["description"]) or _unescaped_text(row["meta_description"])
    if not text:
        return Skipped(
            external_id,
            f"information_id {row['information_id']} «{title}»: у страницы нет текста. Добавьте текст в ocStore.",
        )
    return ArticleIn(
        external_id=external_id,
        title=title,
        text=text,
        category=info_category(title),
        tags=unique(plain(row["meta_keyword"]).split(",")),
    )
