-- A small Kazan bike shop on ocStore, as its database holds it. Like every OpenCart, ocStore stores the HTML of
-- descriptions (and quotes in names) escaped by htmlspecialchars(): `&lt;p&gt;`, `&quot;`, `&amp;nbsp;`.

SET NAMES utf8mb4;

INSERT INTO `oc_language` (`language_id`, `name`, `code`, `locale`, `image`, `directory`, `sort_order`, `status`) VALUES
(1, 'Русский', 'ru-ru', 'ru_RU.UTF-8,ru_RU,russian', '', '', 1, 1),
(2, 'English', 'en-gb', 'en-US,en_US.UTF-8,en_US,en-gb,english', '', '', 2, 1);

-- Store 0 is the main store; a second store (id 1) runs in English and must not change the main store's language.
INSERT INTO `oc_setting` (`store_id`, `code`, `key`, `value`, `serialized`) VALUES
(0, 'config', 'config_name', 'ВелоМир', 0),
(0, 'config', 'config_language', 'ru-ru', 0),
(0, 'config', 'config_admin_language', 'ru-ru', 0),
(0, 'config', 'config_currency', 'RUB', 0),
(0, 'config', 'config_stock_display', '0', 0),
(1, 'config', 'config_language', 'en-gb', 0);

INSERT INTO `oc_category` (`category_id`, `image`, `parent_id`, `top`, `column`, `sort_order`, `status`, `date_added`, `date_modified`, `noindex`) VALUES
(20, 'catalog/categories/bikes.jpg', 0, 1, 1, 1, 1, '2023-02-10 12:00:00', '2024-03-01 10:00:00', 1),
(26, '', 20, 0, 1, 1, 1, '2023-02-10 12:05:00', '2024-03-01 10:00:00', 1),
(27, '', 20, 0, 1, 2, 1, '2023-02-10 12:06:00', '2024-03-01 10:00:00', 1);

INSERT INTO `oc_category_description` (`category_id`, `language_id`, `name`, `description`, `meta_title`, `meta_description`, `meta_keyword`, `meta_h1`) VALUES
(20, 1, 'Велосипеды', '&lt;p&gt;Велосипеды с бесплатной сборкой и настройкой.&lt;/p&gt;', 'Купить велосипед в Казани', '', '', ''),
(26, 1, 'Горные', '', 'Горные велосипеды', '', '', ''),
(27, 1, 'Городские', '', 'Городские велосипеды', '', '', ''),
(20, 2, 'Bicycles', '', '', '', '', ''),
(26, 2, 'Mountain', '', '', '', '', ''),
(27, 2, 'City', '', '', '', '', '');

INSERT INTO `oc_manufacturer` (`manufacturer_id`, `name`, `image`, `sort_order`, `noindex`) VALUES
(5, 'Stels', 'catalog/brands/stels.png', 1, 1),
(6, 'Forward', 'catalog/brands/forward.png', 2, 1),
(7, 'Stark', '', 3, 1),
(8, 'Shimano', '', 4, 1);

-- OpenCart's stock statuses: what the storefront shows instead of a quantity when quantity <= 0.
INSERT INTO `oc_stock_status` (`stock_status_id`, `language_id`, `name`) VALUES
(5, 1, 'Нет в наличии'),
(6, 1, 'Ожидание 2-3 дня'),
(7, 1, 'В наличии'),
(8, 1, 'Предзаказ'),
(5, 2, 'Out Of Stock'),
(6, 2, '2-3 Days'),
(7, 2, 'In Stock'),
(8, 2, 'Pre-Order');

