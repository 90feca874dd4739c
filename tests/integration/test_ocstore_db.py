"""Reading a live ocStore database: the test shop (tests/data/ocstore) on a real MariaDB (tests/mariadb.py)."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from urllib.parse import unquote, urlsplit, urlunsplit

import pymysql
import pytest

from core.embedded import free_port
from core.errors import InvalidInput, ServiceError
from core.kb.models import ArticleIn, KbImport
from core.kb.ocstore_db import TABLES, info_category, read_database

pytestmark = pytest.mark.integration

_variants = itertools.count()


@pytest.fixture(scope="module")
def shop(mariadb_dsn: str) -> KbImport:
    return read_database(mariadb_dsn)


def article(doc: KbImport, external_id: str) -> ArticleIn:
    return next(a for a in doc.articles if a.external_id == external_id)


def with_database(dsn: str, database: str) -> str:
    return urlunsplit(urlsplit(dsn)._replace(path=f"/{database}"))


def variant(dsn: str, prefix: str, changes: Sequence[str] = ()) -> str:
    """A copy of the test shop in a database of its own, its tables renamed to `prefix`, with `changes` applied
    (SQL with `{p}` for the prefix); returns its DSN. The fixture's user may create `variant_…` databases."""
    name = f"variant_{next(_variants)}"
    parts = urlsplit(dsn)
    conn = pymysql.connect(
        host=parts.hostname,
        port=parts.port,
        user=parts.username,
        password=unquote(parts.password or ""),
        autocommit=True,
    )
    try:
        with conn.cursor() as cursor:
            cursor.execute(f"CREATE DATABASE {name} CHARACTER SET utf8mb4")
            for table in TABLES:
                cursor.execute(f"CREATE TABLE {name}.`{prefix}{table}` LIKE ocstore.`oc_{table}`")
                cursor.execute(f"INSERT INTO {name}.`{prefix}{table}` SELECT * FROM ocstore.`oc_{table}`")
            for change in changes:
                cursor.execute(f"USE {name}")
                cursor.execute(change.format(p=prefix))
    finally:
        conn.close()
    return with_database(dsn, name)


# --- what is read -------------------------------------------------------------------------------------------------


def test_enabled_products_and_pages_become_articles(shop: KbImport) -> None:
    assert shop.source == "ocstore-db"
    assert [a.external_id for a in shop.articles] == [
        "ocstore-product-50",
        "ocstore-product-51",
        "ocstore-product-52",
        "ocstore-product-53",
        # product 54 and page 10 are disabled (status 0): not read at all
        "ocstore-info-4",
        "ocstore-info-6",
        "ocstore-info-7",
        "ocstore-info-8",
        "ocstore-info-9",
    ]
    assert [(s.external_id, s.reason) for s in shop.skipped] == [
        (
            "ocstore-product-55",
            "product_id 55 «Сборка велосипеда под ваш рост»: цена 0, а товары с ценой по запросу не загружаются. "
            "Укажите цену в ocStore.",
        )
    ]


def test_default_language_is_the_stores(shop: KbImport) -> None:
    # config_language of store 0 is ru-ru; store 1's en-gb must not leak in.
    assert article(shop, "ocstore-product-50").title == "Горный велосипед Stels Navigator 700 MD 27.5"
    assert article(shop, "ocstore-info-7").title == "Способы оплаты"


def test_product_text_has_description_specs_price_and_stock(shop: KbImport) -> None:
    navigator = article(shop, "ocstore-product-50")
    assert navigator.text == (
        "Stels Navigator 700 MD\n"
        "\n"
        "Лёгкая алюминиевая рама, 21 скорость Shimano и механические дисковые тормоза. Подходит на рост 165–180 см.\n"
        "\n"
        "- Амортизационная вилка, ход 100 мм\n"
        '- Колёса 27,5"\n'
        "\n"
        "Характеристики:\n"
        "Производитель: Stels\n"
        "Модель: Navigator 700 MD\n"
        "Артикул: ST-700-17\n"
        "\n"
        "Цена: 28 500 ₽\n"
        "В наличии"
    )
    assert navigator.category == "oc-cat-26"  # its main category, not the parent it is also in
    assert navigator.tags == [
        "Stels",
        "Велосипеды",
        "Горные",
        "Navigator 700 MD",
        "горный велосипед",
        "навигатор",
        "27.5",
    ]
    assert navigator.meta == {
        "price": 28500,
        "currency": "RUB",
        "available": True,
        "quantity": 4,
        "vendor": "Stels",
        "model": "Navigator 700 MD",
        "sku": "ST-700-17",
    }


