"""Small, dependency-light helpers for colloquial Russian text.

Buyers on Avito write short chat messages: lower/upper case at random, «ё» or «е», emoji, repeated
letters («приииивет»), slang («велик», «бу», «нал»), Latin-typed Russian («dostavka est?») and
even text typed on the wrong keyboard layout («ghbdtn» for «привет»). Every component that compares
buyer text with something (the offline intent classifier, later the retrieval engine) needs the same
canonical form, so the rules live here once:

* :func:`normalise` – lowercase, «ё»→«е», Latin homoglyphs inside Cyrillic words fixed, URLs,
  emoji and punctuation removed, whitespace collapsed.
* :func:`transliterate_word` / :func:`transliterate` – Latin-typed Russian back to Cyrillic,
  leaving brands, English words and model numbers alone.
* :func:`tokenise` – the canonical token list (normalise + transliterate + slang map).
* :func:`lemmatise` / :func:`lemmas` – pymorphy3 normal forms, cached; the analyser is created
  once, lazily, because loading its dictionaries costs ~100 ms and ~15 MB.
* :func:`fold` – a lossy "phonetic skeleton" (no soft signs, «й»→«и», double letters collapsed)
  so that «skolko»→«сколко» and «сколько» look the same to character n-grams.

Everything is pure and deterministic; nothing touches the network.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover - typing only
    import pymorphy3

__all__ = [
    "LATIN_KEEP",
    "SLANG",
    "fold",
    "has_cyrillic",
    "has_latin",
    "is_emoji_only",
    "is_known_word",
    "is_person_name",
    "lemmas",
    "lemmatise",
    "morph",
    "normalise",
    "strip_urls",
    "tokenise",
    "transliterate",
    "transliterate_word",
]

# --------------------------------------------------------------------------------------------------
# Character classes
# --------------------------------------------------------------------------------------------------

_CYR_RE = re.compile(r"[а-яё]", re.IGNORECASE)
_LAT_RE = re.compile(r"[a-z]", re.IGNORECASE)
_URL_RE = re.compile(
    r"(?:https?://|www\.)\S+|\b[\w-]+\.(?:ru|com|net|org|su|рф|me|io|info|biz|shop|site|online|xyz)\b\S*",
    re.IGNORECASE,
)
# Three or more identical letters never occur in correct Russian spelling; chat users stretch
# words («приииивет», «дааа»), so collapse such runs to one letter.
_REPEAT_RE = re.compile(r"([^\W\d_])\1{2,}")
# «б/у», «с/п» – a slash between single letters is part of an abbreviation, not punctuation.
_SLASH_ABBR_RE = re.compile(r"\b([^\W\d_])/([^\W\d_])\b")
# Decimal numbers («1.5», «2,5») keep their separator so they stay one token.
_DECIMAL_RE = re.compile(r"(\d)[.,](\d)")
_NUM_CYR_RE = re.compile(r"(?<=\d)(?=[а-яё])|(?<=[а-яё])(?=\d)")

# Latin letters that look exactly like Cyrillic ones. Spammers and some phone keyboards mix them
# into Cyrillic words («cкидка» with a Latin «c»); inside a Cyrillic word they are always a mistake.
_HOMOGLYPHS = str.maketrans(
    {
        "a": "а", "c": "с", "e": "е", "o": "о", "p": "р", "x": "х", "y": "у", "k": "к", "m": "м",
        "A": "А", "B": "В", "C": "С", "E": "Е", "H": "Н", "K": "К", "M": "М", "O": "О", "P": "Р",
        "T": "Т", "X": "Х", "Y": "У",
    }
)  # fmt: skip
_MIXED_WORD_RE = re.compile(r"[A-Za-zА-Яа-яЁё]+")


def has_cyrillic(text: str) -> bool:
    """True if ``text`` contains at least one Cyrillic letter."""
    return bool(_CYR_RE.search(text))


def has_latin(text: str) -> bool:
    """True if ``text`` contains at least one Latin letter."""
    return bool(_LAT_RE.search(text))


def strip_urls(text: str, replacement: str = " ") -> str:
    """Replace links (``http…``, ``www…``, ``site.ru``) with ``replacement``.

    Links carry no intent words and their fragments would pollute n-gram features; callers that care
    about *whether* there was a link (spam detection) should check before calling this.
    """
    return _URL_RE.sub(replacement, text)


def _fix_homoglyphs(text: str) -> str:
    """Turn Latin look-alikes into Cyrillic inside words that are otherwise Cyrillic."""

    def fix(m: re.Match[str]) -> str:
        word = m.group(0)
        if has_cyrillic(word) and has_latin(word):
            return word.translate(_HOMOGLYPHS)
        return word

    return _MIXED_WORD_RE.sub(fix, text)


def is_emoji_only(text: str) -> bool:
    """True for a non-empty message made only of emoji/symbols/punctuation (no letters or digits).

    Such messages («👍», «🙂🙂», «!!!») carry no intent a bot can act on.
    """
    stripped = "".join(ch for ch in text if not ch.isspace())
    if not stripped:
        return False
    return not any(ch.isalnum() for ch in stripped)


_LAYOUT_RUN_RE = re.compile(r"[A-Za-z][A-Za-z,.;'\[\]`]*[,.;'\[\]`][A-Za-z,.;'\[\]`]*[A-Za-z;'\[\]]")


def _fix_layout_runs(text: str) -> str:
    """Convert wrong-layout words that contain keys which are letters on a Russian board.

    «cgfcb,j» is «спасибо» typed with the English layout on: the comma is «б». Punctuation would be
    stripped before per-word transliteration sees it, so such runs are fixed first, and only when the
    result is a dictionary word (otherwise «a,b» style text is left alone).
    """

    def fix(m: re.Match[str]) -> str:
        run = m.group(0)
        cand = run.lower().translate(_LAYOUT)
        return cand if not has_latin(cand) and is_known_word(cand.replace("ё", "е")) else run

    return _LAYOUT_RUN_RE.sub(fix, text)


def normalise(text: str) -> str:
    """Canonical surface form: lowercase, «ё»→«е», no URLs/emoji/punctuation, single spaces.

    Word-internal hyphens become spaces («что-нибудь» → «что нибудь») because buyers write the same
    words with and without them; «б/у» becomes «бу»; decimal numbers stay whole; an apostrophe inside
    a Latin word is kept because transliteration reads it as a soft sign («skol'ko»).
    """
    if not text:
        return ""
    text = unicodedata.normalize("NFKC", text)
    text = _fix_homoglyphs(text)
    text = _fix_layout_runs(text)
    text = text.lower().replace("ё", "е")
    text = strip_urls(text)
    text = _SLASH_ABBR_RE.sub(r"\1\2", text)
    text = _DECIMAL_RE.sub(r"\1.\2", text)
    # «5000р», «2шт», «5к» → separate number and unit; Latin model numbers («rtx3060») stay whole.
    text = _NUM_CYR_RE.sub(" ", text)
    text = text.replace("’", "'").replace("`", "'")
    text = _REPEAT_RE.sub(r"\1", text)
    out: list[str] = []
    for m in re.finditer(r"\d+\.\d+|[0-9a-zа-я]+(?:'[a-z]+)*'?", text):
        out.append(m.group(0))
    return " ".join(out)


# --------------------------------------------------------------------------------------------------
# Transliteration
# --------------------------------------------------------------------------------------------------

# Latin words buyers really mean in Latin: brands, product lines, tech terms, marketplaces,
# messengers and a handful of English chat words. Transliterating them would only create noise
# («iphone» → «ифоне»). Kept small on purpose: words with digits are kept anyway (model numbers).
LATIN_KEEP: frozenset[str] = frozenset(
    """
    ok okay okey hi hello hey bye thanks thank thx pls please sorry yes no sale new price
    iphone ipad imac macbook airpods apple watch samsung galaxy xiaomi redmi poco huawei honor
    realme oneplus oppo vivo nokia sony lg philips bosch makita dewalt dyson karcher tefal
    canon nikon fujifilm gopro jbl marshall bose logitech asus acer lenovo hp dell msi intel
    amd nvidia geforce gtx rtx radeon ryzen core ssd hdd ram usb hdmi wifi bluetooth nfc lte gps
    android ios windows mac linux pro max mini plus ultra lite air se fe neo
    playstation ps xbox nintendo switch steam
    nike adidas puma reebok asics newbalance balance vans converse zara hm uniqlo gucci
    lacoste tommy levis levi's timberland salomon columbia northface
    ikea lego hot wheels barbie
    bmw audi mercedes benz toyota honda nissan kia hyundai mazda volkswagen vw skoda ford
    renault chevrolet mitsubishi subaru lexus volvo opel peugeot
    stels forward merida trek giant cube scott specialized author shimano sram
    avito ozon wildberries wb yandex cdek boxberry dpd dhl ems pickpoint
    telegram whatsapp viber vk tg ig instagram insta facebook tiktok youtube gmail mail
    http https www com net org
    xs xl xxl xxxl eu us uk cm mm kg gb tb mb mah
    """.split()  # noqa: SIM905 - a word list reads better than 200 quoted strings
)

# English-looking letter patterns that essentially never occur in Latin-typed Russian.
_ENGLISH_HINT_RE = re.compile(r"th|wh|ph|ck|tion|ght|ea|ou|w|q")

# Greedy longest-match transliteration table (ordered by length, longest first).
_TRANSLIT_MULTI: tuple[tuple[str, str], ...] = (
    ("tsya", "тся"),  # reflexive verbs: «prodaetsya» is «продается», not «продаеця»
    ("tsja", "тся"),
    ("shch", "щ"),
    ("sch", "щ"),
    ("zh", "ж"),
    ("kh", "х"),
    ("ch", "ч"),
    ("sh", "ш"),
    ("ts", "ц"),
    ("tz", "ц"),
    ("ya", "я"),
    ("ja", "я"),
    ("yu", "ю"),
    ("ju", "ю"),
    ("yo", "е"),  # «ё» is folded to «е» everywhere
    ("jo", "е"),
    ("je", "е"),
    ("ye", "е"),
)
_TRANSLIT_SINGLE: dict[str, str] = {
    "a": "а", "b": "б", "v": "в", "g": "г", "d": "д", "e": "е", "z": "з", "i": "и", "k": "к",
    "l": "л", "m": "м", "n": "н", "o": "о", "p": "п", "r": "р", "s": "с", "t": "т", "u": "у",
    "f": "ф", "h": "х", "x": "х", "c": "ц", "w": "в", "q": "к", "'": "ь",
}  # fmt: skip
_VOWELS_LAT = set("aeiouy")

# Wrong keyboard layout: the Latin key that sits where each Cyrillic letter is on a ЙЦУКЕН board.
_LAYOUT = str.maketrans(
    dict(
        zip(
            "qwertyuiop[]asdfghjkl;'zxcvbnm,.`",
            "йцукенгшщзхъфывапролджэячсмитьбюе",
            strict=True,
        )
    )
)


def _translit_core(word: str) -> str:
    """Mechanical Latin→Cyrillic transliteration of one lowercase word."""
    out: list[str] = []
    i, n = 0, len(word)
    while i < n:
        # «ye»/«yo» etc. only mean «е»/«ё» at the start or after a vowel; «novye» is «новые».
        matched = False
        for lat, cyr in _TRANSLIT_MULTI:
            if word.startswith(lat, i):
                if lat in ("ye", "je") and i > 0 and word[i - 1] not in _VOWELS_LAT:
                    continue
                out.append(cyr)
                i += len(lat)
                matched = True
                break
        if matched:
            continue
        ch = word[i]
        if ch == "y":
            # after a vowel «y» is «й» (moy, kakoy, day); elsewhere «ы» (vy, byl).
            out.append("й" if i > 0 and word[i - 1] in _VOWELS_LAT else "ы")
        elif ch == "j":
            out.append("й")
        else:
            out.append(_TRANSLIT_SINGLE.get(ch, ch))
        i += 1
    return "".join(out)


def _looks_latin_on_purpose(word: str) -> bool:
    """Heuristic: is this Latin word a brand/English/model number rather than Latin-typed Russian?"""
    if word in LATIN_KEEP or any(ch.isdigit() for ch in word):
        return True
    return len(word) > 3 and bool(_ENGLISH_HINT_RE.search(word)) and not is_known_word(_translit_core(word))


# One-letter Latin words are mostly prepositions/conjunctions typed on the wrong layout («c» for «с»).
_SINGLE_LETTER_WORDS = dict(zip("csvkiauoy", "ссвкиауоу", strict=True))


@lru_cache(maxsize=50_000)
def transliterate_word(word: str) -> str:
    """Latin-typed Russian word → Cyrillic; brands/English/model numbers are returned unchanged.

    Two readings are tried: phonetic transliteration («dostavka» → «доставка») and the wrong keyboard
    layout («ghbdtn» → «привет»). The layout reading wins only when it is a dictionary word and the
    phonetic one is not, because a random Latin string is far more often translit than layout.
    Single letters map phonetically except the preposition-like «c»/«s» → «с», «v» → «в», «k» → «к».
    """
    w = word.lower()
    if not w or not has_latin(w) or has_cyrillic(w):
        return w
    if len(w) == 1:
        return _SINGLE_LETTER_WORDS.get(w, w)
    if _looks_latin_on_purpose(w):
        return w
    phonetic = _translit_core(w)
    if len(w) >= 3 and not is_known_word(phonetic):
        layout = w.translate(_LAYOUT)
        if layout != w and not has_latin(layout) and is_known_word(layout):
            return layout
        repaired = _repair_translit(phonetic)
        if repaired is not None:
            return repaired
    return phonetic


_CONSONANTS_CYR = frozenset("бвгджзклмнпрстфхцчшщ")


def _repair_translit(word: str) -> str | None:
    """Recover letters that Latin typists drop: the soft sign («kupit» → «купить», «skolko» →
    «сколько») and the initial «э» («eto» → «это»). Returns the first candidate that is a dictionary
    word, or None. Cheap: at most ~len(word) cached dictionary look-ups, done once per distinct word.
    """
    candidates: list[str] = []
    if word[-1] in _CONSONANTS_CYR:
        candidates.append(word + "ь")
    if word.endswith(("тс", "тся")):  # reflexive verbs: «nahodites» → «находитесь»
        candidates.append(word[:-1] + "ь" if word.endswith("тс") else word[:-2] + "ься")
        candidates.append(word + "ь")
    for i in range(1, len(word) - 1):
        if word[i] in _CONSONANTS_CYR and word[i + 1] in _CONSONANTS_CYR:
            candidates.append(word[: i + 1] + "ь" + word[i + 1 :])
    if word.startswith("е"):
        candidates.append("э" + word[1:])
    if word.endswith("ы"):  # «y» at the end after a consonant can be «й» («novy» is rare, «moy» handled)
        candidates.append(word[:-1] + "ий")
    for cand in candidates:
        if is_known_word(cand):
            return cand
    return None


def transliterate(text: str) -> str:
    """Transliterate every Latin-typed Russian word in an already :func:`normalise`-d string."""
    return " ".join(transliterate_word(t) if has_latin(t) else t for t in text.split())


# --------------------------------------------------------------------------------------------------
# Slang and spelling variants
# --------------------------------------------------------------------------------------------------

# Colloquial spellings / abbreviations → a canonical word, applied after transliteration. Only
# variants whose meaning is unambiguous in a buyer–seller chat. Values may be several words.
SLANG: dict[str, str] = {
    # сколько
    "скока": "сколько", "скоко": "сколько", "скок": "сколько", "сколко": "сколько", "скольк": "сколько",
    "сколька": "сколько",
    # что / сейчас / пожалуйста
    "че": "что", "чо": "что", "шо": "что", "што": "что", "чта": "что",
    "щас": "сейчас", "ща": "сейчас", "сча": "сейчас", "счас": "сейчас",
    "пж": "пожалуйста", "пжл": "пожалуйста", "пжлст": "пожалуйста", "плз": "пожалуйста",
    "плиз": "пожалуйста", "пож": "пожалуйста", "пожалуста": "пожалуйста", "пожалуйсто": "пожалуйста",
    "пожайлуста": "пожалуйста", "позязя": "пожалуйста",
    # приветствия / благодарности
    "здрасте": "здравствуйте", "здрасьте": "здравствуйте", "здрасти": "здравствуйте",
    "здраствуйте": "здравствуйте", "здравствуй": "здравствуйте", "здравствуйте": "здравствуйте",
    "здарова": "привет", "здаров": "привет", "хай": "привет", "прив": "привет",
    "приветик": "привет", "приветствую": "привет", "ку": "привет", "хелло": "привет", "хеллоу": "привет",
    "hi": "привет", "hello": "привет", "hey": "привет",
    "спс": "спасибо", "спасиб": "спасибо", "пасиб": "спасибо", "пасибо": "спасибо", "сенкс": "спасибо",
    "спасибки": "спасибо", "благодарочка": "спасибо", "thx": "спасибо", "thanks": "спасибо",
    "thank": "спасибо", "сяп": "спасибо", "пасибки": "спасибо",
    "ок": "ок", "оке": "ок", "okay": "ок", "ok": "ок", "okey": "ок",
    "оки": "ок", "окей": "ок", "окейно": "ок", "сорри": "извините", "сори": "извините",
    "лан": "ладно", "ладн": "ладно", "норм": "нормально",
    # товар и его состояние
    "велик": "велосипед", "велики": "велосипеды", "великов": "велосипедов", "великом": "велосипедом",
    "велику": "велосипеду", "великах": "велосипедах", "велек": "велосипед", "вел": "велосипед",
    "бушный": "бу",
    "бэу": "бу", "телик": "телевизор", "комп": "компьютер", "ноут": "ноутбук", "тел": "телефон",
    "тлф": "телефон", "фотки": "фото", "фотку": "фото", "фоточки": "фото", "фотографии": "фото",
    "видос": "видео", "видосик": "видео", "зарядник": "зарядка", "зарядку": "зарядка", "акум": "аккумулятор",
    "акб": "аккумулятор", "аккум": "аккумулятор", "объява": "объявление", "объяве": "объявление",
    "обьява": "объявление", "обьявление": "объявление", "обьявления": "объявления",
    # деньги
    "нал": "наличные", "налик": "наличные", "наличка": "наличные", "наличкой": "наличные",
    "налом": "наличные", "наликом": "наличные", "наличными": "наличные", "безнал": "безналичные",
    "безналом": "безналичные", "руб": "рублей", "р": "рублей", "тр": "тысяч", "тыр": "тысяч",
    "тыс": "тысяч", "тыщ": "тысяч", "тыщи": "тысяч", "косарь": "тысяч", "сбер": "сбербанк",
    "тинек": "тинькофф", "тинькоф": "тинькофф", "тиньков": "тинькофф",
    # доставка / сервисы
    "сдек": "сдэк", "cdek": "сдэк", "sdek": "сдэк", "авитодоставка": "авито доставка",
    "авитодоставкой": "авито доставка", "авитодоставку": "авито доставка", "avito": "авито",
    "boxberry": "боксберри", "yandex": "яндекс",
    "тг": "телеграм", "телега": "телеграм", "телеге": "телеграм", "телегу": "телеграм",
    "telegram": "телеграм", "whatsapp": "ватсап", "вотсап": "ватсап", "вацап": "ватсап",
    "ватсапп": "ватсап", "вацапп": "ватсап",
    # разное
    "мб": "может быть", "щя": "сейчас", "тож": "тоже", "тада": "тогда", "када": "когда",
    "кагда": "когда", "ваще": "вообще", "вобще": "вообще", "грю": "говорю", "чел": "человек",
    "челу": "человеку", "манагер": "менеджер", "манагеру": "менеджеру", "манагера": "менеджера",
    "админ": "администратор", "админа": "администратора",
    "продаеца": "продается", "продаеться": "продается", "продоется": "продается",
    "актуальна": "актуально", "октуально": "актуально", "актуал": "актуально", "акуально": "актуально",
    "актульно": "актуально", "актуално": "актуально", "актуальн": "актуально",
    "доставк": "доставка", "дастафка": "доставка", "доставочка": "доставка",
    "возрат": "возврат", "вазврат": "возврат", "гарантиа": "гарантия",
}  # fmt: skip


def tokenise(text: str) -> list[str]:
    """Canonical tokens: :func:`normalise`, transliterate Latin-typed Russian, map :data:`SLANG`.

    The result is what both the classifier and retrieval should see; multi-word slang values
    («мб» → «может быть») are split into separate tokens.
    """
    tokens: list[str] = []
    for tok in normalise(text).split():
        if has_latin(tok):
            tok = SLANG.get(tok, tok)
            tok = transliterate_word(tok)
        mapped = SLANG.get(tok, tok)
        tokens.extend(mapped.split())
    return tokens


# --------------------------------------------------------------------------------------------------
# Folding for character n-grams
# --------------------------------------------------------------------------------------------------

_FOLD = str.maketrans({"ь": "", "ъ": "", "й": "и", "ы": "и", "э": "е", "щ": "ш", "ё": "е"})
_DOUBLE_RE = re.compile(r"([а-яa-z])\1+")


def fold(text: str) -> str:
    """Lossy phonetic skeleton for fuzzy matching (character n-grams).

    Removes the distinctions chat typists and transliterators lose anyway: soft/hard signs
    («skolko» → «сколко»), «й/ы/и», «э/е», «щ/ш» and doubled letters («касса»/«каса»). Use only for
    features, never for display.
    """
    return _DOUBLE_RE.sub(r"\1", text.translate(_FOLD))


# --------------------------------------------------------------------------------------------------
# Morphology
# --------------------------------------------------------------------------------------------------

_morph: pymorphy3.MorphAnalyzer | None = None
_morph_lock = threading.Lock()


def morph() -> pymorphy3.MorphAnalyzer:
    """The process-wide pymorphy3 analyser, created on first use (dictionary load is ~100 ms)."""
    global _morph
    if _morph is None:
        with _morph_lock:
            if _morph is None:
                import pymorphy3  # imported lazily: modules that only normalise stay light

                _morph = pymorphy3.MorphAnalyzer(lang="ru")
    return _morph


@lru_cache(maxsize=100_000)
def is_known_word(word: str) -> bool:
    """True if pymorphy3's dictionary knows ``word`` (a real Russian word form, not a guess)."""
    if not word or has_latin(word):
        return False
    return bool(morph().word_is_known(word))


@lru_cache(maxsize=20_000)
def is_person_name(word: str) -> bool:
    """True if some pymorphy3 parse of ``word`` is a first name or patronymic («анна», «сергеевич»).

    Buyers often address the seller by name right after a greeting («Здравствуйте, Анна!»); the name
    carries no intent and must not be mistaken for the question.
    """
    if not word or not has_cyrillic(word) or not is_known_word(word):
        return False
    return any({"Name", "Patr"} & set(p.tag.grammemes) for p in morph().parse(word))


# Lemmas pymorphy gets wrong for this domain (its most probable parse is a rarer word).
_LEMMA_OVERRIDES: dict[str, str] = {
    "велик": "велосипед",
    "ест": "есть",
    "есть": "есть",
    "нал": "наличные",
    "бу": "бу",
    "скинете": "скинуть",
    "скиньте": "скинуть",
    "скинь": "скинуть",
    "отдадите": "отдать",
    "заберу": "забрать",
    "пришлете": "прислать",
    "ок": "ок",
}


@lru_cache(maxsize=100_000)
def lemmatise(word: str) -> str:
    """Normal form of one token (pymorphy3's most probable parse); Latin and numbers pass through."""
    if not word:
        return word
    if word in _LEMMA_OVERRIDES:
        return _LEMMA_OVERRIDES[word]
    if has_latin(word) or word.isdigit() or not has_cyrillic(word):
        return word
    # Unknown words (typos, slang, gibberish) go through pymorphy's suffix guesser, which costs ~0.7 ms
    # per word in pure Python and guesses badly on chat typos; the surface form is a better feature.
    if not is_known_word(word):
        return word
    return str(morph().parse(word)[0].normal_form).replace("ё", "е")


def lemmas(text: str) -> list[str]:
    """:func:`tokenise` then :func:`lemmatise` every token."""
    return [lemmatise(t) for t in tokenise(text)]