INSERT INTO `oc_product` (`product_id`, `model`, `sku`, `upc`, `ean`, `jan`, `isbn`, `mpn`, `location`, `quantity`, `stock_status_id`, `image`, `manufacturer_id`, `shipping`, `price`, `points`, `tax_class_id`, `date_available`, `weight`, `weight_class_id`, `length`, `width`, `height`, `length_class_id`, `subtract`, `minimum`, `sort_order`, `status`, `viewed`, `date_added`, `date_modified`, `noindex`) VALUES
(50, 'Navigator 700 MD', 'ST-700-17', '', '', '', '', '', '', 4, 5, 'catalog/stels/navigator-700.jpg', 5, 1, 28500.0000, 0, 0, '2023-03-01', 15.50000000, 1, 0.00000000, 0.00000000, 0.00000000, 1, 1, 1, 1, 1, 312, '2023-03-01 11:00:00', '2024-03-01 10:00:00', 1),
(51, 'Apache 29 2.0 D', 'FW-AP29-19', '', '', '', '', '', '', 0, 8, 'catalog/forward/apache-29.jpg', 6, 1, 31990.0000, 0, 0, '2023-03-01', 16.20000000, 1, 0.00000000, 0.00000000, 0.00000000, 1, 1, 1, 2, 1, 120, '2023-03-01 11:10:00', '2024-03-01 10:00:00', 1),
(52, 'Comfort Lady', '', '', '', '', '', '', '', 0, 7, 'catalog/stark/comfort-lady.jpg', 7, 1, 18900.0000, 0, 0, '2023-03-01', 17.00000000, 1, 0.00000000, 0.00000000, 0.00000000, 1, 0, 1, 3, 1, 95, '2023-03-01 11:20:00', '2024-03-01 10:00:00', 1),
(53, 'CS-HG41-8', 'SH-HG41-1132', '', '', '', '', '', '', 12, 5, '', 8, 1, 2450.5000, 0, 0, '2023-03-01', 0.40000000, 1, 0.00000000, 0.00000000, 0.00000000, 1, 1, 1, 4, 1, 40, '2023-03-01 11:30:00', '2024-03-01 10:00:00', 1),
(54, 'Navigator 500 (2019)', 'ST-500-19', '', '', '', '', '', '', 0, 5, '', 5, 1, 15900.0000, 0, 0, '2019-04-01', 15.00000000, 1, 0.00000000, 0.00000000, 0.00000000, 1, 1, 1, 5, 0, 800, '2019-04-01 09:00:00', '2023-01-15 10:00:00', 1),
(55, 'Сборка под заказ', '', '', '', '', '', '', '', 0, 6, '', 0, 1, 0.0000, 0, 0, '2023-03-01', 0.00000000, 1, 0.00000000, 0.00000000, 0.00000000, 1, 1, 1, 6, 1, 10, '2023-03-01 12:00:00', '2024-03-01 10:00:00', 1);

INSERT INTO `oc_product_description` (`product_id`, `language_id`, `name`, `description`, `tag`, `meta_title`, `meta_description`, `meta_keyword`, `meta_h1`) VALUES
(50, 1, 'Горный велосипед Stels Navigator 700 MD 27.5', '&lt;h2&gt;Stels Navigator 700 MD&lt;/h2&gt;\r\n&lt;p&gt;Лёгкая алюминиевая рама, 21 скорость Shimano и механические &lt;strong&gt;дисковые&lt;/strong&gt; тормоза.&amp;nbsp;Подходит на рост 165–180 см.&lt;/p&gt;\r\n&lt;ul&gt;\r\n&lt;li&gt;Амортизационная вилка, ход 100 мм&lt;/li&gt;\r\n&lt;li&gt;Колёса 27,5&amp;quot;&lt;/li&gt;\r\n&lt;/ul&gt;', 'горный велосипед, навигатор, 27.5', 'Stels Navigator 700 MD купить в Казани', 'Горный велосипед Stels Navigator 700 MD с дисковыми тормозами', '', ''),
(51, 1, 'Горный велосипед Forward Apache 29 2.0 D', '&lt;p&gt;Колёса 29 дюймов, гидравлические дисковые тормоза, рама 19&amp;quot;.&lt;/p&gt;', 'найнер, 29er', '', '', '', ''),
(52, 1, 'Городской велосипед Stark Comfort Lady &quot;Вишня&quot;', '&lt;p&gt;Женская рама с низкой посадкой, корзина и багажник в комплекте.&lt;/p&gt;', '', '', '', '', ''),
(53, 1, 'Кассета Shimano HG41 8 скоростей 11-32', '', '', '', 'Кассета на 8 скоростей, звёзды 11-32, для горных и городских велосипедов.', '', ''),
(54, 1, 'Горный велосипед Stels Navigator 500 (2019)', '&lt;p&gt;Снят с производства.&lt;/p&gt;', '', '', '', '', ''),
(55, 1, 'Сборка велосипеда под ваш рост', '&lt;p&gt;Цена зависит от комплектации, уточняйте у менеджера.&lt;/p&gt;', '', '', '', '', ''),
(50, 2, 'Stels Navigator 700 MD 27.5 mountain bike', '&lt;p&gt;Light aluminium frame, 21 Shimano gears, mechanical disc brakes.&lt;/p&gt;', 'mtb', '', '', '', ''),
(51, 2, 'Forward Apache 29 2.0 D mountain bike', '&lt;p&gt;29-inch wheels, hydraulic disc brakes.&lt;/p&gt;', '', '', '', '', ''),
(52, 2, 'Stark Comfort Lady &quot;Cherry&quot; city bike', '&lt;p&gt;Step-through frame, basket and rack included.&lt;/p&gt;', '', '', '', '', ''),
(53, 2, 'Shimano HG41 8-speed cassette 11-32', '', '', '', '8-speed cassette, 11-32 teeth.', '', ''),
(54, 2, 'Stels Navigator 500 (2019) mountain bike', '&lt;p&gt;Discontinued.&lt;/p&gt;', '', '', '', '', ''),
(55, 2, 'Custom bike build', '&lt;p&gt;Price on request.&lt;/p&gt;', '', '', '', '', '');