def test_stock_follows_quantity_and_the_shops_stock_status(shop: KbImport) -> None:
    apache = article(shop, "ocstore-product-51")  # quantity 0, status «Предзаказ»
    assert apache.text.endswith("Цена: 31 990 ₽\nНет в наличии (Предзаказ)")
    assert (apache.meta["available"], apache.meta["stock_status"]) == (False, "Предзаказ")
    assert apache.category == "oc-cat-26"  # no main category: the deepest of its categories
    stark = article(shop, "ocstore-product-52")  # quantity 0, but the shop shows «В наличии» for it
    assert stark.title == 'Городской велосипед Stark Comfort Lady "Вишня"'  # stored as &quot;Вишня&quot;
    assert stark.text.endswith("Цена: 18 900 ₽\nВ наличии")
    assert stark.meta["available"] is True
    cassette = article(shop, "ocstore-product-53")  # no category; description empty, meta_description used
    assert cassette.category == "products"
    assert cassette.text.startswith("Кассета на 8 скоростей, звёзды 11-32")
    assert "Цена: 2 450,50 ₽\nВ наличии" in cassette.text


def test_information_pages_are_filed_by_their_title(shop: KbImport) -> None:
    pages = {a.external_id: (a.category, a.title) for a in shop.articles if a.external_id.startswith("ocstore-info")}
    assert pages == {
        "ocstore-info-4": ("about", "О магазине ВелоМир"),
        "ocstore-info-6": ("delivery", "Доставка по Казани и России"),
        "ocstore-info-7": ("payment", "Способы оплаты"),
        "ocstore-info-8": ("returns", "Гарантия и возврат"),
        "ocstore-info-9": ("pickup", "Контакты и самовывоз"),
    }
    assert article(shop, "ocstore-info-6").text == (
        "По Казани привозим на следующий день, 400 ₽; от 30 000 ₽ — бесплатно.\n"
        "\n"
        "В другие города отправляем СДЭК и Авито Доставкой."
    )
    assert article(shop, "ocstore-info-7").text == (
        "- Наличными или картой в магазине\n- Переводом по СБП\n- Рассрочка 0% на 6 месяцев"
    )
    assert article(shop, "ocstore-info-6").tags == ["доставка", "сдэк"]


def test_categories_are_the_used_ones(shop: KbImport) -> None:
    assert [(c.slug, c.title) for c in shop.categories] == [
        ("oc-cat-26", "Велосипеды / Горные"),
        ("oc-cat-27", "Велосипеды / Городские"),
        ("products", "Товары"),
        ("delivery", "Доставка"),
        ("payment", "Оплата"),
        ("returns", "Возврат и гарантия"),
        ("pickup", "Самовывоз и адрес"),
        ("about", "О магазине и документы"),
    ]


@pytest.mark.parametrize(
    ("title", "slug"),
    [
        ("Доставка и оплата", "delivery"),
        ("Оплата и доставка", "payment"),
        ("Условия возврата и обмена", "returns"),
        ("Гарантия", "returns"),
        ("Наш адрес", "pickup"),
        ("Самовывоз из магазина", "pickup"),
        ("Политика конфиденциальности", "about"),
        ("Shipping & Returns", "delivery"),
    ],
)
def test_info_category_keywords(title: str, slug: str) -> None:
    assert info_category(title) == slug


# --- language and prefix ----------------------------------------------------------------------------------------


