"""The ocStore YML feed parser, on the feeds in tests/data/ocstore and on small broken ones."""

from pathlib import Path

import pytest

from core.errors import InvalidInput
from core.kb.models import ArticleIn, KbImport
from core.kb.ocstore_yml import html_to_text, parse_yml

DATA = Path(__file__).resolve().parents[1] / "data" / "ocstore"


@pytest.fixture(scope="module")
def feed() -> KbImport:
    return parse_yml((DATA / "feed.yml").read_bytes())


def article(doc: KbImport, external_id: str) -> ArticleIn:
    return next(a for a in doc.articles if a.external_id == external_id)


def wrap(offers: str, categories: str = '<category id="1">Велосипеды</category>') -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<yml_catalog><shop>\n'
        f"<categories>{categories}</categories>\n<offers>\n{offers}\n</offers>\n</shop></yml_catalog>"
    ).encode()


def test_every_offer_is_an_article_or_a_reported_skip(feed: KbImport) -> None:
    assert feed.source == "ocstore-yml"
    assert [a.external_id for a in feed.articles] == [f"ocstore-product-{n}" for n in range(101, 107)]
    assert [(s.external_id, s.reason) for s in feed.skipped] == [
        ("ocstore-product-107", "Строка 105: у «Шлем детский Abus Youn-I» нет <price>. Укажите цену."),
        (
            "ocstore-product-108",
            "Строка 111: нет <name> (и нет <model>, чтобы составить название). Добавьте название.",
        ),
    ]


def test_categories_are_the_used_ones_with_their_full_path(feed: KbImport) -> None:
    assert [(c.slug, c.title) for c in feed.categories] == [
        ("oc-cat-12", "Велосипеды / Горные"),
        ("oc-cat-13", "Велосипеды / Городские"),
        ("oc-cat-14", "Велосипеды / Детские"),
        ("oc-cat-21", "Аксессуары / Шлемы"),
        ("oc-cat-22", "Аксессуары / Фонари"),
    ]
    assert {a.category for a in feed.articles} == {c.slug for c in feed.categories}


def test_html_description_params_price_and_stock_make_the_text(feed: KbImport) -> None:
    navigator = article(feed, "ocstore-product-101")
    assert navigator.title == "Горный велосипед Stels Navigator 700 MD 27.5"
    assert navigator.category == "oc-cat-12"
    assert navigator.text == (
        "Stels Navigator 700 MD — для города и леса\n"
        "\n"
        "Лёгкая алюминиевая рама, 21 скорость Shimano и механические дисковые тормоза. "
        "Подходит на рост 165–180 см.\n"
        "\n"
        "- Амортизационная вилка, ход 100 мм\n"
        '- Двойные обода & покрышки 27,5×2,1"\n'
        "\n"
        "Соберём и настроим бесплатно\n"
        "перед выдачей.\n"
        "\n"
        "Характеристики:\n"
        "Производитель: Stels\n"
        "Модель: Navigator 700 MD\n"
        "Диаметр колёс: 27.5 дюйм\n"
        "Размер рамы: 17 дюйм\n"
        "Количество скоростей: 21\n"
        "Материал рамы: алюминий\n"
        "Тормоза: дисковые механические\n"
        "\n"
        "Рассрочка 0% на 6 месяцев\n"
        "\n"
        "Цена: 28 500 ₽ (без скидки 32 000 ₽)\n"
        "В наличии"
    )
    assert "window.location" not in navigator.text  # the <script> is dropped with its content
    assert navigator.tags == ["Stels", "Велосипеды", "Горные", "Navigator 700 MD"]
    assert navigator.meta == {
        "price": 28500,
        "currency": "RUB",  # the feed's RUR
        "available": True,
        "old_price": 32000,
        "url": "https://velomir-kazan.ru/gornye/stels-navigator-700-md-27-5",
        "pictures": [
            "https://velomir-kazan.ru/image/catalog/stels/navigator-700-1.jpg",
            "https://velomir-kazan.ru/image/catalog/stels/navigator-700-2.jpg",
        ],
        "vendor": "Stels",
    }


def test_unavailable_offer_says_so(feed: KbImport) -> None:
    stark = article(feed, "ocstore-product-103")
    assert stark.meta["available"] is False
    assert stark.text.endswith("Цена: 18 900 ₽\nНет в наличии")
    assert article(feed, "ocstore-product-102").text.endswith("Цена: 31 990 ₽\nВ наличии")


def test_vendor_model_offer_gets_its_name_assembled(feed: KbImport) -> None:
    strike = article(feed, "ocstore-product-104")
    assert strike.title == "Детский велосипед Novatrack Strike 20"
    assert strike.tags == ["Novatrack", "Велосипеды", "Детские", "Strike 20"]


def test_plain_description_keeps_its_lines_and_decimal_prices_keep_kopecks(feed: KbImport) -> None:
    helmet = article(feed, "ocstore-product-105")
    assert helmet.text.startswith("Размеры M & L, вентиляция 18 отверстий.\nСертификат EN 1078.\n\n")
    assert "Размер: M (52–57 см)" in helmet.text
    lamp = article(feed, "ocstore-product-106")
    assert "Цена: 1 290,50 ₽" in lamp.text
    assert lamp.meta["price"] == 1290.5