-- Navigator is in both "Велосипеды" and "Горные", with "Горные" marked as its main category (ocStore's column).
INSERT INTO `oc_product_to_category` (`product_id`, `category_id`, `main_category`) VALUES
(50, 20, 0),
(50, 26, 1),
(51, 20, 0),
(51, 26, 0),
(52, 27, 1),
(54, 26, 1),
(55, 20, 1);

INSERT INTO `oc_information` (`information_id`, `bottom`, `sort_order`, `status`, `noindex`) VALUES
(4, 1, 1, 1, 0),
(6, 1, 2, 1, 1),
(7, 1, 3, 1, 1),
(8, 1, 4, 1, 1),
(9, 1, 5, 1, 1),
(10, 0, 6, 0, 1);

INSERT INTO `oc_information_description` (`information_id`, `language_id`, `title`, `description`, `meta_title`, `meta_description`, `meta_keyword`, `meta_h1`) VALUES
(4, 1, 'О магазине ВелоМир', '&lt;p&gt;Продаём и обслуживаем велосипеды в Казани с 2012 года.&lt;/p&gt;\r\n&lt;p&gt;Каждый велосипед собирает и настраивает наш механик.&lt;/p&gt;', 'О нас', '', 'о магазине', ''),
(6, 1, 'Доставка по Казани и России', '&lt;p&gt;По Казани привозим на следующий день, &lt;b&gt;400 ₽&lt;/b&gt;; от 30&amp;nbsp;000 ₽ — бесплатно.&lt;/p&gt;\r\n&lt;p&gt;В другие города отправляем СДЭК и Авито Доставкой.&lt;/p&gt;', '', '', 'доставка, сдэк', ''),
(7, 1, 'Способы оплаты', '&lt;ul&gt;&lt;li&gt;Наличными или картой в магазине&lt;/li&gt;&lt;li&gt;Переводом по СБП&lt;/li&gt;&lt;li&gt;Рассрочка 0% на 6 месяцев&lt;/li&gt;&lt;/ul&gt;', '', '', '', ''),
(8, 1, 'Гарантия и возврат', '&lt;p&gt;Гарантия на раму — 5 лет, на навесное оборудование — 1 год.&lt;/p&gt;&lt;p&gt;Вернуть велосипед без следов эксплуатации можно в течение 14 дней.&lt;/p&gt;', '', '', '', ''),
(9, 1, 'Контакты и самовывоз', '&lt;p&gt;Казань, ул. Вишнёвая, 12. Ежедневно с 10:00 до 20:00.&lt;/p&gt;&lt;p&gt;Телефон: +7 (843) 555-12-12&lt;/p&gt;', '', '', '', ''),
(10, 1, 'Зимнее хранение: скидка 20%', '&lt;p&gt;Акция закончилась.&lt;/p&gt;', '', '', '', ''),
(4, 2, 'About VeloMir', '&lt;p&gt;We sell and service bicycles in Kazan since 2012.&lt;/p&gt;', '', '', '', ''),
(6, 2, 'Delivery', '&lt;p&gt;Next-day delivery in Kazan.&lt;/p&gt;', '', '', '', ''),
(7, 2, 'Payment methods', '&lt;p&gt;Cash, card, SBP.&lt;/p&gt;', '', '', '', ''),
(8, 2, 'Warranty and returns', '&lt;p&gt;5-year frame warranty.&lt;/p&gt;', '', '', '', ''),
(9, 2, 'Contacts and pickup', '&lt;p&gt;Kazan, Vishnyovaya st. 12.&lt;/p&gt;', '', '', '', ''),
(10, 2, 'Winter storage: 20% off', '&lt;p&gt;The offer has ended.&lt;/p&gt;', '', '', '', '');