def test_a_language_can_be_asked_for(mariadb_dsn: str) -> None:
    doc = read_database(mariadb_dsn, language_id=2)
    assert article(doc, "ocstore-product-52").title == 'Stark Comfort Lady "Cherry" city bike'
    assert article(doc, "ocstore-product-51").text.endswith("Нет в наличии (Pre-Order)")
    assert article(doc, "ocstore-info-8").category == "returns"  # «Warranty and returns»
    assert [c.title for c in doc.categories][:2] == ["Bicycles / Mountain", "Bicycles / City"]
    with pytest.raises(
        InvalidInput, match=r"В таблице oc_language нет языка с language_id 9; есть 1 \(ru-ru\), 2 \(en-gb\)\."
    ):
        read_database(mariadb_dsn, language_id=9)


def test_default_language_comes_from_config_language(mariadb_dsn: str) -> None:
    dsn = variant(mariadb_dsn, "shop_", ["UPDATE `{p}setting` SET `value` = 'en-gb' WHERE `key` = 'config_language'"])
    doc = read_database(dsn, prefix="shop_")
    assert article(doc, "ocstore-product-50").title == "Stels Navigator 700 MD 27.5 mountain bike"


def test_without_config_language_the_first_language_is_used(mariadb_dsn: str) -> None:
    dsn = variant(
        mariadb_dsn,
        "",  # an empty prefix is allowed too
        [
            "DELETE FROM `{p}setting` WHERE `key` = 'config_language'",
            "UPDATE `{p}language` SET sort_order = 9 WHERE language_id = 1",  # not by sort_order: by id
        ],
    )
    doc = read_database(dsn, prefix="")
    assert article(doc, "ocstore-info-4").title == "О магазине ВелоМир"


def test_a_wrong_prefix_names_the_missing_tables(mariadb_dsn: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read_database(mariadb_dsn, prefix="shop_")
    message = str(caught.value)
    assert "нет таблиц shop_category, shop_category_description," in message
    assert "Сейчас указан префикс «shop_»." in message
    assert "Таблицы ocStore в этой базе — с префиксом «oc_»: укажите его." in message


@pytest.mark.parametrize("prefix", ["oc_`; DROP TABLE oc_product; --", "OC_", "a" * 21, "oc-"])
def test_a_bad_prefix_is_refused_before_any_query(prefix: str) -> None:
    # The DSN points nowhere: the prefix is checked before a connection is even tried.
    with pytest.raises(InvalidInput, match="не подходит: нужно 0–20 символов a-z, 0-9 и _"):
        read_database("mysql://u:p@127.0.0.1:1/db", prefix=prefix)


# --- connection problems ----------------------------------------------------------------------------------------


def test_an_unreachable_server_is_a_service_error_without_the_password() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(ServiceError) as caught:
        read_database(f"mysql://shop:S3cret-Pw@127.0.0.1:{port}/shop")
    message = str(caught.value)
    assert message.startswith("Не удалось подключиться к базе ocStore")
    assert f"127.0.0.1:{port}" in message and "Can't connect" in message
    assert "S3cret" not in message


def test_a_wrong_password_is_a_service_error_without_the_password(mariadb_dsn: str) -> None:
    parts = urlsplit(mariadb_dsn)
    dsn = urlunsplit(parts._replace(netloc=f"avibot:Wr0ng-Pw@{parts.hostname}:{parts.port}"))
    with pytest.raises(ServiceError) as caught:
        read_database(dsn)
    message = str(caught.value)
    assert "Access denied for user 'avibot'" in message and f"127.0.0.1:{parts.port}" in message
    assert "Wr0ng" not in message


@pytest.mark.parametrize(
    "dsn",
    ["postgresql://u:Secret9@host/db", "mysql://u:Secret9@host:notaport/db", "mysql://u:Secret9@host/", "shop.ru"],
)
def test_a_malformed_dsn_is_invalid_input_without_the_password(dsn: str) -> None:
    with pytest.raises(InvalidInput, match="Укажите его в виде mysql://user:password@host:3306/dbname") as caught:
        read_database(dsn)
    assert "Secret9" not in str(caught.value)