def test_windows_1251_feed_is_decoded() -> None:
    doc = parse_yml((DATA / "feed-cp1251.yml").read_bytes())
    assert [(c.slug, c.title) for c in doc.categories] == [
        ("oc-cat-15", "Велосипеды / Складные"),
        ("oc-cat-3", "Запчасти"),
    ]
    pilot, tube = doc.articles
    assert pilot.title == "Складной велосипед Stels Pilot 450 «Ёжик»"
    assert pilot.text.startswith('Складывается за 10 секунд — помещается в багажник.\n\nКолёса 20", вес 14 кг.')
    assert "Цена: 17 490 ₽\nВ наличии" in pilot.text  # «17 490» in the feed: spaces in prices are tolerated
    assert tube.title == 'Камера 26" с ниппелем Шрёдера'
    assert tube.text.endswith("Цена: 450 ₽\nНет в наличии")
    assert doc.skipped == []


def test_malformed_xml_is_rejected_with_its_line_and_column() -> None:
    data = (DATA / "feed.yml").read_bytes().replace(b"<price>31990</price>", b"<price>31990</prise>")
    with pytest.raises(
        InvalidInput,
        match=r"некорректный XML: строка 56, столбец \d+: закрывающий тег не совпадает с открывающим\. Исправьте",
    ):
        parse_yml(data)


def test_windows_1251_without_declaration_gets_a_hint() -> None:
    data = wrap('<offer id="1"><name>Руль</name><price>900</price></offer>').replace(b' encoding="UTF-8"', b"")
    with pytest.raises(
        InvalidInput,
        match=r'строка 3, столбец 30: недопустимый символ\. Файл не в кодировке UTF-8.*encoding="windows-1251"',
    ):
        parse_yml(data.decode().encode("cp1251"))


@pytest.mark.parametrize(
    "prolog",
    [
        '<!DOCTYPE yml_catalog [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>',
        '<!DOCTYPE yml_catalog [<!ENTITY secret SYSTEM "file:///etc/passwd">]>',
    ],
    ids=["entity-expansion", "external-entity"],
)
def test_entities_are_refused(prolog: str) -> None:
    data = f'<?xml version="1.0"?>\n{prolog}\n<yml_catalog><shop><offers/></shop></yml_catalog>'.encode()
    with pytest.raises(InvalidInput, match="объявляет XML-сущности или внешние ссылки"):
        parse_yml(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"<catalog/>", "корневой элемент — <catalog>, а должен быть <yml_catalog>"),
        (b"<yml_catalog><shop><categories/></shop></yml_catalog>", "<shop> (строка 1) нет элемента <offers>"),
        (
            wrap('<offer id="7"><name>A</name><price>1</price></offer>\n<offer id="7"><name>B</name></offer>'),
            '<offer id="7"> встречается дважды (строки 5 и 6)',
        ),
        (
            wrap("", '<category id="1" parentId="2">A</category><category id="2" parentId="1">B</category>'),
            '<category id="1">: родительские категории образуют цикл (1 → 2)',
        ),
        (
            wrap("", '<category id="1">A</category>\n<category id="1">B</category>'),
            '<category id="1"> встречается дважды (строки 3 и 4)',
        ),
        (wrap("", '<category id="x y">A</category>'), "<category> в строке 3: id «x y» не подходит"),
        (wrap("", '<category id="5"> </category>'), '<category id="5"> в строке 3: нет названия'),
    ],
    ids=["not-yml", "no-offers", "duplicate-offer", "category-cycle", "duplicate-category", "bad-id", "no-name"],
)
def test_bad_feeds_are_rejected_whole(data: bytes, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_yml(data)
    assert message in str(caught.value)


def test_offers_that_cannot_be_articles_are_skipped_with_a_reason() -> None:
    doc = parse_yml(
        wrap(
            '<offer id="1"><name>Руль</name><price>договорная</price></offer>\n'
            '<offer id="2"><name>Седло</name><price>0</price></offer>\n'
            "<offer><name>Без id</name><price>100</price></offer>\n"
            '<offer id="4"><name>Звонок</name><price>350,00</price><categoryId>99</categoryId></offer>'
        )
    )
    assert [(s.external_id, s.reason) for s in doc.skipped] == [
        ("ocstore-product-1", "Строка 5: у «Руль» цена «договорная» — это не число. Укажите цену числом."),
        (
            "ocstore-product-2",
            "Строка 6: у «Седло» цена 0, а товары с ценой по запросу не загружаются. Укажите цену.",
        ),
        ("offer #3", "Строка 7: у <offer> нет атрибута id. Добавьте id товара."),
    ]
    (bell,) = doc.articles
    # An unknown category id does not lose the offer: it goes to "products".
    assert (bell.category, bell.meta["price"], bell.meta["available"]) == ("products", 350, True)
    assert [(c.slug, c.title) for c in doc.categories] == [("products", "Товары")]


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        ("<p>Один</p>\n\n<p>Два&nbsp;три</p>", "Один\n\nДва три"),
        ("<ul>\n  <li>a</li>\n  <li>b</li>\n</ul>", "- a\n- b"),
        ("строка<br>ещё<br><br>абзац", "строка\nещё\n\nабзац"),
        ("<table><tr><td>Рама</td><td>сталь</td></tr>\n<tr><td>Вес</td><td>14&nbsp;кг</td></tr></table>",
         "Рама | сталь\nВес | 14 кг"),
        ("<style>p {color: red}</style><p>Текст &laquo;в кавычках&raquo; &amp; &#8381;</p>", "Текст «в кавычках» & ₽"),
        ("Просто текст\r\nв две строки &quot;с кавычками&quot;", 'Просто текст\nв две строки "с кавычками"'),
        ("", ""),
    ],
)  # fmt: skip
def test_html_to_text(markup: str, text: str) -> None:
    assert html_to_text(markup) == text
